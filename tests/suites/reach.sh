#!/usr/bin/env bash
# parallel: yes (tests/run.sh: its verdicts are the preprocessor's and the seeded drift's; the matmul runs are asserted on reach, not on speed)
# tests/suites/reach.sh BUILD_DIR - does a parameter reach the candidate
# (src/build/reach.h) (TAP). Without conditions, spak preprocesses each
# point's source with every value of a parameter and records those that
# cannot act; lessons and the rules strategy leave them out there.
#   record       the naive rung (tests/reach/rungs.c ignores k and j) lists
#                k and j as unreached, the fast one j only; show says so
#   lessons      a drift that halves every other naive measurement makes
#                k = 3 look worse among naive points: no lesson about k
#                draws on them, k = 2 is learned from the fast pairs
#   rules        the rules strategy counts a twin (a point that differs from
#                an evaluated one only in unreached parameters) as tried
#   matmul-96    the unconditioned 96-point matmul test spec on the real
#                harness (small shapes): tile_k, mr, nv, threads do not
#                reach the naive rung, every one reaches the packed rung,
#                and `spak learn` draws no tile_k effect from naive points
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init reach "$@"
SUBMIT="$B/tests/helpers/spak-submit"
chmod 755 "$T"  # the build's and the candidate's sandbox uid read the sources
cp "$ROOT"/tests/reach/rungs.c "$ROOT"/tests/reach/measure.py "$ROOT"/tests/reach/rungs.spak "$T/"
chmod 644 "$T"/rungs.c "$T"/measure.py "$T"/rungs.spak
H="$T/h"
submit_all() { local h=$1 r=$2; shift 2; for key in "$@"; do "$SUBMIT" "$h" "$r" "$key"; done; }
unreached() {  # home run key -> the unreached list of its first evaluation of key
    "$SPAK" show --home "$1" --json "$2" | python3 -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["evaluations"] if e["candidate"] == sys.argv[1] and e["status"] == "done"]
print(",".join(ev[0].get("unreached", ["(none recorded)"])) if ev else "(not evaluated)")' "$3"
}

# 1. the record
out=$("$SPAK" run --home "$H" --json --strategy external "$T/rungs.spak" 2>/dev/null)
R=$(echo "$out" | jlast 'd["run_id"]')
# naive at odd ids (halved by the drift) with k = 3, at even ids with k = 1
submit_all "$H" "$R" rung=naive,k=3,j=1 rung=naive,k=1,j=1 rung=naive,k=3,j=2 rung=naive,k=1,j=2 rung=naive,k=3,j=3 \
    rung=naive,k=1,j=3 rung=fast,k=1,j=1 rung=fast,k=2,j=1 rung=fast,k=1,j=2 rung=fast,k=2,j=2 rung=fast,k=1,j=3 \
    rung=fast,k=2,j=3
"$SPAK" resume --home "$H" "$R" >/dev/null 2>&1
u=$(unreached "$H" "$R" rung=naive,k=3,j=1)
check "the naive rung's record lists k and j as unreached ($u)" "[ '$u' = 'k,j' ]"
u=$(unreached "$H" "$R" rung=fast,k=1,j=1)
check "the fast rung's record lists j only: k selects its code ($u)" "[ '$u' = 'j' ]"
check "spak show names them in the candidate's line" "\"$SPAK\" show --home \"$H\" \"$R\" | grep 'rung=naive,k=3,j=1' | grep -q 'not reached: k,j'"
check "the verdicts are cached under the home's cache/reach" "[ \$(ls \"$H/cache/reach\" | wc -l) -ge 4 ]"

