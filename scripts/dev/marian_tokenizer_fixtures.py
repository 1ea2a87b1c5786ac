#!/usr/bin/env python3
"""Write reference fixtures for tests/marian_tokenizer.rs with transformers' MarianTokenizer.

Dev-only. Run from the repository root inside a venv that has `transformers`,
`sentencepiece` and `protobuf` (no torch needed):

    python scripts/dev/marian_tokenizer_fixtures.py

Inputs: ../shared/testdata/marian-tokenizer-fr-en (tokenizer files) and
../shared/testdata/flores200-uk-en/dev.{uk,en} (first 200 lines of each).
Outputs (JSON lines) under tests/fixtures/marian_tokenizer/:

* fr_en_cases.jsonl: side, text, ids, pieces, decoded (skip_special_tokens=True),
  decoded_raw (skip_special_tokens=False).
* fr_en_random.jsonl: 2,500 seeded random strings (both sides, no pieces).
* fr_en_decode.jsonl: arbitrary id sequences and what decode returns (or "error").
* tiny_<name>/: two tiny unigram models trained here on the flores lines to
  cover what fr-en lacks: `bytefallback` (nmt_nfkc, byte_fallback, user-defined
  symbols) and `identity` (no charsmap, no dummy prefix, whitespace kept).
  Each has model.spm (used as both source.spm and target.spm), a vocab.json in
  Marian style (ids reversed, every 40th piece left out, `<pad>` last) and
  cases.jsonl (encode cases, then decode cases).
* separate_vocab_cases.jsonl: the same model with `separate_vocabs: true` and a
  target_vocab.json whose ids are the reversed shared ids (id -> N-1-id); the
  Rust test rebuilds that directory the same way.
"""
import json
import os
import random
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
from transformers import MarianTokenizer  # noqa: E402
import transformers  # noqa: E402
import sentencepiece  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "testdata")
MODEL = os.path.join(SHARED, "marian-tokenizer-fr-en")
OUT = os.path.join(ROOT, "tests", "fixtures", "marian_tokenizer")

# Hand-picked strings: special tokens inside text, language codes, whitespace and
# normalisation corner cases, and Unigram score ties (sentencepiece keeps path
# scores in f32, which decides ties like "ggg" -> "gg" + "g").
TRICKY = [
    "ggg", "ddd 222", "Ahhh, 1000 ou 2000 ? 111 !", "-e2gggbach20d,", "210c3ddd3gf.1age",
    "a </s> b", "a</s>b", " </s> ", "</s>", "<unk>", "x<pad>y", "<s> bonjour",
    ">>ukr<< Bonjour", ">>fra<<Bonjour", "Bonjour >>fra<<", ">> <<", "  >>fra<< hi",
    ">>a<<</s>x", "</s>>>fra<<x", ">>fra", "<<fra>>",
    "", " ", "   ", "\t\n", "a  b", "  a\t\tb  ", "a\u3000b\u00a0c\u2009d", "a\u200bb", "a \u200b b",
    "e\u0301te\u0301", "ﬁ ﬂ Ⅻ ① ½ ™", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ｶﾀｶﾅ", "a\x00b", "x\x1fy", "line\r\nbreak",
    "👩\u200d👩\u200d👧 🇺🇦 ❤️", "м'ясо, мʼясо, м’ясо", "▁", "▁▁x", "_under_score_", "C'est l'été.",
    "«Guillemets» et “anglais”", "…", "Ça coûte 3,50 € (TTC).", "ŒUVRE œuvre", "İstanbul", "ß ẞ",
    "\ufeffBOM", "a\u2028b", "a\x85b", "x\u00adx", "🚀🚀🚀", "Україна", "Ukraine's U.S.-led 24/7 op.",
    "3.g 3c--ggg", "a12hhb3'gggdag de -,gb0gc",
    # Charsmap rules whose keys extend shorter keys (longest match wins).
    "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ﾀﾞ", "\u1100\u1161 \u1100\u1161\u11a8", "A\u030a", "\u2474", "ﬀi",
]

# Alphabets for random strings: score ties, accents, combining marks, width and
# compatibility forms, invisible and control characters, special-token letters.
RANDOM_ALPHABETS = [
    "abcdefgh gg .,-'0123", "ssseeellltt ", "aàáâãäåæçèéêëìíîïñòóôõöùúûüýÿ  ",
    "e\u0301a\u0300o\u0308 \u3000\t\u00a0xX1", "ＡＢＣａｂｃ１２３ｶﾀ ﬁﬂ①½™…«»“”‘’ ", "<>/s unkpad>< ",
    "abc\u200b\u200d\u2060\ufeff \u00ad", "Привіт світ ʼ' ", "🚀👩\u200d👧🇺🇦 ab", "1234567890.,:/ ",
    "ǄǅǆŉſẞßİıŒœ ", "\x00\x01\x1f\x7f\x85 ab", "한국어日本語中文 ab", "अआइईउऊ ab",
]


def encode(tok, text, side):
    if side == "source":
        return tok(text)["input_ids"]
    return tok(text_target=text)["input_ids"]


def case(tok, side, text):
    ids = encode(tok, text, side)
    return {
        "side": side,
        "text": text,
        "ids": ids,
        "pieces": tok.convert_ids_to_tokens(ids),
        "decoded": tok.decode(ids, skip_special_tokens=True),
        "decoded_raw": tok.decode(ids, skip_special_tokens=False),
    }


def decode_case(tok, ids, skip):
    try:
        out = tok.decode(ids, skip_special_tokens=skip)
    except Exception:  # noqa: BLE001 - any failure is an expected error
        out = None
    return {"ids": ids, "skip_special_tokens": skip, "decoded": out}


