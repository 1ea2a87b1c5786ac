#!/usr/bin/env python3
"""Dev-only: builds tiny random-weight MarianMTModels and records HF transformers' outputs.

Writes tests/fixtures/marian/<name>/ with a hub-style model dir (config.json,
model.safetensors and/or pytorch_model.bin, generation_config.json) plus
expected.json (inputs, greedy/beam ids alone and batched, forced prefixes)
and expected.safetensors (encoder last hidden states, forced-prefix logits).

Run with the venv that has torch + transformers:
    /root/.cache/ukdigest/venv-marian/bin/python scripts/dev/marian_fixtures.py
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import GenerationConfig, MarianConfig, MarianMTModel

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "marian")
MAX_NEW = 20

CASES = {
    # opus-mt-uk-en-like: swish, shared embeddings, 2+2 layers.
    "uk_en_like": dict(
        seed=11,
        config=dict(
            vocab_size=500, decoder_vocab_size=500, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
            activation_function="swish", scale_embedding=True, share_encoder_decoder_embeddings=True,
            pad_token_id=499, eos_token_id=0, decoder_start_token_id=499, forced_eos_token_id=0,
            max_position_embeddings=128,
        ),
        generation=dict(num_beams=4, max_length=512, bad_words_ids=[[499]], length_penalty=1.0),
        eos_bias=1.1,
        weights=("safetensors", "pth"),
    ),
    # opus-mt-tc-big-like: relu, shared embeddings, uneven layer counts, more heads,
    # no-repeat-ngram and early_stopping=True.
    "tc_big_like": dict(
        seed=22,
        config=dict(
            vocab_size=600, decoder_vocab_size=600, d_model=64, encoder_layers=3, decoder_layers=2,
            encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=128, decoder_ffn_dim=128,
            activation_function="relu", scale_embedding=True, share_encoder_decoder_embeddings=True,
            pad_token_id=599, eos_token_id=7, decoder_start_token_id=599, forced_eos_token_id=7,
            max_position_embeddings=256,
        ),
        generation=dict(num_beams=4, max_length=512, bad_words_ids=[[599]], length_penalty=0.6,
                        no_repeat_ngram_size=3, early_stopping=True),
        eos_bias=1.7,
        weights=("safetensors",),
    ),
    # Separate source/target vocabularies, gelu, early_stopping="never", min_length.
    "separate_vocab": dict(
        seed=33,
        config=dict(
            vocab_size=400, decoder_vocab_size=300, d_model=32, encoder_layers=2, decoder_layers=1,
            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
            activation_function="gelu", scale_embedding=False, share_encoder_decoder_embeddings=False,
            pad_token_id=299, eos_token_id=0, decoder_start_token_id=299, forced_eos_token_id=0,
            max_position_embeddings=128,
        ),
        generation=dict(num_beams=3, max_length=512, bad_words_ids=[[299]], length_penalty=1.2,
                        early_stopping="never", min_length=5),
        eos_bias=1.5,
        weights=("safetensors",),
    ),
}


def randomize(model, seed, eos, eos_bias):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "embed_positions" in name:
                continue
            if name.endswith("layer_norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name or "shared" in name:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
            else:
                # Large projections so that layers, not the (tied) embedding, drive the output.
                p.copy_(0.6 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name == "final_logits_bias":
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
                b[0, eos] += eos_bias


def make_inputs(cfg, seed, n=20):
    g = torch.Generator().manual_seed(seed + 1000)
    lengths = [1, 2, 3, 5, 8, 13, 21, 34, 40, 4, 7, 11, 16, 25, 30, 6, 9, 18, 2, 12][:n]
    specials = {cfg["pad_token_id"], cfg["eos_token_id"]}
    out = []
    for L in lengths:
        ids = []
        while len(ids) < L - 1:
            t = int(torch.randint(1, cfg["vocab_size"], (1,), generator=g))
            if t not in specials:
                ids.append(t)
        out.append(ids + [cfg["eos_token_id"]])
    return out


def pad(batch, pad_id):
    s = max(len(x) for x in batch)
    ids = torch.tensor([x + [pad_id] * (s - len(x)) for x in batch])
    mask = torch.tensor([[1] * len(x) + [0] * (s - len(x)) for x in batch])
    return ids, mask


def gen(model, batch, pad_id, **kw):
    ids, mask = pad(batch, pad_id)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=MAX_NEW, **kw)
    return out.tolist()


def build(name, spec):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    torch.manual_seed(spec["seed"])
    cfg = spec["config"]
    config = MarianConfig(**cfg)
    model = MarianMTModel(config).eval()
    model.set_attn_implementation("eager")
    randomize(model, spec["seed"], cfg["eos_token_id"], spec["eos_bias"])
    gc = GenerationConfig(
        decoder_start_token_id=cfg["decoder_start_token_id"], eos_token_id=cfg["eos_token_id"],
        pad_token_id=cfg["pad_token_id"], forced_eos_token_id=cfg["forced_eos_token_id"],
        bos_token_id=0, **spec["generation"],
    )
    model.generation_config = gc
    if "safetensors" in spec["weights"]:
        model.save_pretrained(d)
    else:
        model.config.save_pretrained(d)
        gc.save_pretrained(d)
    if "pth" in spec["weights"]:
        pth_dir = os.path.join(OUT, name + "_pth")
        shutil.rmtree(pth_dir, ignore_errors=True)
        os.makedirs(pth_dir)
        sd = {k: v for k, v in model.state_dict().items() if "embed_positions" not in k}
        torch.save(sd, os.path.join(pth_dir, "pytorch_model.bin"))
        for f in ("config.json", "generation_config.json"):
            shutil.copy(os.path.join(d, f), pth_dir)

    inputs = make_inputs(cfg, spec["seed"])
    tensors = {}
    pad_id = cfg["pad_token_id"]
    with torch.no_grad():
        for i, x in enumerate(inputs):
            enc = model.get_encoder()(input_ids=torch.tensor([x])).last_hidden_state[0]
            tensors[f"encoder_{i}"] = enc.contiguous()
    g = torch.Generator().manual_seed(spec["seed"] + 2000)
    dec_vocab = cfg["decoder_vocab_size"]
    prefixes = []
    for i in (0, 6, 8):
        prefix = [cfg["decoder_start_token_id"]] + torch.randint(1, dec_vocab - 1, (7,), generator=g).tolist()
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([inputs[i]]),
                           decoder_input_ids=torch.tensor([prefix])).logits[0]
        tensors[f"logits_{len(prefixes)}"] = logits.contiguous()
        prefixes.append({"input": i, "decoder_input": prefix})

    beam_kw = dict(num_beams=spec["generation"]["num_beams"])
    cases = []
    for x in inputs:
        cases.append({
            "input": x,
            "greedy": gen(model, [x], pad_id, num_beams=1)[0],
            "beam": gen(model, [x], pad_id, **beam_kw)[0],
        })
    batch_idx = [3, 8, 0, 13, 5, 1, 17, 10]
    batch = [inputs[i] for i in batch_idx]
    expected = {
        "max_new_tokens": MAX_NEW,
        "num_beams": spec["generation"]["num_beams"],
        "cases": cases,
        "batch": {
            "indices": batch_idx,
            "greedy": gen(model, batch, pad_id, num_beams=1),
            "beam": gen(model, batch, pad_id, **beam_kw),
        },
        "prefixes": prefixes,
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f)
    save_file(tensors, os.path.join(d, "expected.safetensors"))
    glens = [len(c["greedy"]) - 1 for c in cases]
    blens = [len(c["beam"]) - 1 for c in cases]
    print(f"{name}: greedy lengths {glens}\n  beam lengths {blens}", file=sys.stderr)


if __name__ == "__main__":
    torch.set_num_threads(1)
    for name, spec in CASES.items():
        build(name, spec)
