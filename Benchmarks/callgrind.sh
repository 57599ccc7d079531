#!/usr/bin/env bash
# Instruction-count regression guard for attention (12 heads, d = 32; 1024 tokens by default,
# CALLGRIND_TOKENS=4096 for the longer case, which takes over 15 minutes under valgrind).
# Counts instructions with valgrind --tool=callgrind (repeatable on a noisy machine) for one
# single-threaded attention call and compares with baselines/attention_<tokens>.instructions.
#   bash Benchmarks/callgrind.sh            # check (fails on > 3% more instructions)
#   bash Benchmarks/callgrind.sh --update   # record a new baseline
set -euo pipefail
cd "$(dirname "$0")"
tokens="${CALLGRIND_TOKENS:-1024}"
command -v valgrind >/dev/null || bash ../scripts/install-system-packages.sh valgrind
swift build -c release --product LongEmbedBenchmarks >/dev/null
# valgrind 3.19 cannot read the DWARF 5 that clang 21 writes: run a copy without debug info
# (the symbol table stays, so --toggle-collect still finds the kernel).
bin=$(mktemp)
strip --strip-debug -o "$bin" .build/release/LongEmbedBenchmarks
out=$(mktemp)
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect='ck_attention_f32' "$bin" attention-once "$tokens" >/dev/null 2>"$out.log"
count=$(grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}')
rm -f "$out" "$out.log" "$bin"
base_file=baselines/attention_${tokens}.instructions
echo "attention $tokens tokens, 12 heads, d=32: $count instructions"
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
