#!/usr/bin/env bash
# parallel: yes (tests/run.sh: its kill -9 waits for the state it kills in, and nothing compares a time)
# tests/suites/cli.sh BUILD_DIR - the command line as a newcomer types it
# (TAP): options in every position for every command ('--' ends them,
# --name=VALUE), every unknown option a usage error (exit 2) with the
# command's usage, --help on every command; the home found from a subfolder,
# "no spak home here or above" (nothing created), run making .spak/ here and
# saying so, SPAK_HOME; a message naming a command that works as printed
# (the --home a suspended run needs); the exit codes (0 done, 1 failed, 2
# usage, 3 suspended, also with --quiet); a run killed with kill -9 shown as
# interrupted; JSON reals in their shortest form; the polish of #15 item 10;
# every source a space can produce resolved before a run starts (and from
# the front matter's base: folder); a spec folder the sandbox's uid cannot
# enter refused before any evaluation.
# The runs are of tests/engine/toy.spak (a Python stand-in measure command).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init cli "$@"
cp "$ROOT/tests/engine/measure.py" "$ROOT/tests/engine/toy.spak" "$T/"
S="$T/toy.spak"
H="$T/h"
cd "$T"
# a .spak/ above /tmp would be found by every walk up from here
above=
for d in /tmp /; do [ -d "$d/.spak" ] && above="$d/.spak"; done

# --- options anywhere, for every command
out=$("$SPAK" run "$S" --budget 3 --json --home "$H" 2>/dev/null)
rc=$?
R=$(echo "$out" | jlast 'd["run_id"]')
check "run SPEC --budget 3 --json --home H: options after the spec" "[ $rc -eq 0 ] && [ \"$(echo "$out" | jlast 'd["evaluations"]')\" = 3 ]"
out=$("$SPAK" run --json "$S" --budget=2 --home="$H" 2>/dev/null)
check "run --json SPEC --budget=2 --home=H: --name=VALUE" "[ \"$(echo "$out" | jlast 'd["evaluations"]')\" = 2 ]"
check "check FILE --json prints JSON" "\"$SPAK\" check \"$S\" --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[0][\"valid\"]'"
check "check --json FILE prints the same" "[ \"\$(\"$SPAK\" check \"$S\" --json)\" = \"\$(\"$SPAK\" check --json \"$S\")\" ]"
check "fmt FILE --check" "\"$SPAK\" fmt \"$S\" --check >/dev/null 2>&1; [ \$? -le 1 ]"
check "status RUN --json is JSON" "\"$SPAK\" status \"$R\" --json --home \"$H\" | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"run_id\"]'"
check "show RUN --json is JSON" "\"$SPAK\" show \"$R\" --home \"$H\" --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"evaluations\"]'"
check "learn RUN --dry-run --json writes nothing and prints JSON" "\"$SPAK\" learn \"$R\" --dry-run --json --home \"$H\" 2>/dev/null | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"written\"] is False'"
check "report RUN --json --out DIR" "\"$SPAK\" report \"$R\" --json --out \"$T/rep\" --home \"$H\" | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"html\"]' && [ -f \"$T/rep/report.html\" ]"
"$SPAK" build "$S" --json --home "$H" >/dev/null 2>"$T/b.err"
check "build SPEC --json --home H: options read (the toy has no source: exit 1, not a usage error)" "[ $? -eq 1 ] && grep -q 'names no source' $T/b.err"
"$SPAK" resume "$R" --json --home "$H" >"$T/res.out" 2>"$T/res.err"
check "resume RUN --json --home H: options read (the run is done: exit 1, not a usage error)" "[ $? -eq 1 ] && grep -q 'already done' $T/res.err"
check "explain --json, version --json" "\"$SPAK\" explain --json | python3 -c 'import json,sys; json.load(sys.stdin)' && \"$SPAK\" version --json | python3 -c 'import json,sys; json.load(sys.stdin)'"
check "dump FILE" "\"$SPAK\" dump \"$S\" | grep -q system"
"$SPAK" llm ask "hello" --backend manual --manual-dir "$T/man" --tag t1 --json >"$T/llm.out" 2>&1
check "llm ask PROMPT --backend manual ...: options after the prompt (not a usage error)" "[ $? -ne 2 ]"
"$SPAK" check -- -not-an-option.spak >/dev/null 2>"$T/dd.err"
check "'--' ends the options: check -- -x.spak reads a file named -x.spak" "[ $? -eq 1 ] && ! grep -q 'unknown option' $T/dd.err && grep -q 'not-an-option' $T/dd.err"

