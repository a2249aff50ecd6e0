#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/external.sh BUILD_DIR - a run driven from outside (TAP): with
# --strategy external the run suspends waiting for an outside proposal; a
# proposal queued in the store (tests/helpers/spak-submit, as an MCP server
# will) is judged and journaled by `spak resume`, which then waits again; a
# proposal that is not a point of the space is a recorded failed step.
set -u
B=$(cd "${1:-build}" && pwd)
SPAK="$B/spak"
SUBMIT="$B/tests/helpers/spak-submit"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/spak-external.XXXXXX)
chmod 755 "$T"  # the sandbox runs the measure command as an unprivileged user
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
cp "$ROOT/tests/engine/measure.py" "$ROOT/tests/engine/toy.spak" "$T/"
H="$T/h"

out=$("$SPAK" run --home "$H" --json --strategy external "$T/toy.spak" 2>"$T/r1.err")
rc=$?
R=$(echo "$out" | jlast 'd["run_id"]')
check "a run of strategy external starts and suspends (exit 3: suspended)" "[ $rc -eq 3 ] && grep -q 'suspended: waiting for an outside proposal' $T/r1.err"
check "status says it waits" "\"$SPAK\" status --home \"$H\" \"$R\" | grep -q suspended"
"$SUBMIT" "$H" "$R" "x=3,y=2" && "$SUBMIT" "$H" "$R" "x=1,y=0" && "$SUBMIT" "$H" "$R" "x=9,y=9"
check "proposals are queued from outside the process" "[ $? -eq 0 ]"
"$SPAK" resume --home "$H" "$R" >"$T/r2.out" 2>&1
rc=$?
"$SPAK" show --home "$H" --json "$R" >"$T/show.json"
check "resume judges the queued proposals, in order (and suspends again: exit 3)" "[ $rc -eq 3 ] && [ \"\$(python3 -c 'import json;d=json.load(open(\"$T/show.json\"));print(\" \".join(e.get(\"candidate\") or \"\" for e in d[\"evaluations\"]))')\" = 'x=3,y=2 x=1,y=0 external:3' ]"
check "the proposal that is not a point is a recorded failed step" "grep -q \"is not a point of the space\" $T/show.json"
check "with the queue empty the run waits again" "grep -q 'suspended: waiting for an outside proposal' $T/r2.out"
check "the outside proposal x=3,y=2 was measured (score 100)" "grep -q '\\[  1\\] x=3,y=2 .* ok .*score *100' $T/r2.out"
sed 's/strategy: "grid"/strategy: "external"/' "$T/toy.spak" >"$T/toy_ext.spak"
"$SPAK" check "$T/toy_ext.spak" >"$T/c.out" 2>&1
check "a spec may choose strategy external (spak check passes)" "[ $? -eq 0 ]"
"$SPAK" run --home "$H" "$T/toy_ext.spak" >"$T/r3.out" 2>&1
check "a run of a spec with strategy external suspends, waiting for an outside proposal (exit 3)" "[ $? -eq 3 ] && grep -q 'suspended: waiting for an outside proposal' $T/r3.out"
"$SUBMIT" "$H" nosuchrun "x=1,y=1" 2>"$T/s.err"
check "submitting to an unknown run fails" "[ $? -ne 0 ]"
echo "1..$n"
