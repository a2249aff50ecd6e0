#!/usr/bin/env bash
# kernels/cuda/gemm/ab_sweep.sh HARNESS ROUNDS DTYPE "SO..." - A/B sweep of
# prebuilt variants on the GPU machine: ROUNDS rounds, each variant once per
# round in the given order (A B C .. A B C ..), so that drift in the card's
# state hits all variants alike. Every harness run checks the candidate on
# the held-out odd shapes (twice, fresh inputs) before it times anything.
# Env: SHAPES (4096^3,8192^3), HELDOUT, REPS (30), SEED (20261123), OUT.
# Appends all records to $OUT/ab.log; prints one line per timed record.
set -u
H=$1 ROUNDS=$2 DT=$3; shift 3
OUT=${OUT:-/tmp/spak-ab}; mkdir -p "$OUT"
LOG=$OUT/ab.log
for round in $(seq 1 "$ROUNDS"); do
    for so in $@; do
        echo "### $(basename "$so" .so) $DT round$round" >>"$LOG"
        timeout 300 "$H" --family gemm --candidate "$so" --seed "${SEED:-20261123}" --dtype "$DT" \
            --shapes "${SHAPES:-4096x4096x4096,8192x8192x8192}" --heldout "${HELDOUT:-129x263x72,129x264x72,3000x5000x2000}" \
            --reps "${REPS:-30}" --timeout 120 --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
        echo "### rc=$?" >>"$LOG"
    done
done
