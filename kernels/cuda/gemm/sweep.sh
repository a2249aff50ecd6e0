#!/usr/bin/env bash
# kernels/cuda/gemm/sweep.sh BUILD_DIR SO... - time parameter variants of a
# rung (prebuilt .so files, e.g. from `make cuda-sweep`) on a few shapes:
# one harness run per variant, table of candidate TFLOP/s and ratio to cuBLAS.
# Env: DTYPE (bf16), SHAPES (4096x4096x4096,8192x8192x8192), HELDOUT (129x263x72), REPS (20).
set -u
B=$1; shift
OUT=${OUT:-/tmp/spak-sweep}
mkdir -p "$OUT"
LOG=$OUT/sweep.log
for so in "$@"; do
    echo "### $(basename "$so" .so) ${DTYPE:-bf16}" >>"$LOG"
    timeout 300 "$B/spak-harness-cuda" --family gemm --candidate "$so" --seed 7 --dtype "${DTYPE:-bf16}" \
        --shapes "${SHAPES:-4096x4096x4096,8192x8192x8192}" --heldout "${HELDOUT:-129x263x72}" \
        --reps "${REPS:-20}" --timeout 60 --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
done
python3 - "$LOG" <<'PY'
import json, sys
name = None
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("### "):
        name = line.split()[1] + " " + line.split()[2]
    elif line.startswith("__SPAK_TRACE__ "):
        r = json.loads(line[15:])
        if r["type"] == "Performance":
            print("%-28s %-16s %7.1f TFLOP/s  cuBLAS %7.1f  ratio %.3f  %d MHz" % (name, r["shape"], r["tflops"], r["baseline_tflops"], r["ratio"], r["sm_clock_mhz"]))
        elif r["type"] == "Correctness" and not r["passed"]:
            print("%-28s %-16s FAIL %s" % (name, r["shape"], r["reason"]))
PY
