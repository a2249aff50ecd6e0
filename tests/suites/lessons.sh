#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
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
n_ev=$(echo "$out" | jlast 'd["evaluations"]')
check "a grid over the conditioned space evaluates 3 naive + 9 fast points, not 18 ($n_ev)" "[ '$n_ev' = 12 ]"
k=$(keys "$H" "$Rc")
check "the naive points have no k in their key" "echo '$k' | grep -q 'rung=naive,j=1' && ! echo '$k' | grep -q 'rung=naive,k='"
check "the fast points keep k" "echo '$k' | grep -q 'rung=fast,k=3,j=2'"
out=$("$SPAK" run --home "$H" --json --no-learn "$T/rungs.spak" 2>/dev/null)
n_ev=$(echo "$out" | jlast 'd["evaluations"]')
check "the same grid without the condition evaluates all 18 ($n_ev)" "[ '$n_ev' = 18 ]"
check "spak run says how many points the space has (12)" "\"$SPAK\" run --home \"$H\" --no-learn --budget 1 \"$T/cond.spak\" 2>&1 | grep -q ': 12 candidates in the space'"

# 2. lessons that are evidence
lessons() { "$SPAK" learn --home "$1" --json "$2" 2>"$T/learn.err" | tail -1 >"$3"; }
# the confounded case: k = 3 measured only on the naive rung (which ignores k)
# and k = 1, 2 on the fast one; one naive pair (k = 1 vs 3) is controlled
out=$("$SPAK" run --home "$H" --json --strategy external "$T/rungs.spak" 2>/dev/null)
Rx=$(echo "$out" | jlast 'd["run_id"]')
for key in rung=naive,k=3,j=1 rung=naive,k=3,j=2 rung=naive,k=1,j=1 rung=fast,k=1,j=1 rung=fast,k=1,j=2 rung=fast,k=2,j=1 rung=fast,k=2,j=2 rung=fast,k=2,j=3 rung=fast,k=1,j=3; do
    "$SUBMIT" "$H" "$Rx" "$key"
done
"$SPAK" resume --home "$H" "$Rx" >/dev/null 2>&1
lessons "$H" "$Rx" "$T/conf.json"
check "confounded: no lesson about k = 3 (only the naive rung, which ignores k, measured it)" "! grep -q '\"subject\":\"k=3\"' $T/conf.json"
check "confounded: k = 2 helps is learned from the fast rung's controlled pairs" "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); l=[x for x in d[\"lessons\"] if x[\"subject\"]==\"k=2\"]; assert l and l[0][\"effect\"]>1 and l[0][\"n\"]>=3' $T/conf.json"
check "every effect carries n, effect, interval, p, adjusted p and its kind" "python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); e=[x for x in d[\"lessons\"] if x[\"kind\"]==\"effect\"]
assert e
for x in e:
    assert x[\"n\"]>=1 and x[\"interval\"][0]<=x[\"effect\"]<=x[\"interval\"][1] and 0<=x[\"p\"]<=x[\"p_adjusted\"]<=1
    assert x[\"lesson\"] in (\"rule\",\"hypothesis\") and x[\"correction\"]==\"holm\"
' $T/conf.json"
# multiple testing: the smallest p is multiplied by the number of effects tested
check "multiple testing: Holm's first step, the smallest adjusted p = min(1, tests x p)" "python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); e=[x for x in d[\"lessons\"] if x[\"kind\"]==\"effect\"]
s=min(e,key=lambda x:x[\"p\"]); assert s[\"tests\"]>=5
assert abs(s[\"p_adjusted\"]-min(1,s[\"tests\"]*s[\"p\"]))<=1e-9+1e-6*s[\"p_adjusted\"]
' $T/conf.json"
check "too little data is a hypothesis: fewer than 3 controlled pairs is never a rule" "python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert all(x[\"lesson\"]==\"hypothesis\" for x in d[\"lessons\"] if x[\"kind\"]==\"effect\" and x[\"n\"]<3)
' $T/conf.json"
# a contradiction demotes a rule: k = 2 learned as a rule, then measured worse
out=$("$SPAK" run --home "$H" --json "$T/cond.spak" 2>/dev/null)
Rr=$(echo "$out" | jlast 'd["run_id"]')
lessons "$H" "$Rr" "$T/rule.json"
V2=$(jlast 'd["spec"]' <"$T/rule.json")
check "k = 2 helps is a rule (3 controlled pairs, adjusted p < 0.05)" "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x for x in d[\"lessons\"] if x[\"subject\"]==\"k=2\" and x[\"lesson\"]==\"rule\"]' $T/rule.json && grep -q 'rule \"Learned: prefer k = 2\"' \"$V2\""
touch "$T/flip"
out=$("$SPAK" run --home "$H" --json "$V2" 2>/dev/null)
Rf=$(echo "$out" | jlast 'd["run_id"]')
lessons "$H" "$Rf" "$T/flip.json"
V3=$(jlast 'd["spec"]' <"$T/flip.json")
conf=$(grep -A8 'rule "Learned: prefer k = 2"' "$V3" | sed -n 's/.*confidence: //p' | head -1)
check "a contradiction demotes the rule: its confidence, recomputed from the new data, is below 0.95 ($conf)" "python3 -c 'import sys; assert float(sys.argv[1]) < 0.95' '$conf' && grep -A8 'rule \"Learned: prefer k = 2\"' \"$V3\" | grep -q 'review:'"
echo "1..$n"
