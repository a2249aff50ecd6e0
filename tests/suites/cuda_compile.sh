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

# the checks the session's GPU test (below, and kernels/cuda/session-check.sh) makes, on records written by hand
check_run "session_table.py: the session checks catch what they must (no device)" \
    bash -c 'o=$(python3 kernels/cuda/session_table.py --self-test 2>&1) || { sed "s/^/# /" <<<"$o"; exit 1; }'
# the table of where a GPU evaluation's time went (issue 18), on Cost records written by hand
check_run "cost-table.py: runs, shapes, parts, the children's exit, the engine's steps (no device)" \
    bash -c 'o=$(python3 kernels/cuda/cost-table.py --self-test 2>&1) || { sed "s/^/# /" <<<"$o"; exit 1; }'
# the Kernel Tuner side by side's table (issue 17), on runs of both sides written by hand
check_run "kt_table.py: the bests, evaluations to 95% on each clock with the re-timings, --best (no device)" \
    bash -c 'o=$(python3 kernels/cuda/kt/kt_table.py --self-test 2>&1) || { sed "s/^/# /" <<<"$o"; exit 1; }'

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
# a session: rung5 and rung4 side by side with cuBLAS, each in its own runner (kernels/cuda/session_table.py asserts the records)
r5=$sodir/rung5_persistent.so; r4=$sodir/rung4_ws.so
out=$(timeout 600 "$H" --family gemm --candidate "$r5" --candidate "$r4" --seed 1 --shapes 2048x2048x2048 --heldout 1024x1024x1024 --reps 3 2>&1); rc=$?
cuda_gpu_run "gpu run: rung5 and rung4 in one session (session, rival, versus, 10 rounds at least, no Analysis)" \
    'python3 kernels/cuda/session_table.py --check /dev/stdin <<<"$1"'
echo "1..$n"
