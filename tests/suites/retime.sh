#!/usr/bin/env bash
# seconds: 31 (tests/run.sh: the lanes start the longest first; what its release pass took on the 2-core machine, 2026-12-07)
# tests/suites/retime.sh BUILD_DIR - the winner decided side by side (TAP):
# before a run that decided on intervals ends, its leading candidates are
# timed again in one session of the CPU judge (docs/language.md, "The
# re-time"): a journaled RETIME state, its result stored and in the summary,
# `spak run`, `spak show` and the report say which candidates were re-timed
# and how they ranked; a run killed during the session times them again
# when resumed. Real candidates (kernels/cpu/matmul), real OpenBLAS.
# Runtime: about a minute on 2 cores.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init retime "$@"

if [ ! -x "$B/spak-harness-cpu" ]; then
    skip "the re-time" "no CPU judge in $B"
    echo "1..$n"
    exit 0
fi

# spec NAME RUNGS TWINS [BASELINE_RUNG]: a matmul spec over the rungs and a
# parameter twin that reaches no code (two twins are one kernel built
# twice); against OpenBLAS, or the rung BASELINE_RUNG built from its source
# (baseline_source: every candidate's command names its own copy of it)
spec() {
    local base='baseline: "openblas"' bso=''
    if [ -n "${4:-}" ]; then
        base="baseline: \"$4\"
        baseline_source: \"$ROOT/kernels/cpu/matmul/$4.c\""
        bso=' --baseline so --baseline-so {{baseline_so}}'
    fi
    cat >"$T/$1.spak" <<SPEC
system Retime {
    problem {
        family: "matmul"
        target: "cpu"
        precision: "fp32"
        $base
        source: "$ROOT/kernels/cpu/matmul/{{rung}}.c"
        shapes: ["128x128x128"]
        heldout: ["33x17x65"]
    }
    design_space { rung: [$2] }
    tuning_space { twin: [$3] }
    trace_schema {
        variant TraceItem {
            case Correctness { shape: string, heldout: bool, passed: bool }
            case Performance { shape: string, time_ms: float, gflops: float, ratio: float }
        }
    }
    engineering_loop Retime_Loop {
        measure {
            cmd: "{{harness}} --family matmul --candidate {{candidate}} --seed {{seed}} --shapes {{shapes}} --heldout {{heldout}} --min-time 0.05 --max-time 3 --ceilings-cache {{ceilings}}$bso"
            metric: "gflops"
            objective: maximize
        }
        strategy: "grid"
    }
}
SPEC
    echo "$T/$1.spak"
}

