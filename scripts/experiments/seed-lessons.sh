#!/usr/bin/env bash
# scripts/experiments/seed-lessons.sh [HOME] - make, once, the home whose
# lessons seed the attention arms that keep their knowledge (the knowledge
# ablation, docs/experiments.md). In HOME (default experiments/seed-attention/home,
# ignored by git; refused when it exists) it runs
# examples/experiments/attention-seed.spak: a grid of our blocked attention
# rung's tuning (threads x bq x bk, 12 evaluations, against the blocked
# baseline the experiment uses), whose end crystallizes its lessons (the
# effects of threads, bq and bk with their evidence, docs/knowledge.md) into
# HOME's store for the family attention. Then
#     scripts/experiments/engineer.sh --lessons HOME ARM REP
# starts an arm's home from a copy of that store. Run it on a quiet machine
# (about 12 evaluations of the CPU attention judge). Prints the lessons.
# Exit 1 when HOME exists, the run fails, or it learned no lesson.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SPAK="$ROOT/build/spak"
H=${1:-"$ROOT/experiments/seed-attention/home"}
[ -x "$SPAK" ] || { echo "seed-lessons.sh: $SPAK is not built (make NVCC= all)" >&2; exit 1; }
[ -e "$H" ] && { echo "seed-lessons.sh: $H exists: the seed is made once (remove it to make it again)" >&2; exit 1; }
mkdir -p "$H"
"$SPAK" run --home "$H" "$ROOT/examples/experiments/attention-seed.spak" || {
    echo "seed-lessons.sh: the seed run failed" >&2; exit 1; }
n=$(python3 - "$H/spak.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
rows = db.execute("SELECT kind, text FROM lessons WHERE family = 'attention' ORDER BY id").fetchall()
for k, t in rows:
    print("  %s: %s" % (k, t), file=sys.stderr)
print(len(rows))
PY
)
[ "${n:-0}" -gt 0 ] || { echo "seed-lessons.sh: the seed run learned no lesson (see 'spak learn --home $H RUN')" >&2; exit 1; }
echo "seed-lessons.sh: $n lesson(s) for attention in $H; use: scripts/experiments/engineer.sh --lessons $H ARM REP"
