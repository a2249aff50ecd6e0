#!/usr/bin/env bash
# seconds: 18 (tests/run.sh: the lanes start the longest first; what its release pass took on the 2-core machine, 2026-12-07)
# tests/suites/supervisor.sh BUILD_DIR - what the supervisor sees and steers
# (TAP): progress (redrawn in place on a terminal, one plain line per
# evaluation otherwise, --quiet, --json), a run stopped by each kind of
# budget (evaluations, wall time, device seconds, LLM tokens, LLM cost) and
# by a fraction of the roofline, and approval gates (knowledge, llm-code)
# answered from a script with spak approve / spak reject.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init supervisor "$@"
cp "$ROOT/tests/engine/measure.py" "$ROOT/tests/engine/toy.spak" "$T/"
variant() {  # name extra-measure-args loop-lines
    sed -e "s|{{x}} {{y}}\"|{{x}} {{y}} $2\"|" -e "s|strategy: \"grid\"|strategy: \"grid\"\n$3|" "$T/toy.spak" >"$T/$1.spak"
    echo "$T/$1.spak"
}

# 1. progress
"$SPAK" run --home "$T/h" --budget 3 "$T/toy.spak" >"$T/plain.out" 2>&1
check "without a terminal: one plain line per evaluation, no redrawing" "[ \$(grep -c '^\[' $T/plain.out) -eq 3 ] && ! grep -q \$'\r' $T/plain.out"
"$SPAK" run --home "$T/h" --budget 3 --quiet "$T/toy.spak" >"$T/quiet.out" 2>&1
check "--quiet prints nothing" "[ ! -s $T/quiet.out ]"
on_tty "$T/tty.out" "$SPAK" run --home "$T/h" --budget 3 "$T/toy.spak"
check "on a terminal: the status line is redrawn in place with a bar, evaluations n of budget, elapsed, the candidate and best" "grep -q \$'\r\033\[K' $T/tty.out && grep -qE '\] [0-9]/3 .*analyze [0-9]+s: x=' $T/tty.out && grep -q 'best score' $T/tty.out"

