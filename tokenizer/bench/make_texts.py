#!/usr/bin/env python3
"""Builds the two 1 MiB benchmark texts, deterministically.

english.txt: the licence texts every Debian system ships in
/usr/share/common-licenses, then the packages' /usr/share/doc/*/copyright files,
in C-locale name order, cut to 1 MiB at a character boundary. (The copyright
files depend on the packages installed; the SHA-256 printed identifies the text.)

multilingual.txt: generated with a fixed seed. For each of twelve scripts a
vocabulary of pseudo-words is built from that script's letters, and words are
drawn with a Zipf-like distribution (as in real text, a few words are very
common), with sentence punctuation, numbers and line breaks.

mixed.txt (256 KiB): a correctness check more than a speed figure: random
characters from every class the pre-tokenizer patterns tell apart (letters
of each case kind, combining marks, numbers, each kind of white space,
apostrophes with contraction letters, punctuation, emoji), so no word repeats.

Usage: make_texts.py OUT_DIR
"""

import glob
import hashlib
import os
import random
import sys

MIB = 1024 * 1024


def cut_utf8(data: bytes, size: int) -> bytes:
    """The first `size` bytes of valid UTF-8 `data`, backed off to a character boundary."""
    data = data[:size]
    while data and (data[-1] & 0xC0) == 0x80:
        data = data[:-1]
    if data and data[-1] >= 0xC0:
        data = data[:-1]
    return data


def english() -> bytes:
    licences = sorted(glob.glob("/usr/share/common-licenses/*"))
    copyrights = sorted(glob.glob("/usr/share/doc/*/copyright"))
    parts = []
    seen = set()
    for path in licences + copyrights:
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        with open(real, "rb") as f:
            # Some copyright files are Latin-1; keep only what decodes.
            parts.append(f.read().decode("utf-8", errors="ignore"))
        if sum(len(p) for p in parts) > 2 * MIB:
            break
    return cut_utf8("\n".join(parts).encode("utf-8"), MIB)


# Letters per script (code point ranges of ordinary letters).
SCRIPTS = {
    "latin": "abcdefghijklmnopqrstuvwxyzäöüßéèêàçñ",
    "greek": "".join(chr(c) for c in range(0x3B1, 0x3CA)),
    "cyrillic": "".join(chr(c) for c in range(0x430, 0x450)),
    "armenian": "".join(chr(c) for c in range(0x561, 0x587)),
    "hebrew": "".join(chr(c) for c in range(0x5D0, 0x5EB)),
    "arabic": "".join(chr(c) for c in range(0x627, 0x64B)),
    "devanagari": "".join(chr(c) for c in range(0x915, 0x939)) + "\u093e\u093f\u0940\u0941\u0947\u094b",
    "thai": "".join(chr(c) for c in range(0xE01, 0xE2F)),
    "georgian": "".join(chr(c) for c in range(0x10D0, 0x10F1)),
    "hangul": "".join(chr(c) for c in range(0xAC00, 0xAC00 + 400)),
    "kana": "".join(chr(c) for c in range(0x3041, 0x3097)) + "".join(chr(c) for c in range(0x30A1, 0x30F7)),
    "han": "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2000)),
}
# Scripts written without spaces between words.
UNSPACED = {"thai", "han", "kana"}


def multilingual() -> bytes:
    rng = random.Random(20261126)

    def pick(seq):
        return seq[int(rng.random() * len(seq))]

    vocab = {}
    for name, letters in SCRIPTS.items():
        size = 3000
        words = []
        for _ in range(size):
            length = 1 + int(rng.random() * 3) if name in ("han", "hangul") else 2 + int(rng.random() * 8)
            words.append("".join(pick(letters) for _ in range(length)))
        vocab[name] = words
    names = sorted(SCRIPTS)
    out = []
    total = 0
    while total < MIB + 4096:
        name = pick(names)
        words = vocab[name]
        sentence = []
        for _ in range(4 + int(rng.random() * 12)):
            # Zipf-like rank: small ranks are much more likely.
            rank = int(len(words) ** rng.random()) - 1
            sentence.append(words[rank])
            if rng.random() < 0.05:
                sentence.append(str(int(rng.random() * 100000)))
        sep = "" if name in UNSPACED else " "
        text = sep.join(sentence)
        text = text[:1].upper() + text[1:] + pick([".", ".", ".", "!", "?", "。", "،", ";"])
        text += "\n" if rng.random() < 0.2 else " "
        out.append(text)
        total += len(text.encode("utf-8"))
    return cut_utf8("".join(out).encode("utf-8"), MIB)


MIXED_ALPHABET = (
    "abZQéÉǅʰ中ק\u0301\u0903\u093e70٣½Ⅻ   \t\n\r\u00a0\u3000''sSſtrevVlLdmM.,/!-😀$<|"
    "ΑαЖжאبअกაㄱ가あア한國"
)


def mixed() -> bytes:
    rng = random.Random(7)
    alphabet = MIXED_ALPHABET
    chars = [alphabet[int(rng.random() * len(alphabet))] for _ in range(MIB // 4)]
    return cut_utf8("".join(chars).encode("utf-8"), MIB // 4)


def main() -> None:
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, build in (("english.txt", english), ("multilingual.txt", multilingual), ("mixed.txt", mixed)):
        data = build()
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        print(f"{path}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
