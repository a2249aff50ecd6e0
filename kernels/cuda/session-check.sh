#!/usr/bin/env bash
# kernels/cuda/session-check.sh BUILD OUT - the GPU judges' sessions on the
# GPU machine, in one call (issue 14, "the winner decided side by side"):
#
#  1. GEMM: rung5_persistent and rung4_ws in one session of spak-harness-cuda
#     (with cheat1, a wrong candidate, as a third when BUILD/cuda/cheats/
#     cheat1.so exists: `make cuda-cheats`), 4096^3 and 2048^3 timed, 1024^3
#     held out;
#  2. FMHA: rung4_wgmma and rung3_mma in one session of spak-harness-cuda-fmha,
#     4x16x4096x128 timed, 1x4x1024x128 held out;
#  3. FMHA alone (rung4_wgmma): the interval rule (ratio_ci, precision);
#  4. the batch size: rung5 (GEMM 4096^3) and rung4 (FMHA) each with
#     --batch-ms 3 (the default) and 30, so the fixed cost of a batch
#     (CALL->DONE beyond the calls) separates from the per-call time.
#
# Each run's records are asserted (kernels/cuda/session_table.py --check) and
# printed as a short table: each candidate's ratio to the baseline with its
# interval, versus (the paired ratio between candidates, the rounds each was
# faster in), the decision the engine's re-time would take. Needs only BUILD's
# judges, spak-runner-cuda, cuda/gemm and cuda/fmha (.so of the rungs and the
# baselines) and python3; nothing compiles here. Files under OUT: NAME.out
# (records), NAME.err (diagnostics), device.txt, summary.txt. Exit 0 when
# every check held. Knobs: SC_REPS (--reps, default 10), SC_TIMEOUT (seconds
# a judge run, default 400).
set -u
B=${1:?usage: session-check.sh BUILD OUT}
OUT=${2:?usage: session-check.sh BUILD OUT}
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "$B" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
REPS=${SC_REPS:-10}
TO=${SC_TIMEOUT:-400}
G=$B/spak-harness-cuda
F=$B/spak-harness-cuda-fmha
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu \
        --format=csv 2>&1
} >"$OUT/device.txt"
cat "$OUT/device.txt"
# the ld cache: cuBLAS and cuDNN, which the runners load in a clean
# environment (device-libs.sh; needs root, else left as it is)
. "$(dirname "$0")/device-libs.sh"
spak_device_libs "" "$G" "$F"

fails=0
# run NAME CMD...: the judge's records into OUT/NAME.out, its stderr into NAME.err
run() {
    local name=$1 t0 rc
    shift
    t0=$(date +%s)
    timeout "$TO" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    rc=$?
    echo "-- $name: exit $rc, $(($(date +%s) - t0)) s: $*" | sed "s#$B/##g"
    if [ "$rc" -ne 0 ]; then
        fails=$((fails + 1))
        tail -5 "$OUT/$name.err" | sed 's/^/   /'
    fi
}
# table NAME [ARGS]: the records printed and checked
table() {
    local name=$1
    shift
    python3 "$HERE/session_table.py" --check "$@" "$OUT/$name.out" || fails=$((fails + 1))
}

{
    gs=(--candidate "$B/cuda/gemm/rung5_persistent.so" --candidate "$B/cuda/gemm/rung4_ws.so")
    wrong=()
    if [ -f "$B/cuda/cheats/cheat1.so" ]; then
        gs+=(--candidate "$B/cuda/cheats/cheat1.so")
        wrong=(--expect-fail 2)
    fi
    run gemm-session "$G" --family gemm "${gs[@]}" --seed 1 --dtype bf16 --shapes 4096x4096x4096,2048x2048x2048 \
        --heldout 1024x1024x1024 --reps "$REPS"
    table gemm-session "${wrong[@]}"
    run fmha-session "$F" --family fmha --candidate "$B/cuda/fmha/rung4_wgmma.so" \
        --candidate "$B/cuda/fmha/rung3_mma.so" --seed 1 --shapes 4x16x4096x128 --heldout 1x4x1024x128 --reps "$REPS"
    table fmha-session
    run fmha-alone "$F" --family fmha --candidate "$B/cuda/fmha/rung4_wgmma.so" --seed 1 --shapes 4x16x4096x128 \
        --reps "$REPS"
    table fmha-alone
    for ms in 3 30; do
        run "gemm-batch$ms" "$G" --family gemm --candidate "$B/cuda/gemm/rung5_persistent.so" --seed 1 --dtype bf16 \
            --shapes 4096x4096x4096 --reps "$REPS" --batch-ms "$ms"
        run "fmha-batch$ms" "$F" --family fmha --candidate "$B/cuda/fmha/rung4_wgmma.so" --seed 1 \
            --shapes 4x16x4096x128 --reps "$REPS" --batch-ms "$ms"
    done
    python3 "$HERE/session_table.py" --batch "$OUT/gemm-batch3.out" "$OUT/gemm-batch30.out"
    python3 "$HERE/session_table.py" --batch "$OUT/fmha-batch3.out" "$OUT/fmha-batch30.out"
    echo "== session-check: $([ "$fails" -eq 0 ] && echo "all checks hold" || echo "$fails failed")"
} 2>&1 | tee "$OUT/summary.txt"
grep -q "^== session-check: all checks hold" "$OUT/summary.txt"
