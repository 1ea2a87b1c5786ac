#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python) speed on the same GGUF and prompt ids as
`ukdigest bench-llm` / `cargo run --release --example llm_bench` (dev-only).

    python3 scripts/dev/llm_bench_llamacpp.py --model M.gguf --report candle.json \
        --threads 2 --repeats 3

Reads the prompt ids and generated-token count from the Candle report
(JSON with `prompt_ids`, `generated_tokens`), runs the prompt in one batch,
then decodes greedily one token at a time ignoring EOS, and prints JSON with
prompt and decode tokens/s (best of the repeats, like the Candle side; decode
speed counts the generated_tokens - 1 forward passes after the prompt).
"""
import argparse
import json
import time

import llama_cpp
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--report", required=True, help="Candle bench JSON report")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    ids = report["prompt_ids"]
    gen = report["generated_tokens"]
    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=len(ids) + gen + 16,
        n_batch=max(512, len(ids)),
        n_ubatch=max(512, len(ids)),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    n_vocab = llm.n_vocab()

    def next_token():
        # Logits of the last evaluated position (only that one is computed).
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))

    runs = []
    for i in range(args.repeats + 1):  # the first run is a warm-up
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        prompt_secs = time.perf_counter() - t0
        tok = next_token()
        t1 = time.perf_counter()
        for _ in range(gen - 1):
            llm.eval([tok])
            tok = next_token()
        decode_secs = time.perf_counter() - t1
        if i == 0:
            continue
        runs.append({
            "prompt_tokens_per_sec": len(ids) / prompt_secs,
            "decode_tokens_per_sec": (gen - 1) / decode_secs,
        })
    print(json.dumps({
        "engine": f"llama-cpp-python {llama_cpp.__version__}",
        "threads": args.threads,
        "prompt_tokens": len(ids),
        "generated_tokens": gen,
        "prompt_tokens_per_sec": max(r["prompt_tokens_per_sec"] for r in runs),
        "decode_tokens_per_sec": max(r["decode_tokens_per_sec"] for r in runs),
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