# 2. each kind of budget, and the roofline
S=$(variant slow "--sleep 0.4" "")
out=$("$SPAK" run --home "$T/h" --json --wall-time 1 "$S" 2>/dev/null)
check "wall-time budget: the run stops and says so" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"]')\" = 'budget: wall time' ] && [ \$(echo '$out' | jlast 'd[\"evaluations\"]') -lt 20 ]"
S=$(variant dev "--sleep 0.4" "        budget { device_s: 1 }")
out=$("$SPAK" run --home "$T/h" --json "$S" 2>/dev/null)
check "device-seconds budget: the run stops and says so" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"]')\" = 'budget: device seconds' ] && [ \$(echo '$out' | jlast 'd[\"evaluations\"]') -ge 2 ] && [ \$(echo '$out' | jlast 'd[\"evaluations\"]') -le 4 ]"
out=$("$SPAK" run --home "$T/h" --json --budget 2 "$T/toy.spak" 2>/dev/null)
check "evaluation budget: the run stops and says so" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"]')\" = 'budget: evaluations' ]"
S=$(variant roof "" "        stop { roofline_fraction: 0.99 }")
out=$("$SPAK" run --home "$T/h" --json "$S" 2>/dev/null)
check "a fraction of the roofline stops the run at the first candidate that reaches it" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"], d[\"best\"][\"candidate\"]')\" = 'stop: fraction of the roofline x=2,y=2' ]"
echo '["{\"params\": {\"x\": 1, \"y\": 0}}", "{\"params\": {\"x\": 2, \"y\": 0}}", "{\"params\": {\"x\": 3, \"y\": 0}}", "{\"params\": {\"x\": 4, \"y\": 0}}"]' >"$T/script.json"
python3 "$ROOT/tests/engine/llm_script_server.py" "$T/script.json" "$T/port" "$T/requests.jsonl" 120 &
srv=$!
for i in $(seq 1 50); do [ -s "$T/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$T/port")/v1"
sed -e 's|strategy: "grid"|strategy: "llm"\n        budget { tokens: 250 }|' "$T/toy.spak" >"$T/tok.spak"
out=$("$SPAK" run --home "$T/h2" --json --llm openai --model scripted --endpoint "$url" "$T/tok.spak" 2>/dev/null)
check "LLM token budget (budget { tokens }): the run stops and says so" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"]')\" = 'budget: llm tokens' ]"
sed -e 's|strategy: "grid"|strategy: "llm"\n        budget { cost_usd: 250 }|' -e 's|    engineering_loop Toy_Tuner {|    llm {\n        price_in: 1000000\n        price_out: 0\n    }\n\n    engineering_loop Toy_Tuner {|' "$T/toy.spak" >"$T/cost.spak"
out=$("$SPAK" run --home "$T/h3" --json --llm openai --model scripted --endpoint "$url" "$T/cost.spak" 2>/dev/null)
check "LLM cost budget (prices in the spec): 3 calls of 100 USD, stopped over 250" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"], d[\"evaluations\"]')\" = 'budget: llm cost 3' ]"
# the same prices from a price_table file beside the spec (the first matching pattern wins)
mkdir -p "$T/pt"
echo '{"prices": [{"model": "other-*", "input": 0, "output": 0}, {"model": "script*", "input": 1000000, "output": 0}]}' >"$T/pt/prices.json"
sed -e 's|strategy: "grid"|strategy: "llm"\n        budget { cost_usd: 250 }|' -e 's|    engineering_loop Toy_Tuner {|    llm {\n        price_table: "prices.json"\n    }\n\n    engineering_loop Toy_Tuner {|' "$T/toy.spak" >"$T/pt/cost.spak"
cp "$T/measure.py" "$T/pt/" 2>/dev/null
out=$(cd / && "$SPAK" run --home "$T/h3t" --json --llm openai --model scripted --endpoint "$url" "$T/pt/cost.spak" 2>/dev/null)
check "LLM cost budget with prices from price_table (read beside the spec, from another directory): stopped over 250 after 3 calls" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"], d[\"evaluations\"]')\" = 'budget: llm cost 3' ]"
"$SPAK" run --home "$T/h3u" --json --llm openai --model unpriced --endpoint "$url" "$T/pt/cost.spak" >/dev/null 2>"$T/pt/unpriced.err"; rc=$?
check "a cost budget with a model the table does not price is refused before any call, naming the model" "[ $rc -ne 0 ] && grep -q \"or a price_table with an entry for model 'unpriced'\" $T/pt/unpriced.err"
# the server now repeats its last reply, a choice already measured: the run stops after 8 such steps
sed -e 's|strategy: "grid"|strategy: "llm"|' "$T/toy.spak" >"$T/rep.spak"
out=$("$SPAK" run --home "$T/h3w" --json --llm openai --model scripted --endpoint "$url" "$T/rep.spak" 2>"$T/rep.err")
check "an LLM run given no budget at all gets 50 evaluations, and says so when it starts" "grep -q 'budget 50 evaluations' $T/rep.err"
check "LLM steps without a candidate: 8 in a row stop the run and say so" "[ \"\$(echo '$out' | jlast 'd[\"stop_reason\"]')\" = 'llm: steps in a row without a candidate' ] && [ \"\$(echo '$out' | jlast 'd[\"evaluations\"] >= 8')\" = True ]"
echo '{"prices": [{"model": "scripted", "input": -1, "output": 0}]}' >"$T/pt/prices.json"
"$SPAK" run --home "$T/h3v" --json --llm openai --model scripted --endpoint "$url" "$T/pt/cost.spak" >/dev/null 2>"$T/pt/bad.err"; rc=$?
check "a bad price table stops the run with its path and the reason" "[ $rc -ne 0 ] && grep -q 'llm price_table: .*pt/prices.json: price table: entry 0 has a negative or non-finite price' $T/pt/bad.err"

