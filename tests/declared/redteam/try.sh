#!/usr/bin/env bash
# tests/declared/redteam/try.sh BUILD EXAMPLE CHEAT [SCRATCH] - one red-team
# candidate (tests/declared/redteam/CHEAT.c) through `spak run` as the only
# variant of examples/declared/EXAMPLE-cpu.spak (softmax, layernorm, reduce);
# prints one line: the evaluation's status, correctness, metric and reason,
# and the candidate's log lines that start with "redteam:". EXAMPLE inplace
# is tests/declared/redteam/inplace-cpu.spak (a readwrite output). SPEC_SED
# (optional): a sed expression applied to the spec (e.g. a looser
# tolerance). The scratch folder (default a fresh one under /tmp) keeps the
# home and the show.
set -u
B=$(cd "${1:?BUILD}" && pwd); ex=${2:?EXAMPLE}; name=${3:?CHEAT}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
T=${4:-$(mktemp -d /tmp/redteam.XXXXXX)}
mkdir -p "$T/ex"
cp -r "$ROOT/examples/declared/." "$ROOT/tests/declared/redteam/inplace" "$ROOT/tests/declared/redteam/inplace-cpu.spak" "$T/ex/"
cp "$ROOT"/tests/declared/*.h "$ROOT"/tests/declared/redteam/*.c "$ROOT"/tests/declared/redteam/*.h "$T/ex/$ex/" 2>/dev/null
chmod -R a+rX "$T"
sed -e "s/variant: \[[^]]*\]/variant: [\"$name\"]/" -e 's/evaluations: [0-9]*/evaluations: 1/' \
    -e '/threads: \[/d' -e "${SPEC_SED:-s/^//}" "$T/ex/$ex-cpu.spak" >"$T/ex/$name.spak"
H=$T/h-$name
"$B/spak" run --home "$H" --json --no-learn --eval-timeout 300 "$T/ex/$name.spak" >"$T/$name.run" 2>&1 </dev/null
id=$(sed -n 's/.*"run_id": *"\([^"]*\)".*/\1/p' "$T/$name.run" | head -1)
"$B/spak" show --json --home "$H" "$id" >"$T/$name.show" 2>>"$T/$name.run"
python3 - "$T/$name.show" "$H/spak.db" "$name" <<'PY'
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
e = (d.get("evaluations") or [{}])[-1]
why = " | ".join(str(e.get(k)) for k in ("error", "exit") if e.get(k))
db = sqlite3.connect(sys.argv[2])
log = " ".join((r[0] or "") + (r[1] or "") for r in db.execute("select stderr_tail, stdout_tail from evaluations"))
notes = sorted(set(l.strip() for l in log.splitlines() if "redteam:" in l))[-4:]
print("%s: status=%s correct=%s metric=%s %s %s" % (sys.argv[3], e.get("status"), e.get("correct"), e.get("metric"), why[:400], " ".join(notes)[:400]))
PY
