#!/usr/bin/env bash
# tests/suites/cuda_fmha_compile.sh BUILD_DIR - the CUDA FMHA target without a GPU:
#  - every FMHA rung (kernels/cuda/fmha/rung*.cu) compiles for sm_90a into a
#    shared object (reusing the ones kernels/cuda/fmha/fmha.mk built in BUILD_DIR
#    or build/, else compiling them here in parallel), exports the ABI symbols
#    of kernels/cuda/fmha/abi.h, and has no register spills;
#  - cuDNN's SDPA graph (cudnn-dry) finalizes up to the operation graph for
#    MHA/GQA, causal or not, fp16/bf16 (a device is needed past that);
#  - spak-harness-cuda-fmha exists, rejects bad usage, and without a device
#    says "no CUDA device" and exits 2; the GPU run is skipped then.
# TAP output. Skips everything (with a reason) when nvcc is absent.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../cuda_rungs.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

cuda_suite fmha spak-harness-cuda-fmha "no register spills, no stack (ptxas)" '[1-9][0-9]* bytes (spill (stores|loads)|stack frame)'

# Parameter variants compile too (the loop's tuning space).
vdir=build/cuda-test/fmha-variants # shared by the build and build/asan runs; rebuilt only when stale
mkdir -p "$vdir"
variants="rung3_mma:WARPS=8 rung3_mma:BLOCK_N=32 rung3_mma:STAGES=3 rung3_mma:WARPS=8,BLOCK_N=128 rung4_wgmma:BLOCK_N=64 rung4_wgmma:STAGES=2 rung4_wgmma:CONSUMERS=2"
pids=()
for rv in $variants; do
    r=${rv%%:*} v=${rv#*:}
    [ -f "kernels/cuda/fmha/$r.cu" ] || continue
    defs=$(echo "$v" | tr ',' ' ' | sed 's/\([A-Z_]*=[0-9]*\)/-D\1/g')
    nm_=$(echo "${r}_$v" | tr ',=' '__') # no ',' in output names: fatbinary splits its options on it
    fresh=1
    for src in "kernels/cuda/fmha/$r.cu" kernels/cuda/fmha/*.cuh; do
        [ "$vdir/$nm_.so" -nt "$src" ] || fresh=0
    done
    [ "$fresh" -eq 1 ] && continue
    # shellcheck disable=SC2086
    "$NVCC" -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror \
        -shared -Xcompiler -fPIC -Xptxas -v $defs -o "$vdir/$nm_.so" "kernels/cuda/fmha/$r.cu" >"$vdir/$nm_.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for rv in $variants; do
    r=${rv%%:*} v=${rv#*:}
    [ -f "kernels/cuda/fmha/$r.cu" ] || continue
    nm_=$(echo "${r}_$v" | tr ',=' '__')
    check_run "$r -D $v compiles without spills" \
        bash -c 'test -s "$1" && ! grep -E "[1-9][0-9]* bytes spill" "$2" >/dev/null' _ "$vdir/$nm_.so" "$vdir/$nm_.log"
done

# rung 3's swizzle / ldmatrix / mma fragment bookkeeping, simulated on the CPU.
if command -v python3 >/dev/null 2>&1; then
    out=$(python3 kernels/cuda/fmha/check_fragments.py 2>&1); rc=$?
    check_run "rung3 fragments: swizzled ldmatrix yields the mma.sync layouts, conflict-free ($(grep -c '^ok' <<<"$out") checks)" test "$rc" -eq 0
    out=$(timeout 120 python3 kernels/cuda/fmha/emulate_rung3.py 2>&1); rc=$?
    check_run "rung3 algorithm emulated thread by thread matches softmax(QK^T)V and the LSE ($(grep -c '^ok' <<<"$out") cases: tails, causal, D 64/128)" test "$rc" -eq 0
else
    skip "rung3 fragments simulated" "no python3"
    skip "rung3 algorithm emulated" "no python3"
fi

# cuDNN's graph, as far as it goes without a device.
DRY=""
for d in "$B" build; do [ -x "$d/cuda/fmha/cudnn-dry" ] && { DRY=$d/cuda/fmha/cudnn-dry; break; }; done
if [ -z "$DRY" ]; then
    skip "cudnn SDPA graph builds" "cudnn-dry not built (no cuDNN headers?)"
else
    for c in "2x4x128x64 fp16" "2x4x128x64c bf16 lse" "2x8x777x128g2c fp16 lse" "1x4x100x128g1 bf16"; do
        # shellcheck disable=SC2086
        out=$(timeout 120 "$DRY" $c 2>&1)
        if grep -q "^DRY OK" <<<"$out"; then ok "cudnn SDPA graph: $c ($(tail -1 <<<"$out" | cut -c1-60))"
        elif grep -q "dlopen" <<<"$out"; then skip "cudnn SDPA graph: $c" "libcudnn not loadable here"
        else notok "cudnn SDPA graph: $c: $(tail -1 <<<"$out")"; fi
    done
fi

cuda_harness spak-harness-cuda-fmha
if [ -z "$H" ]; then
    cudnn_h=$(ls "$(dirname "$NVCC")/../include/cudnn.h" /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h 2>/dev/null | head -1)
    if [ -z "$cudnn_h" ]; then
        skip "spak-harness-cuda-fmha" "no cuDNN headers (kernels/cuda/fmha/fmha.mk skips the harness)"
    else
        notok "spak-harness-cuda-fmha exists (make builds it)"
    fi
    echo "1..$n"
    exit 0
fi
ok "spak-harness-cuda-fmha exists ($H)"
cuda_harness_usage fmha 1x2x64
out=$("$H" --family fmha --candidate x.so --seed 1 --shapes 1x6x64x64g4 2>&1); rc=$?
check_run "harness: Hkv not dividing H is a usage error" bash -c '[ "$1" -eq 2 ] && grep -q "divide" <<<"$2"' _ "$rc" "$out"
out=$("$H" --family gemm --candidate x.so --seed 1 2>&1); rc=$?
check_run "harness: --family gemm refused" test "$rc" -eq 2
so3=$sodir/rung3_mma.so
out=$(timeout 300 "$H" --family fmha --candidate "$so3" --seed 1 --shapes 1x2x200x64c,1x4x130x128g2 --check-only 2>&1); rc=$?
cuda_gpu_run "gpu run: rung3 passes 1x2x200x64c and 1x4x130x128g2" '[ "$(grep -c "\"passed\":true" <<<"$1")" -eq 2 ]'
echo "1..$n"
