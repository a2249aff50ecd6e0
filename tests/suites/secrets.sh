#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/secrets.sh BUILD_DIR - secrets and the terminal (TAP), through
# the real CLI:
#   1. an LLM server that echoes the API key inside successful replies
#      (tests/llm/bad_server.py, scenario echo: as is, percent-encoded,
#      JSON-escaped; in the text, the model and the raw body): after an llm
#      run, spak show/status/report and spak llm ask, no form of the key is
#      in any file under the home (spak.db's bytes included) or any output
#   2. an endpoint carrying a credential (user:password@, ?key=, ?api_key=,
#      ?token=, the key's value in the path) is refused with a clear message,
#      from --endpoint, the spec's llm block and spak llm ask, before anything
#      is stored, and the refusal does not echo it
#   3. records whose reason carries terminal escapes (OSC title, clear
#      screen, an 8-bit CSI, a bidi override): spak run (plain and on a
#      terminal) and spak show (text and --json) print them as visible
#      escapes, never the raw bytes
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init secrets "$@"
KEY='sk-echo/SECRET+0123456789abcdef'
export SPAK_TEST_KEY="$KEY"
# every form of the key spak_llm_redact knows, and a piece of it
leaks() {  # file... : true when one holds a form of the key
    grep -rqaF -e "$KEY" -e 'sk-echo%2FSECRET%2B' -e 'sk-echo%2fSECRET%2b' -e 'sk-echo\/SECRET' -e 'SECRET+0123' "$@"
}
cp "$ROOT/tests/engine/measure.py" "$ROOT/tests/engine/toy.spak" "$T/"

# 1. a server that echoes the key in successful replies
python3 "$ROOT/tests/llm/bad_server.py" --port-file "$T/port" --log-dir "$T/srvlog" --lifetime 300 &
srv=$!
mkdir -p "$T/srvlog"
for i in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
P=$(cat "$T/port" 2>/dev/null | tr -d '\n')
url="http://127.0.0.1:$P/echo/v1"
sed -e 's|strategy: "grid"|strategy: "llm"|' \
    -e 's|    engineering_loop Toy_Tuner {|    llm {\n        api_key_env: "SPAK_TEST_KEY"\n    }\n\n    engineering_loop Toy_Tuner {|' \
    "$T/toy.spak" >"$T/echo.spak"
"$SPAK" run --home "$T/h1" --budget 3 --llm openai --model m --endpoint "$url" "$T/echo.spak" >"$T/run1.out" 2>&1
R=$("$SPAK" status --home "$T/h1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
check "the key went out in the Authorization header (the server saw it)" "grep -qF 'Bearer $KEY' $T/srvlog/echo.jsonl"
check "the llm run evaluated the echoing server's choices" "[ \$(grep -c '^\[' $T/run1.out) -eq 3 ]"
steps=$(sql "$T/h1/spak.db" "select count(*) from kv where scope like 'llm:%' and value_json like '%Your key is [REDACTED]%'")
check "the stored steps hold the echoed reply, redacted ($steps steps)" "[ '$steps' -ge 3 ]"
"$SPAK" show --home "$T/h1" "$R" >"$T/show1.out" 2>&1
"$SPAK" show --home "$T/h1" --json "$R" >"$T/show1.json" 2>&1
"$SPAK" status --home "$T/h1" "$R" >"$T/status1.out" 2>&1
"$SPAK" report --home "$T/h1" --out "$T/h1/rep" "$R" >"$T/report1.out" 2>&1
"$SPAK" learn --home "$T/h1" --dry-run "$R" >"$T/learn1.out" 2>&1
check "no form of the key in any file of the home: spak.db's bytes, its journal, runs, reports" "[ -s $T/h1/spak.db ] && ! leaks $T/h1"
check "no form of the key in the output of run, show, status, report, learn" "! leaks $T/run1.out $T/show1.out $T/show1.json $T/status1.out $T/report1.out $T/learn1.out"
# Anthropic's format (x-api-key) through spak llm ask, plain and --json
"$SPAK" llm ask --backend anthropic --endpoint "http://127.0.0.1:$P/echo" --model m --api-key-env SPAK_TEST_KEY hi >"$T/ask.out" 2>"$T/ask.err"; rc=$?
"$SPAK" llm ask --endpoint "$url" --model m --api-key-env SPAK_TEST_KEY --json hi >"$T/ask.json" 2>&1
check "spak llm ask: the echoed key comes out [REDACTED] (anthropic text, openai --json), in no form" "[ $rc -eq 0 ] && grep -q 'Your key is \[REDACTED\] (in a URL: \[REDACTED\])' $T/ask.out && grep -q '\"model\": \"echo-\[REDACTED\]\"' $T/ask.json && ! leaks $T/ask.out $T/ask.err $T/ask.json"

# 2. credentials in the endpoint
refused() {  # name home expected-rule spak-args...
    local name=$1 home=$2 rule=$3
    shift 3
    "$SPAK" "$@" >"$T/ref.out" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] && grep -qF "$rule" "$T/ref.out" && grep -q 'llm endpoint refused: ' "$T/ref.out" &&
        ! leaks "$T/ref.out" && ! grep -q '127.0.0.1' "$T/ref.out" && ! { [ -e "$home" ] && leaks "$home"; }; then
        ok "$name: refused ($rule), the URL not echoed, nothing stored"
    else
        notok "$name: refused ($rule), the URL not echoed, nothing stored" "exit $rc" "$(head -c 600 "$T/ref.out")"
    fi
}
refused "--endpoint with user:password@" "$T/h2" "credentials before the host" run --home "$T/h2" --budget 1 --llm openai --model m --endpoint "http://user:$KEY@127.0.0.1:$P/echo/v1" "$T/echo.spak"
refused "--endpoint with ?key=" "$T/h2" "query string (parameter 'key')" run --home "$T/h2" --budget 1 --llm openai --model m --endpoint "http://127.0.0.1:$P/echo/v1?key=$KEY" "$T/echo.spak"
refused "--endpoint on a grid run (its options are stored too) with ?api_key=" "$T/h2" "query string (parameter 'api_key')" run --home "$T/h2" --budget 1 --endpoint "http://127.0.0.1:$P/v1?api_key=$KEY" "$T/toy.spak"
enc=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$KEY")
sed -e "s|api_key_env: \"SPAK_TEST_KEY\"|api_key_env: \"SPAK_TEST_KEY\"\n        endpoint: \"http://127.0.0.1:$P/$enc/v1\"|" "$T/echo.spak" >"$T/inpath.spak"
refused "the spec's llm block with the key's value in the path" "$T/h3" "the API key's value" run --home "$T/h3" --budget 1 --llm openai --model m "$T/inpath.spak"
sed -e "s|api_key_env: \"SPAK_TEST_KEY\"|api_key_env: \"SPAK_TEST_KEY\"\n        endpoint: \"http://127.0.0.1:$P/v1?token=$enc\"|" "$T/echo.spak" >"$T/tok.spak"
refused "the spec's llm block with ?token=" "$T/h3" "query string (parameter 'token')" run --home "$T/h3" --budget 1 --llm openai --model m "$T/tok.spak"
refused "spak llm ask with user:password@" "$T/none" "credentials before the host" llm ask --endpoint "http://u:$KEY@127.0.0.1:$P/echo/v1" --model m hi
check "no refused endpoint reached the server" "[ \$(grep -c . $T/srvlog/echo.jsonl) -eq 5 ]"

