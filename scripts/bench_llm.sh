#!/usr/bin/env bash
# Chat-LLM speed: Candle engine (this crate) vs llama.cpp on the same GGUF
# files, prompt ids, thread count and generated-token count; prints a
# markdown table. Needs a Python with llama-cpp-python (PYTHON=...).
#
#   scripts/bench_llm.sh [PROMPT_TOKENS=256] [GEN=64] [THREADS=2] [REPEATS=3]
# THREADS may be a comma list ("1,2"): each model runs at each count.
# Models: BENCH_MODELS (names in models.toml, space-separated; default
# smollm2-135m-instruct qwen2.5-coder-1.5b-instruct gemma-3-270m), resolved
# (and fetched if needed) by `ukdigest models --fetch`; $UKDIGEST_SMOLLM2,
# $UKDIGEST_QWEN15 and $UKDIGEST_GEMMA3 point at local copies instead.
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
PROMPT=${1:-256}
GEN=${2:-64}
THREADS=${3:-2}
REPEATS=${4:-3}
PYTHON=${PYTHON:-python3}
TARGET=${CARGO_TARGET_DIR:-target}
BENCH_MODELS=${BENCH_MODELS:-smollm2-135m-instruct qwen2.5-coder-1.5b-instruct gemma-3-270m}
cargo build --release --quiet --bin ukdigest --example llm_bench
model_path() { "$TARGET/release/ukdigest" models --fetch "$1" | awk -v m="$1" '$1 == m { print $3 }'; }
MODELS=()
for m in $BENCH_MODELS; do
  case $m in
    smollm2-135m-instruct) MODELS+=("SmolLM2-135M-Instruct Q4_1=${UKDIGEST_SMOLLM2:-$(model_path "$m")}") ;;
    qwen2.5-coder-1.5b-instruct) MODELS+=("Qwen2.5-Coder-1.5B-Instruct Q4_K_M=${UKDIGEST_QWEN15:-$(model_path "$m")}") ;;
    gemma-3-270m) MODELS+=("Gemma-3-270M Q4_K_M=${UKDIGEST_GEMMA3:-$(model_path "$m")}") ;;
    *) MODELS+=("$m=$(model_path "$m")") ;;
  esac
done
OUT=$(mktemp -d)
echo "| model | threads | engine | prompt tok/s | decode tok/s |"
echo "|---|---:|---|---:|---:|"
for entry in "${MODELS[@]}"; do
  name=${entry%%=*}
  path=${entry#*=}
  for threads in ${THREADS//,/ }; do
    "$TARGET/release/examples/llm_bench" "$path" "$PROMPT" "$GEN" "$threads" "$REPEATS" > "$OUT/candle.json"
    "$PYTHON" scripts/dev/llm_bench_llamacpp.py --model "$path" --report "$OUT/candle.json" \
      --threads "$threads" --repeats "$REPEATS" > "$OUT/llamacpp.json"
    "$PYTHON" - "$name" "$threads" "$OUT/candle.json" "$OUT/llamacpp.json" <<'PY'
import json, sys
name, t, c, l = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
assert c["prompt_ids"] and l["prompt_tokens"] == len(c["prompt_ids"])
cp, cd = c["prompt_tokens_per_sec"], c["decode_tokens_per_sec"]
lp, ld = l["prompt_tokens_per_sec"], l["decode_tokens_per_sec"]
print(f"| {name} | {t} | candle (ukdigest) | {cp:.1f} | {cd:.1f} |")
print(f"| {name} | {t} | {l['engine']} | {lp:.1f} | {ld:.1f} |")
print(f"| {name} | {t} | **ratio candle/llama.cpp** | **{cp/lp:.2f}x** | **{cd/ld:.2f}x** |")
PY
  done
done
echo
echo "prompt ${PROMPT} tokens, ${GEN} generated (EOS ignored, greedy), threads ${THREADS}, best of ${REPEATS}"
rm -rf "$OUT"
