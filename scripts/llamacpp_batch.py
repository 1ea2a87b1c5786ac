"""llama.cpp's batched decoding (llama-cpp-python's low-level batch API) on
the prompts of an `llm_batch_bench` report: every prompt prefilled as its
own sequence, then one `llama_decode` per step with one token of each of
the N sequences, greedy. Prints JSON like `llm_batch_bench`.

    python scripts/llamacpp_batch.py MODEL.gguf REPORT.json THREADS
"""
import ctypes
import json
import sys
import time

import llama_cpp
import numpy as np

model_path, report_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
report = json.load(open(report_path))
prompts, gen = report["prompt_ids"], report["generated_tokens"]
n = len(prompts)
plen = max(len(p) for p in prompts)



@llama_cpp.llama_log_callback
def _quiet(level, text, user_data):
    pass


llama_cpp.llama_log_set(_quiet, ctypes.c_void_p())
llama_cpp.llama_backend_init()
t = time.perf_counter()
mparams = llama_cpp.llama_model_default_params()
model = llama_cpp.llama_model_load_from_file(model_path.encode(), mparams)
cparams = llama_cpp.llama_context_default_params()
cparams.n_ctx = n * (plen + gen + 16)
cparams.n_batch = max(plen, n)
cparams.n_ubatch = max(plen, n)
cparams.n_seq_max = n
cparams.n_threads = threads
cparams.n_threads_batch = threads
ctx = llama_cpp.llama_init_from_model(model, cparams)
load_secs = time.perf_counter() - t
vocab = llama_cpp.llama_model_get_vocab(model)
n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
batch = llama_cpp.llama_batch_init(max(plen, n), 0, n)


def fill(entries):
    """entries: (token, pos, seq, wants_logits)"""
    batch.n_tokens = len(entries)
    for i, (tok, pos, seq, logits) in enumerate(entries):
        batch.token[i] = tok
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits


def argmax(i):
    ptr = llama_cpp.llama_get_logits_ith(ctx, i)
    return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))


out = [[] for _ in range(n)]
t0 = time.perf_counter()
for s, p in enumerate(prompts):
    fill([(tok, pos, s, pos == len(p) - 1) for pos, tok in enumerate(p)])
    assert llama_cpp.llama_decode(ctx, batch) == 0
    out[s].append(argmax(len(p) - 1))
prefill_secs = time.perf_counter() - t0
t1 = time.perf_counter()
rows = 0
for step in range(1, gen):
    fill([(out[s][-1], len(prompts[s]) + step - 1, s, True) for s in range(n)])
    assert llama_cpp.llama_decode(ctx, batch) == 0
    rows += n
    for s in range(n):
        out[s].append(argmax(s))
decode_secs = time.perf_counter() - t1
print(json.dumps({
    "engine": f"llama-cpp-python {llama_cpp.__version__}",
    "batch": n,
    "load_secs": load_secs,
    "prefill_tokens_per_sec": sum(map(len, prompts)) / prefill_secs,
    "decode_tokens_per_sec": rows / decode_secs,
    "generated_ids": out,
}))
