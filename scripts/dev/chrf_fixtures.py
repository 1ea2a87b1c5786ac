#!/usr/bin/env python3
"""Dev-only: writes tests/fixtures/eval/chrf_sacrebleu.json, the reference
chrF values that tests/eval.rs checks src/eval.rs against.

Setup (outside the repo):
    python3 -m venv /root/.cache/ukdigest/venv-facts
    /root/.cache/ukdigest/venv-facts/bin/python3 -m pip install sacrebleu
    /root/.cache/ukdigest/venv-facts/bin/python3 scripts/dev/chrf_fixtures.py

References: the first 100 lines of FLORES-200 dev.en. Hypotheses: systematic
perturbations of them (deterministic, no randomness) plus the aligned
Ukrainian lines. Each system gets a corpus score and per-line sentence
scores from sacrebleu's default CHRF() (chrF2).
"""
import json
import os
import struct
import sys

import sacrebleu
from sacrebleu.metrics import CHRF

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLORES = os.path.join(ROOT, "..", "shared", "testdata", "flores200-uk-en")
OUT = os.path.join(ROOT, "tests", "fixtures", "eval", "chrf_sacrebleu.json")
N = 100


def bits(x):
    """IEEE-754 bits of a float as an integer, for exact comparison (JSON
    decimal floats may not round-trip through every parser)."""
    return int.from_bytes(struct.pack(">d", x), "big")


def read(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f][:N]


def drop_every_third_word(line):
    return " ".join(w for i, w in enumerate(line.split()) if i % 3 != 2)


def reverse_words(line):
    return " ".join(reversed(line.split()))


def rotate_words(line):
    words = line.split()
    return " ".join(words[1:] + words[:1])


def strip_punct(line):
    return "".join(c for c in line if c not in ",.;:!?\"'()")


def empty_every_fifth(lines):
    return ["" if i % 5 == 0 else line for i, line in enumerate(lines)]


def main():
    refs = read(os.path.join(FLORES, "dev.en"))
    uk = read(os.path.join(FLORES, "dev.uk"))
    systems = {
        "identity": list(refs),
        "drop_every_third_word": [drop_every_third_word(r) for r in refs],
        "reverse_words": [reverse_words(r) for r in refs],
        "rotate_words": [rotate_words(r) for r in refs],
        "lowercase": [r.lower() for r in refs],
        "uppercase": [r.upper() for r in refs],
        "strip_punctuation": [strip_punct(r) for r in refs],
        "extra_spaces": ["  ".join(r.split()) + " \t" for r in refs],
        "empty_every_fifth": empty_every_fifth(refs),
        "all_empty": ["" for _ in refs],
        "first_half": [r[: len(r) // 2] for r in refs],
        "ukrainian_source": list(uk),
        "shifted_by_one": refs[1:] + refs[:1],
    }
    chrf = CHRF()
    out = {
        "sacrebleu_version": sacrebleu.__version__,
        "references": refs,
        "n_lines": N,
        "systems": {},
    }
    for name, hyps in systems.items():
        corpus = chrf.corpus_score(hyps, [refs]).score
        sentences = [chrf.sentence_score(h, [r]).score for h, r in zip(hyps, refs)]
        out["systems"][name] = {
            "hypotheses": hyps,
            "corpus": corpus,
            "sentences": sentences,
            "corpus_bits": bits(corpus),
            "sentences_bits": [bits(x) for x in sentences],
        }
        print(f"{name:24s} {corpus:.6f}", file=sys.stderr)
    # Edge cases where the reference itself is empty.
    edge = [("", ""), ("abc", ""), ("", "abc"), ("a b", "ab"), ("x", "x")]
    out["edge_cases"] = [
        {"hyp": h, "ref": r, "sentence": chrf.sentence_score(h, [r]).score} for h, r in edge
    ]
    out["edge_corpus"] = chrf.corpus_score([h for h, _ in edge], [[r for _, r in edge]]).score
    out["signature"] = str(chrf.get_signature())
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
