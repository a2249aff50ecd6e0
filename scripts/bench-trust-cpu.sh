#!/usr/bin/env bash
# scripts/bench-trust-cpu.sh [BUILD_DIR] - what the CPU hardening of issue 13
# costs: the old in-process harness (commit 41591d7, the candidate loaded into
# the harness's own process) against the current judge (the candidate in a
# sandboxed runner, fresh inputs and a check per timed call, the baseline
# timed alone first, the runner not timed frozen), alternated K times on the
# best CPU rung (kernels/cpu/matmul/packed.c with its best-known defines,
# kernels/cpu/bench.sh) with the arguments of examples/matmul-cpu.spak.
#
# Prints, per side: the wall time of one evaluation (one harness command:
# checks, timing, records), median and range, and of the same command with
# --check-only (start-up, the held-out and checked calls, no timing: the
# rest of an evaluation is its timing); the ratio to OpenBLAS from its
# Performance record, median and range, and the record's own interval (the
# p20-p80 times of candidate and baseline, as a ratio interval); a verdict
# whether the two sides' ratios are equal within their ranges; a markdown
# table last. The whole output goes to docs/logs/bench-trust-cpu-DATE.log.
#
#   make NVCC= -j2 all && scripts/bench-trust-cpu.sh build    (~3 minutes, K=5)
#   K=9 scripts/bench-trust-cpu.sh                            (more rounds)
#
# Needs root (the judge's runners run as the sandbox's uid) and git (the old
# harness is built in a temporary worktree, `git worktree add --detach`, and
# removed again). Nothing else should run meanwhile: the load is logged.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=$(realpath "${1:-build}")
K=${K:-5}
OLD=${OLD:-41591d7}
SHAPES=${SHAPES:-1024x1024x1024}
HELDOUT=${HELDOUT:-1000x1000x1000,257x511x129,1x1024x3}
MIN_TIME=${MIN_TIME:-0.2}
DEFS="-DMR=6 -DNV=4 -DTILE_K=384 -DTILE_M=96 -DTILE_N=2048 -DTHREADS=2"
LOG=${LOG:-docs/logs/bench-trust-cpu-$(date -u +%Y-%m-%d).log}

die() { echo "bench-trust-cpu: $*" >&2; exit 1; }
[ -x "$B/spak-harness-cpu" ] && [ -x "$B/spak-runner-cpu" ] ||
    die "$B/spak-harness-cpu and spak-runner-cpu missing: run make NVCC= -j2 all"
[ "$(id -u)" = 0 ] || die "needs root: the judge's runners run as the sandbox's uid"

