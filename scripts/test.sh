#!/usr/bin/env bash
# scripts/test.sh - the README's second command: install what is missing,
# build the release and the sanitizer builds, run every test suite.
# Ends with the line "N passed, N failed, N skipped"; before it, the wall
# time of each step (deps, build, and tests/run.sh's two phases).
set -eu
cd "$(dirname "$0")/.."
t=$SECONDS
scripts/deps.sh --test-packages
t_deps=$((SECONDS - t))
jobs=$(nproc 2>/dev/null || echo 2)
# the suites' Python packages (llm, mcp, Kernel Tuner venvs) beside the
# build: they mostly wait on the network; their output after it
venv_log=$(mktemp "${TMPDIR:-/tmp}/spak-test-venvs.XXXXXX")
scripts/deps.sh --test-venvs >"$venv_log" 2>&1 &
venvs=$!
# one make for both builds: its jobs are shared to the end of the longer one
t=$SECONDS
make -j"$jobs" all asan
t_build=$((SECONDS - t))
venv_rc=0
wait "$venvs" || venv_rc=$?
cat "$venv_log"
rm -f "$venv_log"
[ "$venv_rc" -eq 0 ] || echo "scripts/test.sh: a test venv did not install (exit $venv_rc); the suites that need it say so"
echo "scripts/test.sh: deps ${t_deps}s (and the venvs beside the build); build ${t_build}s"
exec tests/run.sh build build/asan
