# LongEmbed for Swift. `make setup` installs system packages and the default model;
# `make test` runs the test suite (setup first); `make run` runs the quick benchmark.
SHELL := /bin/bash
SWIFT ?= swift
MODEL_DIR := .models/all-MiniLM-L6-v2
APT_PACKAGES := libopenblas-dev libomp-dev libnuma-dev

.PHONY: setup system-packages model build release test run bench clean

setup: system-packages model

system-packages:
	@bash scripts/install-system-packages.sh $(APT_PACKAGES)

model:
	@bash scripts/fetch-default-model.sh $(MODEL_DIR)

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

test: setup
	$(SWIFT) build -c release --build-tests
	$(SWIFT) test -c release --skip-build

clean:
	rm -rf .build
