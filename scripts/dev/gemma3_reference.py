"""Exact-arithmetic reference for the Gemma 3 GGUF decoder (dev-only).

llama.cpp is the usual reference for GGUF models, but its own greedy output
for Gemma 3 270M changes with its KV-cache precision (f16 by default, f32 on
request): the model's post-norm weights reach several hundred, so small
rounding differences move logits by up to 1. This script computes the model
as written in the file with no rounding of its own: every weight dequantized
with the `gguf` package, every activation in float64, the graph of llama.cpp's
`gemma3` architecture (√width embedding scale, RMS norms whose weights already
include Gemma's +1, per-head Q/K norms, NEOX RoPE with base 10 000 on the
sliding-window layers and the file's base on every sixth, global, layer,
attention scale 1/√head_dim, post-attention and post-MLP norms, GELU-tanh MLP,
the token embedding as the output layer).

For each prompt of tests/fixtures/llm/generate_gemma3.json it decodes
greedily (EOS ignored) and adds, under "reference", the generated ids and at
each step the two best tokens with their logits (run it after
llm_generate_fixtures.py, which rewrites the file). tests/llm.rs compares the
engine with it.

    python3 -m pip install gguf numpy
    python3 scripts/dev/gemma3_reference.py /path/gemma-3-270m-q4_k_m.gguf
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests/fixtures/llm/generate_gemma3.json")


class Gemma3:
    def __init__(self, path):
        r = GGUFReader(path)
        self.t = {t.name: t for t in r.tensors}
        self.cache = {}
        f = r.fields

        def num(key, default=None):
            if key not in f:
                return default
            return f[key].parts[f[key].data[0]][0].item()

        self.width = int(num("gemma3.embedding_length"))
        self.layers = int(num("gemma3.block_count"))
        self.heads = int(num("gemma3.attention.head_count"))
        self.kv_heads = int(num("gemma3.attention.head_count_kv"))
        self.head_dim = int(num("gemma3.attention.key_length"))
        self.eps = float(num("gemma3.attention.layer_norm_rms_epsilon"))
        self.base = float(num("gemma3.rope.freq_base"))
        self.base_swa = float(num("gemma3.rope.freq_base_swa", 10000.0))
        self.window = int(num("gemma3.attention.sliding_window"))

    def mm(self, x, name):
        return x @ self.w(name).T

    def w(self, name):
        if name not in self.cache:
            t = self.t[name]
            a = dequantize(t.data, t.tensor_type).astype(np.float64)
            self.cache[name] = a.reshape([int(x) for x in reversed(t.shape)])
        return self.cache[name]

    def rms(self, v, name):
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + self.eps) * self.w(name)

    def rope(self, v, base):  # (n, heads, head_dim), NEOX halves
        n, half = v.shape[0], self.head_dim // 2
        inv = base ** (-np.arange(half) * 2.0 / self.head_dim)
        ang = np.arange(n)[:, None] * inv[None, :]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = v[..., :half], v[..., half:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], -1)

    def logits(self, ids):
        n, hd, rep = len(ids), self.head_dim, self.heads // self.kv_heads
        emb = self.w("token_embd.weight")
        x = emb[ids] * np.sqrt(self.width)
        pos = np.arange(n)
        for li in range(self.layers):
            p = f"blk.{li}."
            h = self.rms(x, p + "attn_norm.weight")
            q = self.mm(h, p + "attn_q.weight").reshape(n, self.heads, hd)
            k = self.mm(h, p + "attn_k.weight").reshape(n, self.kv_heads, hd)
            v = self.mm(h, p + "attn_v.weight").reshape(n, self.kv_heads, hd)
            q = self.rms(q, p + "attn_q_norm.weight")
            k = self.rms(k, p + "attn_k_norm.weight")
            is_global = (li + 1) % 6 == 0
            base = self.base if is_global else self.base_swa
            q, k = self.rope(q, base), self.rope(k, base)
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            s = np.einsum("ihd,jhd->hij", q, k) / np.sqrt(hd)
            hidden = pos[None, :] > pos[:, None]
            if not is_global:
                hidden |= (pos[:, None] - pos[None, :]) >= self.window
            s[:, hidden] = -np.inf
            e = np.exp(s - s.max(-1, keepdims=True))
            a = e / e.sum(-1, keepdims=True)
            o = np.einsum("hij,jhd->ihd", a, v).reshape(n, self.heads * hd)
            x = x + self.rms(self.mm(o, p + "attn_output.weight"), p + "post_attention_norm.weight")
            h = self.rms(x, p + "ffn_norm.weight")
            g = self.mm(h, p + "ffn_gate.weight")
            g = 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3)))
            m = self.mm(g * self.mm(h, p + "ffn_up.weight"), p + "ffn_down.weight")
            x = x + self.rms(m, p + "post_ffw_norm.weight")
        return self.mm(self.rms(x[-1:], "output_norm.weight"), "token_embd.weight")[0]


def main():
    key = "reference"
    model = Gemma3(sys.argv[1])
    fx = json.load(open(FIXTURE))
    for case in fx["cases"]:
        ids, out, top2 = list(case["prompt_ids"]), [], []
        for _ in range(fx["new_tokens"]):
            lg = model.logits(ids)
            order = np.argsort(-lg, kind="stable")[:2]
            top2.append([[int(t), float(lg[t])] for t in order])
            out.append(int(order[0]))
            ids.append(int(order[0]))
        case[key] = {"output_ids": out, "top2": top2}
        print(len(out), "tokens; smallest margin",
              min(a[1] - b[1] for a, b in top2), flush=True)
    fx[key] = ("weights dequantized with gguf, float64 arithmetic "
               "(scripts/dev/gemma3_reference.py)")
    with open(FIXTURE, "w") as f:
        json.dump(fx, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
