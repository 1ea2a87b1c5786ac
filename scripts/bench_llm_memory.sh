#!/usr/bin/env bash
# Peak memory (maximum RSS, /usr/bin/time -v) of the chat-LLM engine on one
# long generation, for a build of BEFORE (a git revision) and of the working
# tree, side by side, and of llama.cpp (llama-cpp-python, n_ctx 4096) on the
# same prompt ids with the same thread count; plus decode speed, and whether
# the two builds generated the same tokens and the same logits. Then the
# speed of both builds by `llm_bench` (prompt 256, 64 generated, best of 3,
# the builds alternating twice: less noisy than one long run on a shared
# machine). With JOB=1 also the peak of the whole `digest` job on one seed,
# per build.
#
#   scripts/bench_llm_memory.sh [BEFORE=main] [PROMPT_TOKENS=3500] [GEN=256] [THREADS=2]
#
# MODEL: the GGUF (default: the cached Qwen2.5-Coder-1.5B-Instruct Q4_K_M);
# PYTHON: a Python with llama-cpp-python (default /tmp/gemma-venv/bin/python);
# BEFORE_TARGET: the target folder of the BEFORE build (default
# ../target-mem-before); CARGO_TARGET_DIR is honoured for the working tree.
# BEFORE_TREE: an existing checkout of BEFORE to build in. Runs one process
# at a time (peak RSS is per process); notes `uptime`.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:-main}
PROMPT=${2:-3500}
GEN=${3:-256}
THREADS=${4:-2}
MODEL=${MODEL:-$HOME/.cache/ukdigest/models/qwen2.5-coder-1.5b-instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf}
PYTHON=${PYTHON:-/tmp/gemma-venv/bin/python}
TARGET=${CARGO_TARGET_DIR:-target}
BEFORE_TARGET=${BEFORE_TARGET:-$(cd .. && pwd)/target-mem-before}
SEED=seeds/002_1e12a2d0a498dcd6.txt
OUT=$(mktemp -d)
# BEFORE_TREE: a checkout of BEFORE to build in (default: a temporary
# worktree; a kept one reuses its build).
if [ -n "${BEFORE_TREE:-}" ]; then
  trap 'rm -rf "$OUT"' EXIT
else
  BEFORE_TREE=$OUT/before-tree
  trap 'git worktree remove --force "$BEFORE_TREE" 2>/dev/null || true; rm -rf "$OUT"' EXIT
  git worktree add --quiet --detach "$BEFORE_TREE" "$BEFORE"
fi

# The same example program in both trees (it uses only long-standing API).
cp examples/llm_memory.rs "$BEFORE_TREE/examples/"
bins="--example llm_memory --example llm_bench"
[ "${JOB:-0}" = 1 ] && bins="$bins --bin ukdigest"
# shellcheck disable=SC2086
(cd "$BEFORE_TREE" && CARGO_TARGET_DIR=$BEFORE_TARGET cargo build --release --quiet $bins)
# shellcheck disable=SC2086
cargo build --release --quiet $bins

peak() { # FILE: max RSS in MiB
  awk '/Maximum resident set size/ { printf "%.0f", $6 / 1024 }' "$1"
}
engine() { # NAME TARGET_DIR
  local load
  load=$(uptime | sed 's/.*load average: //')
  /usr/bin/time -v "$2/release/examples/llm_memory" "$MODEL" "$PROMPT" "$GEN" "$THREADS" "$SEED" \
    > "$OUT/$1.json" 2> "$OUT/$1.time"
  echo "$load" > "$OUT/$1.load"
}
engine before "$BEFORE_TARGET"
engine after "$TARGET"
load=$(uptime | sed 's/.*load average: //')
/usr/bin/time -v "$PYTHON" - "$MODEL" "$OUT/after.json" "$THREADS" > "$OUT/llamacpp.json" 2> "$OUT/llamacpp.time" <<'PY'
import json, sys, time
import llama_cpp
import numpy as np
model, report, threads = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
ids, gen = report["prompt_ids"], report["generated_tokens"]
t = time.perf_counter()
llm = llama_cpp.Llama(model_path=model, n_ctx=4096, n_threads=threads,
                      n_threads_batch=threads, verbose=False)