def write(name, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(name, len(rows), file=sys.stderr)


TINY_MODELS = [
    (
        "bytefallback",
        dict(byte_fallback=True, user_defined_symbols=["<sep>", "@@", ">>ukr<<"], normalization_rule_name="nmt_nfkc"),
    ),
    (
        "identity",
        dict(
            normalization_rule_name="identity",
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            user_defined_symbols=["<sep>"],
        ),
    ),
]


def write_tiny(name, kwargs, uk, en):
    import io

    lines = uk + en
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=600,
        model_type="unigram",
        character_coverage=0.98,
        minloglevel=2,
        **kwargs,
    )
    spm_bytes = model.getvalue()
    sp = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
    pieces = [sp.IdToPiece(i) for i in range(sp.GetPieceSize())]
    kept = [p for i, p in enumerate(pieces) if i % 40 != 39 or p in ("<unk>", "</s>")]
    vocab = {p: i for i, p in enumerate(reversed(kept))}
    vocab["<pad>"] = len(vocab)
    out_dir = os.path.join(OUT, "tiny_" + name)
    os.makedirs(out_dir, exist_ok=True)
    open(os.path.join(out_dir, "model.spm"), "wb").write(spm_bytes)
    json.dump(vocab, open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    with tempfile.TemporaryDirectory() as d:
        for f in ("source.spm", "target.spm"):
            open(os.path.join(d, f), "wb").write(spm_bytes)
        shutil.copy(os.path.join(out_dir, "vocab.json"), d)
        tok = MarianTokenizer.from_pretrained(d)
        rng = random.Random(2)
        texts = TRICKY + uk[:40] + en[:40]
        texts += ["a<sep>b @@c >>ukr<< x", ">>ukr<<Привіт", "<sep><sep>", "  <sep>  ", "x@@@y", "Україна 🚀 ŉ"]
        for _ in range(300):
            alphabet = rng.choice(RANDOM_ALPHABETS + ["<sep>@@ ab", "Привіт світ 🚀ŉ"])
            texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))))
        rows = [case(tok, "source", t) for t in texts]
        for row in rows:
            del row["pieces"]
        byte = lambda b: vocab["<0x%02X>" % b]  # noqa: E731
        decode_ids = [
            [byte(0xD0)],
            [byte(0xD0), byte(0xA3), vocab["</s>"]],
            [byte(0xF0), byte(0x9F), byte(0x9A), byte(0x80), byte(0x41)],
            [byte(0xF0), vocab["<pad>"], byte(0x9F)],
            [byte(0xC3), byte(0xA9), byte(0xA9), byte(0x20)],
        ] if "<0x41>" in vocab else []
        decode_ids += [[vocab["<sep>"], 0, 1, 2, 3, vocab["<unk>"], 5]]
        rows += [decode_case(tok, ids, skip) for ids in decode_ids for skip in (True, False)]
        write(os.path.join("tiny_" + name, "cases.jsonl"), rows)


def main():
    os.makedirs(OUT, exist_ok=True)
    tok = MarianTokenizer.from_pretrained(MODEL)
    uk = open(os.path.join(SHARED, "flores200-uk-en", "dev.uk"), encoding="utf-8").read().splitlines()[:200]
    en = open(os.path.join(SHARED, "flores200-uk-en", "dev.en"), encoding="utf-8").read().splitlines()[:200]
    rows = []
    for side in ("source", "target"):
        for text in TRICKY + uk + en:
            rows.append(case(tok, side, text))
    write("fr_en_cases.jsonl", rows)

    rng = random.Random(1)
    rows = []
    for _ in range(2500):
        alphabet = rng.choice(RANDOM_ALPHABETS)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        for side in ("source", "target"):
            row = case(tok, side, text)
            del row["pieces"]
            rows.append(row)
    write("fr_en_random.jsonl", rows)

    n = len(tok.encoder)
    decode_ids = [
        [43312, 100, 43311, 53016, 50387, 200],
        [43312, 43312, 7869],
        [104, 104, 104, 35],
        [200, 201, 202],
        [43311, 6618, 43311],
        [n - 1, 0, 1, 2, 3],
        [],
        [60000, 100],
        [n],
    ]
    rows = [decode_case(tok, ids, skip) for ids in decode_ids for skip in (True, False)]
    write("fr_en_decode.jsonl", rows)

    for name, kwargs in TINY_MODELS:
        write_tiny(name, kwargs, uk, en)

    with tempfile.TemporaryDirectory() as d:
        for f in ("source.spm", "target.spm", "vocab.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(MODEL, f), d)
        vocab = json.load(open(os.path.join(MODEL, "vocab.json"), encoding="utf-8"))
        target_vocab = {k: n - 1 - v for k, v in vocab.items()}
        json.dump(target_vocab, open(os.path.join(d, "target_vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
        cfg = json.load(open(os.path.join(MODEL, "tokenizer_config.json"), encoding="utf-8"))
        cfg["separate_vocabs"] = True
        json.dump(cfg, open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8"))
        stok = MarianTokenizer.from_pretrained(d)
        rows = []
        for side in ("source", "target"):
            for text in TRICKY[:30] + uk[:20] + en[:20]:
                rows.append(case(stok, side, text))
        rows += [decode_case(stok, [n - 1 - 43312, 100, 53016 - 43311, 0, 43311], skip) for skip in (True, False)]
        write("separate_vocab_cases.jsonl", rows)
    print("transformers", transformers.__version__, "sentencepiece", sentencepiece.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
