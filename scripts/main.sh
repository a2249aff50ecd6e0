#!/usr/bin/env bash
# scripts/main.sh - the README's first command: install what is missing,
# build spak, and run the loop on the CPU MatMul example (on the CPU: this
# machine needs no GPU). Extra arguments go to `spak run`, e.g. --json.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc 2>/dev/null || echo 2)" all >/dev/null
echo "== spak check examples/*.spak"
build/spak check examples/*.spak
echo "== spak run examples/matmul-cpu.spak"
exec build/spak run "$@" examples/matmul-cpu.spak
