#!/usr/bin/env bash
# Runs every measurement behind the README's "Measured" table, in order, on this machine, and
# writes the log to results/performance-<date>.log (about 40 minutes on 2 cores; the peer step
# installs PyTorch and ONNX Runtime into Benchmarks/.venv-peer on first use). Not part of `make test`.
#   bash Benchmarks/measure.sh            # everything
#   bash Benchmarks/measure.sh --no-peer  # our own figures only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
make -s setup
swift build -c release --product longembed >/dev/null
B=.build/release/longembed
mkdir -p results
log="results/performance-$(date +%Y-%m-%d-%H%M).log"
run() { echo "\$ $*" | tee -a "$log"; "$@" 2>&1 | tee -a "$log"; echo | tee -a "$log"; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)  $(nproc) CPUs" | tee "$log"
run $B bench --info
run $B bench attention --tokens 32768 --heads 12 --head-dim 64 --repeats 3
run $B bench attention --tokens 32768 --heads 12 --head-dim 32 --repeats 3
run $B bench attention --tokens 32768 --heads 12 --head-dim 64 --self-extend 9,512 --repeats 3
run $B bench encoder --tokens 32768 --repeats 1 --profile
run $B bench encoder --tokens 8192 --repeats 3 --profile
run $B bench scaling --workload encoder --tokens 4096 --rounds 7
# What the ISA and the OpenBLAS core choice are worth, on this machine.
run env LONGEMBED_ISA=avx2 $B bench attention --tokens 8192 --heads 12 --head-dim 32 --repeats 3
run $B bench attention --tokens 8192 --heads 12 --head-dim 32 --repeats 3
run env LONGEMBED_KEEP_BLAS_CORE=1 $B bench sgemm
run $B bench sgemm
run env LONGEMBED_KEEP_BLAS_CORE=1 $B bench encoder --tokens 4096 --repeats 3 --profile
run $B bench encoder --tokens 4096 --repeats 3 --profile
if [ "${1:-}" != "--no-peer" ]; then
    run bash Benchmarks/peer.sh --cases 512x32,8192,32768 --rounds 5
fi
echo "log: $log"
