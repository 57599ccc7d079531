#!/usr/bin/env bash
# Side-by-side: our encoder vs PyTorch (transformers, SDPA) and ONNX Runtime (fused attention),
# same model folder, text, threads and interpolated position table, engines taking turns in one
# run; prints per-round times, an embedding parity check and the median per-round ratios.
# Installs the peers into Benchmarks/.venv-peer from PyPI on first use (about 5 GB with torch's
# CUDA dependencies; CPU is what runs). Not part of `make test`.
#   bash Benchmarks/peer.sh                                  # 512x32, 8192, 32768; 3 rounds
#   bash Benchmarks/peer.sh --cases 4096 --rounds 5 --engines ours,torch
# Encoder families (xlm-roberta, nomic-bert, gte, modernbert, gemma3-bidirectional): random small
# models from Benchmarks/peer/make_models.py, torch running transformers' own class (no ONNX):
#   bash Benchmarks/peer.sh --make-models                    # writes Benchmarks/.peer-cache/models/*-small
#   bash Benchmarks/peer.sh --model Benchmarks/.peer-cache/models/gte-small --cases 8192 --engines ours,torch --rounds 3
# PEER_VENV=DIR uses an existing venv (e.g. scripts/fixtures/.venv-fixtures) instead of
# Benchmarks/.venv-peer; it needs torch, transformers, tokenizers, safetensors and numpy, plus
# onnxruntime, onnx and onnxscript when the onnx engine runs (it does by default).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

engines="ours,torch,onnx"
make_models=0
args=()
prev=""
for a in "$@"; do
    case "$prev" in --engines) engines="$a" ;; esac
    case "$a" in
        --engines=*) engines="${a#--engines=}" ;;
        --make-models) make_models=1; prev="$a"; continue ;;
    esac
    args+=("$a")
    prev="$a"
done
need="import torch, transformers, tokenizers, safetensors, numpy"
if [[ ",$engines," == *",onnx,"* ]] && [ "$make_models" = 0 ]; then
    need="$need, onnxruntime, onnx, onnxscript"
fi

if [ -n "${PEER_VENV:-}" ]; then
    venv="$PEER_VENV"
    if ! "$venv/bin/python" -c "$need" 2>/dev/null; then
        echo "PEER_VENV=$venv: '$venv/bin/python -c \"$need\"' fails (onnx needs onnxruntime, onnx, onnxscript;" \
             "--engines ours,torch does not)" >&2
        exit 1
    fi
else
    venv=Benchmarks/.venv-peer
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "$need" 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --upgrade pip
        "$venv/bin/pip" install -q torch==2.15.0 transformers==5.23.0 onnxruntime==1.32.0 onnx onnxscript numpy
    fi
fi
make -s setup
swift build -c release --product longembed >/dev/null
if [ "$make_models" = 1 ]; then
    exec "$venv/bin/python" Benchmarks/peer/make_models.py ${args[@]+"${args[@]}"}
fi
exec "$venv/bin/python" Benchmarks/peer/peer_bench.py run --longembed .build/release/longembed \
    --model .models/all-MiniLM-L6-v2 --threads "$(nproc)" ${args[@]+"${args[@]}"}
