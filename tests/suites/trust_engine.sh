#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/trust_engine.sh BUILD_DIR - the engine's side of trust (TAP):
# a spec's own measure command runs as untrusted code (the candidate
# profile: the unprivileged uid, no access to the ceilings cache) and every
# record it prints is labelled untrusted in run, --json, show and the store;
# one of spak's judges (a spak-harness-* in spak's bin dir with its
# spak-runner-TARGET beside it) runs as the invoking user with the ceilings
# cache writable, and its records are trusted, but not a harness without
# its runner nor a link in the bin dir to a file elsewhere; a failure record
# with a null field keeps its reason; a declared shape without a passing
# check fails the evaluation; isolation below the minimum fails it unless
# --allow-weak-isolation (kept with the run). The measure command is
# tests/trust_engine/measure.py.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init trust_engine "$@"

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (the sandbox's uid drop, the judge profile)"
    exit 0
fi

# spec variant: $1 = name, $2 = the measure command
mkspec() {
    mkdir -p "$T/$1"
    cp "$ROOT/tests/trust_engine/measure.py" "$T/$1/"
    sed -e "s|MEASURE|$2|" "$ROOT/tests/trust_engine/trust.spak" >"$T/$1/trust.spak"
    echo "$T/$1/trust.spak"
}
ARGS='{{shapes}} {{heldout}} {{x}} {{ceilings}}'
# the result JSON of evaluation $3 of run $2 in home $1, as Python expression $4 over r
result() { sql "$1/spak.db" "select result_json from evaluations where run_id=? and eval_id=?" "$2" "$3" |
    python3 -c "import json,sys; r=json.loads(sys.stdin.read()); print($4)"; }
# a record field of evaluation $3 of run $2 in home $1: the first record of type $4, field $5
field() { sql "$1/spak.db" "select record_json from traces where run_id=? and eval_id=? and valid=1" "$2" "$3" |
    python3 -c "import json,sys
for l in sys.stdin:
    d=json.loads(l)
    if d.get('type')=='$4': print(d.get('$5')); break"; }

# 1. a spec's own command: untrusted, as the unprivileged uid, no ceilings cache
S=$(mkspec own "python3 {{root}}/measure.py ok $ARGS")
H="$T/h1"
out=$("$SPAK" run --home "$H" --json "$S" 2>"$T/own.err")
check "own command: the run passes" "[ \"\$(echo '$out' | jlast 'd[\"best\"][\"candidate\"]')\" = x=2 ]"
check "own command: every run line says [untrusted]" "[ \$(grep -c '^\[.*ok .*\[untrusted\]$' $T/own.err) -eq 2 ]"
check "own command: the --json summary counts the untrusted evaluations" "[ \"\$(echo '$out' | jlast 'd[\"untrusted_evaluations\"]')\" = 2 ]"
R=$(echo "$out" | jlast 'd["run_id"]')
check "own command: show --json says trusted false" "\"$SPAK\" show --home \"$H\" --json $R | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not all(e[\"trusted\"] is False for e in d[\"evaluations\"]))'"
"$SPAK" show --home "$H" $R >"$T/own.show"
check "own command: show marks each evaluation [untrusted], and the best" "[ \$(grep -c '  \[untrusted\]$' $T/own.show) -eq 2 ] && grep -q 'best: .*\[untrusted: records not from one of spak' $T/own.show"
check "own command: the result JSON: trusted false, the candidate profile, its layers" "[ \"\$(result $H $R 1 'r[\"trusted\"], r[\"isolation\"][\"profile\"], \"pidns\" in r[\"isolation\"][\"layers\"], \"uid\" in r[\"isolation\"][\"layers\"]')\" = 'False candidate True True' ]"
check "own command: ran as the unprivileged uid" "[ \"\$(field $H $R 1 Performance uid)\" = 65534 ]"
check "own command: cannot write the ceilings cache" "[ \"\$(field $H $R 1 Performance cache)\" = False ]"
check "the ceilings cache is mode 0700" "[ \"\$(stat -c %a $H/cache/device)\" = 700 ]"

# 2. one of spak's judges: a copy of spak's bin dir with a harness and its runner
mkdir -p "$T/bin"
cp "$SPAK" "$T/bin/spak"
cp "$ROOT/tests/trust_engine/measure.py" "$T/bin/spak-harness-cpu"
printf '#!/bin/sh\nexit 0\n' >"$T/bin/spak-runner-cpu"
chmod +x "$T/bin/spak-harness-cpu" "$T/bin/spak-runner-cpu"
S=$(mkspec judge "{{harness}} ok $ARGS")
H="$T/h2"
out=$("$T/bin/spak" run --home "$H" --json "$S" 2>"$T/judge.err")
R=$(echo "$out" | jlast 'd["run_id"]')
check "judge: the run passes, no line says untrusted" "[ \$(grep -c '^\[.* ok ' $T/judge.err) -eq 2 ] && ! grep -q untrusted $T/judge.err"
check "judge: no untrusted evaluations in the summary" "[ \"\$(echo '$out' | jlast 'd.get(\"untrusted_evaluations\")')\" = None ]"
check "judge: the result JSON: trusted, the judge profile (PID and network namespaces, no uid drop)" "[ \"\$(result $H $R 1 'r[\"trusted\"], r[\"isolation\"][\"profile\"], \"pidns\" in r[\"isolation\"][\"layers\"], \"netns\" in r[\"isolation\"][\"layers\"], \"uid\" in r[\"isolation\"][\"layers\"]')\" = 'True judge True True False' ]"
check "judge: runs as the invoking user" "[ \"\$(field $H $R 1 Performance uid)\" = 0 ]"
check "judge: writes the ceilings cache" "[ \"\$(field $H $R 1 Performance cache)\" = True ] && [ -f $H/cache/device/ceilings-cpu.json ]"
rm "$T/bin/spak-runner-cpu"
"$T/bin/spak" run --home "$H" --budget 1 "$S" >"$T/norunner.out" 2>&1
check "a harness without its runner beside it is not a judge: untrusted" "grep -q '^\[.*ok .*\[untrusted\]$' $T/norunner.out"
printf '#!/bin/sh\nexit 0\n' >"$T/bin/spak-runner-cpu"
chmod +x "$T/bin/spak-runner-cpu"
mkdir -p "$T/elsewhere"
mv "$T/bin/spak-harness-cpu" "$T/elsewhere/harness"
ln -s "$T/elsewhere/harness" "$T/bin/spak-harness-cpu"
"$T/bin/spak" run --home "$H" --budget 1 "$S" >"$T/link.out" 2>&1
check "a link in the bin dir to a file elsewhere is not a judge: untrusted" "grep -q '^\[.*ok .*\[untrusted\]$' $T/link.out"

# 3. a failure record with a null field keeps its reason
S=$(mkspec nullfail "python3 {{root}}/measure.py nullfail $ARGS")
H="$T/h3"
"$SPAK" run --home "$H" --budget 1 "$S" >"$T/null.out" 2>&1
check "a failure record with \"rel_err\": null fails with its reason, not a schema misfit" "grep -q 'FAILED  wrong at s1: NaN output' $T/null.out"
R=$(sql "$H/spak.db" 'select id from runs limit 1')
check "the failure record is stored as valid" "[ \"\$(sql $H/spak.db \"select count(*) from traces where run_id=? and valid=0\" $R)\" = 0 ]"

# 4. a declared shape without a passing check fails the evaluation
S=$(mkspec crash "python3 {{root}}/measure.py heldout-crash $ARGS")
H="$T/h4"
"$SPAK" run --home "$H" --budget 1 "$S" >"$T/crash.out" 2>&1
check "a held-out shape that left no check: failed, 'no passing check for shape h1'" "grep -q 'FAILED  no passing check for shape h1' $T/crash.out"
S=$(mkspec noheld "python3 {{root}}/measure.py heldout-crash {{shapes}} h1 {{x}} {{ceilings}}")
"$SPAK" run --home "$H" --budget 1 "$S" >"$T/noheld.out" 2>&1
check "a command not given {{heldout}} is not held to those shapes" "grep -q '^\[.* ok ' $T/noheld.out"

# 5. fail closed: as an unprivileged user spak gets no PID namespace
mkdir -p "$T/weak"
chown 65534:65534 "$T/weak"
S=$(mkspec weak "python3 {{root}}/measure.py ok $ARGS")
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$SPAK" "$@"; }
as_nobody run --home "$T/weak/h" --budget 1 "$S" >"$T/weak.out" 2>&1
check "isolation below the minimum (no PID namespace): failed" "grep -q 'FAILED  isolation below the minimum: no PID namespace' $T/weak.out"
as_nobody run --home "$T/weak/h" --budget 1 --allow-weak-isolation "$S" >"$T/weak2.out" 2>&1
check "--allow-weak-isolation: the same evaluation is kept" "grep -q '^\[.* ok ' $T/weak2.out"
R=$(sql "$T/weak/h/spak.db" 'select id from runs order by id desc limit 1')
check "--allow-weak-isolation is kept with the run, the missing layer recorded" "sql $T/weak/h/spak.db \"select value_json from kv where scope='run-options' and key=?\" $R | grep -q '\"allow_weak_isolation\": *true' && [ \"\$(result $T/weak/h $R 1 'r[\"isolation\"][\"missing\"]')\" = 'PID namespace; byte budget (a size-capped tmpfs over the work directory)' ]"
echo "1..$n"
