#!/usr/bin/env bash
# tests/mcp/install.sh - the official MCP Python SDK (PyPI `mcp`, pinned) in
# a virtual environment kept between runs in $SPAK_MCP_VENV (default
# ~/.cache/spak/mcp-venv), for tests/suites/mcp.sh. Prints the venv's
# python on stdout; any failure: a reason on stderr, exit status 1.
set -eu
PKG='mcp==1.30.0'
VENV=${SPAK_MCP_VENV:-$HOME/.cache/spak/mcp-venv}
installed() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(0 if m.version("mcp") == sys.argv[1] else 1)' \
            "${PKG#mcp==}" 2>/dev/null
}
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
if command -v flock >/dev/null; then flock 9; fi  # one installer at a time
if ! installed; then
    command -v python3 >/dev/null || { echo "install.sh: python3 is not installed (scripts/deps.sh --test)" >&2; exit 1; }
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2 || { echo "install.sh: python3 -m venv failed (python3-venv)" >&2; exit 1; }
    "$VENV/bin/pip" install -q "$PKG" >&2 || { echo "install.sh: pip install $PKG failed" >&2; exit 1; }
    installed || { echo "install.sh: $PKG did not install" >&2; exit 1; }
fi
echo "$VENV/bin/python"
