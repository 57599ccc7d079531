#!/usr/bin/env bash
# Side-by-side: our encoder vs PyTorch (transformers, SDPA) and ONNX Runtime (fused attention),
# same model folder, text, threads and interpolated position table, engines taking turns in one
# run; prints per-round times, an embedding parity check and the median per-round ratios.
# Installs the peers into Benchmarks/.venv-peer from PyPI on first use (about 5 GB with torch's
# CUDA dependencies; CPU is what runs). Not part of `make test`.
#   bash Benchmarks/peer.sh                                  # 512x32, 8192, 32768; 3 rounds
#   bash Benchmarks/peer.sh --cases 4096 --rounds 5 --engines ours,torch
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv=Benchmarks/.venv-peer
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, transformers, onnxruntime, onnx, onnxscript" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q torch==2.15.0 transformers==5.23.0 onnxruntime==1.32.0 onnx onnxscript numpy
fi
make -s setup
swift build -c release --product longembed >/dev/null
exec "$venv/bin/python" Benchmarks/peer/peer_bench.py run --longembed .build/release/longembed \
    --model .models/all-MiniLM-L6-v2 --threads "$(nproc)" "$@"
