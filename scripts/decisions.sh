#!/usr/bin/env bash
# scripts/decisions.sh [RUNS] [SPEC] - the main job's decisions, quiet and
# loaded (issue 14): runs `spak run --json SPEC` (default
# examples/matmul-cpu.spak) RUNS times (default 3) on the machine as it is,
# then RUNS times beside a second process that burns one core, each in a
# fresh home, and prints a Markdown table: each run's decision (winner, tie,
# inconclusive), stop reason, best candidate with its ratio and interval,
# evaluations and wall time; then whether any two decisions contradict.
#
# Two decisions contradict when run A's winner X was measured in run B and
# lost there outside B's tie set while B's winner Y was measured in A and
# lost there too (each ranks the other's winner below its own), or when one
# run's best interval lies wholly above 0.95 (the stop condition met) and
# another's interval for the same candidate wholly below it. A tie or an
# inconclusive run contradicts nothing. Exit 0 when no two contradict, 1
# otherwise, 2 on a setup error. Needs build/spak (make all).
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SPEC=${2:-examples/matmul-cpu.spak}
case "$RUNS" in '' | *[!0-9]*) echo "decisions.sh: RUNS must be a whole number, not '$RUNS'" >&2; exit 2 ;; esac
[ -x build/spak ] || { echo "decisions.sh: build/spak is missing (make all)" >&2; exit 2; }
[ -f "$SPEC" ] || { echo "decisions.sh: no spec $SPEC" >&2; exit 2; }
# KEEP=DIR keeps every run's home, summary and show output there
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP" && T=$(cd "$KEEP" && pwd) || exit 2
else
    T=$(mktemp -d "${TMPDIR:-/tmp}/spak-decisions.XXXXXX")
fi
burner=""
trap '[ -n "$burner" ] && kill "$burner" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
one() {  # mode i
    local h="$T/$1-$2"
    echo "decisions: $1 run $2 of $RUNS ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg))" >&2
    build/spak run --json --quiet --home "$h" "$SPEC" >"$h.json" 2>"$h.err"
    echo "$?" >"$h.rc"
    local id
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$h.json" 2>/dev/null) &&
        build/spak show --json --home "$h" "$id" >"$h.show" 2>>"$h.err"
}
for i in $(seq 1 "$RUNS"); do one quiet "$i"; done
sh -c 'while :; do :; done' &
burner=$!
for i in $(seq 1 "$RUNS"); do one loaded "$i"; done
kill "$burner" 2>/dev/null
burner=""
python3 - "$T" "$RUNS" "$SPEC" "$(nproc)" <<'PY'
import json, os, sys
T, runs, spec, ncpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = []
for mode in ("quiet", "loaded"):
    for i in range(1, runs + 1):
        base = os.path.join(T, f"{mode}-{i}")
        try:
            summ = json.load(open(base + ".json"))
            show = json.load(open(base + ".show"))
        except (OSError, ValueError) as e:
            rows.append({"name": f"{mode} {i}", "error": open(base + ".err").read()[-300:] or str(e)})
            continue
        evals = {e["candidate"]: e for e in show["evaluations"] if e.get("correct")}
        by_id = {e["eval_id"]: e["candidate"] for e in show["evaluations"]}
        # tied_with names evaluations by id: their candidates
        tied = [by_id.get(t, str(t)) for t in (summ.get("tied_with") or [])]
        rows.append({"name": f"{mode} {i}", "run": summ["run_id"], "summ": summ, "evals": evals, "tied": tied})
print(f"Main job decisions: `spak run --json {spec}`, {runs} runs quiet, {runs} beside a process burning one core; {ncpu} CPUs")
print()
print("| run | id | decision | stop reason | best candidate | ratio [95% interval] | tied with | evaluations | wall s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    if "error" in r:
        print(f"| {r['name']} | - | failed | {r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'} | | | | | |")
        continue
    s = r["summ"]
    b = s.get("best") or {}
    ci = b.get("ratio_ci") or [float("nan")] * 2
    ratio = b.get("ratio")
    rtxt = f"{ratio:.3f} [{ci[0]:.3f}-{ci[1]:.3f}]" if ratio is not None else "-"
    print(f"| {r['name']} | {r['run']} | {s.get('decision', '-')} | {s['stop_reason']} | {b.get('candidate', '-')} | {rtxt} | "
          f"{', '.join(r['tied']) or '-'} | {s['evaluations']} | {s['elapsed_s']:.0f} |")

def winner(r):
    s = r["summ"]
    return (s.get("best") or {}).get("candidate") if s.get("decision") == "winner" else None

def lost_in(r, cand):
    """cand was measured in run r and is neither r's best nor in its tie set"""
    s = r["summ"]
    return cand in r["evals"] and cand != (s.get("best") or {}).get("candidate") and cand not in r["tied"]

ok = [r for r in rows if "error" not in r]
bad = []
for a in range(len(ok)):
    for b in range(a + 1, len(ok)):
        A, B = ok[a], ok[b]
        x, y = winner(A), winner(B)
        if x and y and x != y and lost_in(B, x) and lost_in(A, y):
            bad.append(f"{A['name']} names {x} the winner over {y}; {B['name']} the reverse")
        for P, Q in ((A, B), (B, A)):
            pb = P["summ"].get("best") or {}
            c = pb.get("candidate")
            if not c or c not in Q["evals"] or not pb.get("ratio_ci") or not Q["evals"][c].get("ratio_ci"):
                continue
            if pb["ratio_ci"][0] >= 0.95 and Q["evals"][c]["ratio_ci"][1] < 0.95:
                bad.append(f"{P['name']} puts {c} at or above 0.95x on its interval; {Q['name']} wholly below")
print()
failed = [r["name"] for r in rows if "error" in r]
if failed:
    print(f"Failed runs: {', '.join(failed)}.")
if bad:
    print("Contradictions:")
    for line in bad:
        print(f"- {line}")
else:
    print(f"No two of the {len(ok)} decisions contradict each other.")
sys.exit(1 if bad or failed else 0)
PY
