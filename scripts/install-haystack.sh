#!/usr/bin/env bash
# Writes the default needle haystack: the King James Bible (public domain), from Debian's
# bible-kjv package, as plain text in $1 (default .cache/haystack/kjv.txt). Idempotent.
set -euo pipefail
dest="${1:-.cache/haystack/kjv.txt}"
if [ -s "$dest" ]; then exit 0; fi
bash "$(dirname "$0")/install-system-packages.sh" bible-kjv
mkdir -p "$(dirname "$dest")"
# Verses "Ge1:1 In the beginning ..." -> text without the references.
bible -f "Genesis1:1-Revelation22:21" | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //' > "$dest.partial"
mv "$dest.partial" "$dest"
