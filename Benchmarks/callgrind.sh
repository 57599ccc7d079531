#!/usr/bin/env bash
# Instruction-count regression guard for attention at 4096 tokens (12 heads, d = 32).
# Counts instructions with valgrind --tool=callgrind (repeatable on a noisy machine) for one
# single-threaded attention call and compares with baselines/attention_4096.instructions.
#   bash Benchmarks/callgrind.sh            # check (fails on > 3% more instructions)
#   bash Benchmarks/callgrind.sh --update   # record a new baseline
set -euo pipefail
cd "$(dirname "$0")"
command -v valgrind >/dev/null || bash ../scripts/install-system-packages.sh valgrind
swift build -c release --product LongEmbedBenchmarks >/dev/null
# valgrind 3.19 cannot read the DWARF 5 that clang 21 writes: run a copy without debug info
# (the symbol table stays, so --toggle-collect still finds the kernel).
bin=$(mktemp)
strip --strip-debug -o "$bin" .build/release/LongEmbedBenchmarks
out=$(mktemp)
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect='ck_attention_f32' "$bin" attention-once 4096 >/dev/null 2>"$out.log"
count=$(grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}')
rm -f "$out" "$out.log" "$bin"
base_file=baselines/attention_4096.instructions
echo "attention 4096 tokens, 12 heads, d=32: $count instructions"
if [ "${1:-}" = "--update" ] || [ ! -f "$base_file" ]; then
    mkdir -p baselines; echo "$count" > "$base_file"; echo "baseline recorded"; exit 0
fi
base=$(cat "$base_file")
python3 - "$count" "$base" <<'PY'
import sys
count, base = int(sys.argv[1]), int(sys.argv[2])
change = (count - base) / base
print(f"baseline {base}: {change:+.2%}")
sys.exit(1 if change > 0.03 else 0)
PY
