#!/usr/bin/env bash
# Side by side, in one run: single-threaded encoding rate of this package's tokenizer
# (`longembed bench tokenizer`) and of Hugging Face `tokenizers` (the fixture venv:
# scripts/fixtures/setup_venv.sh tokenizers), on the same document: the first lines of the KJV
# haystack (.cache/haystack/kjv.txt, `make setup`) up to BYTES bytes (default 136000, about 32k
# tokens). Median of ROUNDS rounds (default 5) after one warm-up each. Needs `make setup` and
# `swift build -c release`.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes="${BYTES:-136000}"
rounds="${ROUNDS:-5}"
py="scripts/fixtures/.venv-fixtures-tok/bin/python"
[ -x "$py" ] || { echo "run scripts/fixtures/setup_venv.sh tokenizers first" >&2; exit 1; }
doc="$(mktemp)"
trap 'rm -f "$doc"' EXIT
python3 - "$bytes" "$doc" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
text = open(".cache/haystack/kjv.txt", encoding="utf-8").read()
cut = text[:n]
cut = cut[:cut.rfind("\n") + 1] if "\n" in cut else cut
open(out, "w", encoding="utf-8").write(cut)
PY
echo "| tokenizer | tokens | longembed tokens/s | tokenizers tokens/s | ratio |"
echo "|---|---|---|---|---|"
for t in .cache/tokenizers/qwen3/tokenizer.json .cache/tokenizers/llama3/tokenizer.json \
         .cache/tokenizers/xlm-roberta/tokenizer.json .cache/tokenizers/t5/tokenizer.json \
         Tests/Fixtures/tokenizers/mistral-7b-v0.1/tokenizer.json .models/all-MiniLM-L6-v2/tokenizer.json; do
    ours="$(.build/release/longembed bench tokenizer --tokenizer "$t" --document "$doc" --rounds "$rounds" | tail -1)"
    theirs="$(RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$py" - "$t" "$doc" "$rounds" <<'PY'
import json, statistics, sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1]); tok.no_padding(); tok.no_truncation()
doc = open(sys.argv[2], encoding="utf-8").read()
n = len(tok.encode(doc, add_special_tokens=False).ids)
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); tok.encode(doc, add_special_tokens=False); times.append(time.perf_counter() - t)
print(json.dumps({"tokens": n, "tokens_per_second": n / statistics.median(times)}))
PY
)"
    python3 - "$t" "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[2]), json.loads(sys.argv[3])
assert a["tokens"] == b["tokens"], f"token counts differ: {a['tokens']} vs {b['tokens']}"
print(f"| {sys.argv[1]} | {a['tokens']} | {a['tokens_per_second']:,.0f} | {b['tokens_per_second']:,.0f} | {a['tokens_per_second'] / b['tokens_per_second']:.2f}x |")
PY
done
