#!/usr/bin/env bash
# seconds: 34 (tests/run.sh: the lanes start the longest first; what its release pass took on the 2-core machine, 2026-12-07)
# tests/suites/engine.sh BUILD_DIR - the loop end to end (TAP): strategies,
# budgets and stop conditions, failed candidates that do not stop the run,
# trace records that do not fit the schema, --json, status/show, and a run
# killed with SIGKILL mid-evaluation that resumes to the same result without
# re-running finished evaluations. The measure command is a Python stand-in
# (tests/engine/measure.py) whose metric is a known function of x and y.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init engine "$@"

# spec variant: $1 = name, $2 = extra measure args, $3 = sed on the loop body
mkspec() {
    mkdir -p "$T/$1"
    cp "$ROOT/tests/engine/measure.py" "$T/$1/"
    sed -e "s|{{x}} {{y}}\"|{{x}} {{y}} $2\"|" -e "$3" "$ROOT/tests/engine/toy.spak" >"$T/$1/toy.spak"
    echo "$T/$1/toy.spak"
}

# 1. grid over the whole space
S=$(mkspec grid "" "")
out=$("$SPAK" run --home "$T/h1" --json "$S" 2>"$T/grid.err")
rc=$?
check "grid run exits 0" "[ $rc -eq 0 ]"
check "grid: 20 evaluations, space exhausted" "[ \"$(echo "$out" | jlast 'd["evaluations"], d["stop_reason"]')\" = '20 search space exhausted' ]"
check "grid: best is x=3,y=2 with score 100" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["best"]["score"]')\" = 'x=3,y=2 100.0' ]"
check "--json summary has ratio (best/baseline)" "[ \"$(echo "$out" | jlast 'd["ratio"]')\" = '2.0' ]"
check "progress went to stderr, one line per evaluation" "[ \$(grep -c '^\[' $T/grid.err) -eq 20 ]"
RUN=$(echo "$out" | jlast 'd["run_id"]')
"$SPAK" show --home "$T/h1" --json "$RUN" >"$T/show.json"
check "show --json lists 20 done evaluations" "[ \"\$(python3 -c 'import json;d=json.load(open(\"$T/show.json\"));print(len(d[\"evaluations\"]), d[\"evaluations_by_status\"][\"done\"])')\" = '20 20' ]"
"$SPAK" status --home "$T/h1" "$RUN" >"$T/status.txt"
check "status names the run as done" "grep -q \"run $RUN: done\" $T/status.txt"
check "status lists runs" "\"$SPAK\" status --home \"$T/h1\" | grep -q \"$RUN\""
python3 - "$T/h1/spak.db" "$RUN" >"$T/journal.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select from_state, to_state from journal where run_id=? order by seq", (sys.argv[2],)).fetchall()
print(" ".join(f"{a}>{b}" for a, b in rows[:7]))
print(rows[-1][1])
PY
check "journal: specify > decide > program > build > analyze > knowledge > decide" "head -1 $T/journal.txt | grep -q '^None>specify specify>decide decide>program program>build build>analyze analyze>knowledge knowledge>decide'"
check "journal ends in done" "[ \"\$(tail -1 $T/journal.txt)\" = done ]"

# 2. budget and stop condition
out=$("$SPAK" run --home "$T/h1" --json --budget 4 "$S" 2>/dev/null)
check "--budget 4 stops after 4 with 'budget: evaluations'" "[ \"$(echo "$out" | jlast 'd["evaluations"], d["stop_reason"]')\" = '4 budget: evaluations' ]"
S2=$(mkspec stop "" 's|strategy: "grid"|strategy: "grid"\n        stop { when: "is_converged(trace.best)" }|')
out=$("$SPAK" run --home "$T/h2" --json "$S2" 2>/dev/null)
check "stop condition is_converged(trace.best) stops at the optimum" "[ \"$(echo "$out" | jlast 'd["stop_reason"], d["best"]["candidate"]')\" = 'stop condition x=3,y=2' ]"
S2h=$(mkspec stopheld "--mode heldout" 's|strategy: "grid"|strategy: "grid"\n        stop { when: "is_converged(trace.best)" }|')
out=$("$SPAK" run --home "$T/h2" --json "$S2h" 2>/dev/null)
check "held-out records steer nothing: not the metric, not the stop condition" "[ \"$(echo "$out" | jlast 'd["stop_reason"], d["best"]["candidate"], d["best"]["score"]')\" = 'stop condition x=3,y=2 100.0' ]"
S3=$(mkspec plateau "" 's|strategy: "grid"|strategy: "grid"\n        stop { plateau: 3 }|')
out=$("$SPAK" run --home "$T/h2" --json "$S3" 2>/dev/null)
check "plateau: 3 stops after 3 evaluations without improvement" "[ \"$(echo "$out" | jlast 'd["stop_reason"]')\" = plateau ]"

