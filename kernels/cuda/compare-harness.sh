#!/usr/bin/env bash
# kernels/cuda/compare-harness.sh OLD_DIR NEW_DIR [RUNG_DIR] - run two builds of
# the CUDA harnesses (OLD_DIR/spak-harness-cuda{,-fmha}, NEW_DIR/...) over the
# same rungs (RUNG_DIR/cuda/{gemm,fmha}/rung*.so, default NEW_DIR), the same seed
# and shapes, check-only and timed, alternating old and new, and compare what
# they report: each record's type, shape, verdict (passed / reason) and field
# names must be equal; timed records are compared by the ratio to the baseline
# (old vs new, both measured here). For a refactor of harness code that is meant
# to change nothing (issue 12). Runs on the GPU machine; builds nothing.
# Writes $OUT/compare.log; prints a table last.
set -u
OLD=$1 NEW=$2 RD=${3:-$2}
OUT=${OUT:-/tmp/spak-compare}
mkdir -p "$OUT"
SEED=${SEED:-20261205}
LOG=$OUT/compare.log
: >"$LOG"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee -a "$LOG"
run() {  # label harness family rung args...
    local label=$1 h=$2 fam=$3 so=$4; shift 4
    "$h" --family "$fam" --candidate "$so" --seed "$SEED" "$@" 2>>"$OUT/$label.err" |
        grep '^__SPAK_TRACE__' | sed 's/^__SPAK_TRACE__ //' >"$OUT/$label.jsonl"
}
summ() {  # jsonl -> one line per record: type shape passed reason-class fieldnames
    python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "Cost":  # where the time went: a newer judge's only, no verdict
        continue
    reason = (r.get("reason") or "")
    print(r.get("type"), r.get("shape"), r.get("heldout"), r.get("passed"), reason.split(" (")[0][:40],
          ",".join(sorted(r.keys())))
PY
}
ratio() {  # jsonl -> geomean ratio of Performance records
    python3 - "$1" <<'PY'
import json, math, sys
v = [json.loads(l).get("ratio") for l in open(sys.argv[1])]
v = [x for x in v if isinstance(x, (int, float)) and x > 0]
print("%.3f" % math.exp(sum(map(math.log, v)) / len(v)) if v else "-")
PY
}
printf '%-22s %-10s %-8s %-10s %-10s\n' rung mode same old_ratio new_ratio >"$OUT/table.txt"
compare() {  # name fam harness-name so args...
    local name=$1 fam=$2 hn=$3 so=$4; shift 4
    for mode in check timed; do
        local extra=()
        [ "$mode" = check ] && extra=(--check-only)
        run "$name-$mode-old" "$OLD/$hn" "$fam" "$so" "$@" "${extra[@]}"
        run "$name-$mode-new" "$NEW/$hn" "$fam" "$so" "$@" "${extra[@]}"
        local same=yes
        summ "$OUT/$name-$mode-old.jsonl" >"$OUT/$name-$mode-old.sum"
        summ "$OUT/$name-$mode-new.jsonl" >"$OUT/$name-$mode-new.sum"
        if ! diff "$OUT/$name-$mode-old.sum" "$OUT/$name-$mode-new.sum" >>"$LOG"; then same=NO; fi
        [ -s "$OUT/$name-$mode-old.sum" ] || same=EMPTY
        printf '%-22s %-10s %-8s %-10s %-10s\n' "$name" "$mode" "$same" "$(ratio "$OUT/$name-$mode-old.jsonl")" \
            "$(ratio "$OUT/$name-$mode-new.jsonl")" >>"$OUT/table.txt"
    done
}
GS=${GEMM_SHAPES:-4096x4096x4096,2048x2048x2048}
GH=${GEMM_HELDOUT:-3000x5000x2000,129x263x72}
for so in "$RD"/cuda/gemm/rung*.so; do
    r=$(basename "$so" .so)
    reps=20; [ "$r" = rung1_simt ] && reps=3
    compare "gemm-$r" gemm spak-harness-cuda "$so" --dtype bf16 --shapes "$GS" --heldout "$GH" --reps $reps
done
FS=${FMHA_SHAPES:-4x16x4096x128,4x16x4096x128c}
FH=${FMHA_HELDOUT:-2x8x1500x128g2c}
for so in "$RD"/cuda/fmha/rung*.so; do
    r=$(basename "$so" .so)
    reps=20; [ "$r" = rung1_naive ] && reps=2
    compare "fmha-$r" fmha spak-harness-cuda-fmha "$so" --dtype fp16 --shapes "$FS" --heldout "$FH" --reps $reps
done
cat "$OUT/table.txt"
