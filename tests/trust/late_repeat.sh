#!/usr/bin/env bash
# tests/trust/late_repeat.sh BUILD_DIR [N] [NAME...] - the "work after
# return" class, repeated: each candidate N times (default 30) straight
# through BUILD_DIR/spak-harness-cpu with the shapes and the one-thread
# baselines of tests/suites/trust_cpu.sh. A run counts as accepted when it
# has a Performance record and no record that failed. Prints one line per
# candidate: accepted/N, the failure reasons by kind, and the most CPU any
# call's runner used after its DONE (late_cpu_max_us over the runs). Exit 1
# when a cheat was accepted or a control was not. Not part of tests/run.sh
# (about 8 minutes for the default set on 2 cores); its numbers are in
# docs/results-trust-cpu.md.
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
N=${2:-30}
shift $(($# > 2 ? 2 : $#))
H=$B/spak-harness-cpu
T=$(mktemp -d "${TMPDIR:-/tmp}/spak-late.XXXXXX")
trap 'rm -rf "$T"' EXIT
CCF="-O2 -march=native -fPIC -shared -Wall -Wextra -Werror -Itests/trust"
NAMES=${*:-"at_early_return mm_early_return mm_late_tail at_late_tail mm_late_cleanup ctl_mm_openmp ctl_mm_pthreads ctl_at_pthreads"}
for c in $NAMES base_mm base_at; do
    extra=
    [ "$c" = ctl_mm_openmp ] && extra=-fopenmp
    cc $CCF $extra "tests/trust/$c.c" -o "$T/$c.so" -lpthread -lm || { echo "cannot build $c"; exit 2; }
done
bad=0
for c in $NAMES; do
    case $c in
    at_* | ctl_at_*) fam=attention sh=1x2x128x32 held=1x1x37x24c base=base_at ;;
    *) fam=matmul sh=128x128x128 held=33x17x65,1x7x3 base=base_mm ;;
    esac
    for i in $(seq "$N"); do
        "$H" --family $fam --candidate "$T/$c.so" --shapes $sh --heldout $held --baseline so \
            --baseline-so "$T/$base.so" --min-time 0.002 --ceilings-cache "$T/ceil.json" >"$T/$c.$i.out" 2>/dev/null
    done
    python3 - "$c" "$T" "$N" <<'PY' || bad=1
import json, re, sys, collections
c, t, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
acc, why, late = 0, collections.Counter(), 0.0
for i in range(1, n + 1):
    recs = [json.loads(l.split(" ", 1)[1]) for l in open(f"{t}/{c}.{i}.out") if l.startswith("__SPAK_TRACE__ ")]
    fails = [r for r in recs if r.get("passed") is False]
    perf = [r for r in recs if r["type"] == "Performance"]
    late = max([late] + [r.get("late_cpu_max_us") or 0 for r in perf])
    if perf and not fails:
        acc += 1
    for r in fails[:1]:
        why[re.sub(r"[0-9.]+", "#", r.get("reason", "?"))[:70]] += 1
    if not recs:
        why["no records"] += 1
ctl = c.startswith("ctl_")
print(f"{c}: accepted {acc}/{n}; late_cpu_max_us {late:.1f}; " + "; ".join(f"{k} x{v}" for k, v in why.items()))
sys.exit(0 if (acc == n if ctl else acc == 0) else 1)
PY
done
exit $bad