# 2b. decisions on intervals: a point estimate that passes near_baseline
# (ratio >= 1.95; the optimum's ratio is 2.0) while its interval straddles
# 1.95 does not stop the run; the same run with tight intervals stops as
# soon as one lies wholly above 1.95
SNC='s|strategy: "grid"|strategy: "grid"\n        stop { when: "near_baseline(trace.best)" }|
s|return t.score >= 100|return t.score >= 100\n        }\n        fact near_baseline(t: TraceItem.Performance) {\n            return t.ratio >= 1.95|'
S4=$(mkspec noisy "--mode noisy" "$SNC")
out=$("$SPAK" run --home "$T/h2" --json "$S4" 2>"$T/noisy.err")
check "intervals: ratio 2.0 in [1.8, 2.2] does not pass ratio >= 1.95: no stop, the space is exhausted" "[ \"$(echo "$out" | jlast 'd["stop_reason"], d["evaluations"]')\" = 'search space exhausted 20' ]"
check "intervals: overlapping wide intervals end the run inconclusive, the tied named" "[ \"$(echo "$out" | jlast 'd["decision"], len(d["tied_with"]) > 0, d["ratio_ci"][0] < d["ratio"] < d["ratio_ci"][1]')\" = 'inconclusive True True' ]"
check "intervals: the run's lines carry the interval and the decision" "grep -q 'x \[1.8-2.2\]' $T/noisy.err && grep -q 'decision: inconclusive' $T/noisy.err"
S5=$(mkspec precise "--mode precise" "$SNC")
out=$("$SPAK" run --home "$T/h2" --json "$S5" 2>/dev/null)
check "intervals: with +-0.5% intervals the run stops at the first ratio wholly >= 1.95 (1.96 at x=2,y=1)" "[ \"$(echo "$out" | jlast 'd["stop_reason"], d["best"]["candidate"], d["evaluations"]')\" = 'stop condition x=2,y=1 6' ]"
# measured under load (docs/language.md "Measured under load"): the same
# tight intervals with half the judge's CPUs taken by other work: the stop
# condition holds and is not taken, the run ends inconclusive and says why
S5l=$(mkspec preciseloaded "--mode precise --foreign-load 0.5" "$SNC")
out=$("$SPAK" run --home "$T/h2" --json "$S5l" 2>"$T/loaded.err")
got=$(echo "$out" | jlast 'd["stop_reason"], d["decision"], d["measured_under_load"]["evaluations"], d["measured_under_load"]["stops_not_taken"] > 0')
check "under load: the stop condition holds and is not taken; the space is exhausted, inconclusive, measured_under_load says why ($got)" "[ \"\$got\" = 'search space exhausted inconclusive 20 True' ] && grep -q 'measured under load: 20 evaluation(s) while other work took up to 50%' $T/loaded.err"
S6=$(mkspec noisyplateau "--mode noisy" 's|strategy: "grid"|strategy: "grid"\n        stop { plateau: 3 }|')
out=$("$SPAK" run --home "$T/h2" --json "$S6" 2>/dev/null)
check "intervals: better points within the best's interval are no improvement (plateau after 4, the first kept)" "[ \"$(echo "$out" | jlast 'd["stop_reason"], d["evaluations"], d["best"]["candidate"], d["undecided"]')\" = 'plateau 4 x=1,y=0 3' ]"

# 2c. ranked on the paired ratio (docs/language.md 6.9a): recorded CPU
# attention measurements whose baseline drifted between evaluations
# (tests/engine/drift-recording.json): the highest metric (bq=32,bk=64,
# 245.7 GFLOP/s, 1.303x) is not the highest ratio (bq=128,bk=128, 124.6
# GFLOP/s, 1.556x [1.527-1.585]; bq=128,bk=64 1.530x [1.500-1.560] overlaps
# it). $1 = name, $2 = replay.py flags, $3 = sed on the spec
mkdrift() {
    mkdir -p "$T/$1"
    cp "$ROOT/tests/engine/replay.py" "$ROOT/tests/engine/drift-recording.json" "$T/$1/"
    sed -e "s|drift-recording.json bq=|drift-recording.json $2 bq=|" -e "$3" "$ROOT/tests/engine/drift-replay.spak" >"$T/$1/d.spak"
    echo "$T/$1/d.spak"
}
TIME='s|metric: "gflops"|metric: "time_ms"|; s|objective: maximize|objective: minimize|'
D1=$(mkdrift drift "" "")
out=$("$SPAK" run --home "$T/hd" --json "$D1" 2>"$T/drift.err")
check "ratio: the best is the highest paired ratio, not the highest metric" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["best"]["gflops"], d["best"]["ratio"], d["ranked_on"]')\" = 'bq=128,bk=128 124.6 1.556 ratio' ]"
check "ratio: the tie set and the decision are on the ratio's intervals (1.530x [1.500-1.560] overlaps it)" "[ \"$(echo "$out" | jlast 'd["decision"], d["tied_with"], d["undecided"]')\" = 'tied [6] 0' ]"
check "ratio: the run's last line names that best with its metric" "grep -q 'best gflops 124.6, 1.56x' $T/drift.err"
RUND=$(echo "$out" | jlast 'd["run_id"]')
check "ratio: spak show calls it the best" "\"$SPAK\" show --home \"$T/hd\" \"$RUND\" | grep -q '^  best: bq=128,bk=128  gflops 124.6'"
python3 -c 'import json, sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("select detail_json from journal where run_id=? and to_state=?", (sys.argv[2], "retime")).fetchone()
print(json.loads(r[0])["retime"] if r else None)' "$T/hd/spak.db" "$RUND" >"$T/drift-retime.txt"
check "ratio: the re-time's candidates are the best and the runner-up on the ratio (not the metric's 245.7)" "[ \"\$(cat $T/drift-retime.txt)\" = '[5, 6]' ]"
out=$("$SPAK" run --home "$T/hd" --json "$(mkdrift drifttime "" "$TIME")" 2>/dev/null)
check "ratio: a minimised time ranks the same (the ratio is > 1 = faster for every objective)" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["ranked_on"]')\" = 'bq=128,bk=128 ratio' ]"
out=$("$SPAK" run --home "$T/hd" --json "$(mkdrift nobase "--drop baseline" "")" 2>/dev/null)
check "no baseline named: the metric rule as before (245.7 GFLOP/s, a winner)" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["best"]["gflops"], d["ranked_on"], d["decision"]')\" = 'bq=32,bk=64 245.7 metric winner' ]"
out=$("$SPAK" run --home "$T/hd" --json "$(mkdrift nobasetime "--drop baseline" "$TIME")" 2>/dev/null)
check "no baseline named, a minimised time: the shortest time" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["ranked_on"]')\" = 'bq=32,bk=64 metric' ]"
out=$("$SPAK" run --home "$T/hd" --json "$(mkdrift mixed "--drop ratio@bq=128,bk=128 --drop ratio_ci@bq=128,bk=128" "")" 2>/dev/null)
check "one side without a ratio: that comparison on the metric, the others on the ratio, and the summary says so" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["ranked_on"], d["decision"]')\" = 'bq=128,bk=64 ratio and metric winner' ]"

# 3. random is seeded; default finds the optimum
keys() { "$SPAK" show --home "$1" --json "$2" | python3 -c 'import json,sys; print(" ".join(e["candidate"] for e in json.load(sys.stdin)["evaluations"]))'; }
r1=$("$SPAK" run --home "$T/h3" --json --strategy random --seed 5 --budget 6 "$S" 2>/dev/null | jlast 'd["run_id"]')
r2=$("$SPAK" run --home "$T/h3" --json --strategy random --seed 5 --budget 6 "$S" 2>/dev/null | jlast 'd["run_id"]')
r3=$("$SPAK" run --home "$T/h3" --json --strategy random --seed 6 --budget 6 "$S" 2>/dev/null | jlast 'd["run_id"]')
check "random with the same seed proposes the same candidates" "[ \"$(keys "$T/h3" "$r1")\" = \"$(keys "$T/h3" "$r2")\" ]"
check "random with another seed proposes others" "[ \"$(keys "$T/h3" "$r1")\" != \"$(keys "$T/h3" "$r3")\" ]"
out=$("$SPAK" run --home "$T/h3" --json --strategy default --seed 5 --budget 12 "$S" 2>/dev/null)
check "default strategy reaches the optimum within 12 of 20" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"]')\" = 'x=3,y=2' ]"

# 4. failures are records, the run goes on
for mode in wrong crash norecord badrecord; do
    Sm=$(mkspec "m$mode" "--mode $mode" "")
    out=$("$SPAK" run --home "$T/h4" --json "$Sm" 2>"$T/$mode.err")
    rc=$?
    check "mode $mode: run completes all 20 evaluations" "[ $rc -eq 0 ] && [ \"$(echo "$out" | jlast 'd["evaluations"]')\" = 20 ]"
    check "mode $mode: the 4 candidates with x=1 failed, the others did not" "[ \$(grep -c FAILED $T/$mode.err) -eq 4 ] && grep FAILED $T/$mode.err | grep -q 'x=1'"
done
Sh=$(mkspec mhang "--mode hang" "")
out=$("$SPAK" run --home "$T/h4" --json --eval-timeout 1 --budget 6 "$Sh" 2>"$T/hang.err")
check "a hanging candidate is killed at the timeout and the run goes on" "[ \"$(echo "$out" | jlast 'd["evaluations"]')\" = 6 ] && [ \$(grep -c FAILED $T/hang.err) -eq 4 ] && grep FAILED $T/hang.err | head -1 | grep -qi 'time'"
check "a wrong result says why" "grep FAILED $T/wrong.err | head -1 | grep -q 'wrong values'"
check "a crash says which signal" "grep FAILED $T/crash.err | head -1 | grep -q 'SIGABRT'"
check "exit 0 without a record says so" "grep FAILED $T/norecord.err | head -1 | grep -qi 'without'"
# a failure the judge put on the machine's load ("busy") is the reason only
# when the candidate did nothing wrong; an offence after it is the reason then
for mode in busy busy-offence; do
    Sm=$(mkspec "m$mode" "--mode $mode" "")
    "$SPAK" run --home "$T/h4" --budget 1 "$Sm" >"$T/$mode.err" 2>&1
done
check "a busy verdict alone is the failure's reason" "grep FAILED $T/busy.err | grep -q 'busy: other work'"
check "an offence after a busy verdict is the reason, not the load" "grep FAILED $T/busy-offence.err | grep -q 'at runner: the candidate exhausted its byte budget' && ! grep FAILED $T/busy-offence.err | grep -q 'busy:'"
RUNB=$("$SPAK" status --home "$T/h4" --json | python3 -c 'import json,sys; print([r["run_id"] for r in json.load(sys.stdin) if "mbadrecord" in r["spec"]][0])')
python3 - "$T/h4/spak.db" "$RUNB" >"$T/bad.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select count(*) from traces where run_id=? and valid=0 and error like '%score%string%float%'", (sys.argv[2],)).fetchone()[0])
PY
check "a record that does not fit the schema is kept as an error, not dropped" "[ \$(cat $T/bad.txt) -eq 4 ]"