# 1. one kernel built twice, killed during the re-time, resumed. The kill
# needs the run seen in RETIME; a run that ended on its own first is run
# again (a fresh home, at most 3 tries, each a TAP comment saying why): one
# whose twin the judge refused for the machine's doing (busy: or
# interference:, from another suite of the pool) has nothing to re-time,
# and a short re-time can fall between two polls.
S=$(spec twins '"packed"' '1, 2')
state=
for try in 1 2 3; do
    rm -rf "$T/h1"
    "$SPAK" run --home "$T/h1" "$S" >"$T/run1.out" 2>&1 &
    pid=$!
    state=
    for i in $(seq 1 600); do
        state=$("$SPAK" status --home "$T/h1" --json 2>/dev/null | python3 -c 'import json,sys
try: print(json.load(sys.stdin)[0]["state"])
except Exception: print("")' 2>/dev/null)
        [ "$state" = retime ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ "$state" = retime ] && break
    why=$(machine_blamed "$T/run1.out" "$T/h1/runs")
    [ -n "$why" ] || why=$(grep -hsoE 're-time skipped.*' "$T/run1.out" | head -1)
    [ -n "$why" ] || why="state '$state', RETIME journaled $(sql "$T/h1/spak.db" "select count(*) from journal where to_state='retime'" 2>/dev/null) times (between two polls?)"
    echo "# try $try: the run ended before it was seen in RETIME: ${why:0:200}"
done
[ "$state" = retime ] || sed 's/^/# run: /' "$T/run1.out" | tail -15
check "the run entered RETIME (seen in its state before it was killed)" "[ \"$state\" = retime ]"
RUN=$("$SPAK" status --home "$T/h1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
check "killed during the re-time: no result stored" "[ -z \"\$(sql $T/h1/spak.db \"select key from kv where scope='retime'\")\" ]"
"$SPAK" resume --home "$T/h1" "$RUN" >"$T/resume.out" 2>&1
rc=$?
check "resume exits 0" "[ $rc -eq 0 ]"
check "resume re-timed them and printed the ranking" "grep -q 're-timed side by side: 2 candidates in one session of spak-harness-cpu' $T/resume.out && grep -q '^    1\.  rung=packed' $T/resume.out && grep -q '^    2\.  rung=packed' $T/resume.out"
check "the journal holds RETIME twice (killed, then resumed) and ends in done" "[ \"\$(sql $T/h1/spak.db \"select count(*) from journal where to_state='retime'\")\" = 2 ] && [ \"\$(sql $T/h1/spak.db \"select to_state from journal order by seq desc limit 1\")\" = done ]"
"$SPAK" show --home "$T/h1" --json "$RUN" >"$T/show1.json"
python3 - "$T/show1.json" "$T/h1/spak.db" <<'PY'
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
rt = s["retime"]
assert rt["status"] == "done" and rt["judge"] == "spak-harness-cpu", rt
assert sorted(c["eval_id"] for c in rt["candidates"]) == [1, 2], rt
assert sorted(c["rank"] for c in rt["candidates"]) == [1, 2], rt
assert s["decided_by"] == "re-time" and s["decision"] in ("winner", "tied", "inconclusive"), s
assert s["best"]["eval_id"] == rt["winner"] and s["best"]["measured_in"] == "re-time session", s
assert "records" not in rt, "the summary keeps the ranking, the store the records"
second = [c for c in rt["candidates"] if c["rank"] == 2][0]
lo, hi = second["versus_winner"]["ratio_ci"]
assert 0 < lo <= second["versus_winner"]["ratio"] <= hi, second
vw = second["versus_winner"]
# a session timed under load (another suite of the pool beside it) decides
# nothing (src/analyze/views.h, SPAK_FOREIGN_LOAD_MAX); else a winner is
# faster on its interval and its rounds
loaded = "foreign_load" in rt
assert (s["decision"] == "winner") == (not loaded and lo > 1 and vw["sign_test_p"] < 0.05 and 2 * vw["winner_faster_rounds"] > vw["rounds"]), (s["decision"], vw)
assert not loaded or (rt["foreign_load"] > 0.05 and s["decision"] == "inconclusive"), rt
assert vw["rounds"] >= 10, vw   # a session runs 10 rounds at least
if s["decision"] != "winner" and not loaded:
    assert s["tied_with"] == [second["eval_id"]], s
db = sqlite3.connect(sys.argv[2])
kv = json.loads(db.execute("select value_json from kv where scope='retime'").fetchone()[0])
recs = kv["records"]
assert {r["session"] for r in recs} == {rt["session"]}, "every record names the session"
perf = [r for r in recs if r["type"] == "Performance"]
assert sorted(r["rival"] for r in perf) == [0, 1], perf
assert perf[0]["reps"] == perf[1]["reps"] and len(perf[0]["samples_ms"]) == perf[0]["reps"], "the same rounds, every sample kept"
for e in d["evaluations"]:
    assert len(e["ratio_ci"]) == 2 and e["ratio_ci"][0] <= e["ratio"] <= e["ratio_ci"][1], e
PY
check "the summary: the ranking, the winner as best, the decision on the paired intervals; the store: the session's records" "[ $? -eq 0 ]"
"$SPAK" show --home "$T/h1" "$RUN" >"$T/show1.txt"
check "show: each ratio with its interval, the decision, the re-time's ranking" "grep -qE '^   1  rung=packed,twin=1 +done +[0-9.]+  [0-9.]+ \[[0-9.]+-[0-9.]+\]' $T/show1.txt && grep -qE '^  decision: (winner|tied|inconclusive) \(search space exhausted\) on the re-time, best [0-9.]+x \[' $T/show1.txt && grep -q 're-timed side by side: 2 candidates' $T/show1.txt"
"$SPAK" report --home "$T/h1" "$RUN" >/dev/null 2>&1
check "report: the decision and the re-time's ranking" "grep -qE '^- Decision: (winner|tied|inconclusive), decided on the re-time side by side' $T/h1/reports/$RUN/report.md && grep -q 'leading candidates were re-timed side by side.*1\. rung=packed' $T/h1/reports/$RUN/report.md && grep -q '<div class=\"k\">decision</div>' $T/h1/reports/$RUN/report.html"

# 2. a slow and a fast rung: the session names the fast one, its interval says so
# (--early-stop 0: naive is many times slower than packed, and a hopeless
# candidate stopped early is censored, never re-timed; this pair is about
# the session, so both are measured to the end whatever the order)
S=$(spec ladder '"naive", "packed"' '1')
# a run with a candidate the judge refused for the machine's doing (busy:
# or interference:, another suite of the pool beside it) has no session:
# run again (at most 3 tries, each a TAP comment)
for try in 1 2 3; do
    rm -rf "$T/h2"
    "$SPAK" run --home "$T/h2" --early-stop 0 --json "$S" >"$T/run2.out" 2>"$T/run2.err"
    out=$(cat "$T/run2.out")
    # a re-time that named a winner; one that failed because the judge blamed
    # the machine ("busy: other work took 79% of the judge's CPUs", seen in a
    # sanitizer pass beside three other suites) is run again
    echo "$out" | tail -1 | python3 -c 'import json,sys; sys.exit(0 if (json.loads(sys.stdin.read()).get("retime") or {}).get("winner") else 1)' 2>/dev/null && break
    why=$(machine_blamed "$T/run2.err" "$T/run2.out" "$T/h2/runs")
    [ -n "$why" ] || break
    echo "# try $try: no re-time, the judge blamed the machine: ${why:0:200}"
done
python3 - "$T/run2.err" <<PY
import json, sys
s = json.loads('''$out'''.strip().splitlines()[-1])
rt = s.get("retime")
if not rt or "winner" not in rt:  # say why (seen once in a fresh-clone run under load: no winner)
    print("no winner in the re-time:", json.dumps(rt)[:2000], file=sys.stderr)
    print("".join(open(sys.argv[1]).readlines()[-25:]), file=sys.stderr)
    sys.exit(1)
w = [c for c in rt["candidates"] if c["eval_id"] == rt["winner"]][0]
assert w["candidate"].startswith("rung=packed") and w["rank"] == 1, rt
n = [c for c in rt["candidates"] if c["eval_id"] != rt["winner"]][0]
# under load (another suite of the pool beside it; a fresh-clone run's
# sanitizer pass saw 82%) the session still ranks, and decides nothing: its
# sign test may then find no winner (31 of 56 rounds), so ties are not
# asserted there
if "foreign_load" in rt:
    assert s["decision"] == "inconclusive" and rt["foreign_load"] > 0.05, (s["decision"], rt)
else:
    assert n["versus_winner"]["ratio_ci"][0] > 1 and s["tied_with"] == [] and s["decision"] == "winner", rt
PY
check "naive and packed side by side: packed ranks first, and wins on its paired interval unless the session was measured under load" "[ $? -eq 0 ]"
check "spak run prints the ranking after its last line" "grep -q 're-timed side by side: 2 candidates' $T/run2.err && grep -qE '^    1\.  rung=packed' $T/run2.err"

# ceilings that stay true: each run (and resume) leaves the judges a marker
# (cache/device/ceilings-cpu.json.remeasure); the run's first judge that
# needs the ceilings measures them again and removes it (docs/bottleneck.md)
python3 - "$T/h2/cache/device/ceilings-cpu.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
whys = [h["why"] for h in c["history"]]
assert whys == ["run start"], whys   # a fresh home: measured once, at the start
assert c["peak_gflops"] == max(h["peak_gflops"] for h in c["history"]), c
PY
check "the ceilings were measured at the run's start, the marker removed" "[ $? -eq 0 ] && [ ! -e $T/h2/cache/device/ceilings-cpu.json.remeasure ]"

# 3. against a baseline built from its source: each candidate's command names
# the baseline's .so in the candidate's own folder (the same bytes); the
# re-time runs (it was skipped: "the measure commands ... differ in
# '.../retime-1.lib/....so'", on every such spec)
S=$(spec bsrc '"packed"' '1, 2' blocked)
# as in 2.: a session the judge failed for the machine's doing (interference
# beside another suite: seen in a fresh clone's sanitizer pass, 2026-12-07)
# ran, and says nothing of a skip: run again (at most 3 tries, each a comment)
for try in 1 2 3; do
    rm -rf "$T/h3"
    "$SPAK" run --home "$T/h3" "$S" >"$T/run3.out" 2>&1
    rc=$?
    grep -q 're-time failed' "$T/run3.out" || break
    why=$(machine_blamed "$T/run3.out" "$T/h3/runs")
    [ -n "$why" ] || break
    echo "# try $try: the re-time ran and the judge blamed the machine: ${why:0:200}"
done
check "a baseline built from its source: the two twins re-timed side by side, not skipped (exit $rc)" \
    "[ $rc -eq 0 ] && grep -q 're-timed side by side: 2 candidates in one session of spak-harness-cpu' $T/run3.out && ! grep -q 're-time skipped' $T/run3.out || { grep -i 're-time' $T/run3.out | sed 's/^/# /'; false; }"

echo "1..$n"
