#!/usr/bin/env bash
# scripts/ablation.sh [--endpoint URL --model NAME] [--backend B] [--steps N] [--mode params|code|alternate] [SPEC]
#
# The ablation of the draft: one Programming step (single-shot) against the
# loop (N steps, measurements fed back into every prompt), with the same LLM
# endpoint, on the same spec (default examples/matmul-cpu.spak). Prints both
# trajectories: per step, what the model proposed, whether it was usable,
# correct, how fast, and the best so far.
#
# Without --endpoint it starts the small local model the tests use
# (tests/llm/start_server.sh: llama.cpp server with SmolLM2-135M-Instruct).
# With the manual backend (--backend manual) a person or an external agent
# answers each prompt file; the script then stops at the first suspension
# and says so (continue with `spak resume`).
set -eu
cd "$(dirname "$0")/.."
endpoint= model= backend=openai steps=8 mode=alternate spec=examples/matmul-cpu.spak
while [ $# -gt 0 ]; do
    case $1 in
    --endpoint) endpoint=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) spec=$1; shift ;;
    esac
done
S=${SPAK:-build/spak}
[ -n "${SPAK:-}" ] || make -j"$(nproc 2>/dev/null || echo 2)" all >/dev/null
home=$(mktemp -d /tmp/spak-ablation.XXXXXX)
chmod 755 "$home"
if [ -z "$endpoint" ] && [ "$backend" = openai ]; then
    endpoint=$(tests/llm/start_server.sh "$home/server")
    model=smollm2
    trap 'kill "$(cat "$home/server/pid")" 2>/dev/null' EXIT
fi
dir=$(dirname "$spec")
variant="$dir/.ablation-$$.spak"
trap 'rm -f "$variant"; [ -f "$home/server/pid" ] && kill "$(cat "$home/server/pid")" 2>/dev/null; true' EXIT
# the spec with an llm block (mode) and without its own budget/stop
sed -e 's|budget { [^}]* }||' -e 's|stop { [^}]* }||' \
    -e "0,/    engineering_loop /s||    llm {\n        mode: \"$mode\"\n        temperature: 0.2\n        timeout_s: 300\n    }\n\n    engineering_loop |" "$spec" >"$variant"
echo "ablation on $spec: backend $backend, endpoint ${endpoint:-none}, model ${model:-none}, mode $mode; $(date -u +%Y-%m-%dT%H:%MZ)"
trajectory() {  # run
    python3 - "$home/spak.db" "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); run = sys.argv[2]
best = None
print("  %-4s %-58s %-8s %10s %8s %10s" % ("step", "proposal", "status", "metric", "ratio", "best"))
for eid, key, status, metric, ratio, err, rj in db.execute(
        """select e.eval_id, c.key, e.status, e.metric, e.ratio, e.error, e.result_json from evaluations e
           join candidates c on c.run_id=e.run_id and c.cand_id=e.cand_id where e.run_id=? order by e.eval_id""", (run,)):
    if status == "done" and metric is not None and (best is None or metric > best):
        best = metric
    note = ""
    if status != "done":
        note = (err or "")[:70]
    else:
        llm = (json.loads(rj or "{}") or {}).get("llm") or {}
        if llm.get("predicted_metric") is not None:
            note = "predicted %.4g" % llm["predicted_metric"]
    print("  %-4d %-58s %-8s %10s %8s %10s  %s" % (eid, key[:58], status, "-" if metric is None else "%.4g" % metric,
          "-" if ratio is None else "%.3f" % ratio, "-" if best is None else "%.4g" % best, note))
PY
}
for label in single-shot loop; do
    n=1; [ $label = loop ] && n=$steps
    echo
    echo "== $label: $n Programming step(s)"
    args=(--home "$home" --json --no-learn --llm "$backend" --budget "$n")
    [ -n "$endpoint" ] && args+=(--endpoint "$endpoint")
    [ -n "$model" ] && args+=(--model "$model")
    run=$($S run "${args[@]}" "$variant" 2>"$home/$label.log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["run_id"])') || { cat "$home/$label.log"; exit 1; }
    grep -q suspended "$home/$label.log" && { grep suspended "$home/$label.log"; echo "(manual backend: answer the prompt, then spak resume --home $home $run)"; continue; }
    trajectory "$run"
done
echo
echo "state: $home (spak show --home $home RUN; the prompts and replies are in the store under kv scope llm:RUN)"