# --- every command: an unknown option is a usage error with its usage; --help
cmds=$("$SPAK" help | sed -n '/^commands:/,/^$/p' | awk '/^  [a-z]/ {print $1}')
ncmds=$(echo $cmds | wc -w)
check "spak help lists the commands" "[ $ncmds -ge 15 ]"
bad=
for c in $cmds; do
    case $c in llm) args=(ask P) ;; *) args=(X) ;; esac
    "$SPAK" "$c" "${args[@]}" --bogus-option >/dev/null 2>"$T/u.err"
    rc=$?
    { [ $rc -eq 2 ] && grep -q "unknown option '--bogus-option'" "$T/u.err" && grep -q "^usage: spak $c" "$T/u.err"; } || bad="$bad $c(rc=$rc)"
    "$SPAK" "$c" --help >"$T/h.out" 2>&1 || bad="$bad $c--help"
    grep -q "^usage: spak $c" "$T/h.out" || bad="$bad $c--help-text"
done
check "every command: an unknown option anywhere exits 2 with its usage; --help prints it${bad:+ (failed:$bad)}" "[ -z \"$bad\" ]"
"$SPAK" status "$R" --bogus --home "$H" >"$T/sb.out" 2>&1
check "status RUN --bogus: exit 2, nothing printed on stdout as if it had worked" "[ $? -eq 2 ] && ! grep -q \"^run $R\" $T/sb.out"
"$SPAK" fmt --write --check "$S" >/dev/null 2>"$T/fw.err"
check "fmt --write --check together: a usage error" "[ $? -eq 2 ] && grep -q 'exclude each other' $T/fw.err"
"$SPAK" status --home >/dev/null 2>"$T/mv.err"
check "an option missing its value says so" "[ $? -eq 2 ] && grep -q \"'--home' needs a value\" $T/mv.err"

# --- a spec in a folder the sandbox's uid cannot enter (a checkout under /root,
# mode 0700): said before any evaluation, with the folder and what to do
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$T/priv/w" && cp "$T/measure.py" "$T/toy.spak" "$T/priv/w/" && chmod 0700 "$T/priv"
    "$SPAK" run --budget 1 --home "$T/hp" "$T/priv/w/toy.spak" >"$T/priv.out" 2>"$T/priv.err"
    rc=$?
    check "run of a spec the sandbox's uid cannot reach: exit 1 before any evaluation, naming the folder and chmod o+x, no home made" "[ $rc -eq 1 ] && grep -q 'cannot enter $T/priv, on the way to the spec.s folder' $T/priv.err && grep -q 'chmod o+x $T/priv ' $T/priv.err && ! grep -q 'started run' $T/priv.err $T/priv.out && [ ! -e $T/hp ]"
    chmod 0755 "$T/priv"
    "$SPAK" run --budget 1 --home "$T/hp" "$T/priv/w/toy.spak" >/dev/null 2>&1
    check "the same spec once the folder lets others in: runs" "[ $? -eq 0 ]"
else
    skip "run of a spec the sandbox's uid cannot reach" "not root: the sandbox keeps our uid"
fi