# 5. kill -9 in the middle of an evaluation, then resume
Sk=$(mkspec kill "--sleep 0.6" "")
"$SPAK" run --home "$T/h5" --json "$Sk" >"$T/kill.out" 2>"$T/kill.err" &
pid=$!
for i in $(seq 1 100); do
    [ "$(grep -c '^\[' "$T/kill.err" 2>/dev/null)" -ge 5 ] && break
    sleep 0.1
done
sleep 0.3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
RUNK=$("$SPAK" status --home "$T/h5" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
before=$("$SPAK" show --home "$T/h5" --json "$RUNK" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s:%s" % (e["eval_id"], e["candidate"]) for e in d["evaluations"] if e["status"]=="done"))')
nb=$(echo "$before" | wc -w)
check "killed run has 5 or more finished evaluations and is not done" "[ $nb -ge 5 ] && \"$SPAK\" status --home \"$T/h5\" \"$RUNK\" | grep -qv ': done'"
out=$("$SPAK" resume --home "$T/h5" --json "$RUNK" 2>"$T/resume.err")
rc=$?
check "resume exits 0 and finishes the run" "[ $rc -eq 0 ] && [ \"$(echo "$out" | jlast 'd["status"]')\" = done ]"
after=$("$SPAK" show --home "$T/h5" --json "$RUNK" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s:%s" % (e["eval_id"], e["candidate"]) for e in d["evaluations"] if e["status"]=="done"))')
check "finished evaluations were kept (same ids, same candidates)" "[ \"\$(echo $after | cut -d' ' -f1-$nb)\" = \"$before\" ]"
check "no candidate was evaluated twice to completion" "[ \$(echo $after | tr ' ' '\n' | cut -d: -f2 | sort | uniq -d | wc -l) -eq 0 ]"
check "resumed run evaluated all 20 candidates" "[ \$(echo $after | wc -w) -eq 20 ]"
check "resumed run reached the same best as an uninterrupted run" "[ \"$(echo "$out" | jlast 'd["best"]["candidate"], d["evaluations"]')\" = 'x=3,y=2 20' ]"
check "resume said how many evaluations it kept" "grep -q 'already finished are kept' $T/resume.err"
check "resuming a finished run is refused" "! \"$SPAK\" resume --home \"$T/h5\" \"$RUNK\" 2>/dev/null"

# 5b. the build cache key follows #include "..." out of the source's folder
mkdir -p "$T/bk/k" "$T/bk/common"
printf '#define SCALE 2\n' >"$T/bk/common/scale.h"
printf '#include "../common/scale.h"\nint spak_value(void) { return SCALE * V; }\n' >"$T/bk/k/v.c"
cat >"$T/bk/b.spak" <<'SPEC'
system BuildKey {
    problem {
        target: "cpu"
        source: "k/v.c"
    }
    tuning_space {
        v: [1, 2]
    }
    engineering_loop Build_Key {
        measure {
            cmd: "true {{candidate}}"
            metric: "score"
            objective: maximize
        }
    }
}
SPEC
keys() { ls "$T/bk/h/cache/build" | grep '\.so$' | sort | tr '\n' ' '; }
"$SPAK" build --home "$T/bk/h" "$T/bk/b.spak" >"$T/bk/b1.out" 2>&1; k1=$(keys)
"$SPAK" build --home "$T/bk/h" "$T/bk/b.spak" >"$T/bk/b2.out" 2>&1; k2=$(keys)
printf '#define SCALE 3\n' >"$T/bk/common/scale.h"
"$SPAK" build --home "$T/bk/h" "$T/bk/b.spak" >"$T/bk/b3.out" 2>&1; k3=$(keys)
check "spak build: 2 candidates built into the cache" "grep -q '2 built, 0 failed' $T/bk/b1.out && [ \$(echo $k1 | wc -w) -eq 2 ]"
check "the same sources again: the same cache keys" "[ '$k2' = '$k1' ]"
check "a header included from another folder changed: new cache keys" "[ \$(echo $k3 | wc -w) -eq 4 ]"

# 5c. hardware counters only when the analysis needs them (analyze/counters.h): x a design_space
# parameter (3 structures), y a tuning one; the command asks its judge for --ncu
design_spec() {  # NAME ARGS: the toy spec with x a design_space parameter of 3 values, its schema with Counters
    local f
    f=$(mkspec "$1" "$2" 's|        x: \[1, 2, 3, 4, 5\]||')
    sed -i -e 's|^    tuning_space {|    design_space {\n        x: [1, 2, 3]\n    }\n    tuning_space {|' \
        -e 's|            case Analysis|            case Counters { shape: string, available: bool, tool: string }\n            case Analysis|' "$f"
    echo "$f"
}
S5c=$(design_spec counters "--ncu")
counters_of() {  # HOME: "evaluations with a Counters record of evaluations" and each evaluation's counters note
    python3 - "$1/spak.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with_c = {r[0] for r in db.execute("select distinct eval_id from traces where case_name = 'Counters'")}
ev = db.execute("select e.eval_id, c.key, e.result_json from evaluations e join candidates c on c.run_id = e.run_id and c.cand_id = e.cand_id order by e.eval_id").fetchall()
print("%d of %d" % (len(with_c), len(ev)))
for i, k, r in ev:
    print(i, k, "C" if i in with_c else "-", json.loads(r or "{}").get("counters", ""))
PY
}
"$SPAK" run --home "$T/h5c" --json --quiet "$S5c" >/dev/null 2>"$T/c5.err"
counters_of "$T/h5c" >"$T/c5.txt"
check "--counters new (the default): the judge's --ncu at the first evaluation of each design point only (3 of 12)" \
    "[ \"\$(head -1 $T/c5.txt)\" = '3 of 12' ] && [ \$(grep -c ' C counters taken: the first evaluation of x=' $T/c5.txt) -eq 3 ] &&
     grep -q '^2 x=1,y=1 - counters not taken: x=1 was profiled at evaluation 1\$' $T/c5.txt"
"$SPAK" run --home "$T/h5d" --json --quiet --counters every "$S5c" >/dev/null 2>&1
counters_of "$T/h5d" >"$T/c5d.txt"
check "--counters every: every evaluation keeps --ncu (12 of 12)" "[ \"\$(head -1 $T/c5d.txt)\" = '12 of 12' ]"
R5c=$(ls "$T/h5c/runs" | head -1)
"$SPAK" show --home "$T/h5c" --json "$R5c" >"$T/c5show.json" 2>/dev/null
check "spak show --json: each evaluation's counters decision" \
    "python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))[\"evaluations\"]; sys.exit(0 if e[1][\"counters\"] == \"counters not taken: x=1 was profiled at evaluation 1\" and e[0][\"counters\"].startswith(\"counters taken\") else 1)' $T/c5show.json"
"$SPAK" run --home "$T/h5e" --json --quiet --counters never "$S5c" >/dev/null 2>&1
counters_of "$T/h5e" >"$T/c5e.txt"
check "--counters never: none (0 of 12), each evaluation says so" \
    "[ \"\$(head -1 $T/c5e.txt)\" = '0 of 12' ] && [ \$(grep -c 'counters not taken (--counters never)' $T/c5e.txt) -eq 12 ]"
S5f=$(mkspec counters1 "--ncu" "")
"$SPAK" run --home "$T/h5f" --json --quiet --budget 4 "$S5f" >/dev/null 2>&1
counters_of "$T/h5f" >"$T/c5f.txt"
check "no design_space: one structure, profiled once (1 of 4)" "[ \"\$(head -1 $T/c5f.txt)\" = '1 of 4' ]"
S5g=$(design_spec counters2 "--ncu --fail-x 1")
"$SPAK" run --home "$T/h5g" --json --quiet --budget 4 "$S5g" >/dev/null 2>&1
counters_of "$T/h5g" >"$T/c5g.txt"
check "a failed check's evaluation was not profiled (the judge says 'not profiled'): the next of its structure profiles" \
    "[ \$(grep -c ' C counters taken: the first evaluation of x=1' $T/c5g.txt) -eq 4 ]"
S5i=$(design_spec counters3 "--ncu --ncu-fails")
"$SPAK" run --home "$T/h5i" --json --quiet --budget 3 "$S5i" >/dev/null 2>&1
counters_of "$T/h5i" >"$T/c5i.txt"
check "ncu ran and gave no numbers: the structure counts as profiled (it would fail again)" \
    "grep -q '^2 x=1,y=1 - counters not taken: x=1 was profiled at evaluation 1\$' $T/c5i.txt"
S5j=$(design_spec counters4 "--ncu --sleep 0.3")
"$SPAK" run --home "$T/h5j" --json --quiet --jobs 4 "$S5j" >/dev/null 2>&1
counters_of "$T/h5j" >"$T/c5j.txt"
check "--jobs 4: an evaluation of a structure already in flight with its counters does not profile it again (3 of 12)" \
    "[ \"\$(head -1 $T/c5j.txt)\" = '3 of 12' ] && grep -q 'counters not taken: x=[123] is being evaluated (with its counters) at evaluation' $T/c5j.txt || { sed 's/^/# /' $T/c5j.txt; false; }"
"$SPAK" run --home "$T/h5h" --counters sometimes "$S5c" >/dev/null 2>"$T/c5h.err"
check "--counters sometimes: a usage error naming the values" "[ \$? -eq 2 ] && grep -q \"takes new, every or never, not 'sometimes'\" $T/c5h.err"

# 6. usage errors
"$SPAK" run >/dev/null 2>&1; check "run without a spec is a usage error (2)" "[ $? -eq 2 ]"
"$SPAK" run --budget x "$S" >/dev/null 2>&1; check "bad --budget is a usage error (2)" "[ $? -eq 2 ]"
"$SPAK" run --home "$T/h6" /nonexistent.spak >/dev/null 2>&1; check "a missing spec fails with 1" "[ $? -eq 1 ]"
echo "1..$n"
