#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/cuda_compile.sh BUILD_DIR - the CUDA target without a GPU:
#  - every GEMM rung compiles for sm_90a into a shared object (reusing the
#    ones kernels/cuda/gemm/gemm.mk built in BUILD_DIR or build/, else compiling them here in
#    parallel) and exports the ABI symbols of kernels/cuda/gemm/abi.h;
#  - the harness exists, rejects bad usage, and without a device says
#    "no CUDA device" and exits 2; the GPU run itself is skipped then.
# TAP output. Skips everything (with a reason) when nvcc is absent.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../cuda_rungs.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

cuda_suite gemm spak-harness-cuda "no register spills (ptxas)" '[1-9][0-9]* bytes spill (stores|loads)'

cuda_harness spak-harness-cuda
if [ -z "$H" ]; then
    notok "spak-harness-cuda exists (make builds it)"
    echo "1..$n"
    exit 0
fi
ok "spak-harness-cuda exists ($H)"
cuda_harness_usage gemm 1x2
so1=$sodir/$(echo "$rungs" | head -1).so
out=$(timeout 120 "$H" --family gemm --candidate "$so1" --seed 1 --shapes 64x64x64 --check-only 2>&1); rc=$?
cuda_gpu_run "gpu run: a rung passes a 64x64x64 check" 'grep -q "\"passed\":true" <<<"$1"'
echo "1..$n"
