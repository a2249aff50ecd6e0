#!/usr/bin/env bash
# scripts/test.sh - the README's second command: install what is missing,
# build the release and the sanitizer builds, run every test suite.
# Ends with the line "N passed, N failed, N skipped".
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh --test
jobs=$(nproc 2>/dev/null || echo 2)
# one make for both builds: its jobs are shared to the end of the longer one
make -j"$jobs" all asan
exec tests/run.sh build build/asan
