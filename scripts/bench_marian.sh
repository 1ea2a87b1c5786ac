#!/usr/bin/env bash
# Marian engine benchmark: ukdigest (f32, q8) vs CTranslate2 (float32, int8) vs
# PyTorch transformers (float32) on the same random-weight models, the same
# source ids, the same consecutive batches and a fixed output length (EOS
# suppressed), all on $THREADS threads. Prints a markdown table with ratios.
#
# Prerequisites (dev only, outside the repo):
#   python3 -m venv /root/.cache/ukdigest/venv-marian
#   /root/.cache/ukdigest/venv-marian/bin/python -m pip install torch transformers safetensors sentencepiece ctranslate2
#   /root/.cache/ukdigest/venv-marian/bin/python scripts/dev/marian_bench_models.py
#
# Knobs: MODELS="uk_en tc_big", THREADS=2, MAX_NEW=64, N16 (sentences at batch 16),
# N1 (sentences at batch 1), TC_N16 (tc_big sentences at batch 16), ENGINES,
# SKIP (space-separated model:engine:beams combinations left out to bound the time),
# EOS=suppress (default: fixed output length) or EOS=allow (sentences stop at EOS, at most
# MAX_NEW tokens, on the <model>_eos variants whose final_logits_bias makes EOS come at
# spread steps; there finished sentences leave the batch),
# BIN (a prebuilt bench_marian binary, e.g. of another commit; default: build this
# tree's into ${CARGO_TARGET_DIR:-target}), BASE_BIN (another bench_marian binary, run as
# the engines base-q8 / base-f32 when ENGINES names them: before/after in one run; its
# ratio columns are q8 / base q8 and f32 / base f32).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/root/.cache/ukdigest/bench-marian}
PY=${PY:-/root/.cache/ukdigest/venv-marian/bin/python}
THREADS=${THREADS:-2}
MAX_NEW=${MAX_NEW:-64}
N16=${N16:-32}
N1=${N1:-4}
TC_N16=${TC_N16:-16}
MODELS=${MODELS:-"uk_en tc_big"}
ENGINES=${ENGINES:-"ukdigest-q8 ukdigest-f32 ct2-int8 ct2-float32 torch-float32"}
SKIP=${SKIP:-"tc_big:ukdigest-f32:4 tc_big:base-f32:4 tc_big:ct2-float32:4 tc_big:torch-float32:4"}
EOS=${EOS:-suppress}
case $EOS in
  suppress) SUFFIX=""; EOS_FLAG="" ;;
  allow) SUFFIX="_eos"; EOS_FLAG="--allow-eos" ;;
  *) echo "EOS must be suppress or allow" >&2; exit 2 ;;
esac
OUT=${OUT:-$BENCH_DIR/results${SUFFIX}.jsonl}

if [ -z "${BIN:-}" ]; then
  cargo build --release --example bench_marian >&2
  BIN=${CARGO_TARGET_DIR:-target}/release/examples/bench_marian
fi
: > "$OUT"
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

run() { # model engine batch beams sentences
  local m=$1 e=$2 b=$3 k=$4 n=$5 line
  case $e in
    # CANDLE_NUM_THREADS=1: candle's element-wise thread pool otherwise spins
    # against rayon's GEMM workers on the same cores (measured: -20 % CPU time).
    base-*) line=$(CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1} $BASE_BIN --model "$BENCH_DIR/$m$SUFFIX" --inputs "$BENCH_DIR/ids_$m.json" \
                  --batch "$b" --beams "$k" --quant "${e#base-}" --max-new-tokens "$MAX_NEW" --limit "$n" $EOS_FLAG) ;;
    ukdigest-*) line=$(CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1} $BIN --model "$BENCH_DIR/$m$SUFFIX" --inputs "$BENCH_DIR/ids_$m.json" \
                  --batch "$b" --beams "$k" --quant "${e#ukdigest-}" --max-new-tokens "$MAX_NEW" --limit "$n" $EOS_FLAG) ;;
    ct2-*) line=$($PY scripts/dev/marian_bench.py --engine ct2 --compute-type "${e#ct2-}" \
                  --model "$BENCH_DIR/$m${SUFFIX}_ct2" --tokens "$BENCH_DIR/tokens_$m.json" \
                  --batch "$b" --beams "$k" --max-new-tokens "$MAX_NEW" --limit "$n" --threads "$THREADS" $EOS_FLAG 2>/dev/null) ;;
    torch-*) line=$($PY scripts/dev/marian_bench.py --engine torch --model "$BENCH_DIR/$m$SUFFIX" \
                  --inputs "$BENCH_DIR/ids_$m.json" --batch "$b" --beams "$k" \
                  --max-new-tokens "$MAX_NEW" --limit "$n" --threads "$THREADS" $EOS_FLAG 2>/dev/null) ;;
  esac
  echo "{\"model\":\"$m\",\"engine\":\"$e\",\"batch\":$b,\"beams\":$k,\"run\":$line}" | tee -a "$OUT" >&2
}

