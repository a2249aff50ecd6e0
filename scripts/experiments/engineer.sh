#!/usr/bin/env bash
# scripts/experiments/engineer.sh [--lessons SEED_HOME] ARM REP - set up one arm of the engineer's
# seat experiment (issue 16, docs/experiments-engineer-brief.md) and print
# what the engineer runs.
#
# ARM: attn-single | attn-loop | attn-nomeas | attn-noknow | mm-single | mm-loop
# REP: the repetition, a whole number (1, 2, 3, ...)
#
# In a fresh home experiments/ARM-REP/home (ignored by git) it starts a run
# of examples/experiments/{attention,matmul}-naive.spak whose engineer is
# outside (strategy external, through `spak mcp-call`), with the arm's
# budget and ablation (--context-without), then proposes the space's only
# point, the naive source, and waits for it: the engineer's first context
# holds the starting point's source and measurement (in attn-nomeas, its
# omission). The engineer's steps are its proposals after that one:
# single 1, loop 10; each proposal may carry tunables (spak sweeps them,
# at most 16 points), so the budget is 1 + 16 x steps evaluations.
# evaluate.sh counts only the first STEPS proposals of the engineer.
#
# --lessons SEED_HOME: the arm's home starts from a copy of SEED_HOME's
# store (its lessons for the arm's kernel family, which the engineer's
# context lists; scripts/experiments/seed-lessons.sh makes the attention
# seed once). Give it to the arms a knowledge ablation compares (attn-loop
# and attn-noknow), so that they differ only by what the context omits.
#
# Writes experiments/ARM-REP.json (arm, rep, home, run id, started, steps,
# budget, ablation, scratch folder, the commands) and
# experiments/ARM-REP/propose (a helper that turns a source file into
# spak_propose's JSON), and prints the commands. Needs build/spak
# (make NVCC= all). Exit 2 on a bad ARM or REP, 1 when the home exists or
# the start fails.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SPAK="$ROOT/build/spak"
usage() { echo "usage: scripts/experiments/engineer.sh [--lessons SEED_HOME] ARM REP   (ARM: attn-single attn-loop attn-nomeas attn-noknow mm-single mm-loop)" >&2; exit 2; }
SEED=""
if [ "${1:-}" = "--lessons" ]; then
    [ $# -ge 2 ] || usage
    SEED=$2
    shift 2
fi
[ $# -eq 2 ] || usage
ARM=$1 REP=$2
case "$REP" in '' | *[!0-9]*) echo "engineer.sh: REP must be a whole number, not '$REP'" >&2; exit 2 ;; esac
WITHOUT=""
case "$ARM" in
attn-single) SPEC=attention-naive STEPS=1 ;;
attn-loop) SPEC=attention-naive STEPS=10 ;;
attn-nomeas) SPEC=attention-naive STEPS=10 WITHOUT=measurements ;;
attn-noknow) SPEC=attention-naive STEPS=10 WITHOUT=knowledge ;;
mm-single) SPEC=matmul-naive STEPS=1 ;;
mm-loop) SPEC=matmul-naive STEPS=10 ;;
*) echo "engineer.sh: unknown arm '$ARM'" >&2; usage ;;
esac
[ -x "$SPAK" ] || { echo "engineer.sh: $SPAK is not built (make NVCC= all)" >&2; exit 1; }
BUDGET=$((1 + 16 * STEPS))
EXP="$ROOT/experiments"
DIR="$EXP/$ARM-$REP"
H="$DIR/home"
SCRATCH="$DIR/scratch"
SPECF="$ROOT/examples/experiments/$SPEC.spak"
if [ -e "$DIR" ]; then
    echo "engineer.sh: $DIR exists: each arm and repetition gets a fresh home (remove it, or take the next REP)" >&2
    exit 1
fi
LESSONS=0
if [ -n "$SEED" ]; then
    # the seed's lessons for this family, counted before anything is made
    LESSONS=$(python3 - "$SEED/spak.db" "${SPEC%-naive}" <<'PY'
import os, sqlite3, sys
if not os.path.isfile(sys.argv[1]):
    sys.exit("engineer.sh: --lessons: %s has no store (spak.db): make the seed with scripts/experiments/seed-lessons.sh" % os.path.dirname(sys.argv[1]))
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
n = db.execute("SELECT count(*) FROM lessons WHERE family = ?", (sys.argv[2],)).fetchone()[0]
if n == 0:
    sys.exit("engineer.sh: --lessons: %s holds no lesson for the family %s" % (os.path.dirname(sys.argv[1]), sys.argv[2]))
print(n)
PY
) || exit 1
fi
mkdir -p "$H" "$SCRATCH"
if [ -n "$SEED" ]; then
    # a consistent copy of the seed's store (SQLite's backup), before the run is started in it
    python3 -c 'import sqlite3, sys
src = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True); dst = sqlite3.connect(sys.argv[2])
src.backup(dst); dst.close()' "$SEED/spak.db" "$H/spak.db" || { echo "engineer.sh: the seed's store could not be copied" >&2; exit 1; }
fi
args=$(python3 -c 'import json,sys; d={"spec": sys.argv[1], "budget": int(sys.argv[2])}
if sys.argv[3]: d["context_without"] = sys.argv[3]
print(json.dumps(d))' "$SPECF" "$BUDGET" "$WITHOUT")
if ! "$SPAK" mcp-call --home "$H" --json spak_start "$args" >"$DIR/start.json" 2>"$DIR/start.err"; then
    echo "engineer.sh: spak_start failed:" >&2
    cat "$DIR/start.err" "$DIR/start.json" >&2
    exit 1
fi
RUN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$DIR/start.json")
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# the starting point, measured before the engineer's first step
"$SPAK" mcp-call --home "$H" -q --json spak_propose "{\"run\": \"$RUN\", \"point\": \"rung=naive\"}" >"$DIR/naive.json" 2>&1 || {
    echo "engineer.sh: proposing the naive point failed:" >&2; cat "$DIR/naive.json" >&2; exit 1; }
for _ in $(seq 1 20); do
    "$SPAK" mcp-call --home "$H" -q --json spak_wait "{\"run\": \"$RUN\", \"proposal\": 1, \"timeout_s\": 300}" >"$DIR/naive-wait.json" 2>/dev/null
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("done") else 1)' "$DIR/naive-wait.json" 2>/dev/null && break
done
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["evaluations"][0]; sys.exit(0 if e["status"]=="done" and e["correct"] else 1)' "$DIR/naive-wait.json" 2>/dev/null || {
    echo "engineer.sh: the naive starting point did not pass (see $DIR/naive-wait.json)" >&2; exit 1; }
# a helper: a source file (and optional tunables) into spak_propose's JSON
cat >"$DIR/propose" <<PROPOSE
#!/usr/bin/env bash
# $DIR/propose SOURCE.c [PREDICTED_RATIO] [WHY] [TUNABLES_JSON] [CONDITIONS_JSON]
# proposes a whole kernel source to run $RUN; prints the proposal id.
# TUNABLES_JSON e.g. '{"BQ": [32, 64], "BK": [64, 128]}' (the source reads them
# as defines; spak sweeps them with the default strategy, one evaluation a
# point, at most 16, and the next context says what it found);
# CONDITIONS_JSON e.g. '["BQ <= BK"]'.
set -eu
[ \$# -ge 1 ] || { echo "usage: \$0 SOURCE.c [PREDICTED_RATIO] [WHY] [TUNABLES_JSON] [CONDITIONS_JSON]" >&2; exit 2; }
args=\$(python3 - "\$@" <<'PY'
import json, sys
a = sys.argv[1:]
d = {"run": "$RUN", "source": open(a[0]).read()}
if len(a) > 1 and a[1]: d["predicted_ratio"] = float(a[1])
if len(a) > 2 and a[2]: d["prediction"] = a[2]
if len(a) > 3 and a[3]: d["tunables"] = json.loads(a[3])
if len(a) > 4 and a[4]: d["conditions"] = json.loads(a[4])
print(json.dumps(d))
PY
)
exec "$SPAK" mcp-call --home "$H" spak_propose "\$args"
PROPOSE
chmod +x "$DIR/propose"
CTX="$SPAK mcp-call --home $H spak_context '{\"run\": \"$RUN\"}'"
PROP="$DIR/propose $SCRATCH/step1.c 1.5 'why I expect it' '{\"BLOCK\": [32, 64]}'"
WAIT="$SPAK mcp-call --home $H spak_wait '{\"run\": \"$RUN\", \"proposal\": N, \"timeout_s\": 600}'"
python3 - "$EXP/$ARM-$REP.json" <<PY
import json, sys
json.dump({"arm": "$ARM", "rep": $REP, "family": "${SPEC%-naive}", "spec": "$SPECF", "home": "$H",
           "run_id": "$RUN", "started": "$STARTED", "steps": $STEPS, "budget": $BUDGET,
           "context_without": "$WITHOUT" or None, "scratch": "$SCRATCH", "first_engineer_proposal": 2,
           "lessons_from": "$SEED" or None, "lessons": $LESSONS,
           "commands": {"context": """$CTX""", "propose": """$PROP""", "wait": """$WAIT"""}},
          open(sys.argv[1], "w"), indent=2)
PY
cat <<MSG
arm $ARM, repetition $REP: run $RUN in $H (started $STARTED)
steps: $STEPS proposal(s) after the starting point (budget $BUDGET evaluations)${WITHOUT:+; context without $WITHOUT}${SEED:+; the home starts with $LESSONS lesson(s) from $SEED}
scratch folder: $SCRATCH

The engineer's commands:
  read the context:   $CTX
  propose a source:   $PROP
                      (the raw call: $SPAK mcp-call --home $H spak_propose '{"run": "$RUN", "source": "...", "predicted_ratio": 1.5, "prediction": "...", "tunables": {...}}')
  wait for its result: $WAIT
                      (N: the proposal id that propose printed; the first is 2)
Brief to give: docs/experiments-engineer-brief.md, with the values above.
Record: $EXP/$ARM-$REP.json
MSG
