#!/usr/bin/env bash
# Tokenizer benchmark: chargeback-tokenizer's count_text against Python
# tiktoken, on the same 1 MiB English and 1 MiB multilingual texts, in the
# same run, single-threaded (so per core). Fails unless every token count is
# identical. Offline: tiktoken's vocabularies come from the bpe-openai crate
# in the cargo registry, nothing is fetched but the tiktoken package itself
# (pip, if it is missing).
#
# Usage (from anywhere): tokenizer/bench/run.sh [WORK_DIR]   (default /tmp/tokenizer-bench)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/tokenizer-bench}"
mkdir -p "$work"

echo "== texts"
python3 "$here/make_texts.py" "$work"
texts=("$work/english.txt" "$work/multilingual.txt" "$work/mixed.txt")

echo "== python tiktoken"
python3 -c 'import tiktoken' 2>/dev/null || python3 -m pip install --quiet tiktoken
python3 -c 'import tiktoken; print("tiktoken", tiktoken.__version__)'
cd "$repo"
vocab_dir="$(cargo metadata --format-version 1 | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
pkg = next(p for p in meta["packages"] if p["name"] == "bpe-openai")
print(os.path.join(os.path.dirname(pkg["manifest_path"]), "data"))')"
python3 "$here/tiktoken_peer.py" setup-cache "$work/tiktoken-cache" "$vocab_dir"

echo "== rust (cargo bench, release profile)"
cargo bench -p chargeback-tokenizer --bench tokens -- "${texts[@]}" | tee "$work/rust.out"
echo "== python"
TIKTOKEN_CACHE_DIR="$work/tiktoken-cache" python3 "$here/tiktoken_peer.py" bench "${texts[@]}" | tee "$work/python.out"

echo "== results (tokens/s per core: one thread each; best of 15 runs, median ratio too)"
python3 - "$work/rust.out" "$work/python.out" <<'PY'
import os, sys

def rows(path, kind):
    out = {}
    for line in open(path):
        parts = line.split()
        if parts and parts[0] == kind:
            out[(os.path.basename(parts[1]), parts[2])] = parts[3:]
    return out

rust, python = rows(sys.argv[1], "rust"), rows(sys.argv[2], "python")
ok = True
print("| text | encoding | tokens | ours | bpe-openai | tiktoken | ours / tiktoken (best) | (median) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for key in sorted(rust):
    tokens, best, median, ref_tokens, ref_best, _ref_median = rust[key]
    py_tokens, py_best, py_median = python[key]
    same = tokens == ref_tokens == py_tokens
    ok &= same
    t = int(tokens)
    rate = lambda secs: f"{t / float(secs) / 1e6:.1f} M/s"
    print(f"| {key[0]} | {key[1]} | {t:,} | {rate(best)} | {rate(ref_best)} | {rate(py_best)} "
          f"| {float(py_best) / float(best):.2f}x | {float(py_median) / float(median):.2f}x |"
          + ("" if same else f"  COUNTS DIFFER: ours {tokens}, bpe-openai {ref_tokens}, tiktoken {py_tokens}"))
if not ok:
    sys.exit("token counts differ")
print("token counts identical across ours, bpe-openai and tiktoken")
PY