load_secs = time.perf_counter() - t
n_vocab = llm.n_vocab()
def next_token():
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))
t0 = time.perf_counter()
llm.eval(ids)
prompt_secs = time.perf_counter() - t0
tok, out = next_token(), []
t1 = time.perf_counter()
for _ in range(gen - 1):
    out.append(tok)
    llm.eval([tok])
    tok = next_token()
out.append(tok)
print(json.dumps({
    "engine": f"llama-cpp-python {llama_cpp.__version__}",
    "load_secs": load_secs,
    "prompt_tokens_per_sec": len(ids) / prompt_secs,
    "decode_tokens_per_sec": (gen - 1) / (time.perf_counter() - t1),
    "generated_ids": out,
}))
PY
echo "$load" > "$OUT/llamacpp.load"

for round in 1 2; do
  for build in before after; do
    dir=$TARGET
    [ $build = before ] && dir=$BEFORE_TARGET
    uptime | sed 's/.*load average: //' > "$OUT/speed-$build-$round.load"
    "$dir/release/examples/llm_bench" "$MODEL" 256 64 "$THREADS" 3 > "$OUT/speed-$build-$round.json"
  done
done

if [ "${JOB:-0}" = 1 ]; then
  for build in before after; do
    dir=$TARGET
    [ $build = before ] && dir=$BEFORE_TARGET
    uptime | sed 's/.*load average: //' > "$OUT/job-$build.load"
    /usr/bin/time -v "$dir/release/ukdigest" digest "$SEED" --out "$OUT/memjob-$build" \
      --threads "$THREADS" > /dev/null 2> "$OUT/job-$build.time"
  done
fi

"$PYTHON" - "$OUT" "$BEFORE" "$(git rev-parse --short HEAD)" "${JOB:-0}" <<'PY'
import json, os, re, sys
out, before_rev, after_rev, job = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
def peak(name):
    text = open(os.path.join(out, name + ".time")).read()
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
def load(name):
    return open(os.path.join(out, name + ".load")).read().strip()
r = {n: json.load(open(os.path.join(out, n + ".json"))) for n in ("before", "after", "llamacpp")}
lc = peak("llamacpp")
print(f"prompt {r['after']['prompt_tokens']} tokens + {r['after']['generated_tokens']} generated, "
      f"{r['after']['threads']} threads, {os.path.basename(r['after']['model'])}")
print()
print("| engine | peak RSS (MiB) | vs llama.cpp | load s | prompt tok/s | decode tok/s | load average |")
print("|---|---:|---:|---:|---:|---:|---|")
for n, label in (("before", f"ukdigest {before_rev}"), ("after", f"ukdigest {after_rev}"),
                 ("llamacpp", r["llamacpp"]["engine"] + ", n_ctx 4096")):
    p = peak(n)
    print(f"| {label} | {p:.0f} | {p / lc:.2f}x | {r[n]['load_secs']:.1f} | "
          f"{r[n]['prompt_tokens_per_sec']:.1f} | {r[n]['decode_tokens_per_sec']:.2f} | {load(n)} |")
print()
same_ids = r["before"]["generated_ids"] == r["after"]["generated_ids"]
same_logits = r["before"]["logits_hash"] == r["after"]["logits_hash"]
agree = sum(a == b for a, b in zip(r["after"]["generated_ids"], r["llamacpp"]["generated_ids"]))
print(f"before/after: generated ids identical: {same_ids}; prompt logits bit-identical: {same_logits}")
print(f"llama.cpp greedy ids equal to ours at {agree} of {len(r['after']['generated_ids'])} positions")
print()
print("`llm_bench` (prompt 256, 64 generated, best of 3), alternating:")
print()
print("| build | round | prompt tok/s | decode tok/s | load average |")
print("|---|---:|---:|---:|---|")
for rnd in (1, 2):
    for n in ("before", "after"):
        s = json.load(open(os.path.join(out, f"speed-{n}-{rnd}.json")))
        print(f"| {n} | {rnd} | {s['prompt_tokens_per_sec']:.1f} | {s['decode_tokens_per_sec']:.2f} | "
              f"{load(f'speed-{n}-{rnd}')} |")
if job:
    print()
    print("| `digest` of one seed | peak RSS (MiB) | wall | load average |")
    print("|---|---:|---:|---|")
    for n in ("before", "after"):
        text = open(os.path.join(out, f"job-{n}.time")).read()
        wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text).group(1)
        print(f"| {n} | {peak('job-' + n):.0f} | {wall} | {load('job-' + n)} |")
PY
