#!/usr/bin/env python3
"""Dev-only: full-size random-weight Marian models + benchmark inputs, outside the repo.

Writes under $BENCH_DIR (default /root/.cache/ukdigest/bench-marian):
  uk_en/      opus-mt-uk-en-shaped HF model (d_model 512, 6+6 layers, 8 heads, ffn 2048, swish)
  uk_en_ct2/  the same converted for CTranslate2 (float32; int8 is chosen at load time)
  tc_big/     opus-mt-tc-big-shaped HF model (d_model 1024, 6+6 layers, 16 heads, ffn 4096, relu)
  tc_big_ct2/
  ids_<model>.json  source ids of the first N flores200 dev.uk sentences, tokenized by the real
                    Marian source.spm, clamped into the model's vocabulary, EOS appended.

    /root/.cache/ukdigest/venv-marian/bin/python scripts/dev/marian_bench_models.py
"""
import json
import os
import sys

import sentencepiece as spm
import torch
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "testdata")
TOK = os.path.join(SHARED, "marian-tokenizer-fr-en")
OUT = os.environ.get("BENCH_DIR", "/root/.cache/ukdigest/bench-marian")
N = int(os.environ.get("BENCH_SENTENCES", "200"))

MODELS = {
    # opus-mt-uk-en: vocab 61587, eos 0, pad = last id.
    "uk_en": dict(vocab=61587, eos=0, d_model=512, layers=6, heads=8, ffn=2048, act="swish"),
    # opus-mt-tc-big (the shared tokenizer's own model shape): vocab 53017, eos 43311.
    "tc_big": dict(vocab=53017, eos=43311, d_model=1024, layers=6, heads=16, ffn=4096, act="relu"),
}


def vocab_file(path, size, eos):
    """A vocab.json of `size` entries: the real fr-en pieces first, fillers after."""
    real = json.load(open(os.path.join(TOK, "vocab.json")))
    tokens = [t for t, _ in sorted(real.items(), key=lambda kv: kv[1])]
    tokens = [t for t in tokens if t not in ("</s>", "<pad>", "<unk>")]
    vocab = ["<unk>"] * size
    vocab[eos] = "</s>"
    vocab[size - 1] = "<pad>"
    it = iter(tokens)
    for i in range(size):
        if i in (eos, size - 1) or (i == 1 and eos != 1):
            continue
        vocab[i] = next(it, f"▁filler{i}")
    if eos != 1:
        vocab[1] = "<unk>"
    json.dump({t: i for i, t in enumerate(vocab)}, open(path, "w"), ensure_ascii=False)
    return vocab


def build(name, m):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    pad = m["vocab"] - 1
    cfg = MarianConfig(
        vocab_size=m["vocab"], decoder_vocab_size=m["vocab"], d_model=m["d_model"],
        encoder_layers=m["layers"], decoder_layers=m["layers"],
        encoder_attention_heads=m["heads"], decoder_attention_heads=m["heads"],
        encoder_ffn_dim=m["ffn"], decoder_ffn_dim=m["ffn"], activation_function=m["act"],
        scale_embedding=True, share_encoder_decoder_embeddings=True, max_position_embeddings=512,
        pad_token_id=pad, eos_token_id=m["eos"], decoder_start_token_id=pad, forced_eos_token_id=m["eos"],
    )
    torch.manual_seed(7)
    model = MarianMTModel(cfg).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=pad, eos_token_id=m["eos"], pad_token_id=pad,
        forced_eos_token_id=m["eos"], bad_words_ids=[[pad]], num_beams=4, max_length=512,
    )
    model.save_pretrained(d)
    vocab = vocab_file(os.path.join(d, "vocab.json"), m["vocab"], m["eos"])
    for f in ("source.spm", "target.spm"):
        with open(os.path.join(TOK, f), "rb") as src, open(os.path.join(d, f), "wb") as dst:
            dst.write(src.read())
    tok = MarianTokenizer(os.path.join(d, "source.spm"), os.path.join(d, "target.spm"),
                          os.path.join(d, "vocab.json"), eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    tok.save_pretrained(d)

    import ctranslate2
    ct2 = os.path.join(OUT, name + "_ct2")
    if not os.path.exists(os.path.join(ct2, "model.bin")):
        ctranslate2.converters.TransformersConverter(d).convert(ct2, force=True)

    sp = spm.SentencePieceProcessor(model_file=os.path.join(TOK, "source.spm"))
    lines = open(os.path.join(SHARED, "flores200-uk-en", "dev.uk"), encoding="utf-8").read().splitlines()[:N]
    ids = []
    for line in lines:
        pieces = sp.encode(line)[:255]
        # Clamp into the random model's vocabulary, away from EOS and pad.
        src = [min(max(p, 2), m["vocab"] - 2) for p in pieces]
        src = [1 if t == m["eos"] else t for t in src]
        ids.append(src + [m["eos"]])
    json.dump(ids, open(os.path.join(OUT, f"ids_{name}.json"), "w"))
    json.dump([[vocab[t] for t in s] for s in ids], open(os.path.join(OUT, f"tokens_{name}.json"), "w"),
              ensure_ascii=False)
    lens = [len(s) for s in ids]
    print(f"{name}: {len(ids)} sentences, source tokens mean {sum(lens) / len(lens):.1f} max {max(lens)}",
          file=sys.stderr)


if __name__ == "__main__":
    for name in sys.argv[1:] or MODELS:
        build(name, MODELS[name])
