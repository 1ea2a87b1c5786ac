#!/usr/bin/env bash
# Aggregate decode tok/s with N sequences decoded together, ukdigest's
# continuous batching against llama.cpp's batched decode (llama-cpp-python,
# same GGUF, same prompt ids, same threads), with each process's peak RSS,
# for N in BATCHES. One process at a time; notes the load average.
#
#   scripts/bench_llm_batch.sh [MODEL.gguf ...]
#
# BATCHES (default "1 2 4 8 16"), PROMPT (128), GEN (32), THREADS (2);
# REPEAT (1): runs of each engine per batch size, one of ours then one of
# llama.cpp's, reported as the median tok/s (the range in brackets) and the
# largest peak RSS; on a shared VM a single 32-token run at batch 1 lasts a
# second and moved by ±30 % between runs (BENCHMARKS.md, 2026-12-07);
# PYTHON: a Python with llama-cpp-python and numpy (default
# /tmp/gemma-venv/bin/python). Models: default the cached Qwen2.5-Coder-1.5B
# and SmolLM2-135M of models.toml. On a CPU with AMX, llama.cpp's AMX backend
# crashed (SIGSEGV in ggml_backend_amx_mul_mat on the first multi-row
# llama_decode); build it without:
#   python3 -m venv /tmp/llama-venv && /tmp/llama-venv/bin/python -m pip install numpy
#   CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON \
#     -DGGML_AVX512_BF16=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
#     -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
#     /tmp/llama-venv/bin/python -m pip install --no-cache-dir llama-cpp-python==0.3.36
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-1 2 4 8 16}
PROMPT=${PROMPT:-128}
GEN=${GEN:-32}
REPEAT=${REPEAT:-1}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-/tmp/gemma-venv/bin/python}
CACHE=${UKDIGEST_CACHE:-$HOME/.cache/ukdigest}/models
if [ $# -eq 0 ]; then
  set -- "$CACHE/qwen2.5-coder-1.5b-instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" \
    "$CACHE"/smollm2-135m-instruct/*.gguf
fi
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --example llm_batch_bench
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "$(date -u +%F) $(git rev-parse --short HEAD), prompt $PROMPT, $GEN generated per sequence, $THREADS threads, median of $REPEAT run(s) each"
for model in "$@"; do
  echo
  echo "$(basename "$model")"
  echo
  echo "| batch | ukdigest tok/s | llama.cpp tok/s | ratio | vs our batch 1 | ukdigest peak RSS MiB | KV reserved MiB | llama.cpp peak RSS MiB | same greedy ids | load avg |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
  base=""
  for b in $BATCHES; do
    load=$(uptime | sed 's/.*load average: //; s/,.*//')
    for r in $(seq "$REPEAT"); do
      /usr/bin/time -v "$TARGET/release/examples/llm_batch_bench" "$model" "$b" "$PROMPT" "$GEN" "$THREADS" \
        > "$OUT/ours.$r.json" 2> "$OUT/ours.$r.time"
      /usr/bin/time -v "$PYTHON" scripts/llamacpp_batch.py "$model" "$OUT/ours.$r.json" "$THREADS" \
        > "$OUT/theirs.$r.json" 2> "$OUT/theirs.$r.time"
    done
    row=$("$PYTHON" - "$OUT" "$b" "${base:-0}" "$load" "$REPEAT" <<'PY'
import json, re, statistics, sys
out, b, base, load, repeat = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
runs = range(1, repeat + 1)
ours, theirs = ([json.load(open(f"{out}/{n}.{r}.json")) for r in runs] for n in ("ours", "theirs"))
def peak(n):
    return max(
        int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/{n}.{r}.time").read()).group(1))
        for r in runs
    ) / 1024
def rate(js):
    return statistics.median(j["decode_tokens_per_sec"] for j in js)
def spread(js):
    rs = sorted(j["decode_tokens_per_sec"] for j in js)
    return f" ({rs[0]:.0f}–{rs[-1]:.0f})" if len(rs) > 1 else ""
a, c = rate(ours), rate(theirs)
base = base or a
same = sum(x == y for x, y in zip(ours[0]["generated_ids"], theirs[0]["generated_ids"]))
print(f"{a}@@| {b} | {a:.1f}{spread(ours)} | {c:.1f}{spread(theirs)} | {a / c:.2f}x | {a / base:.2f}x | {peak('ours'):.0f} | "
      f"{ours[0]['peak_kv_bytes'] / 2**20:.0f} | {peak('theirs'):.0f} | {same} of {b} | {load} |")
PY
)
    [ -z "$base" ] && base=${row%%@@*}
    echo "${row#*@@}"
  done
done