for m in $MODELS; do
  if [ "$m" = tc_big ]; then settings="16:1:$TC_N16 16:4:$TC_N16"; else
    settings="16:1:$N16 16:4:$N16 1:1:$N1 1:4:$N1"; fi
  for s in $settings; do
    IFS=: read -r b k n <<< "$s"
    for e in $ENGINES; do
      case " $SKIP " in *" $m:$e:$k "*) continue ;; esac
      run "$m" "$e" "$b" "$k" "$n"
    done
  done
done

"$PY" - "$OUT" "$THREADS" "$MAX_NEW" "$EOS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
eos = sys.argv[4]
engines = []
for r in rows:
    if r["engine"] not in engines:
        engines.append(r["engine"])
if eos == "allow":
    print(f"Target tokens/s (higher is better), {sys.argv[2]} threads, sentences stop at EOS "
          f"(at most {sys.argv[3]} tokens; <model>_eos variants).\n")
else:
    print(f"Target tokens/s (higher is better), {sys.argv[2]} threads, {sys.argv[3]} output tokens "
          "per sentence (EOS suppressed).\n")
base = "base-q8" in engines
base_f32 = "base-f32" in engines
print("| model | batch | beams | sentences | " + " | ".join(engines)
      + " | q8 / CT2 int8 | f32 / CT2 float32 | q8 / PyTorch |"
      + (" q8 / base q8 |" if base else "") + (" f32 / base f32 |" if base_f32 else ""))
print("|---|---|---|---|" + "---|" * len(engines) + "---|---|---|" + ("---|" if base else "")
      + ("---|" if base_f32 else ""))
keys = []
for r in rows:
    k = (r["model"], r["batch"], r["beams"])
    if k not in keys:
        keys.append(k)
for k in keys:
    rs = {r["engine"]: r["run"] for r in rows if (r["model"], r["batch"], r["beams"]) == k}
    tps = {e: rs[e]["tokens_per_second"] for e in rs}
    n = next(iter(rs.values()))["sentences"]
    cells = [f"{tps[e]:.1f}" if e in tps else "—" for e in engines]
    def ratio(a, b):
        return f"{tps[a] / tps[b]:.2f}×" if a in tps and b in tps else "—"
    print(f"| {k[0]} | {k[1]} | {k[2]} | {n} | " + " | ".join(cells)
          + f" | {ratio('ukdigest-q8', 'ct2-int8')} | {ratio('ukdigest-f32', 'ct2-float32')}"
          + f" | {ratio('ukdigest-q8', 'torch-float32')} |"
          + (f" {ratio('ukdigest-q8', 'base-q8')} |" if base else "")
          + (f" {ratio('ukdigest-f32', 'base-f32')} |" if base_f32 else ""))
if eos == "allow":
    print("\nMean output tokens per sentence (engines stop at their own EOS); ukdigest: mean "
          "decoder rows per step / rows of a full batch (finished sentences leave):\n")
    print("| model | batch | beams | " + " | ".join(engines) + " | ukdigest-q8 rows | ukdigest-f32 rows |")
    print("|---|---|---|" + "---|" * len(engines) + "---|---|")
    for k in keys:
        rs = {r["engine"]: r["run"] for r in rows if (r["model"], r["batch"], r["beams"]) == k}
        cells = [f"{rs[e]['target_tokens'] / rs[e]['sentences']:.1f}" if e in rs else "—" for e in engines]
        def frac(e):
            r = rs.get(e)
            if not r or "decoder_steps" not in r or not r["decoder_steps"]:
                return "—"
            return f"{r['decoder_row_steps'] / r['decoder_steps']:.1f} / {min(k[1], r['sentences']) * k[2]}"
        print(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(cells)
              + f" | {frac('ukdigest-q8')} | {frac('ukdigest-f32')} |")
print("\nPeak RSS per process, MiB (max over the runs above):\n")
print("| model | " + " | ".join(engines) + " |")
print("|---|" + "---|" * len(engines))
for m in dict.fromkeys(r["model"] for r in rows):
    cells = []
    for e in engines:
        v = [r["run"]["peak_rss_mib"] for r in rows if r["model"] == m and r["engine"] == e]
        cells.append(f"{max(v):.0f}" if v else "—")
    print(f"| {m} | " + " | ".join(cells) + " |")
EOF
