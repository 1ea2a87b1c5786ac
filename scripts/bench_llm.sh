#!/usr/bin/env bash
# Chat-LLM speed: Candle engine (this crate) vs llama.cpp on the same GGUF
# files, prompt ids, thread count and generated-token count; prints a
# markdown table. Needs a Python with llama-cpp-python (PYTHON=...).
#
#   scripts/bench_llm.sh [PROMPT_TOKENS=256] [GEN=64] [THREADS=2] [REPEATS=3]
# Models: $UKDIGEST_SMOLLM2 and $UKDIGEST_QWEN15, else resolved (and fetched
# if needed) through models.toml by `ukdigest models --fetch`.
set -euo pipefail
cd "$(dirname "$0")/.."
PROMPT=${1:-256}
GEN=${2:-64}
THREADS=${3:-2}
REPEATS=${4:-3}
PYTHON=${PYTHON:-python3}
cargo build --release --quiet --bin ukdigest --example llm_bench
model_path() { ./target/release/ukdigest models --fetch "$1" | awk -v m="$1" '$1 == m { print $3 }'; }
MODELS=(
  "SmolLM2-135M-Instruct Q4_1=${UKDIGEST_SMOLLM2:-$(model_path smollm2-135m-instruct)}"
  "Qwen2.5-Coder-1.5B-Instruct Q4_K_M=${UKDIGEST_QWEN15:-$(model_path qwen2.5-coder-1.5b-instruct)}"
)
OUT=$(mktemp -d)
echo "| model | engine | prompt tok/s | decode tok/s |"
echo "|---|---|---:|---:|"
ROWS=()
for entry in "${MODELS[@]}"; do
  name=${entry%%=*}
  path=${entry#*=}
  ./target/release/examples/llm_bench "$path" "$PROMPT" "$GEN" "$THREADS" "$REPEATS" > "$OUT/candle.json"
  "$PYTHON" scripts/dev/llm_bench_llamacpp.py --model "$path" --report "$OUT/candle.json" \
    --threads "$THREADS" --repeats "$REPEATS" > "$OUT/llamacpp.json"
  "$PYTHON" - "$name" "$OUT/candle.json" "$OUT/llamacpp.json" <<'PY'
import json, sys
name, c, l = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
cp, cd = c["prompt_tokens_per_sec"], c["decode_tokens_per_sec"]
lp, ld = l["prompt_tokens_per_sec"], l["decode_tokens_per_sec"]
print(f"| {name} | candle (ukdigest) | {cp:.1f} | {cd:.1f} |")
print(f"| {name} | {l['engine']} | {lp:.1f} | {ld:.1f} |")
print(f"| {name} | **ratio candle/llama.cpp** | **{cp/lp:.2f}x** | **{cd/ld:.2f}x** |")
PY
done
echo
echo "prompt ${PROMPT} tokens, ${GEN} generated (EOS ignored, greedy), ${THREADS} threads, best of ${REPEATS}"
rm -rf "$OUT"