# 2. lessons
"$SPAK" learn --home "$H" --json "$R" 2>"$T/learn.err" | tail -1 >"$T/learn.json"
check "no lesson about k = 3: only naive points, where k cannot act, measured it" "! grep -q '\"subject\":\"k=3\"' $T/learn.json"
check "no lesson about j: it reaches no candidate" "! grep -q '\"subject\":\"j=' $T/learn.json"
check "k's lessons draw on fast evaluations only (7-12)" "python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
ks = [x for x in d[\"lessons\"] if x[\"kind\"] == \"effect\" and x[\"subject\"].startswith(\"k=\")]
assert ks
for x in ks:
    ids = [int(i) for i in re.findall(r\"\\d+\", x[\"evidence\"].split(\"evaluations\", 1)[1])]
    assert ids and min(ids) >= 7, ids
' $T/learn.json"
# j cannot act on the fast rung either: its three values are repetitions of
# one comparison (k = 1 against k = 2), not three controlled pairs
check "k = 2 helps is learned from the fast rung, as one controlled comparison" "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); l=[x for x in d[\"lessons\"] if x[\"subject\"]==\"k=2\"]; assert l and l[0][\"effect\"]>1 and l[0][\"n\"]==1 and l[0][\"lesson\"]==\"hypothesis\"' $T/learn.json"

# 3. the rules strategy: 18 points, but only 4 programs (naive; fast at k = 1, 2, 3)
out=$("$SPAK" run --home "$H" --json --strategy rules --budget 12 --no-learn "$T/rungs.spak" 2>/dev/null)
Rr=$(echo "$out" | jlast 'd["run_id"]')
n_ev=$(echo "$out" | jlast 'd["evaluations"]')
check "the rules strategy evaluates each distinct program once: 4 of 18 points ($n_ev)" "[ '$n_ev' = 4 ]"

# 4. the 96-point matmul test spec on the real harness, small shapes
sed -e 's|shapes: \["1024x1024x1024"\]|shapes: ["64x64x64"]|' -e 's|heldout: \[[^]]*\]|heldout: ["33x17x9"]|' \
    -e 's|--min-time 0.2|--min-time 0.01 --max-time 0.3|' -e "s|source: \"../../kernels|source: \"$ROOT/kernels|" -e 's|stop { [^}]* }||' \
    "$ROOT/tests/specs/matmul-cpu-96.spak" >"$T/m96.spak"
shorten "$T/m96.spak"
out=$("$SPAK" run --home "$H" --json --strategy external "$T/m96.spak" 2>/dev/null)
Rm=$(echo "$out" | jlast 'd["run_id"]')
submit_all "$H" "$Rm" rung=naive,threads=1,tile_k=128,mr=4,nv=2 rung=naive,threads=1,tile_k=256,mr=4,nv=2 \
    rung=naive,threads=1,tile_k=384,mr=4,nv=2 rung=packed,threads=1,tile_k=128,mr=4,nv=2 \
    rung=packed,threads=1,tile_k=256,mr=4,nv=2 rung=packed,threads=1,tile_k=384,mr=4,nv=2
"$SPAK" resume --home "$H" "$Rm" >/dev/null 2>&1
u=$(unreached "$H" "$Rm" rung=naive,threads=1,tile_k=256,mr=4,nv=2)
check "matmul-96: threads, tile_k, mr and nv do not reach the naive rung ($u)" "[ '$u' = 'threads,tile_k,mr,nv' ]"
u=$(unreached "$H" "$Rm" rung=packed,threads=1,tile_k=256,mr=4,nv=2)
check "matmul-96: every parameter reaches the packed rung ($u)" "[ -z '$u' ]"
"$SPAK" learn --home "$H" --json "$Rm" 2>>"$T/learn.err" | tail -1 >"$T/m96.json"
check "matmul-96: spak learn draws no tile_k effect from the naive points (evaluations 1-3)" "python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
for x in d[\"lessons\"]:
    if x[\"kind\"] == \"effect\" and x[\"subject\"].startswith(\"tile_k=\"):
        ids = [int(i) for i in re.findall(r\"\\d+\", x[\"evidence\"].split(\"evaluations\", 1)[1])]
        assert min(ids) >= 4, ids
' $T/m96.json"
echo "1..$n"
