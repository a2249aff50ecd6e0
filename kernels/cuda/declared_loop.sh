#!/usr/bin/env bash
# kernels/cuda/declared_loop.sh prepare|run DIR - the whole path of a declared
# CUDA kernel (issue 17; docs/declared-kernels.md, "CUDA kernels"): the spec's
# kernel block, the cubins built in the build sandbox, the decl file, and
# spak-judge-cuda, through `spak run` of examples/declared/{softmax,layernorm,
# sum}-cuda.spak, with everything built on the development machine and
# carried in DIR (the twin of loop_on_gpu.sh):
#
#   prepare DIR   (here, after `make`): DIR/spak, DIR/spak-judge-cuda,
#                 DIR/spak-runner-cuda (copies of build/), and DIR/home/cache/build
#                 filled by `spak build --home DIR/home` of the three specs (every
#                 point's cubin and each reference's).
#   run DIR       (the GPU machine; `run` tool, carry: [DIR]): copies the tree to
#                 /tmp/w-declared (reachable by the sandbox uid), a fresh home there
#                 with only the build cache copied in, checks with `spak build` that
#                 nothing compiles (the cache answers every point), then `spak run
#                 --json` of each spec, `spak show`, and the decl file of the first
#                 evaluation of each run.
#
# Files under OUT (default /tmp/out-declared): device.txt, K.run.json, K.run.log,
# K.show.txt, K.show.json, K.cost.txt (where the time went: kernels/cuda/cost-table.py),
# K.decl.json, build-check.txt, summary.txt (each spec's evaluations:
# done / failed, the best time_ms and its candidate), declared-loop.tgz (spak.db,
# runs, the device ceilings). Exit 0 when every spec's run had a correct,
# measured evaluation and nothing compiled on the GPU machine. Env: RUN_ARGS
# (extra `spak run` options, e.g. "--budget 3"), LOOP_TIMEOUT (seconds a spec,
# default 170: the three fit one device call of 600 s; each spec's whole
# space is 6, 6 and 8 evaluations), SPECS (default "softmax layernorm sum").
set -u
MODE=${1:?usage: declared_loop.sh prepare|run DIR}
D=${2:?usage: declared_loop.sh prepare|run DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SPECS=${SPECS:-softmax layernorm sum}

if [ "$MODE" = prepare ]; then
    B=${BUILD:-$ROOT/build}
    for f in spak spak-judge-cuda spak-runner-cuda; do
        [ -x "$B/$f" ] || { echo "declared_loop.sh: $B/$f is missing (make it first)" >&2; exit 1; }
    done
    mkdir -p "$D/home"
    cp "$B/spak" "$B/spak-judge-cuda" "$B/spak-runner-cuda" "$D/"
    rc=0
    for k in $SPECS; do
        "$B/spak" build --home "$D/home" "$ROOT/examples/declared/$k-cuda.spak" | tail -1
        [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    done
    echo "declared_loop.sh: $D holds $(ls "$D/home/cache/build" | grep -c '\.cubin$') cubins, $(du -sh "$D" | cut -f1)"
    exit $rc
fi
[ "$MODE" = run ] || { echo "declared_loop.sh: '$MODE' is not prepare or run" >&2; exit 2; }

OUT=${OUT:-/tmp/out-declared}
mkdir -p "$OUT"
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,compute_cap,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv
    uname -r; id
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
# the ld cache: cuBLAS (the judge's probe child links it for the SGEMM
# ceiling) and the libraries the kit carried (device-libs.sh)
. "$(dirname "$0")/device-libs.sh"
spak_device_libs "$D/lib" "$D/spak" "$D/spak-judge-cuda" "$D/spak-runner-cuda"
W=/tmp/w-declared
rm -rf "$W"
mkdir -p "$W/build" "$W/.spak/cache"
cp -a "$ROOT/examples" "$ROOT/kernels" "$W/"
cp "$D/spak" "$D/spak-judge-cuda" "$D/spak-runner-cuda" "$W/build/"
cp -a "$D/home/cache/build" "$W/.spak/cache/"
chmod -R a+rX "$W"
chmod 755 "$W"
cd "$W" || exit 1
n0=$(ls .spak/cache/build | grep -c '\.cubin$')
for k in $SPECS; do build/spak build --home "$W/.spak" "examples/declared/$k-cuda.spak" 2>&1 | tail -1; done >"$OUT/build-check.txt"
n1=$(ls .spak/cache/build | grep -c '\.cubin$')
echo "cubins in the cache: $n0 carried, $n1 after spak build (equal: nothing compiled here)" | tee -a "$OUT/build-check.txt"
rc=0
[ "$n0" -eq "$n1" ] || rc=1
for k in $SPECS; do
    echo "== spak run examples/declared/$k-cuda.spak"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    timeout "${LOOP_TIMEOUT:-170}" build/spak run --home "$W/.spak" --json --no-learn ${RUN_ARGS:-} \
        "examples/declared/$k-cuda.spak" >"$OUT/$k.run.json" 2>"$OUT/$k.run.log"
    echo "rc=$? wall=$(($(date +%s) - t0))s"
    tail -c 2500 "$OUT/$k.run.log"
    echo
    run=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$OUT/$k.run.json" 2>/dev/null)
    # a run cut by the timeout wrote no final line: its newest run folder
    [ -n "$run" ] || run=$(ls "$W/.spak/runs" 2>/dev/null | grep -v '\.' | tail -1)
    [ -n "$run" ] || { echo "$k: no run"; rc=1; continue; }
    build/spak show --home "$W/.spak" "$run" >"$OUT/$k.show.txt" 2>&1
    # where each evaluation's time went (issue 18): the engine's steps and the judge's phases
    build/spak show --home "$W/.spak" --json "$run" >"$OUT/$k.show.json" 2>&1
    python3 kernels/cuda/cost-table.py "$OUT/$k.show.json" | tee "$OUT/$k.cost.txt"
    # the first evaluation's decl (its .lib folder is closed again after the evaluation; we are its owner)
    cp "$W/.spak/runs/$run/e1.lib/decl.json" "$OUT/$k.decl.json" 2>/dev/null
    python3 - "$W/.spak/spak.db" "$run" "$k" >>"$OUT/summary.txt" <<'PY' || rc=1
import sqlite3, sys
db, run, k = sys.argv[1:4]
c = sqlite3.connect(db)
rows = c.execute("select e.status, e.correct, e.metric, c.key, e.exit_desc from evaluations e join candidates c "
                 "on c.run_id = e.run_id and c.cand_id = e.cand_id where e.run_id = ? order by e.eval_id", (run,)).fetchall()
done = [r for r in rows if r[0] == "done" and r[1] == 1 and r[2] is not None]
best = min(done, key=lambda r: r[2]) if done else None
print("%-10s %s: %d evaluations, %d correct and measured, %d failed; best %s" % (
    k, run, len(rows), len(done), sum(r[0] == "failed" for r in rows),
    "%.4f ms (%s)" % (best[2], best[3]) if best else "none"))
for r in rows:
    if r[0] != "done":
        print("    %s: %s %s" % (r[3], r[0], r[4] or ""))
sys.exit(0 if done else 1)
PY
done
tar czf "$OUT/declared-loop.tgz" -C "$W/.spak" spak.db runs cache/device 2>/dev/null
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,clocks_throttle_reasons.active --format=csv >>"$OUT/device.txt" 2>&1
echo "== summary"
cat "$OUT/summary.txt"
exit $rc
