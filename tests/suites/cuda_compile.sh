#!/usr/bin/env bash
# tests/suites/cuda_compile.sh BUILD_DIR - the CUDA target without a GPU:
#  - every GEMM rung compiles for sm_90a into a shared object (reusing the
#    ones kernels/cuda/gemm/gemm.mk built in BUILD_DIR or build/, else compiling them here in
#    parallel) and exports the ABI symbols of kernels/cuda/gemm/abi.h;
#  - the harness exists, rejects bad usage, and without a device says
#    "no CUDA device" and exits 2; the GPU run itself is skipped then.
# TAP output. Skips everything (with a reason) when nvcc is absent.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

NVCC=$(command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
rungs=$(ls kernels/cuda/gemm/rung*.cu 2>/dev/null | xargs -n1 basename | sed 's/\.cu$//')
if [ -z "$NVCC" ]; then
    for r in $rungs; do skip "$r compiles for sm_90a" "no nvcc"; done
    skip "spak-harness-cuda" "no nvcc"
    echo "1..$n"
    exit 0
fi

# Where the artifacts are: BUILD_DIR, the release build, or a fresh compile.
dir=""
for d in "$B" build; do
    if [ -x "$d/spak-harness-cuda" ] && [ -d "$d/cuda/gemm" ]; then dir=$d; break; fi
done
sodir=""
if [ -n "$dir" ]; then
    sodir=$dir/cuda/gemm
    for r in $rungs; do
        # stale or missing: rebuild through make (same flags as the build)
        if [ ! -f "$sodir/$r.so" ] || [ "kernels/cuda/gemm/$r.cu" -nt "$sodir/$r.so" ]; then sodir=""; break; fi
    done
fi
if [ -z "$sodir" ]; then
    sodir=$B/cuda-test/gemm
    mkdir -p "$sodir"
    pids=()
    for r in $rungs; do
        "$NVCC" -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC \
            -Xptxas -v -o "$sodir/$r.so" "kernels/cuda/gemm/$r.cu" >"$sodir/$r.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
fi

for r in $rungs; do
    so=$sodir/$r.so
    check_run "$r compiles for sm_90a ($so)" test -s "$so"
    if [ -s "$so" ]; then
        syms=$(nm -D --defined-only "$so" 2>/dev/null)
        check_run "$r exports spak_gemm, spak_gemm_info, spak_gemm_kernel_info" \
            bash -c 'for s in spak_gemm spak_gemm_info spak_gemm_kernel_info; do grep -qw "$s" <<<"$1" || exit 1; done' _ "$syms"
        if command -v cuobjdump >/dev/null 2>&1 || [ -x "$(dirname "$NVCC")/cuobjdump" ]; then
            cob=$(command -v cuobjdump || echo "$(dirname "$NVCC")/cuobjdump")
            check_run "$r holds sm_90a machine code" bash -c '"$1" --list-elf "$2" 2>/dev/null | grep -q sm_90a' _ "$cob" "$so"
        fi
    fi
    rep=$sodir/$r.ptxas.txt
    [ -f "$rep" ] || rep=$sodir/$r.log
    if [ -f "$rep" ]; then
        check_run "$r: no register spills (ptxas)" bash -c '! grep -E "[1-9][0-9]* bytes spill (stores|loads)" "$1" >/dev/null' _ "$rep"
    fi
done

H=""
for d in "$B" build; do [ -x "$d/spak-harness-cuda" ] && { H=$d/spak-harness-cuda; break; }; done
if [ -z "$H" ]; then
    notok "spak-harness-cuda exists (make builds it)"
    echo "1..$n"
    exit 0
fi
ok "spak-harness-cuda exists ($H)"
out=$("$H" --family gemm --seed 1 2>&1); rc=$?
check_run "harness: missing --candidate is a usage error (exit 2)" test "$rc" -eq 2 -a -n "$out"
out=$("$H" --family gemm --candidate x.so --seed 1 --shapes 1x2 2>&1); rc=$?
check_run "harness: bad shape is a usage error" bash -c '[ "$1" -eq 2 ] && grep -q "bad shape" <<<"$2"' _ "$rc" "$out"
so1=$sodir/$(echo "$rungs" | head -1).so
out=$(timeout 120 "$H" --family gemm --candidate "$so1" --seed 1 --shapes 64x64x64 --check-only 2>&1); rc=$?
if grep -q "no CUDA device" <<<"$out"; then
    check_run "harness: without a device, says 'no CUDA device' and exits 2" test "$rc" -eq 2
    skip "gpu run" "no CUDA device"
else
    check_run "gpu run: a rung passes a 64x64x64 check" bash -c 'grep -q "\"passed\":true" <<<"$1"' _ "$out"
fi
echo "1..$n"
