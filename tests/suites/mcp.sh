#!/usr/bin/env bash
# seconds: 45 (tests/run.sh: the lanes start the longest first; what its release pass took on the 2-core machine, 2026-12-07)
# tests/suites/mcp.sh BUILD_DIR - `spak mcp` driven by the official MCP
# Python SDK's client (PyPI `mcp`, pinned; installed by tests/mcp/install.sh
# into ~/.cache/spak/mcp-venv, kept between runs), TAP on stdout: the
# lifecycle and version negotiation, the tools and their schemas, a full
# start/context/propose/wait cycle on a tiny CPU matmul (a point, a whole
# source, a diff, tunables swept), progress, cancellation, an approval gate
# no tool can answer, bad arguments, the server killed mid-evaluation and the
# run attached again (tests/mcp/test_mcp.py); then `spak mcp-call` from the
# shell. An SDK that cannot be installed is a failure ("not ok" with the
# reason), never a skip.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init mcp "${1:-build}"

if ! PY=$("$ROOT/tests/mcp/install.sh" 2>"$T/install.err"); then
    notok "the MCP Python SDK could not be installed" "$(tail -3 "$T/install.err")"
    echo "1..$n"
    exit 1
fi
ok "the MCP Python SDK ($("$PY" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'))"

# the CPU matmul example's shape, tiny: 96^3, a short timing (0.5 s at most a
# shape: no check here reads a ratio's precision), no stop rule
sed -e "s|\"../kernels|\"$ROOT/kernels|" -e 's|shapes: \["1024x1024x1024"\]|shapes: ["96x96x96"]|' \
    -e 's|heldout: \[[^]]*\]|heldout: ["33x17x9"]|' -e 's|--min-time 0.2|--min-time 0.02 --max-time 0.5|' \
    -e 's|stop { [^}]* }||' "$ROOT/examples/matmul-cpu.spak" >"$T/mm.spak"
shorten "$T/mm.spak"

"$PY" "$ROOT/tests/mcp/test_mcp.py" "$SPAK" "$T/mm.spak" "$T" >"$T/sdk.tap" 2>"$T/sdk.err"
rc=$?
# the SDK test's own TAP lines, renumbered into this suite's
while IFS= read -r line; do
    case "$line" in
        "ok "*) ok "${line#ok * - }" ;;
        "not ok "*) notok "${line#not ok * - }" ;;
        "#"*) echo "$line" ;;
    esac
done <"$T/sdk.tap"
check "the SDK test ended with every check passed (exit $rc)" "[ $rc -eq 0 ]"
[ -s "$T/sdk.err" ] && sed 's/^/# stderr: /' "$T/sdk.err" | tail -20

# ---- spak mcp-call: the same tools from a shell
H2="$T/h2"
"$SPAK" mcp-call --home "$H2" --list >"$T/list.out" 2>&1
check "mcp-call --list names the tools" "grep -q '^spak_propose ' '$T/list.out' && grep -q '^spak_wait ' '$T/list.out'"
"$SPAK" mcp-call --home "$H2" --json spak_start "{\"spec\": \"$T/mm.spak\", \"budget\": 3}" >"$T/start.json" 2>&1
R=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$T/start.json" 2>/dev/null)
check "mcp-call spak_start --json: a run id" "[ -n '$R' ]"
"$SPAK" mcp-call --home "$H2" spak_propose "{\"run\": \"$R\", \"point\": \"rung=reorder\"}" >"$T/p.out" 2>&1
check "mcp-call spak_propose: queued (the server it started is gone; its resume goes on)" "grep -q 'proposal 1 queued' '$T/p.out'"
"$SPAK" mcp-call -q --home "$H2" --json spak_wait "{\"run\": \"$R\", \"proposal\": 1, \"timeout_s\": 200}" >"$T/w.json" 2>&1
check "mcp-call spak_wait: the proposal's record, from a later server" \
    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"done\"] and d[\"evaluations\"][0][\"correct\"] else 1)' '$T/w.json'"
"$SPAK" mcp-call --home "$H2" spak_propose "{\"run\": \"$R\", \"values\": {\"rung\": \"blocked\", \"tile_k\": 128, \"threads\": 1}}" >/dev/null 2>&1
"$SPAK" mcp-call --home "$H2" spak_propose "{\"run\": \"$R\", \"values\": {\"rung\": \"naive\", \"nope\": 1}}" >/dev/null 2>&1
"$SPAK" mcp-call -q --home "$H2" --json spak_wait "{\"run\": \"$R\", \"proposal\": 2, \"timeout_s\": 200}" >"$T/w2.json" 2>&1
check "values given as an object (any order) are the point in the space's order" \
    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d[\"evaluations\"][0]; sys.exit(0 if d[\"done\"] and e[\"candidate\"] == \"rung=blocked,threads=1,tile_k=128\" and e[\"correct\"] else 1)' '$T/w2.json'"
"$SPAK" mcp-call -q --home "$H2" --json spak_wait "{\"run\": \"$R\", \"proposal\": 3, \"timeout_s\": 200}" >"$T/w3.json" 2>&1
check "values naming no parameter of the space: a recorded failed step that says so" \
    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d[\"evaluations\"][0]; sys.exit(0 if d[\"done\"] and e[\"status\"] == \"failed\" and \"nope\" in e[\"error\"] else 1)' '$T/w3.json'"
"$SPAK" mcp-call --home "$H2" spak_propose '{"run": "'"$R"'"}' >"$T/bad.out" 2>&1
check "mcp-call: a JSON-RPC error is said, exit status 1" "[ $? -eq 1 ] && grep -q 'JSON-RPC error -32602' '$T/bad.out'"
"$SPAK" mcp-call --home "$H2" spak_status '{not json' >"$T/bad2.out" 2>&1
check "mcp-call: arguments that are not JSON are a usage error (exit 2)" "[ $? -eq 2 ]"
"$SPAK" status --home "$H2" --json "$R" >"$T/st.json"
check "the run is an ordinary run: spak status sees its evaluations" "grep -q '\"done\": 2' '$T/st.json' && grep -q '\"failed\": 1' '$T/st.json'"
# the budget (one evaluation) spent: the run is done and takes no more
R1=$("$SPAK" mcp-call --home "$H2" --json spak_start "{\"spec\": \"$T/mm.spak\", \"budget\": 1}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
"$SPAK" mcp-call --home "$H2" spak_propose "{\"run\": \"$R1\", \"point\": \"rung=naive\"}" >/dev/null 2>&1
"$SPAK" mcp-call -q --home "$H2" spak_wait "{\"run\": \"$R1\", \"proposal\": 1, \"timeout_s\": 200}" >/dev/null 2>&1
"$SPAK" mcp-call --home "$H2" spak_propose "{\"run\": \"$R1\", \"point\": \"rung=reorder\"}" >"$T/ended.out" 2>&1
check "a proposal to a run whose budget is spent is refused: the run takes no more proposals (exit 1)" \
    "[ \$? -eq 1 ] && grep -q 'takes no more proposals' '$T/ended.out'"
echo "1..$n"