# 3. approval gates from a script
"$SPAK" run --home "$T/h4" --approve knowledge --budget 2 "$T/toy.spak" </dev/null >"$T/g1.out" 2>&1
R=$("$SPAK" status --home "$T/h4" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
check "knowledge gate: the run pauses before writing knowledge and shows what it would do" "grep -q 'approval needed (knowledge): crystallize run' $T/g1.out && [ ! -f $T/h4/runs/$R/spec.next.spak ]"
check "status lists the pending approval (text and JSON)" "\"$SPAK\" status --home \"$T/h4\" | grep -q 'approval pending' && \"$SPAK\" status --home \"$T/h4\" --json \"$R\" | grep -q '\"gate\": \"knowledge\"'"
"$SPAK" reject --home "$T/h4" "$R" >"$T/g2.out" 2>&1
check "spak reject: the run finishes without writing knowledge" "\"$SPAK\" status --home \"$T/h4\" \"$R\" | grep -q ': done' && [ ! -f $T/h4/runs/$R/spec.next.spak ]"
"$SPAK" run --home "$T/h5" --approve knowledge --budget 2 "$T/toy.spak" </dev/null >/dev/null 2>&1
R=$("$SPAK" status --home "$T/h5" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
"$SPAK" approve --home "$T/h5" "$R" >"$T/g3.out" 2>&1
check "spak approve: the run writes its knowledge and finishes" "\"$SPAK\" status --home \"$T/h5\" \"$R\" | grep -q ': done' && [ -f $T/h5/runs/$R/spec.next.spak ]"
check "the decision is journaled" "python3 -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); sys.exit(0 if db.execute(\"select count(*) from journal where detail_json like ?\", (\"%\\\"decision\\\":\\\"approve\\\"%\",)).fetchone()[0] == 1 else 1)' $T/h5/spak.db"
# llm-code gate with the manual backend on the CPU matmul (code mode measures
# the starting point first, e1, without a gate: spak's own source)
sed -e 's|shapes: \["1024x1024x1024"\]|shapes: ["96x96x96"]|' -e 's|heldout: \[[^]]*\]|heldout: ["33x17x9"]|' \
    -e 's|budget { evaluations: 12 }|budget { evaluations: 3 }|' -e 's|stop { [^}]* }||' \
    -e 's|    engineering_loop MatMul_Tuner {|    llm {\n        mode: "code"\n    }\n\n    engineering_loop MatMul_Tuner {|' \
    "$ROOT/examples/matmul-cpu.spak" >"$ROOT/examples/.gate-test-$$.spak"
shorten "$ROOT/examples/.gate-test-$$.spak"
"$SPAK" run --home "$T/h6" --llm manual --approve llm-code "$ROOT/examples/.gate-test-$$.spak" </dev/null >"$T/c1.out" 2>&1
R=$("$SPAK" status --home "$T/h6" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
D="$T/h6/runs/$R/llm"
kernel='```c
#include "abi.h"
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
            C[i * N + j] = s;
        }
    return 0;
}
```'
llm_reply "$T/h6" "$R" "$D/step-0001.reply.md" "$kernel" "$T/c2.out"
check "llm-code gate: the run pauses before building the LLM's kernel and names the file" "grep -q 'approval needed (llm-code): build and run the LLM.s kernel .*step-0001.c' $T/c2.out"
"$SPAK" reject --home "$T/h6" "$R" </dev/null >"$T/c3.out" 2>&1
check "rejected LLM code is a recorded failed step, never built" "grep -q 'llm:step-0001 .*FAILED .*rejected' $T/c3.out && ! ls $T/h6/runs/$R/e2/*.so >/dev/null 2>&1"
llm_reply "$T/h6" "$R" "$D/step-0002.reply.md" "$kernel" "$T/c4.out"
"$SPAK" approve --home "$T/h6" "$R" </dev/null >"$T/c5.out" 2>&1
check "approved LLM code is built and judged by the harness" "grep -q 'code:step-0002|.* ok ' $T/c5.out"
rm -f "$ROOT/examples/.gate-test-$$.spak"
echo "1..$n"
