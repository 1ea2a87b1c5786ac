#!/usr/bin/env bash
# Build ukdigest with `--features cuda`, using NVIDIA's compiler, headers and
# libraries installed from the Python package index (pip as configured) into a
# local folder: no system CUDA install, no GPU and no nvidia-smi needed to
# build.
#
#   scripts/build-cuda.sh                 # cargo build --release --features cuda
#   scripts/build-cuda.sh cargo ARGS...   # any cargo command under the same env,
#                                         #   e.g. cargo test --release --features cuda --test marian
#   eval "$(scripts/build-cuda.sh env)"   # the env (PATH, CUDA_*, LD_LIBRARY_PATH) in this shell
#
# Settings (environment):
#   UKDIGEST_CUDA_TOOLKIT  version of pip's `cuda-toolkit` meta package (default 13.0.2).
#                          Only CUDA 13 wheels ship `nvcc` itself (the cu12 nvcc wheels
#                          hold ptxas alone); cudarc 0.19 supports 13.0-13.4. The GPU's
#                          driver must support this CUDA version (nvidia-smi's
#                          "CUDA Version"), since Candle's kernels are PTX that the
#                          driver compiles when they load: 13.0 needs driver >= 580.
#   CUDA_COMPUTE_CAP       GPU architecture to compile for (default 90: H100/H200;
#                          80 A100, 89 L4/L40/RTX 40xx, 86 A10/RTX 30xx, 120 RTX 50xx).
#   UKDIGEST_CUDA_DIR      where the toolkits go (default .cuda/ in the repo, git-ignored).
#   CARGO_TARGET_DIR       default target-cuda/ (never the CPU build's target/).
#   CARGO_BUILD_JOBS       also caps the parallel nvcc jobs (CUDAFORGE_THREADS).
#   PYTHON                 interpreter whose pip installs the wheels (default python3).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

TOOLKIT=${UKDIGEST_CUDA_TOOLKIT:-13.0.2}
CUDA_DIR=${UKDIGEST_CUDA_DIR:-$REPO/.cuda}
PYTHON=${PYTHON:-python3}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target-cuda}

die() {
    echo "build-cuda.sh: $*" >&2
    exit 1
}
say() { echo "build-cuda.sh: $*" >&2; }

MAJOR=${TOOLKIT%%.*}
case $TOOLKIT in
    13.[0-4] | 13.[0-4].*) ;;
    *) die "UKDIGEST_CUDA_TOOLKIT=$TOOLKIT: use a 13.0-13.4 release (CUDA 12 wheels have no nvcc; cudarc 0.19 knows no CUDA above 13.4)" ;;
esac

PREFIX=$CUDA_DIR/$TOOLKIT
ROOT=$PREFIX/nvidia/cu$MAJOR
# nvcc (+ cudafe++, fatbinary, ptxas), cicc (nvvm), the crt headers, cuda.h,
# cuda_runtime.h and libcudart, nvrtc, cuBLAS/cuBLASLt, cuRAND, and CCCL (the
# kernels include <cuda/std/...> headers through nvcc's default -isystem).
EXTRAS=nvcc,crt,nvvm,cudart,nvrtc,cublas,curand,cccl

install_toolkit() {
    [ -f "$PREFIX/.installed" ] && return
    say "installing CUDA $TOOLKIT wheels ($EXTRAS) into $PREFIX"
    rm -rf "$PREFIX.partial"
    mkdir -p "$CUDA_DIR"
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --no-input --disable-pip-version-check --quiet \
        --target "$PREFIX.partial" "cuda-toolkit[$EXTRAS]==$TOOLKIT" ||
        die "pip could not install cuda-toolkit[$EXTRAS]==$TOOLKIT"
    rm -rf "$PREFIX"
    mv "$PREFIX.partial" "$PREFIX"
    touch "$PREFIX/.installed"
}

