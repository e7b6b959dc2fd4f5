#!/usr/bin/python3
"""Expected pre-tokenizer splits from Python's `regex` module (Debian's
python3-regex), for tests/conformance/tokenizer/unicode_numbers_test.cpp.

  pretokenize_reference.py FAMILIES.json OUT.json

FAMILIES.json: {"family": ["regex", ...], ...}, each family's patterns as
Laneway's table writes them (PCRE syntax; \\x{HHHH} becomes \\UHHHHHHHH here).
The texts: every code point of \\p{N} (categories Nd, Nl, No, by the regex
module's Unicode tables) alone and after a space, a digit and a letter, and
two of them in a row. Each family's regexes split in turn, every match and
every stretch between matches kept as a piece (the "isolated" semantics of
src/tokenizer/pretokenizer.h).
OUT.json: {"numbers": N, "texts": [...], "splits": {"family": [[piece, ...], ...]}}.
"""
import json
import sys

import regex


def to_python(pattern):
    return regex.sub(r"\\x\{([0-9A-Fa-f]+)\}", lambda m: "\\U%08X" % int(m.group(1), 16), pattern)


def split(compiled, text):
    pieces = [text]
    for rx in compiled:
        out = []
        for piece in pieces:
            pos = 0
            for m in rx.finditer(piece):
                if m.end() == m.start():
                    continue
                if m.start() > pos:
                    out.append(piece[pos:m.start()])
                out.append(m.group())
                pos = m.end()
            if pos < len(piece):
                out.append(piece[pos:])
        pieces = out
    return pieces


def main():
    families = json.load(open(sys.argv[1], encoding="utf-8"))
    number = regex.compile(r"\p{N}")
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and number.fullmatch(chr(cp))]
    texts = []
    for cp in cps:
        c = chr(cp)
        texts += [c, " " + c, "7" + c, "a" + c, c + c, c + "x"]
    splits = {}
    for name, patterns in families.items():
        compiled = [regex.compile(to_python(p)) for p in patterns]
        splits[name] = [split(compiled, t) for t in texts]
    json.dump({"numbers": len(cps), "texts": texts, "splits": splits},
              open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main()
