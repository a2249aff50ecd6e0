#!/usr/bin/env bash
# scripts/test.sh - the README's second command: install what is missing,
# build the release and the sanitizer builds, run every test suite.
# Ends with the line "N passed, N failed, N skipped"; before it, the wall
# time of each step (deps, build, and tests/run.sh's two phases).
set -eu
cd "$(dirname "$0")/.."
t=$SECONDS
scripts/deps.sh --test
t_deps=$((SECONDS - t))
jobs=$(nproc 2>/dev/null || echo 2)
# one make for both builds: its jobs are shared to the end of the longer one
t=$SECONDS
make -j"$jobs" all asan
echo "scripts/test.sh: deps ${t_deps}s; build $((SECONDS - t))s"
exec tests/run.sh build build/asan
