#!/usr/bin/env python3
"""Python tiktoken on the same texts as `benches/tokens.rs`, for comparison.

Two commands:

  tiktoken_peer.py setup-cache CACHE_DIR VOCAB_DIR
      Fills CACHE_DIR so tiktoken loads cl100k_base and o200k_base offline.
      tiktoken caches a vocabulary file under the SHA-1 of its download URL;
      we ask tiktoken's own encoding constructors for that URL and expected
      SHA-256 (without downloading), and copy the vocabulary from VOCAB_DIR,
      which holds `<name>.tiktoken.gz` (the bpe-openai crate's data/ folder
      from the cargo registry). The SHA-256 is checked.

  tiktoken_peer.py bench FILE...
      With TIKTOKEN_CACHE_DIR set, prints for each file and encoding:
      `python <file> <encoding> <tokens> <best seconds> <median seconds>`
      (single thread, `encode_ordinary`, 15 runs after a warm-up).
"""

import gzip
import hashlib
import os
import statistics
import sys
import time

ENCODINGS = ("cl100k_base", "o200k_base")
RUNS = 15


def setup_cache(cache_dir: str, vocab_dir: str) -> None:
    import tiktoken_ext.openai_public as public

    requested = []

    def capture(path, expected_hash=None):
        requested.append((path, expected_hash))
        return {}

    # The constructors only call load_tiktoken_bpe(url, expected_hash) and
    # build a dict around it; capture the arguments instead of downloading.
    public.load_tiktoken_bpe = capture
    os.makedirs(cache_dir, exist_ok=True)
    for name in ENCODINGS:
        requested.clear()
        getattr(public, name)()
        (url, expected), = requested
        with gzip.open(os.path.join(vocab_dir, f"{name}.tiktoken.gz"), "rb") as f:
            data = f.read()
        actual = hashlib.sha256(data).hexdigest()
        if expected is not None and actual != expected:
            sys.exit(f"{name}: vocabulary sha256 {actual} != tiktoken's expected {expected}")
        key = hashlib.sha1(url.encode()).hexdigest()
        with open(os.path.join(cache_dir, key), "wb") as f:
            f.write(data)
        print(f"{name}: cached as {key} (sha256 {actual} matches tiktoken)")


def bench(files) -> None:
    import tiktoken

    for path in files:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        for name in ENCODINGS:
            enc = tiktoken.get_encoding(name)
            tokens = len(enc.encode_ordinary(text))
            times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                enc.encode_ordinary(text)
                times.append(time.perf_counter() - start)
            print(f"python {path} {name} {tokens} {min(times):.6f} {statistics.median(times):.6f}", flush=True)


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "setup-cache":
        setup_cache(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "bench":
        bench(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
