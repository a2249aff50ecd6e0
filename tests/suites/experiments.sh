#!/usr/bin/env bash
# parallel: yes (tests/run.sh: the one measured verdict is a 10x faster source; the rest is records and files)
# tests/suites/experiments.sh BUILD_DIR - the engineer's seat experiment's
# kit (TAP): engineer.sh refuses bad arms, a used home and a seed of lessons
# without a store or a lesson of the family; on fake finished
# arms made here with spak mcp-call (a tiny matmul spec, the naive point
# proposed first as engineer.sh does, hand-written sources, one with
# tunables), evaluate.sh gives each step's best from the store, rebuilds
# every arm's best and our best rung, re-times them in one session of the
# CPU judge, prints ratios with intervals, the verdicts by the stated rule,
# the CSVs and the SVG charts; an arm that has not taken its steps is not
# counted; the verdict rule's three outcomes on given improvements.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init experiments "$@"
ES="$ROOT/scripts/experiments"

# engineer.sh's refusals (the full set-up takes a minute of the naive rung: not here)
"$ES/engineer.sh" attn-bogus 1 >/dev/null 2>"$T/e1.err"
check "engineer.sh: an unknown arm is a usage error that names it" "[ \$? -eq 2 ] && grep -q \"unknown arm 'attn-bogus'\" $T/e1.err"
"$ES/engineer.sh" mm-loop x >/dev/null 2>"$T/e2.err"
check "engineer.sh: a repetition that is not a whole number is a usage error" "[ \$? -eq 2 ] && grep -q 'REP must be a whole number' $T/e2.err"

# --lessons: a seed that is not a home with a store, and one without a lesson of the arm's family, are refused
# before anything is made (the full set-up with a seed is the naive rung's minute: not here)
mkdir -p "$T/noseed" "$T/seedmm"
"$ES/engineer.sh" --lessons "$T/noseed" attn-loop 97 >/dev/null 2>"$T/e3.err"
check "engineer.sh --lessons: a folder without a store is refused, saying how the seed is made" "[ \$? -eq 1 ] && grep -q 'has no store (spak.db): make the seed with scripts/experiments/seed-lessons.sh' $T/e3.err && [ ! -e $ROOT/experiments/attn-loop-97 ]"
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE lessons(id INTEGER PRIMARY KEY, family TEXT, text TEXT)")
db.execute("INSERT INTO lessons(family, text) VALUES (\"matmul\", \"tile_k = 256 helps\")"); db.commit()' "$T/seedmm/spak.db"
"$ES/engineer.sh" --lessons "$T/seedmm" attn-noknow 97 >/dev/null 2>"$T/e4.err"
check "engineer.sh --lessons: a seed without a lesson of the arm's family (attention) is refused" "[ \$? -eq 1 ] && grep -q 'holds no lesson for the family attention' $T/e4.err && [ ! -e $ROOT/experiments/attn-noknow-97 ]"
"$ES/engineer.sh" --lessons >/dev/null 2>"$T/e5.err"
check "engineer.sh --lessons without its operand is a usage error" "[ \$? -eq 2 ] && grep -q 'usage: .*--lessons SEED_HOME' $T/e5.err"

