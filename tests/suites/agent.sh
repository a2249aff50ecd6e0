#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/agent.sh BUILD_DIR - agent_loop executes (TAP): tool.write and
# tool.read inside the run's directory, llm.query with {{var}} templates and
# output_var (the manual backend suspends the run; spak resume continues
# after the last finished statement), tool.engineering_loop runs the tuner,
# if on a fact of its best records, emit, every statement journaled; paths
# out of the run's directory and commands that name LLM output are refused
# as recorded statements.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init agent "$@"
journal() { python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1] + '/spak.db'); [print(r[0], r[1], r[2]) for r in db.execute('select seq, to_state, detail_json from journal where run_id=? order by seq', (sys.argv[2],))]" "$1" "$2"; }
cp "$ROOT/tests/engine/measure.py" "$ROOT/tests/agent/agent.spak" "$T/"
H="$T/h"
"$SPAK" agent --home "$H" --llm manual "$T/agent.spak" >"$T/a1.out" 2>&1
rc=$?
# the run's id carries the date it was made: read it from what spak printed
R=$(sed -n 's/^spak: started agent run \(r[0-9]*-[0-9]*\)$/\1/p' "$T/a1.out")
[ -n "$R" ] || R=no-run-id-printed
D="$H/runs/$R/agent"
check "the agent run suspends at llm.query (exit 3: suspended) and says where" "[ $rc -eq 3 ] && grep -q 'suspended: an llm.query waits for its reply in $D/llm' $T/a1.out"
check "tool.write wrote inside the run's directory; tool.read read it" "[ \"\$(cat $D/notes.md)\" = 'x is best near 3' ] && journal $H $R | grep -q '\"statement\":\"tool.read\",\"bytes\":16'"
check "the prompt has the {{notes}} template expanded and the file input" "grep -q 'Given x is best near 3, propose x.' $D/llm/agent-0003.prompt.md && grep -q -- '--- notes.md ---' $D/llm/agent-0003.prompt.md"
llm_reply "$H" "$R" "$D/llm/agent-0003.reply.md" 'Try x = 3.' "$T/a2.out"
journal "$H" "$R" >"$T/j.txt"
check "resume continues after the last finished statement (nothing redone)" "[ \$(grep -c '\"statement\":\"tool.write\",\"bytes\":16' $T/j.txt) -eq 1 ] && grep -q '\"note\":\"resumed\",\"done\":2' $T/j.txt"
check "output_var holds the reply and feeds the next statement" "[ \"\$(cat $D/plan.txt)\" = 'Try x = 3.' ]"
R2=$(grep -o '"statement":"tool.engineering_loop","run":"r[0-9]*-[0-9]*"' "$T/j.txt" | sed 's/.*"run":"\(.*\)"/\1/')
check "tool.engineering_loop ran the tuner as a run of its own" "[ -n '$R2' ] && [ '$R2' != '$R' ] && grep -q 'run $R2 done' $T/a2.out"
check "if on a fact of the tuner's best records took the true branch, and emit recorded it" "grep -q '\"statement\":\"if\",\"taken\":true' $T/j.txt && grep -q '\"emit\":\"converged\"' $T/j.txt && ! grep -q 'not converged' $T/j.txt"
check "emit TraceItem.Performance records the newest record of that case" "grep -q '\"emit\":\"TraceItem.Performance\",\"record\":{\"type\":\"Performance\",\"score\":100.0' $T/j.txt"
check "a path out of the run's directory is refused, as a recorded statement" "grep -q \"leaves the run's directory\" $T/j.txt && [ ! -e $H/runs/$R/outside.txt ]"
check "a command naming LLM output is refused (never a command line)" "grep -q 'names a variable an LLM wrote: refused' $T/j.txt"
check "a failing command is a recorded statement and the agent finishes" "grep -q '\"exit\":\"exited with status 2\",\"ok\":false' $T/j.txt && tail -1 $T/j.txt | grep -q ' done '"
check "status shows the agent run done" "\"$SPAK\" status --home \"$H\" \"$R\" | grep -q ': done'"
# tool.run splits its command like the engine's measure cmd (template.h): an
# unterminated quote and more than 127 words are refused, as recorded statements
cat >"$T/split.spak" <<'SPEC'
system Split {
    agent_loop Splitter {
        step "Split" {
            tool.run { cmd: "echo 'open" }
            tool.run { cmd: "echo WORDS" }
            tool.run { cmd: "echo a'b c'd" }
        }
    }
}
SPEC
sed -i "s/WORDS/$(python3 -c "print(' '.join(['w'] * 130))")/" "$T/split.spak"
"$SPAK" agent --home "$T/hs" "$T/split.spak" >"$T/s1.out" 2>&1
RS=$(sed -n 's/^spak: started agent run \(r[0-9]*-[0-9]*\)$/\1/p' "$T/s1.out")
journal "$T/hs" "${RS:-none}" >"$T/js.txt"
check "tool.run: an unterminated quote is refused (the engine's splitter)" "grep -q 'tool.run cmd: unterminated quote' $T/js.txt"
check "tool.run: more than 127 words are refused, not cut" "grep -q 'tool.run cmd has more than 127 words' $T/js.txt"
check "tool.run: quotes group inside a word" "grep -q '\"exit\":\"exited with status 0\",\"ok\":true' $T/js.txt"
echo "1..$n"
