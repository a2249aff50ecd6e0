#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/heldout.sh BUILD_DIR - held-out records never count (TAP).
#
# The same grid run twice, into two stores, with a stand-in measure command
# (tests/heldout/measure_held.py): once writing only the records of its
# timed shape, once with records of held-out shapes beside them whose
# numbers are absurd (a 1e9 ratio, 1e12 GFLOP/s, another bottleneck class, a
# huge timing spread, a roofline flag, another seed, a record of a case that
# only held-out shapes have). Every output that summarises the run must be
# the same byte for byte, once the home folder is named $HOME and wall times
# and timestamps are zeroed: `spak run --json` (events and summary), `spak show`,
# `spak show --json`, `spak status`, `spak learn --dry-run` (text and
# --json), and the report (Markdown and HTML). The held-out records are in
# the store (so the comparison is not vacuous) and their checks still count:
# a held-out shape that fails its check fails the evaluation.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init heldout "$@"

mkdir -p "$T/spec"
cp "$ROOT/tests/heldout/held.spak" "$ROOT/tests/heldout/measure_held.py" "$T/spec/"

# Normalise what differs between two homes and two runs of the same thing.
norm() {  # HOME < in > out
    sed -e "s|$1|\$HOME|g" \
        -e 's/"\(elapsed_s\|created_at\|updated_at\|seconds\|build_s\|measure_s\|lock_wait_s\|command_s\|read_s\|sandbox_s\)": *[0-9.e+-]*/"\1":0/g' \
        -e 's/evaluations in [0-9.]* s\b/evaluations in S s/g' \
        -e 's|\(<div class="k">elapsed</div><div class="v">\)[0-9.]* s<|\1S s<|g' \
        -e 's/[0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}[T ][0-9]\{2\}:[0-9]\{2\}:[0-9]\{2\}Z\{0,1\}/TIME/g'
}

# outputs of one store into DIR
capture() {  # HOME DIR
    local h=$1 d=$2
    mkdir -p "$d"
    "$SPAK" run --home "$h" --json --no-learn "$T/spec/held.spak" 2>"$d/run.err" | norm "$h" >"$d/run.json"
    local run
    run=$(tail -1 "$d/run.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
    echo "$run" >"$d/run_id"
    "$SPAK" show --home "$h" "$run" 2>&1 | norm "$h" >"$d/show.txt"
    "$SPAK" show --home "$h" --json "$run" 2>&1 | norm "$h" >"$d/show.json"
    "$SPAK" status --home "$h" "$run" 2>&1 | norm "$h" >"$d/status.txt"
    "$SPAK" learn --home "$h" --dry-run "$run" 2>&1 | norm "$h" >"$d/learn.txt"
    "$SPAK" learn --home "$h" --dry-run --json "$run" 2>&1 | norm "$h" >"$d/learn.json"
    "$SPAK" report --home "$h" --out "$d/report" "$run" >/dev/null 2>"$d/report.err"
    norm "$h" <"$d/report/report.md" >"$d/report.md"
    norm "$h" <"$d/report/report.html" >"$d/report.html"
}

touch "$T/spec/held.on"
capture "$T/with" "$T/a"
rm "$T/spec/held.on"
capture "$T/without" "$T/b"

run=$(cat "$T/a/run_id")
check "the run with held-out records finished (9 evaluations)" \
    "[ \"\$(tail -1 $T/a/run.json | jlast 'd[\"evaluations\"]')\" = 9 ]"
held=$(sql "$T/with/spak.db" "SELECT count(*) FROM traces WHERE record_json LIKE '%\"heldout\":true%'" 2>/dev/null)
check "the store holds the 72 held-out records (8 per evaluation): the comparison is not vacuous ($held)" "[ \"$held\" = 72 ]"
check "and the store without them holds none" \
    "[ \"\$(sql $T/without/spak.db \"SELECT count(*) FROM traces WHERE record_json LIKE '%heldout%'\")\" = 0 ]"

for f in run.json show.txt show.json status.txt learn.txt learn.json report.md report.html; do
    if cmp -s "$T/a/$f" "$T/b/$f"; then
        ok "$f: the same with and without absurd held-out records"
    else
        notok "$f: the same with and without absurd held-out records" \
            "$(diff "$T/b/$f" "$T/a/$f" | head -12)"
    fi
done
check "the outputs are not empty (show lists 9 evaluations, learn and the report have lessons or effects)" \
    "[ \$(grep -c . $T/a/show.txt) -ge 9 ] && [ -s $T/a/learn.txt ] && grep -qi 'effect' $T/a/report.md"
check "no absurd number reached the report (1e9, 1e12, 'HELD-OUT', the held-out seed)" \
    "! grep -qiE 'HELD-OUT|1000000000|1e\\+?12|1e\\+?09' $T/a/report.html $T/a/report.md $T/a/show.txt $T/a/learn.txt"

# a held-out shape still counts for correctness: its failing check fails the evaluation
mkdir -p "$T/fail"
sed -e 's/"passed": True, "rel_err": 1e-9/"passed": False, "rel_err": 0.5/' "$T/spec/measure_held.py" >"$T/fail/measure_held.py"
cp "$T/spec/held.spak" "$T/fail/"
touch "$T/fail/held.on"
out=$("$SPAK" run --home "$T/fail-home" --json --no-learn "$T/fail/held.spak" 2>/dev/null | tail -1)
check "a failing held-out check fails every evaluation (9 run, no best)" \
    "[ \"\$(echo '$out' | jlast 'd[\"evaluations\"], d[\"best\"]')\" = '9 None' ]"
echo "1..$n"