T=$(mktemp -d /tmp/spak-bench-trust.XXXXXX)
WT="$T/old"
cleanup() {
    git worktree remove --force "$WT" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"
mkdir -p "$(dirname "$LOG")"
exec > >(tee "$LOG") 2>&1

echo "# bench-trust-cpu: old in-process harness ($OLD) vs the current judge ($(git rev-parse --short HEAD))"
echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# candidate: kernels/cpu/matmul/packed.c $DEFS; shapes $SHAPES, held out $HELDOUT, --min-time $MIN_TIME; K=$K"

# the old harness: only its binary, built in a detached worktree
git worktree add --detach "$WT" "$OLD" >/dev/null 2>&1 || die "git worktree add $OLD failed"
make -C "$WT" NVCC= O="$WT/build" "$WT/build/spak-harness-cpu" >"$T/old-make.log" 2>&1 ||
    { cat "$T/old-make.log"; die "cannot build the old harness"; }

# the candidate, built once, loaded by both (as spak builds it: build.c's flags)
cc -std=c11 -O3 -march=native -fPIC -shared -D_GNU_SOURCE -I"$ROOT/kernels/cpu/matmul" $DEFS \
    "$ROOT/kernels/cpu/matmul/packed.c" -o "$T/packed.so" -lm -lpthread || die "cannot build the candidate"
chmod 644 "$T/packed.so"

# one evaluation: SIDE ROUND [--check-only] -> $T/SIDE[c].ROUND.{out,err,wall}
evaluate() {
    local side=$1 k=$2 only=${3:-} tag=$1 h
    [ -n "$only" ] && tag=${side}c
    [ "$side" = old ] && h="$WT/build/spak-harness-cpu" || h="$B/spak-harness-cpu"
    local t0 t1
    t0=$(date +%s.%N)
    "$h" --family matmul --candidate "$T/packed.so" --seed $((20261205 + k)) --shapes "$SHAPES" \
        --heldout "$HELDOUT" --min-time "$MIN_TIME" --ceilings-cache "$T/ceilings-$side.json" $only \
        >"$T/$tag.$k.out" 2>"$T/$tag.$k.err"
    local rc=$?
    t1=$(date +%s.%N)
    echo "$t0 $t1 $rc" >"$T/$tag.$k.wall"
}

# not counted: each side measures its ceilings once and warms up
evaluate old 0
evaluate new 0
for k in $(seq 1 "$K"); do
    # alternate which side goes first
    if [ $((k % 2)) = 1 ]; then evaluate old "$k"; evaluate new "$k"; else evaluate new "$k"; evaluate old "$k"; fi
    evaluate old "$k" --check-only
    evaluate new "$k" --check-only
    echo "# round $k done (load $(cut -d' ' -f1 /proc/loadavg))"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$T" "$K" <<'PY'
import json, statistics, sys
T, K = sys.argv[1], int(sys.argv[2])

def records(path):
    out = []
    for line in open(path, errors="replace"):
        i = line.find("__SPAK_TRACE__")
        if i >= 0:
            try:
                out.append(json.loads(line[i + len("__SPAK_TRACE__"):]))
            except ValueError:
                pass
    return out

side_rows = {}
for side in ("old", "new"):
    rows = []
    for k in range(1, K + 1):
        t0, t1, rc = open("%s/%s.%d.wall" % (T, side, k)).read().split()
        recs = records("%s/%s.%d.out" % (T, side, k))
        perf = [r for r in recs if r.get("type") == "Performance"]
        corr = [r for r in recs if r.get("type") == "Correctness"]
        ok = rc == "0" and perf and corr and all(r.get("passed") for r in corr)
        p = perf[0] if perf else {}
        # the record's own interval: baseline p20/p80 over candidate p80/p20
        lo = hi = None
        if p.get("time_ms_p20") and p.get("baseline_time_ms_p20"):
            lo = p["baseline_time_ms_p20"] / p["time_ms_p80"]
            hi = p["baseline_time_ms_p80"] / p["time_ms_p20"]
        c0, c1, crc = open("%s/%sc.%d.wall" % (T, side, k)).read().split()
        rows.append(dict(k=k, wall=float(t1) - float(t0), checks=float(c1) - float(c0) if crc == "0" else None,
                         ratio=p.get("ratio"), lo=lo, hi=hi, ok=ok,
                         core=p.get("openblas_core", "?"), gflops=p.get("gflops"), reps=p.get("reps")))
        print("%s round %d: wall %.2f s (checks only %s s), ratio %s (record interval %s), %s GFLOP/s, %s reps, openblas core %s%s" % (
            side, k, rows[-1]["wall"], "%.2f" % rows[-1]["checks"] if rows[-1]["checks"] else "-", "%.3f" % p["ratio"] if p.get("ratio") else "-",
            "%.2f-%.2f" % (lo, hi) if lo else "none", "%.1f" % p["gflops"] if p.get("gflops") else "-",
            p.get("reps", "-"), rows[-1]["core"], "" if ok else "  ** FAILED: see the log **"))
    side_rows[side] = rows

def summary(rows, key):
    v = [r[key] for r in rows if r[key] is not None and r["ok"]]
    return (statistics.median(v), min(v), max(v)) if v else (None, None, None)

print()
print("| side | evaluations ok | wall s / evaluation, median (range) | of which checks only (--check-only), median (range) | ratio to OpenBLAS, median (range) | records' own intervals (p20-p80), union |")
print("| --- | --- | --- | --- | --- | --- |")
S = {}
for side, name in (("old", "old in-process harness (41591d7)"), ("new", "judge + sandboxed runners (now)")):
    rows = side_rows[side]
    w, r, c = summary(rows, "wall"), summary(rows, "ratio"), summary(rows, "checks")
    los = [x["lo"] for x in rows if x["lo"] is not None and x["ok"]]
    his = [x["hi"] for x in rows if x["hi"] is not None and x["ok"]]
    S[side] = (w, r)
    fmt = lambda t, d: "%.*f (%.*f-%.*f)" % (d, t[0], d, t[1], d, t[2]) if t[0] is not None else "-"
    print("| %s | %d of %d | %s | %s | %s | %s |" % (name, sum(x["ok"] for x in rows), len(rows), fmt(w, 2), fmt(c, 2), fmt(r, 3),
                                          "%.2f-%.2f" % (min(los), max(his)) if los else "none (the old harness records no interval)"))
(ro, rn) = (S["old"][1], S["new"][1])
if ro[0] is None or rn[0] is None:
    print("\nverdict: no comparison (a side has no passing evaluation)")
else:
    overlap = ro[1] <= rn[2] and rn[1] <= ro[2]
    print("\nverdict: the ratios are %s (old %.3f-%.3f, new %.3f-%.3f); wall time per evaluation x%.2f" % (
        "equal within their ranges" if overlap else "NOT equal within their ranges", ro[1], ro[2], rn[1], rn[2],
        S["new"][0][0] / S["old"][0][0]))
PY