# a tiny copy of the experiment's matmul spec
python3 - "$ROOT/examples/experiments/matmul-naive.spak" "$T/mm.spak" "$ROOT" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = s.replace('shapes: ["1024x1024x1024"]', 'shapes: ["96x96x96", "64x128x32"]')
s = re.sub(r'heldout: \[[^]]*\]', 'heldout: ["33x17x9"]', s)
s = s.replace('../../kernels', sys.argv[3] + '/kernels').replace('--min-time 0.2', '--min-time 0.02 --max-time 0.5')
open(sys.argv[2], 'w').write(s)
PY
shorten "$T/mm.spak"
slow='#include "abi.h"
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s;
        }
    return 0;
}'
fast='#include "abi.h"
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * N;
        for (int j = 0; j < N; j++) c[j] = 0.0f;
        for (int k0 = 0; k0 < K; k0 += KB)
            for (int k = k0; k < K && k < k0 + KB; k++) {
                float a = A[(long)i * K + k];
                const float *b = B + (long)k * N;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            }
    }
    return 0;
}'
# arm ARM REP STEPS SOURCE... : a run as engineer.sh makes it, the sources proposed in turn
arm() {
    local a=$1 r=$2 steps=$3 h="$T/exp/$1-$2/home"; shift 3
    mkdir -p "$h"
    "$SPAK" mcp-call --home "$h" --json spak_start "{\"spec\": \"$T/mm.spak\", \"budget\": 40}" >"$T/$a-$r.start" 2>&1
    local run; run=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$T/$a-$r.start")
    "$SPAK" mcp-call --home "$h" -q spak_propose "{\"run\": \"$run\", \"point\": \"rung=naive\"}" >/dev/null 2>&1
    "$SPAK" mcp-call --home "$h" -q spak_wait "{\"run\": \"$run\", \"proposal\": 1, \"timeout_s\": 300}" >/dev/null 2>&1
    cp "$h/runs/$run/external/best.c" "$T/$a-$r.best0.c" 2>/dev/null
    local p=2
    for src in "$@"; do
        python3 -c 'import json,sys; d={"run": sys.argv[1], "source": sys.argv[2], "predicted_ratio": 0.5}
if "KB" in sys.argv[2]: d["tunables"] = {"KB": [16, 64]}
print(json.dumps(d))' "$run" "$src" >"$T/prop.json"
        "$SPAK" mcp-call --home "$h" -q spak_propose "$(cat "$T/prop.json")" >/dev/null 2>&1
        "$SPAK" mcp-call --home "$h" -q spak_wait "{\"run\": \"$run\", \"proposal\": $p, \"timeout_s\": 300}" >/dev/null 2>&1
        p=$((p + 1))
    done
    python3 -c 'import json,sys; a=sys.argv
json.dump({"arm": a[1], "rep": int(a[2]), "family": "matmul", "spec": a[3], "home": a[4], "run_id": a[5],
           "started": "2026-12-06T00:00:00Z", "steps": int(a[6]), "budget": 40, "context_without": None,
           "scratch": "", "first_engineer_proposal": 2}, open(a[7], "w"))' \
        "$a" "$r" "$T/mm.spak" "$h" "$run" "$steps" "$T/exp/$a-$r.json"
}
arm mm-single 1 1 "$slow"
arm mm-loop 1 2 "$slow" "$fast"
arm mm-loop 2 3 "$slow"   # one step of three: not finished
arm mm-single 3 1 "$slow"   # no loop of repetition 3: unpaired, never paired with another repetition
check "after the naive start, the base of a diff (best-source) is the naive source, not the prompt's 'Not repeated' line" "cmp -s $T/mm-single-1.best0.c $ROOT/kernels/cpu/matmul/naive.c"
"$ES/evaluate.sh" --records "$T/exp" --out "$T/out" --min-time 0.02 --max-time 1 >"$T/ev.out" 2>"$T/ev.err"
check "evaluate.sh runs to its end" "[ \$? -eq 0 ] && [ -s $T/out/results.md ]"
check "an arm that has not taken its steps is not counted, and says why" "grep -q 'Not counted: mm-loop-2.json (1 of 3 steps taken)' $T/out/results.md"
python3 - "$T/out/trajectories.csv" "$T/exp" <<'PY' >"$T/traj.check" 2>&1
import csv, json, sqlite3, sys
rows = list(csv.DictReader(open(sys.argv[1])))
loop = [r for r in rows if r["arm"] == "mm-loop" and r["rep"] == "1"]
single = [r for r in rows if r["arm"] == "mm-single" and r["rep"] == "1"]
assert [r["step"] for r in loop] == ["0", "1", "2"] and [r["step"] for r in single] == ["0", "1"], rows
rec = json.load(open(sys.argv[2] + "/mm-loop-1.json"))
db = sqlite3.connect(rec["home"] + "/spak.db")
best = db.execute("select k.key, e.metric from evaluations e join candidates k using (run_id, cand_id) where e.status='done' and e.correct=1 order by e.metric desc limit 1").fetchone()
assert loop[0]["best_candidate"] == "rung=naive", loop[0]
assert loop[2]["best_candidate"] == best[0] and abs(float(loop[2]["best_metric"]) - best[1]) < 1e-9, (loop[2], best)
assert loop[2]["best_candidate"].startswith("code:ext-3-"), loop[2]   # a point of step 2's sweep
print("ok")
PY
check "trajectories: step 0 is the naive start, the last step's best is the store's best (a point of the sweep)" "grep -qx ok $T/traj.check || { cat $T/traj.check; false; }"
check "the session re-timed every final, our best rung and naive side by side, with intervals" "grep -q '^| mm-loop-1 | code:ext-3-.* | [0-9.e-]* \[[0-9.e-]*-[0-9.e-]*\] | [0-9.e-]* \[' $T/out/results.md && grep -q '^| mm-single-1 | ' $T/out/results.md && grep -q '^| ours (packed) | reference |' $T/out/results.md && grep -q '^| naive | reference |' $T/out/results.md"
check "one session of the judge for the family, its records kept" "[ \$(grep -c '^\$ .*spak-harness-cpu' $T/out/session-matmul.txt) -eq 1 ] && [ \$(grep -o -- '--candidate' $T/out/session-matmul.txt | wc -l) -eq 5 ] && grep -q '\"session_size\":5' $T/out/session-matmul.txt"
check "final.csv: one row a candidate with its ratio and interval" "[ \$(tail -n +2 $T/out/final.csv | wc -l) -eq 5 ]"
check "the loop's verdict by the stated rule (a 10x faster source: supported)" "grep -q '^| matmul: the loop beats a single shot | mm-loop-1/mm-single-1 .* | yes | \*\*supported\*\* |' $T/out/results.md && grep -q ',supported$' $T/out/verdicts.csv"
check "repetition r paired with repetition r only: the single shot of repetition 3 is said unpaired" "grep -q '^| matmul: the loop beats a single shot | mm-loop-1/mm-single-1 [^|]*; unpaired: mm-single-3 |' $T/out/results.md"
check "the trajectory chart: an SVG with one line an arm" "python3 -c 'import sys, xml.dom.minidom as m; d=m.parse(sys.argv[1]); assert len(d.getElementsByTagName(\"polyline\")) == 3' $T/out/trajectory-matmul.svg"
python3 - "$ES" <<'PY' >"$T/verdict.check" 2>&1
import math, sys
sys.path.insert(0, sys.argv[1])
import evaluate as ev
L = math.log
assert ev.verdict([(1, L(1.2), 0.01), (2, L(1.15), 0.01), (3, L(1.3), 0.02)])[0] == "supported"
assert ev.verdict([(1, L(0.8), 0.01), (2, L(0.9), 0.01)])[0] == "not supported"
assert ev.verdict([(1, L(1.2), 0.01), (2, L(0.95), 0.01), (3, L(1.3), 0.01)])[0] == "inconclusive"   # not every rep
assert ev.verdict([(1, L(1.01), 0.2)])[0] == "inconclusive"   # the interval holds zero
print("ok")
PY
check "the verdict rule: supported, not supported, inconclusive (a rep that loses; an interval over zero)" "grep -qx ok $T/verdict.check || { cat $T/verdict.check; false; }"
echo "1..$n"
