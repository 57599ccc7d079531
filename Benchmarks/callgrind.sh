#!/usr/bin/env bash
# Instruction-count regression guard for attention: 4096 tokens, d = 32 (MiniLM's head), 2 heads
# by default (the count is linear in the heads; 12 heads at 4096 tokens take over 15 minutes
# under valgrind). CALLGRIND_TOKENS and CALLGRIND_HEADS choose another shape.
# Counts instructions with valgrind --tool=callgrind (repeatable on a noisy machine) for one
# single-threaded attention call and compares with baselines/attention_<tokens>x<heads>.instructions.
# The AVX2 path is counted (LONGEMBED_ISA=avx2; valgrind 3.19 cannot run AVX-512), so the count
# is the same on any AVX2 host.
#   bash Benchmarks/callgrind.sh            # check (fails on > 3% more instructions)
#   bash Benchmarks/callgrind.sh --update   # record a new baseline
set -euo pipefail
cd "$(dirname "$0")"
tokens="${CALLGRIND_TOKENS:-4096}"
heads="${CALLGRIND_HEADS:-2}"
command -v valgrind >/dev/null || bash ../scripts/install-system-packages.sh valgrind
swift build -c release --product LongEmbedBenchmarks >/dev/null
# valgrind 3.19 cannot read the DWARF 5 that clang 21 writes: run a copy without debug info
# (the symbol table stays, so --toggle-collect still finds the kernel).
bin=$(mktemp)
strip --strip-debug -o "$bin" .build/release/LongEmbedBenchmarks
out=$(mktemp)
LONGEMBED_ISA=avx2 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect='ck_attention_f32' "$bin" attention-once "$tokens" "$heads" >/dev/null 2>"$out.log"
count=$(grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}')
rm -f "$out" "$out.log" "$bin"
base_file=baselines/attention_${tokens}x${heads}.instructions
echo "attention $tokens tokens, $heads heads, d=32: $count instructions"
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
