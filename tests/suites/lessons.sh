#!/usr/bin/env bash
# tests/suites/lessons.sh BUILD_DIR - conditions on the space and lessons that
# are evidence (TAP). A measure command with a fast rung that k acts on and a
# naive one that ignores it (tests/lessons/rungs.py):
#   conditions   a grid over `k: [...] { when: rung == "fast" }` evaluates each
#                point that exists once (naive without k), keys and commands
#                leave the absent parameter out, the matmul example has 32
#                points, the unconditioned test spec 96
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init lessons "$@"
SUBMIT="$B/tests/helpers/spak-submit"
cp "$ROOT/tests/lessons/rungs.py" "$ROOT/tests/lessons/rungs.spak" "$T/"
H="$T/h"
npoints() { "$SPAK" run --home "$1" --json --no-learn "$2" 2>/dev/null | jlast 'd["evaluations"]'; }
keys() { "$SPAK" show --home "$1" --json "$2" | python3 -c 'import json,sys; print(" ".join(e["candidate"] for e in json.load(sys.stdin)["evaluations"]))'; }

# 1. conditions: the grid enumerates only the points that exist
sed 's|        k: \[1, 2, 3\]|        k: [1, 2, 3] { when: rung == "fast" }|' "$T/rungs.spak" >"$T/cond.spak"
check "the conditioned spec checks" "\"$SPAK\" check -q \"$T/cond.spak\""
out=$("$SPAK" run --home "$H" --json --no-learn "$T/cond.spak" 2>/dev/null)
Rc=$(echo "$out" | jlast 'd["run_id"]')
check "a grid over the conditioned space evaluates 2 naive + 6 fast points, not 12" "[ \"\$(echo '$out' | jlast 'd[\"evaluations\"]')\" = 8 ]"
k=$(keys "$H" "$Rc")
check "the naive points have no k in their key" "echo '$k' | grep -q 'rung=naive,j=1' && ! echo '$k' | grep -q 'rung=naive,k='"
check "the fast points keep k" "echo '$k' | grep -q 'rung=fast,k=3,j=2'"
out=$("$SPAK" run --home "$H" --json --no-learn "$T/rungs.spak" 2>/dev/null)
check "the same grid without the condition evaluates all 12" "[ \"\$(echo '$out' | jlast 'd[\"evaluations\"]')\" = 12 ]"
check "spak run says how many points the space has (8)" "\"$SPAK\" run --home \"$H\" --no-learn --budget 1 \"$T/cond.spak\" 2>&1 | grep -q ': 8 candidates in the space'"
echo "1..$n"
