#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load; the
# attention prompt's rows need one measured step: on_quiet_machine)
# tests/suites/llm_engine.sh BUILD_DIR - the LLM as the engineer inside the
# loop (TAP): the manual backend suspends the run, takes a reply file and
# resumes; replies that are unusable (a refusal, no JSON, an already tried
# choice) are recorded failed steps; the prediction is kept next to the
# outcome; an OpenAI-compatible endpoint over real HTTP (a scripted local
# server: the real small model is exercised by llm_real.sh) proposes
# parameters and a new kernel source that the harness judges like ours; the
# token budget stops the run; the API key never reaches the store or files;
# with --jobs 2 one step asks for a choice for each free slot.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init llm-engine "$@"
cp "$ROOT/tests/engine/measure.py" "$ROOT/tests/engine/toy.spak" "$T/"

# 1. manual: suspend, reply file, resume
H="$T/h1"
"$SPAK" run --home "$H" --llm manual --budget 3 "$T/toy.spak" >"$T/m1.out" 2>&1
rc=$?
R=$("$SPAK" status --home "$H" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
D="$H/runs/$R/llm"
check "manual: the run suspends (exit 3: suspended) and says where the prompt is" "[ $rc -eq 3 ] && grep -q 'suspended: waiting for the reply to $D/step-0001.prompt.md' $T/m1.out"
check "manual: status shows the run suspended" "\"$SPAK\" status --home \"$H\" \"$R\" | grep -q 'suspended'"
check "manual: the prompt holds the task, the space and the reply format" "grep -q 'x: \[1, 2, 3, 4, 5\]' $D/step-0001.prompt.md && grep -q 'prediction' $D/step-0001.prompt.md"
llm_reply "$H" "$R" "$D/step-0001.reply.md" '{"params": {"x": 3, "y": 1}, "prediction": {"metric": 97, "why": "x = 3 is the centre"}}' "$T/m2.out"
check "manual: resume takes the reply and evaluates the chosen candidate" "grep -q 'x=3,y=1 .*ok' $T/m2.out"
check "manual: the prediction is stored next to the measured outcome" "sql $H/spak.db \"select result_json from evaluations where run_id=? and eval_id=1\" $R | grep -q '\"predicted_metric\":97.0.*\"measured_metric\":99.0'"
check "manual: the next step suspends again with the history in its prompt" "grep -q 'x=3,y=1: score 99' $D/step-0002.prompt.md"
llm_reply "$H" "$R" "$D/step-0002.reply.md" 'I am sorry, but I cannot help with that request.' "$T/m3.out"
check "a refusal is a recorded failed step, and the run goes on" "grep -q 'llm:step-0002 .*FAILED .*refusal' $T/m3.out && grep -q 'suspended' $T/m3.out"
llm_reply "$H" "$R" "$D/step-0003.reply.md" '{"params": {"x": 3, "y": 1}}' "$T/m4.out"
check "choosing an evaluated candidate again is a recorded failed step" "grep -q 'already evaluated' $T/m4.out"
check "the budget counts failed steps: the run is done after 3" "\"$SPAK\" status --home \"$H\" \"$R\" | grep -q ': done'"
check "every step's prompt and reply is stored with the backend and timing" "[ \$(sql $H/spak.db \"select count(*) from kv where scope=? and value_json like '%\\\"backend\\\":\\\"manual\\\"%latency_s%'\" llm:$R) -eq 3 ]"

# 2. OpenAI-compatible over HTTP, mode alternate: parameters, a kernel source, garbage
cat >"$T/script.json" <<'JSON'
["{\"params\": {\"rung\": \"packed\", \"threads\": 1, \"tile_k\": 256, \"mr\": 6, \"nv\": 2}, \"prediction\": {\"metric\": 80, \"why\": \"the packed rung\"}}",
 "Here is a new kernel:\n```c\n#include \"abi.h\"\nint spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)\n{\n    for (int i = 0; i < M; i++) {\n        float *c = C + (long)i * N;\n        for (int j = 0; j < N; j++) c[j] = 0.0f;\n        for (int k = 0; k < K; k++) {\n            float a = A[(long)i * K + k];\n            const float *b = B + (long)k * N;\n            for (int j = 0; j < N; j++) c[j] += a * b[j];\n        }\n    }\n    return 0;\n}\n```\nI expect about 20 GFLOP/s ({\"prediction\": {\"metric\": 20}})",
 "<html>not a reply</html>"]
JSON
sed -e 's|shapes: \["1024x1024x1024"\]|shapes: ["128x128x128"]|' -e 's|heldout: \[[^]]*\]|heldout: ["97x61x33"]|' \
    -e 's|budget { evaluations: 12 }|budget { evaluations: 3 }|' -e 's|stop { [^}]* }||' \
    -e 's|    engineering_loop MatMul_Tuner {|    llm {\n        mode: "alternate"\n        api_key_env: "SPAK_TEST_KEY"\n        budget_tokens: 100000\n    }\n\n    engineering_loop MatMul_Tuner {|' \
    "$ROOT/examples/matmul-cpu.spak" >"$ROOT/examples/.llm-test-$$.spak"
SPEC="$ROOT/examples/.llm-test-$$.spak"
shorten "$SPEC"
# the checks below are of the loop's plumbing, not of a timing: no early stop
# (the model's naive kernel is 5-10x slower than the packed rung, and more
# under load), and the run again with a fresh server (at most 3 tries, each
# a TAP comment) when the judge blamed the machine; the last server stays up
# for the checks below that use $port
for try in 1 2 3; do
    [ -n "$srv" ] && { kill $srv 2>/dev/null; wait $srv 2>/dev/null; }
    rm -rf "$T/h2" "$T/port" "$T/requests.jsonl"
    python3 "$ROOT/tests/engine/llm_script_server.py" "$T/script.json" "$T/port" "$T/requests.jsonl" 120 &
    srv=$!
    for i in $(seq 1 50); do [ -s "$T/port" ] && break; sleep 0.1; done
    port=$(cat "$T/port")
    SPAK_TEST_KEY=sk-test-secret-0123456789 "$SPAK" run --home "$T/h2" --json --early-stop 0 --llm openai \
        --endpoint "http://127.0.0.1:$port/v1" --model scripted "$SPEC" >"$T/o.json" 2>"$T/o.err"
    rc=$?
    why=$(machine_blamed "$T/o.err" "$T/h2/runs")
    [ -n "$why" ] || break
    echo "# try $try: the judge blamed the machine: ${why:0:200}"
done
rm -f "$SPEC"
check "openai: the run completes 3 steps over HTTP" "[ $rc -eq 0 ] && [ \"\$(jlast 'd[\"evaluations\"]' <$T/o.json)\" = 3 ]"
check "openai: the JSON choice is built and judged by the harness (correct, timed)" "grep -q 'rung=packed,threads=1,tile_k=256,mr=6,nv=2 .*ok' $T/o.err"
check "openai: garbage is a recorded failed step" "grep -q 'llm:step-0003 .*FAILED' $T/o.err"
check "openai: the model's kernel is extracted, built and judged like ours" "grep -q 'code:step-0002|.* ok ' $T/o.err || { grep 'code:step-0002' $T/o.err | sed 's/^/# /'; false; }"
R2=$(jlast 'd["run_id"]' <$T/o.json)
check "the code candidate keeps its source file" "[ -f \"$T/h2/runs/$R2/llm/step-0002.c\" ] && grep -q spak_matmul $T/h2/runs/$R2/llm/step-0002.c"
check "requests carried the model and the API key header from the variable" "head -1 $T/requests.jsonl | grep -q '\"model\": \"scripted\"' && head -1 $T/requests.jsonl | grep -q 'Bearer sk-test-secret'"
check "the API key is in no file spak wrote (store, logs, prompts)" "! grep -rq 'sk-test-secret' $T/h2"
check "tokens are counted: 3 steps x 120" "[ \$(sql $T/h2/spak.db \"select sum(json_extract(value_json,'\$.prompt_tokens')+json_extract(value_json,'\$.completion_tokens')) from kv where scope=?\" llm:$R2) -eq 360 ]"

check "spak status shows the run's LLM steps and tokens" "\"$SPAK\" status --home \"$T/h2\" \"$R2\" | grep -q 'llm: 3 steps, 360 tokens'"

# 3. the token budget stops the run
sed -e 's|strategy: "grid"|strategy: "llm"|' -e 's|    engineering_loop Toy_Tuner {|    llm {\n        backend: "openai"\n        model: "scripted"\n        budget_tokens: 250\n    }\n\n    engineering_loop Toy_Tuner {|' "$T/toy.spak" >"$T/toy-llm.spak"
echo '["{\"params\": {\"x\": 1, \"y\": 0}}", "{\"params\": {\"x\": 2, \"y\": 0}}", "{\"params\": {\"x\": 3, \"y\": 0}}", "{\"params\": {\"x\": 4, \"y\": 0}}"]' >"$T/script.json"
"$SPAK" run --home "$T/h3" --json --endpoint "http://127.0.0.1:$port/v1" "$T/toy-llm.spak" >"$T/b.json" 2>/dev/null
check "a token budget stops the run and says so" "[ \"\$(jlast 'd[\"stop_reason\"]' <$T/b.json)\" = 'budget: llm tokens' ] && [ \"\$(jlast 'd[\"evaluations\"]' <$T/b.json)\" = 3 ]"
"$SPAK" run --home "$T/h4" --llm openai --model m --endpoint "http://127.0.0.1:1/v1" --budget 2 "$T/toy.spak" >"$T/c.out" 2>&1
check "connection refused is a recorded failed step, never a crash" "grep -q 'FAILED .*llm connect' $T/c.out"
# 4. code mode from the naive rung alone: what the engineer reads before each
# move (docs/llm.md, "The prompt"): every section there or saying why, the
# starting point measured before the first prompt, the machine, the ABI with
# info.h, per-shape results, the tolerance, the FLOP count, predictions scored
python3 - "$ROOT/examples/matmul-cpu.spak" "$ROOT/examples/.llm-naive-$$.spak" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = s.replace('shapes: ["1024x1024x1024"]', 'shapes: ["96x96x96", "64x128x32"]')
s = re.sub(r'heldout: \[[^]]*\]', 'heldout: ["33x17x9"]', s)
s = s.replace('rung: ["naive", "reorder", "blocked", "packed"]', 'rung: ["naive"]')
s = re.sub(r'    tuning_space \{.*?\n    \}\n', '', s, flags=re.S)
s = re.sub(r'        rule "Pack and block" \{.*?\n        \}\n', '', s, flags=re.S)
s = s.replace(',TILE_K={{tile_k}},THREADS={{threads}}', '').replace('--min-time 0.2', '--min-time 0.02')
s = re.sub(r'        stop \{[^}]*\}\n', '', s).replace('budget { evaluations: 12 }', 'budget { evaluations: 4 }')
s = s.replace('    engineering_loop MatMul_Tuner {', '    llm {\n        mode: "code"\n    }\n\n    engineering_loop MatMul_Tuner {')
open(sys.argv[2], 'w').write(s)
PY
SPEC="$ROOT/examples/.llm-naive-$$.spak"
shorten "$SPEC"
"$SPAK" run --home "$T/h5" --llm manual "$SPEC" >"$T/n1.out" 2>&1
R5=$("$SPAK" status --home "$T/h5" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
P1="$T/h5/runs/$R5/llm/step-0001.prompt.md"
check "code mode measures the starting point before the first prompt" "grep -q '^\[  1/4\] rung=naive .* ok ' $T/n1.out && [ -f $P1 ]"
# what the run printed, when its starting point was not measured (CI shows only this output)
grep -q '^\[  1/4\] rung=naive .* ok ' "$T/n1.out" || sed -n '1,4s/^/#   n1.out: /p' "$T/n1.out"
check "the first prompt: the starting point's measurement and source" "grep -q 'The first point of the space measured in this run, rung=naive: done, gflops' $P1 && grep -q 'textbook' $P1"
check "the first prompt: the machine, its ISA flags and the judge's measured peaks" "grep -q '^CPU: .*cores online; ISA flags that matter:' $P1 && grep -q '^measured peak rates (the judge.s ceilings.*peak_gflops: ' $P1"
check "the first prompt: the ABI with the header it includes (info.h)" "grep -q 'info.h (included above)' $P1 && grep -q 'typedef struct spak_kernel_info' $P1"
check "per-shape results, the FLOP count and the tolerance" "grep -q '^- 96x96x96: gflops .* ratio .*reps' $P1 && grep -q '^- 64x128x32: gflops' $P1 && grep -q '2\*M\*N\*K' $P1 && grep -q 'tolerance 1e-05' $P1"
# the listed held-out shape and the judge's two drawn ones (heldout-draw): counted, none named
check "held-out shapes are counted, never named" "grep -q 'held-out shapes: 3 checked, 0 failed' $P1 && ! grep -q '33x17x9' $P1"
check "the analysis gives the interval, the spread, the baseline's own figure and % of peak" "grep -q '95% interval \[' $P1 && grep -q 'p20-p80 spread .*baseline openblas median' $P1 && grep -q '% of the compute peak' $P1"
check "no section is missing or empty without a why" "[ \$(grep -c '^## ' $P1) -eq 16 ] && ! grep -q 'Nothing to show' $P1 && grep -q '^None: the CPU judge reads no hardware' $P1"
fast='```c
#include "abi.h"
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * N;
        for (int j = 0; j < N; j++) c[j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float a = A[(long)i * K + k];
            const float *b = B + (long)k * N;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
    return 0;
}
```
{"prediction": {"metric": 5, "ratio": 0.5, "why": "unit stride on B"}}'
llm_reply "$T/h5" "$R5" "$T/h5/runs/$R5/llm/step-0001.reply.md" "$fast" "$T/n2.out"
P2="$T/h5/runs/$R5/llm/step-0002.prompt.md"
check "the predicted ratio is kept with the outcome, beside the best when it was predicted" "sql $T/h5/spak.db \"select result_json from evaluations where run_id=? and eval_id=2\" $R5 | grep -q '\"predicted_ratio\":0.5.*\"best_metric_before\":'"
check "the history gives each candidate's ratio with its interval" "grep -q '^- code:step-0001|rung=naive: gflops [0-9.]*, [0-9.]*x the baseline \[[0-9.]*-[0-9.]*\]' $P2"
check "the next prompt scores the prediction: error and direction" "grep -q '^- code:step-0001|rung=naive: predicted gflops 5, ratio 0.5; measured .*error .*direction against the best then .*: predicted .*, measured better: ' $P2 && grep -q '^score: 1 predictions, 1 measured' $P2"
slow='```c
#include "abi.h"
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    int unused_here;
    for (int rep = 0; rep < 8; rep++) /* 8x the work: slower than step 1 under any load */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float s = 0;
                for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
                C[(long)i * N + j] = s;
            }
    return 0;
}
```'
llm_reply "$T/h5" "$R5" "$T/h5/runs/$R5/llm/step-0002.reply.md" "$slow" "$T/n3.out"
P3="$T/h5/runs/$R5/llm/step-0003.prompt.md"
# which of the starting point and step 1 is the best is the noise-aware order's call (under
# load their intervals can overlap, and then the first stays best): either is right here
check "the diff of the last candidate against the best" "grep -Eq '^--- best \\((code:step-0001\\|)?rung=naive\\)' $P3 && grep -q '^+++ last (code:step-0002|rung=naive)' $P3 && grep -q '^+    int unused_here;' $P3"
check "the compiler's warning of the last candidate is shown" "grep -q \"warning: unused variable .unused_here.\" $P3"
rm -f "$SPEC"
# 5. attention: per-shape results causal and not, its FLOP count, the baseline named
python3 - "$ROOT/examples/attention-cpu.spak" "$ROOT/examples/.llm-attn-$$.spak" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r'shapes: \[[^]]*\]', 'shapes: ["1x2x64x32", "1x2x64x32c"]', s, count=1)
s = re.sub(r'heldout: \[[^]]*\]', 'heldout: ["1x1x33x16c"]', s)
s = re.sub(r'rung: \[[^]]*\]', 'rung: ["naive"]', s)
s = re.sub(r'    tuning_space \{.*?\n    \}\n', '', s, flags=re.S)
s = re.sub(r'        rule "[^"]*" \{.*?\n        \}\n', '', s, flags=re.S)
s = re.sub(r'        stop \{[^}]*\}\n', '', s).replace('--min-time 0.2', '--min-time 0.02')
s = s.replace('    engineering_loop', '    llm {\n        mode: "code"\n    }\n\n    engineering_loop', 1)
open(sys.argv[2], 'w').write(s)
PY
shorten "$ROOT/examples/.llm-attn-$$.spak"
on_quiet_machine "$T/a1.out" "$T/h6" "$SPAK" run --home "$T/h6" --llm manual --budget 2 "$ROOT/examples/.llm-attn-$$.spak"
rm -f "$ROOT/examples/.llm-attn-$$.spak"
P6=$(ls "$T"/h6/runs/*/llm/step-0001.prompt.md 2>/dev/null | head -1)
check "attention: per-shape rows causal and not, the FLOP count halved when causal" "grep -q '^- 1x2x64x32: gflops' $P6 && grep -q '^- 1x2x64x32c (causal): gflops' $P6 && grep -q '4\*B\*H\*S\*S\*D .*halved when causal' $P6"
grep -qs '^- 1x2x64x32: gflops' "$P6" || tail -15 "$T/a1.out" | sed 's/^/# the run said: /'
check "attention: the baseline built from source is named by the spec, not by its path" "grep -q '(baseline naive [0-9]' $P6 && ! grep -q 'baseline /' $P6"
# 6. an ablation (--context-without): the sections it removes say why, in the
# manual prompt, after a resume (the option is kept with the run) and over MCP
sed 's|    engineering_loop Toy_Tuner {|    knowledge {\n        hint "Centre x" {\n            suggestion: "try x near the middle of its range"\n        }\n    }\n\n    engineering_loop Toy_Tuner {|' "$T/toy.spak" >"$T/toy-know.spak"
"$SPAK" run --home "$T/h7" --llm manual --budget 3 --context-without measurements,knowledge "$T/toy-know.spak" >"$T/w1.out" 2>&1
R7=$("$SPAK" status --home "$T/h7" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
D7="$T/h7/runs/$R7/llm"
llm_reply "$T/h7" "$R7" "$D7/step-0001.reply.md" '{"params": {"x": 3, "y": 1}, "prediction": {"metric": 97}}' "$T/w2.out"
W2="$D7/step-0002.prompt.md"
OM="Omitted by this run's design (--context-without measurements)"
check "without measurements: analysis, per-shape results, counters and predictions say why they are empty" "[ \$(grep -c \"^$OM\.\$\" $W2) -eq 4 ]"
check "without measurements: the history line has no numbers, the resume kept the option" "grep -q \"^- x=3,y=1: done, correct ($OM)\" $W2 && ! grep -q 'score 99' $W2 && ! grep -q '97' $W2"
check "without measurements: the starting point keeps its name, not its measurement" "grep -q \"^The first point of the space measured in this run, x=3,y=1: done; its measurement: $OM\" $W2"
check "without knowledge: the rules and the lessons say why, the spec's hint is not shown" "grep -q \"^Omitted by this run's design (--context-without knowledge): the spec's rules\" $W2 && grep -q \"^Omitted by this run's design (--context-without knowledge): the store's lessons\" $W2 && ! grep -q 'Centre x' $W2"
"$SPAK" run --home "$T/h8" --llm manual --budget 3 "$T/toy-know.spak" >/dev/null 2>&1
check "the same spec without the option shows the hint" "grep -q 'Centre x' $T/h8/runs/*/llm/step-0001.prompt.md"
check "an unknown word is a usage error that names it" "\"$SPAK\" run --home $T/h9 --context-without speed $T/toy.spak >$T/w3.out 2>&1; [ \$? -eq 2 ] && grep -q \"takes measurements and/or knowledge, not 'speed'\" $T/w3.out"
"$SPAK" mcp-call --home "$T/h10" spak_start "{\"spec\": \"$T/toy-know.spak\", \"budget\": 2, \"context_without\": \"measurements\"}" >/dev/null 2>&1
R10=$("$SPAK" status --home "$T/h10" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
"$SPAK" mcp-call --home "$T/h10" spak_propose "{\"run\": \"$R10\", \"point\": \"x=3,y=1\"}" >/dev/null 2>&1
"$SPAK" mcp-call --home "$T/h10" --json spak_wait "{\"run\": \"$R10\", \"proposal\": 1, \"timeout_s\": 120}" >"$T/w4.json" 2>/dev/null
check "over MCP: spak_wait gives the outcome without its measurement" "python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))[\"evaluations\"][0]; assert e[\"correct\"] and \"metric\" not in e and \"ratio\" not in e and \"Omitted\" in e[\"measurement\"]' $T/w4.json"
"$SPAK" mcp-call --home "$T/h10" spak_context "{\"run\": \"$R10\"}" >"$T/w5.md" 2>&1
check "over MCP: spak_context says why the measurements are not there, and keeps the hint" "[ \$(grep -c \"^$OM\.\$\" $T/w5.md) -eq 4 ] && grep -q 'Centre x' $T/w5.md"
check "over MCP: spak_start refuses an unknown word with a JSON-RPC error" "\"$SPAK\" mcp-call --home $T/h10 spak_start '{\"spec\": \"$T/toy.spak\", \"context_without\": \"speed\"}' 2>&1 | grep -q \"context_without.*not 'speed'.*-32602\""
# 7. --jobs 2: one step asks for a choice for each free slot, and the reply's
# choices go out at once; fewer than asked are used as they are; a duplicate
# is dropped with a note in the journal; --jobs 1 asks for one, as before
sed -e 's|strategy: "grid"|strategy: "llm"|' -e 's|{{x}} {{y}}"|{{x}} {{y}} --sleep 1"|' \
    -e 's|    engineering_loop Toy_Tuner {|    llm {\n        backend: "openai"\n        model: "scripted"\n    }\n\n    engineering_loop Toy_Tuner {|' \
    "$T/toy.spak" >"$T/toy-jobs.spak"
# jobs_run NAME JOBS BUDGET REPLY...: a fresh scripted server answering
# REPLY... in turn, and a run against it in home $T/NAME (requests in $T/NAME.req)
jobs_run() {
    local name=$1 jobs=$2 budget=$3
    shift 3
    python3 -c 'import json,sys; json.dump(sys.argv[2:], open(sys.argv[1], "w"))' "$T/$name.json" "$@"
    python3 "$ROOT/tests/engine/llm_script_server.py" "$T/$name.json" "$T/$name.port" "$T/$name.req" 120 &
    for _ in $(seq 1 50); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
    "$SPAK" run --home "$T/$name" --json --jobs "$jobs" --budget "$budget" --endpoint "http://127.0.0.1:$(cat "$T/$name.port")/v1" \
        "$T/toy-jobs.spak" >"$T/$name.out" 2>"$T/$name.err"
}
# prompt NAME K: the user message of request K (from 1)
prompt() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2]) - 1])["body"]["messages"][-1]["content"])' "$T/$1.req" "$2" 2>/dev/null; }
jobs_run j1 2 2 '{"proposals": [{"params": {"x": 1, "y": 0}, "prediction": {"metric": 95}}, {"params": {"x": 2, "y": 0}, "prediction": {"metric": 96}}]}'
R=$(jlast 'd["run_id"]' <"$T/j1.out")
check "--jobs 2: one request asks for up to 2 choices and says why" "[ \$(wc -l <$T/j1.req) = 1 ] && prompt j1 1 | grep -q '\"proposals\": \[.*up to 2 different choices, one for each evaluation that can start now'"
check "--jobs 2: the reply's two choices are two evaluations of step-0001, each with its own prediction" \
    "[ \"\$(sql $T/j1/spak.db \"select group_concat(c.key || ':' || json_extract(e.result_json, '\$.llm.llm_step') || ':' || json_extract(e.result_json, '\$.llm.predicted_metric'), ' ') from evaluations e join candidates c using (run_id, cand_id) where e.status = 'done'\")\" = 'x=1,y=0:step-0001:95.0 x=2,y=0:step-0001:96.0' ]"
first_k=$(sql "$T/j1/spak.db" "select min(seq) from journal where to_state = 'knowledge'")
check "--jobs 2: both were in flight at once (their BUILD rows before the first KNOWLEDGE)" \
    "[ \"\$(sql $T/j1/spak.db \"select count(*) from journal where to_state = 'build' and seq < $first_k\")\" = 2 ]"
# the first step waits for its one choice's measurement (every later step
# starts from the starting point); then two slots are free: step 2 asks for
# two, gets one, and the slot left asks at once, naming the one in flight
jobs_run j2 2 3 '{"params": {"x": 1, "y": 0}}' '{"params": {"x": 2, "y": 0}}' '{"params": {"x": 3, "y": 0}}'
R=$(jlast 'd["run_id"]' <"$T/j2.out")
check "fewer choices than asked: the one given is evaluated, and the free slot asks again (3 requests, 3 done, none failed)" \
    "[ \$(wc -l <$T/j2.req) = 3 ] && [ \"\$(sql $T/j2/spak.db \"select group_concat(status) from evaluations\")\" = 'done,done,done' ] && [ \"\$(sql $T/j2/spak.db \"select group_concat(json_extract(value_json, '\$.choices.asked') || '/' || json_extract(value_json, '\$.choices.used')) from kv where scope = 'llm:$R' and key in ('step-0001', 'step-0002') order by key\")\" = '2/1,2/1' ]"
check "a step asked while another choice is measured asks for the free slot only and names the point in flight" \
    "prompt j2 3 | grep -q '^In flight now (being measured; do not choose them): x=2,y=0\$' && ! prompt j2 3 | grep -q proposals && prompt j2 2 | grep -q 'up to 2 different choices' && ! prompt j2 2 | grep -q 'In flight'"
jobs_run j3 2 2 '{"proposals": [{"params": {"x": 1, "y": 0}}, {"params": {"x": 1, "y": 0}}]}' '{"params": {"x": 2, "y": 0}}'
check "a duplicate choice is evaluated once" \
    "[ \"\$(sql $T/j3/spak.db \"select count(*) from evaluations e join candidates c using (run_id, cand_id) where c.key = 'x=1,y=0'\")\" = 1 ] && [ \"\$(sql $T/j3/spak.db \"select group_concat(status) from evaluations\")\" = 'done,done' ]"
check "a duplicate choice is noted in the journal (the BUILD row of the step's first choice)" \
    "sql $T/j3/spak.db \"select detail_json from journal where to_state = 'build'\" | python3 -c \"
import json,sys
d=[json.loads(l) for l in sys.stdin if 'choices' in l]
assert len(d)==1 and d[0]['choices']['used']==1 and 'duplicate' in d[0]['choices']['dropped'][0]['why'], d
\""
jobs_run j4 1 1 '{"params": {"x": 1, "y": 0}}'
check "--jobs 1: the prompt asks for one choice in today's format" \
    "prompt j4 1 | grep -q '^{\"params\": {...}, \"prediction\": {\"metric\": <expected score>' && ! prompt j4 1 | grep -q proposals"

echo "1..$n"