check_toolkit() {
    local f missing=()
    for f in bin/nvcc bin/cudafe++ bin/fatbinary bin/ptxas nvvm/bin/cicc nvvm/libdevice \
        include/cuda.h include/cuda_runtime.h include/cuda_fp16.h include/cuda_bf16.h \
        include/crt/host_config.h include/cccl \
        "lib/libcudart.so.$MAJOR" "lib/libcublas.so.$MAJOR" "lib/libcublasLt.so.$MAJOR" \
        "lib/libnvrtc.so.$MAJOR" lib/libcurand.so.10; do
        [ -e "$ROOT/$f" ] || missing+=("$ROOT/$f")
    done
    [ ${#missing[@]} -eq 0 ] || die "the wheels lack: ${missing[*]}"
}

# The wheels ship only versioned sonames (libcublas.so.13); the linker's
# -lcublas wants libcublas.so.
link_dev_names() {
    local lib base
    for lib in "$ROOT"/lib/lib*.so.*; do
        base=${lib##*/}
        base=${base%%.so.*}.so
        case $base in *.alt.so) continue ;; esac
        [ -e "$ROOT/lib/$base" ] || ln -s "${lib##*/}" "$ROOT/lib/$base"
    done
}

# No wheel ships libcuda (it is the GPU driver's): cudarc links `-lcuda`, so
# build a link-time stub, lib/stubs/libcuda.so with soname libcuda.so.1, that
# defines every driver function cudarc declares. At run time the driver's real
# libcuda.so.1 is loaded instead: lib/stubs is never on LD_LIBRARY_PATH or in
# the binary's rpath. (On a machine without the driver, LD_LIBRARY_PATH=lib/stubs
# lets the CUDA build run on the CPU: every stub function answers
# CUDA_ERROR_NO_DEVICE.)
make_libcuda_stub() {
    local stub=$ROOT/lib/stubs/libcuda.so
    [ -f "$stub" ] && return
    local cudarc
    cudarc=$(cargo metadata --format-version 1 --features cuda --locked 2>/dev/null |
        "$PYTHON" -c 'import json,sys,os
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "cudarc": print(os.path.dirname(p["manifest_path"])); break') ||
        die "cargo metadata failed (run 'cargo fetch' once with network)"
    local sys_rs=$cudarc/src/driver/sys/mod.rs
    [ -f "$sys_rs" ] || die "cudarc's driver bindings not found at $sys_rs"
    mkdir -p "$ROOT/lib/stubs"
    grep -oE '^[[:space:]]+fn cu[A-Za-z0-9_]+\(' "$sys_rs" | sed -E 's/^[[:space:]]+fn (cu[A-Za-z0-9_]+)\(/\1/' |
        sort -u | awk '{ print "int " $1 "(void) { return 100; }" }' >"$ROOT/lib/stubs/libcuda_stub.c"
    [ -s "$ROOT/lib/stubs/libcuda_stub.c" ] || die "no driver functions found in $sys_rs"
    ${CC:-cc} -shared -fPIC -fno-builtin -Wl,-soname,libcuda.so.1 -o "$stub" "$ROOT/lib/stubs/libcuda_stub.c" ||
        die "could not build the libcuda link stub"
    ln -sf libcuda.so "$ROOT/lib/stubs/libcuda.so.1"
}

print_env() {
    cat <<EOF
export CUDA_HOME='$ROOT' CUDA_PATH='$ROOT' CUDA_ROOT='$ROOT' CUDA_TOOLKIT_ROOT_DIR='$ROOT'
export NVCC='$ROOT/bin/nvcc'
export PATH='$ROOT/bin':"\$PATH"
export LIBRARY_PATH='$ROOT/lib:$ROOT/lib/stubs'\${LIBRARY_PATH:+:\$LIBRARY_PATH}
export LD_LIBRARY_PATH='$ROOT/lib'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export CUDA_COMPUTE_CAP='$CUDA_COMPUTE_CAP'
export CARGO_TARGET_DIR='$CARGO_TARGET_DIR'
export RUSTFLAGS='$RUSTFLAGS'
EOF
    if [ -n "${CARGO_BUILD_JOBS:-}" ]; then echo "export CUDAFORGE_THREADS='${CUDAFORGE_THREADS:-$CARGO_BUILD_JOBS}'"; fi
}

install_toolkit
check_toolkit
link_dev_names
make_libcuda_stub
# The runtime libraries (libcudart.so.13, libcublas.so.13, ...) are found
# through an rpath, so the binary runs without LD_LIBRARY_PATH. (The same
# RUSTFLAGS for every cargo call, or cargo rebuilds everything.)
RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C link-arg=-Wl,-rpath,$ROOT/lib"
eval "$(print_env)"
"$NVCC" --version | grep -q "release $MAJOR\." || die "$NVCC is not CUDA $MAJOR"

case ${1:-build} in
    env)
        print_env
        ;;
    cargo)
        shift
        exec cargo "$@"
        ;;
    build)
        [ $# -gt 0 ] && shift
        say "cargo build --release --features cuda (CUDA $TOOLKIT, sm_$CUDA_COMPUTE_CAP, $CARGO_TARGET_DIR)"
        cargo build --release --locked --features cuda "$@"
        say "built $CARGO_TARGET_DIR/release/ukdigest"
        ;;
    *) die "unknown command '$1' (build | cargo ARGS... | env)" ;;
esac
