#!/usr/bin/env python3
"""Dev-only: CTranslate2 / PyTorch transformers side of scripts/bench_marian.sh.

Translates the same source ids as the Rust engine in the same consecutive batches,
with a fixed output length (EOS suppressed; `--allow-eos`: up to EOS), on `--threads`
threads, and prints one JSON line like examples/bench_marian.rs: tokens_per_second,
peak_rss_mib, ...

    marian_bench.py --engine ct2 --compute-type int8 --model DIR_ct2 --tokens tokens.json ...
    marian_bench.py --engine torch --model DIR --inputs ids.json ...
"""
import argparse
import json
import resource
import time
import warnings

warnings.filterwarnings("ignore")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ct2(a):
    import ctranslate2

    sources = json.load(open(a.tokens))[: a.limit]
    t0 = time.perf_counter()
    tr = ctranslate2.Translator(a.model, device="cpu", compute_type=a.compute_type,
                                inter_threads=1, intra_threads=a.threads)
    load = time.perf_counter() - t0
    # Warm-up, not timed (the Rust bench does the same).
    tr.translate_batch(sources[:1], beam_size=a.beams, max_decoding_length=2)
    t1 = time.perf_counter()
    n = 0
    for i in range(0, len(sources), a.batch):
        res = tr.translate_batch(
            sources[i: i + a.batch], beam_size=a.beams, max_batch_size=0,
            min_decoding_length=0 if a.allow_eos else a.max_new_tokens,
            max_decoding_length=a.max_new_tokens, return_scores=False,
        )
        n += sum(len(r.hypotheses[0]) for r in res)
    dt = time.perf_counter() - t1
    return load, dt, len(sources), n


def run_torch(a):
    import torch
    from transformers import MarianMTModel

    torch.set_num_threads(a.threads)
    sources = json.load(open(a.inputs))[: a.limit]
    t0 = time.perf_counter()
    model = MarianMTModel.from_pretrained(a.model).eval()
    load = time.perf_counter() - t0
    pad = model.config.pad_token_id
    with torch.inference_mode():  # warm-up, not timed
        model.generate(input_ids=torch.tensor(sources[:1]), num_beams=a.beams, max_new_tokens=2)
    t1 = time.perf_counter()
    n = 0
    with torch.inference_mode():
        for i in range(0, len(sources), a.batch):
            chunk = sources[i: i + a.batch]
            s = max(len(x) for x in chunk)
            ids = torch.tensor([x + [pad] * (s - len(x)) for x in chunk])
            mask = torch.tensor([[1] * len(x) + [0] * (s - len(x)) for x in chunk])
            fixed = {} if a.allow_eos else dict(min_new_tokens=a.max_new_tokens, forced_eos_token_id=None)
            out = model.generate(
                input_ids=ids, attention_mask=mask, num_beams=a.beams, do_sample=False,
                max_new_tokens=a.max_new_tokens, early_stopping=False, **fixed,
            )
            eos = model.generation_config.eos_token_id
            for row in out[:, 1:].tolist():  # tokens before EOS (padding after it)
                n += row.index(eos) if eos in row else len(row)
    dt = time.perf_counter() - t1
    return load, dt, len(sources), n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engine", choices=["ct2", "torch"], required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--inputs")
    p.add_argument("--tokens")
    p.add_argument("--compute-type", default="float32")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--beams", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--allow-eos", action="store_true")
    a = p.parse_args()
    load, dt, sentences, n = run_ct2(a) if a.engine == "ct2" else run_torch(a)
    print(json.dumps({"sentences": sentences, "target_tokens": n, "load_seconds": load,
                      "translate_seconds": dt, "tokens_per_second": n / dt,
                      "peak_rss_mib": peak_rss_mib()}))


if __name__ == "__main__":
    main()