# 3. terminal escapes inside records
cat >"$T/esc.py" <<'PY'
import json, sys
y = int(float(sys.argv[2]))
def rec(d): print("__SPAK_TRACE__ " + json.dumps(d), flush=True)
if y == 0:
    rec({"type": "Correctness", "passed": False, "reason": "\u001b]0;pwned\u0007 then \u001b[2J cleared"})
elif y == 1:
    rec({"type": "Correctness", "passed": False, "reason": "8-bit \u009b31m red \u202e desrever"})
else:
    rec({"type": "Correctness", "passed": True, "reason": ""})
    rec({"type": "Performance", "score": 50.0 + y, "ratio": 1.0})
PY
sed -e 's|cmd: "python3 {{root}}/measure.py {{x}} {{y}}"|cmd: "python3 {{root}}/esc.py {{x}} {{y}}"|' "$T/toy.spak" >"$T/esc.spak"
"$SPAK" run --home "$T/h4" --budget 3 "$T/esc.spak" >"$T/run4.out" 2>&1
R=$("$SPAK" status --home "$T/h4" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
"$SPAK" show --home "$T/h4" "$R" >"$T/show4.out" 2>&1
"$SPAK" show --home "$T/h4" --json "$R" >"$T/show4.json" 2>&1
raw_ctl() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(0 if (b"\x1b" in d or b"\xc2\x9b" in d or b"\xe2\x80\xae" in d or b"\x07" in d) else 1)' "$1"; }
stored=$(sql "$T/h4/spak.db" "select count(*) from evaluations where instr(error, char(27) || ']0;pwned' || char(7)) > 0 or instr(error, char(155)) > 0")
check "the records did carry the escapes (stored as the command wrote them: $stored evaluations)" "[ '$stored' = 2 ]"
check "spak run: no ESC, BEL, C1 or bidi byte; the reason shown as \\\\x1b]0;pwned\\\\x07" "! raw_ctl $T/run4.out && grep -qF '\\x1b]0;pwned\\x07 then \\x1b[2J cleared' $T/run4.out && grep -qF '\\x9b31m red \\u202e' $T/run4.out"
check "spak show: no ESC, BEL, C1 or bidi byte; the reason visible" "! raw_ctl $T/show4.out && grep -qF '\\x1b]0;pwned\\x07' $T/show4.out"
check "spak show --json: no raw C1 or bidi, still valid JSON with the reason intact" "! raw_ctl $T/show4.json && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(\"\\u009b31m\" in (e.get(\"error\") or \"\") for e in d[\"evaluations\"]) else 1)' $T/show4.json"
# on a terminal the status line is spak's own ESC [K; the records' sequences must not pass
on_tty "$T/tty4.bin" "$SPAK" run --home "$T/h5" --budget 3 "$T/esc.spak"
check "spak run on a terminal: only its own redraw sequence; the records' OSC, clear-screen and C1 do not pass" "python3 -c 'import sys; d=open(sys.argv[1],\"rb\").read(); o=d.replace(b\"\\r\\x1b[K\", b\"\"); sys.exit(0 if b\"\\x1b[K\" in d and b\"\\x1b\" not in o and b\"\\xc2\\x9b\" not in o and b\"]0;pwned\" in o else 1)' $T/tty4.bin"
echo "1..$n"