# --- the home, as git finds its folder
mkdir -p "$T/proj/sub/deeper" "$T/none"
(cd "$T/proj" && "$SPAK" run --budget 2 "$S" >/dev/null 2>"$T/mk.err")
check "run where there is no home makes .spak here and says so" "[ -f $T/proj/.spak/spak.db ] && grep -q 'no spak home here or above: creating $T/proj/.spak' $T/mk.err"
RP=$(cd "$T/proj/sub/deeper" && "$SPAK" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
check "status from a subfolder finds the home above" "[ -n \"$RP\" ] && [ ! -e $T/proj/sub/deeper/.spak ]"
check "show RUN from a subfolder" "(cd $T/proj/sub && \"$SPAK\" show \"$RP\" | grep -q \"run $RP\")"
if [ -z "$above" ]; then
    for c in status "show $RP" "learn $RP" "report $RP" "resume $RP" "approve $RP"; do
        (cd "$T/none" && "$SPAK" $c >"$T/nh.out" 2>"$T/nh.err")
        rc=$?
        check "$c from a folder with no home: 'no spak home here or above', exit 1, nothing created" "[ $rc -eq 1 ] && grep -q 'no spak home here or above' $T/nh.err && [ -z \"\$(ls -A $T/none)\" ]"
    done
else
    skip "no home here or above" "$above exists"
fi
check "SPAK_HOME names the home from anywhere" "(cd $T/none && SPAK_HOME=$T/proj/.spak \"$SPAK\" status | grep -q \"$RP\") && [ -z \"\$(ls -A $T/none)\" ]"
"$SPAK" status --home "$T/nowhere" >/dev/null 2>"$T/nw.err"
check "status --home DIR that does not exist: said, exit 1, nothing created" "[ $? -eq 1 ] && grep -q 'no spak home at $T/nowhere' $T/nw.err && [ ! -e $T/nowhere ]"

mkdir -p "$T/bare"
"$SPAK" status --home "$T/bare" >/dev/null 2>"$T/bare.err"
check "status --home DIR without a store: said, exit 1, no store made" "[ $? -eq 1 ] && grep -q 'has no store' $T/bare.err && [ -z \"\$(ls -A $T/bare)\" ]"

# --- messages that name a command work as printed; exit codes
mkdir -p "$T/elsewhere"
cd "$T/elsewhere"
"$SPAK" run --approve knowledge --budget 2 --home "$T/hq" "$S" </dev/null >"$T/ap.out" 2>&1
rc=$?
check "a run waiting at an approval gate exits 3 (suspended)" "[ $rc -eq 3 ]"
cmd=$(grep -o "'spak approve [^']*'" "$T/ap.out" | head -1 | tr -d "'")
check "the suspend message names 'spak approve --home DIR RUN'" "echo \"$cmd\" | grep -q -- '--home $T/hq '"
PATH="$B:$PATH" eval "$cmd" </dev/null >"$T/ap2.out" 2>&1
check "the command as printed answers the gate and finishes the run (exit 0)" "[ $? -eq 0 ] && grep -q approved $T/ap2.out"
cd "$T"
"$SPAK" run --quiet --approve knowledge --budget 2 --home "$H" "$S" </dev/null >"$T/q.out" 2>"$T/q.err"
check "a suspended run with --quiet: exit 3 and one line saying so" "[ $? -eq 3 ] && grep -q 'suspended' $T/q.err"
out=$("$SPAK" run --json --approve knowledge --budget 2 --home "$H" "$S" </dev/null 2>/dev/null)
check "a suspended run's --json: status suspended and the pending gate" "[ \"$(echo "$out" | jlast 'd["status"], d["pending_approval"]["gate"]')\" = 'suspended knowledge' ]"
"$SPAK" run --quiet --budget 2 --home "$H" "$S" >"$T/q2.out" 2>"$T/q2.err"
check "a done run with --quiet: exit 0, nothing printed" "[ $? -eq 0 ] && [ ! -s $T/q2.err ] && [ ! -s $T/q2.out ]"
"$SPAK" run --budget 2 --home "$H" "$S" >"$T/q3.out" 2>&1
check "a done run says why it stopped" "[ $? -eq 0 ] && grep -q 'done (budget: evaluations)' $T/q3.out"
out=$("$SPAK" run --json --budget 2 --home "$H" "$S" 2>/dev/null)
check "--json carries the status and the stop reason" "[ \"$(echo "$out" | jlast 'd["status"], d["stop_reason"]')\" = 'done budget: evaluations' ]"
"$SPAK" run --home "$H" "$T/missing.spak" >/dev/null 2>&1
check "a run that cannot start exits 1 (failed)" "[ $? -eq 1 ]"
"$SPAK" status --home "$H" nosuchrun >/dev/null 2>&1
check "status of an unknown run exits 1" "[ $? -eq 1 ]"
"$SPAK" run >/dev/null 2>&1
check "run without a spec exits 2 (usage)" "[ $? -eq 2 ]"

# --- a run killed with kill -9 is interrupted, not running
sed -e 's|{{x}} {{y}}"|{{x}} {{y}} --sleep 0.5"|' "$S" >"$T/slow.spak"
"$SPAK" run --home "$T/hk" "$T/slow.spak" >"$T/k.out" 2>&1 &
pid=$!
for i in $(seq 1 100); do
    [ "$(grep -c '^\[' "$T/k.out" 2>/dev/null)" -ge 2 ] && break
    sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
RK=$("$SPAK" status --home "$T/hk" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
check "status RUN of a killed run says interrupted" "\"$SPAK\" status --home $T/hk $RK | grep -q \"run $RK: interrupted\""
check "status --json and the list say interrupted" "[ \"\$(\"$SPAK\" status --home $T/hk $RK --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" = interrupted ] && \"$SPAK\" status --home $T/hk | grep -q \"$RK *interrupted\""
check "its status names the resume that continues it" "\"$SPAK\" status --home $T/hk $RK | grep -q \"'spak resume --home $T/hk $RK' continues it\""
"$SPAK" resume --home "$T/hk" "$RK" --budget 4 >/dev/null 2>&1
check "resumed, it is done" "[ $? -eq 0 ] && \"$SPAK\" status --home $T/hk $RK | grep -q \"run $RK: done\""

# an agent run too (it holds its run as the engine does)
cat >"$T/sleepy.spak" <<'SPEC'
system Sleepy {
    agent_loop Waiter {
        step "Wait" {
            tool.run { cmd: "sleep 30" }
        }
    }
}
SPEC
"$SPAK" agent --home "$T/ha" "$T/sleepy.spak" >"$T/ag.out" 2>&1 &
pid=$!
for i in $(seq 1 100); do
    grep -q 'started agent run' "$T/ag.out" 2>/dev/null && break
    sleep 0.1
done
sleep 0.5
RA=$(sed -n 's/^spak: started agent run \(r[0-9]*-[0-9]*\)$/\1/p' "$T/ag.out")
check "a running agent run shows as running" "\"$SPAK\" status --home $T/ha ${RA:-none} | grep -q \"run $RA: running\""
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
check "a kill -9'd agent run shows as interrupted" "\"$SPAK\" status --home $T/ha ${RA:-none} | grep -q \"run $RA: interrupted\""

# --- polish
"$SPAK" show --home "$H" --json "$R" >"$T/show.json"
python3 - "$T/show.json" "$H/spak.db" "$R" >"$T/rt.txt" <<'PY'
import json, re, sqlite3, sys
text = open(sys.argv[1]).read()
# Python's repr of a float is its shortest round-trip form
reals = [t for t in re.findall(r'(?<=[:\[,\s])-?\d+\.\d+(?:[eE][-+]?\d+)?', text)]
print("shortest" if reals and all(repr(float(t)) == t for t in reals) else "long: %s" % [t for t in reals if repr(float(t)) != t][:3])
d = json.loads(text)
db = sqlite3.connect(sys.argv[2])
stored = dict(db.execute("select eval_id, metric from evaluations where run_id=?", (sys.argv[3],)).fetchall())
same = [e["metric"] == stored[e["eval_id"]] for e in d["evaluations"] if e["metric"] is not None]
print("ok" if same and all(same) else "differ")
PY
check "JSON reals in their shortest form (Python's repr of each)" "grep -qx shortest $T/rt.txt"
check "the shortest forms read back as the stored doubles" "grep -qx ok $T/rt.txt"
check "an evaluation's exit says its reason once ('exited with status 0')" "grep -q '\"exit\": \"exited with status 0\"' $T/show.json && ! grep -q 'exited: exited' $T/show.json"
"$SPAK" help >"$T/help.out"
check "spak help: no line over 80 columns, no listing cut mid-sentence (a line ending in ',')" "[ \$(awk 'length > 80' $T/help.out | wc -l) -eq 0 ] && ! grep -q ',\$' $T/help.out"
check "spak --help documents the exit codes" "grep -q '3 the run is suspended' $T/help.out && grep -q '2 usage error' $T/help.out"
"$SPAK" llm ask hello --endpoint http://127.0.0.1:9/v1 --model m --retries 0 --timeout 2 >/dev/null 2>"$T/tok.err"
check "llm ask that got no reply prints no 'tokens -1+-1'" "! grep -q -- '-1+-1' $T/tok.err && grep -q 'spak llm:' $T/tok.err"
# --- every source the space can produce resolved before a run starts (#15 item 3):
# a spec copied away from its kernels, and a space with one missing file among
# present ones, fail at once with file:line:col; nothing is built, no run made
mkdir -p "$T/away"
cp "$ROOT/examples/matmul-cpu.spak" "$T/away/mm.spak"
t0=$SECONDS
"$SPAK" run --home "$T/hsrc" "$T/away/mm.spak" >"$T/src1.out" 2>"$T/src1.err"
rc=$?
check "run of a spec copied away from its sources: exit 1 at once, file:line:col, the file and why" \
    "[ $rc -eq 1 ] && [ \$((SECONDS - t0)) -lt 10 ] && grep -qE '^spak run: .*away/mm.spak is not a valid spec' $T/src1.err && grep -qE 'away/mm.spak:[0-9]+:[0-9]+: error: problem source: cannot read .*away/\.\./kernels/cpu/matmul/[a-z_]+\.c \(No such file or directory\), needed by the point rung=' $T/src1.err"
check "... and no run was made (nothing to resume)" "[ ! -e $T/hsrc/spak.db ] || [ \"\$(sql $T/hsrc/spak.db 'select count(*) from runs')\" = 0 ]"
sed -e "s|source: \"../kernels/cpu/matmul/{{rung}}.c\"|source: \"$ROOT/kernels/cpu/matmul/{{rung}}.c\"|" \
    -e 's|rung: \["naive"|rung: ["naive", "reordr"|' "$ROOT/examples/matmul-cpu.spak" >"$T/away/typo.spak"
"$SPAK" run --home "$T/hsrc" "$T/away/typo.spak" >/dev/null 2>"$T/src2.err"
rc=$?
check "run of a space whose second rung names no file: exit 1 before the first evaluation, naming the point" \
    "[ $rc -eq 1 ] && grep -qE 'typo.spak:[0-9]+:[0-9]+: error: problem source: cannot read .*/kernels/cpu/matmul/reordr\.c .*needed by the point rung=reordr' $T/src2.err && { [ ! -e $T/hsrc/spak.db ] || [ \"\$(sql $T/hsrc/spak.db 'select count(*) from evaluations')\" = 0 ]; }"
# a v(n+1) written into a run's folder names its original's folder (base:):
# its sources are resolved there, by check as by the run
{ echo '---'; echo "base: \"$ROOT/examples\""; sed 1d "$ROOT/examples/matmul-cpu.spak"; } >"$T/away/based.spak"
check "a spec whose front matter's base: holds its sources passes check from another folder" "\"$SPAK\" check -q \"$T/away/based.spak\""
sed -i "s|^base: .*|base: \"$T\"|" "$T/away/based.spak"
"$SPAK" check "$T/away/based.spak" >/dev/null 2>"$T/src3.err"
check "... and a base: without them fails, saying the path starts at base:" "[ $? -eq 1 ] && grep -q \"cannot read $T/../kernels/cpu/matmul/.*starts at the front matter's base: folder\" $T/src3.err"
echo "1..$n"
