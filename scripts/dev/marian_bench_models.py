#!/usr/bin/env python3
"""Dev-only: full-size random-weight Marian models + benchmark inputs, outside the repo.

Writes under $BENCH_DIR (default /root/.cache/ukdigest/bench-marian):
  uk_en/      opus-mt-uk-en-shaped HF model (d_model 512, 6+6 layers, 8 heads, ffn 2048, swish)
  uk_en_ct2/  the same converted for CTranslate2 (float32; int8 is chosen at load time)
  tc_big/     opus-mt-tc-big-shaped HF model (d_model 1024, 6+6 layers, 16 heads, ffn 4096, relu)
  tc_big_ct2/
  ids_<model>.json  source ids of the first N flores200 dev.uk sentences, tokenized by the real
                    Marian source.spm, clamped into the model's vocabulary, EOS appended.
  <model>_eos/, <model>_eos_ct2/
                    the same model with an untied output projection whose EOS row makes the
                    outputs end after about 0.6 x the source length (a random model otherwise
                    never emits EOS): the bench's EOS=allow mode, where finished sentences
                    leave the batch.

    /root/.cache/ukdigest/venv-marian/bin/python scripts/dev/marian_bench_models.py [uk_en tc_big]
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
# EOS variants (see build_eos_variant): greedy outputs of the first EOS_PROBE sentences end
# after about EOS_RATIO x their source length, median EOS_MEDIAN tokens (at most EOS_MAX_NEW).
EOS_MEDIAN = int(os.environ.get("EOS_MEDIAN", "28"))
EOS_RATIO = float(os.environ.get("EOS_RATIO", "0.6"))
EOS_MAX_NEW = int(os.environ.get("EOS_MAX_NEW", "64"))
EOS_PROBE = int(os.environ.get("EOS_PROBE", "32"))
EOS_RIDGE = float(os.environ.get("EOS_RIDGE", "1e-3"))

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


def padded(ids, pad):
    s = max(len(x) for x in ids)
    x = torch.tensor([i + [pad] * (s - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (s - len(i)) for i in ids])
    return x, mask


def greedy_lengths(model, ids, eos, max_new):
    x, mask = padded(ids, model.config.pad_token_id)
    with torch.inference_mode():
        out = model.generate(input_ids=x, attention_mask=mask, num_beams=1, max_new_tokens=max_new)
    return [row.index(eos) if eos in row else len(row) for row in out[:, 1:].tolist()]


def build_eos_variant(name, m):
    """<name>_eos: the same model with an untied output projection whose EOS row makes greedy
    outputs end after about EOS_RATIO x the source length (median EOS_MEDIAN tokens).

    A random model never emits EOS on its own, and raising final_logits_bias[eos] alone makes
    outputs end at step 1 or never (its hidden states hardly depend on the source). But the
    decoder's last hidden state is, almost exactly, a linear function of the target position and
    the source length: the EOS row is set to the (ridge) least-squares direction g with
    h_t . g + c ~ t - EOS_RATIO * len(source), and the EOS bias to c + b, b bisected so that
    the first EOS_PROBE sentences' median output length is EOS_MEDIAN."""
    src = os.path.join(OUT, name)
    d = os.path.join(OUT, name + "_eos")
    model = MarianMTModel.from_pretrained(src).eval()
    ids = json.load(open(os.path.join(OUT, f"ids_{name}.json")))[:EOS_PROBE]
    eos, pad, T = m["eos"], model.config.pad_token_id, EOS_MAX_NEW
    x, mask = padded(ids, pad)
    with torch.inference_mode():
        out = model.generate(input_ids=x, attention_mask=mask, num_beams=1, max_new_tokens=T,
                             min_new_tokens=T, forced_eos_token_id=None)
        fwd = model(input_ids=x, attention_mask=mask, decoder_input_ids=out[:, :-1],
                    output_hidden_states=True)
    h = fwd.decoder_hidden_states[-1].double()  # (B, T, d): what the output projection sees
    logits = fwd.logits.double()
    logits[:, :, eos] = float("-inf")
    best_other = logits.max(-1).values  # (B, T)
    B = h.shape[0]
    t = torch.arange(T, dtype=torch.float64).expand(B, T)
    lengths = torch.tensor([len(i) for i in ids], dtype=torch.float64).unsqueeze(1)
    target = (t - EOS_RATIO * lengths).reshape(-1)
    # Ridge, not plain least squares: the exact fit has a huge-norm direction (|g| ~ 2e4 on
    # tc_big) that int8 activations (CTranslate2's and ours) turn into noise of ~100 logits,
    # so EOS fired at step 1; with the ridge term |g| ~ 13 and that noise ~0.1.
    hf = h.reshape(-1, h.shape[-1])
    mu, tm = hf.mean(0), target.mean()
    hc = hf - mu
    gram = hc.T @ hc
    lam = EOS_RIDGE * gram.trace() / gram.shape[0]
    g = torch.linalg.solve(gram + lam * torch.eye(gram.shape[0], dtype=torch.float64), hc.T @ (target - tm))
    c = (tm - mu @ g).item()
    feature = h @ g + c

    def median_length(b):
        fire = (feature + b) > best_other
        lens = sorted(int(f.nonzero()[0]) if f.any() else T for f in fire)
        return lens[len(lens) // 2]

    lo, hi = -100.0, 100.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if median_length(mid) > EOS_MEDIAN:
            lo = mid
        else:
            hi = mid
    with torch.no_grad():
        head = model.model.shared.weight.detach().clone()
        head[eos] = g.float()
        model.config.tie_word_embeddings = False
        model.lm_head.weight = torch.nn.Parameter(head)
        # Untied, transformers no longer ties the encoder's and decoder's embed_tokens to
        # `shared` on load: save them as copies of it (they were deduplicated before).
        for part in (model.model.encoder, model.model.decoder):
            part.embed_tokens.weight = torch.nn.Parameter(model.model.shared.weight.detach().clone())
        model.final_logits_bias[0, eos] = c + hi
    model.save_pretrained(d)
    for f in os.listdir(src):
        if f not in ("model.safetensors", "config.json", "generation_config.json"):
            with open(os.path.join(src, f), "rb") as a, open(os.path.join(d, f), "wb") as b:
                b.write(a.read())
    reloaded = MarianMTModel.from_pretrained(d).eval()
    assert not reloaded.config.tie_word_embeddings
    for a, b in ((reloaded.model.shared, model.model.shared), (reloaded.model.encoder.embed_tokens,
                 model.model.shared), (reloaded.model.decoder.embed_tokens, model.model.shared),
                 (reloaded.lm_head, model.lm_head)):
        assert torch.equal(a.weight, b.weight), "saved weights do not reload as they were"
    lens = greedy_lengths(reloaded, ids, eos, T)
    # What int8 activations do to the EOS feature (per-row absmax quantization, as both
    # int8 engines quantize): its error in logits.
    scale = h.abs().amax(-1, keepdim=True) / 127
    q8_err = ((h / scale).round() * scale @ g - h @ g).std().item()
    print(f"{name}_eos: |g| {g.norm().item():.1f}, int8-activation error of the EOS logit "
          f"{q8_err:.3f} (std)", file=sys.stderr)
    print(f"{name}_eos: greedy output lengths of the first {len(ids)} sentences {lens} "
          f"(source lengths {[len(i) for i in ids]})", file=sys.stderr)
    import ctranslate2
    ctranslate2.converters.TransformersConverter(d).convert(os.path.join(OUT, name + "_eos_ct2"), force=True)


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    only_eos = os.environ.get("ONLY_EOS") == "1"  # the base models exist already
    for name in sys.argv[1:] or MODELS:
        if not only_eos:
            build(name, MODELS[name])
        build_eos_variant(name, MODELS[name])
