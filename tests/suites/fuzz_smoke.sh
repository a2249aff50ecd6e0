#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# builds: release (tests/run.sh: it makes its own sanitizer build with clang; on the release build only)
# tests/suites/fuzz_smoke.sh BUILD_DIR - a 20-second libFuzzer run of the spec
# fuzzer (fuzz/fuzz_spec.c) over the kept corpus, then a 6-second run of the
# diff applier's (fuzz/fuzz_diff.c) and of the T1 reader's (fuzz/fuzz_t1.c), under
# ASan + UBSan (TAP).
#
# The fuzzer build does not depend on BUILD_DIR (make fuzz compiles the
# sources itself with clang), so this runs once, for `build`, and skips for
# the other build dirs (tests/run.sh runs it on release builds only: "# builds: release").
# Skips when clang or its libFuzzer runtime is missing
# (scripts/deps.sh --test installs clang and libclang-rt-dev).
# Override the duration with SPAK_FUZZ_SMOKE_SECONDS.
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
secs=${SPAK_FUZZ_SMOKE_SECONDS:-20}

skip() {
    echo "ok 1 - fuzz smoke # SKIP $1"
    echo "1..1"
    exit 0
}

[ "$B" = build ] || skip "runs once, for the build dir 'build' (this is $B)"
command -v clang >/dev/null 2>&1 || skip "clang/libFuzzer missing"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spak-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$tmp/probe.c"
clang -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1 ||
    skip "clang/libFuzzer missing (clang cannot link -fsanitize=fuzzer)"

if ! make --no-print-directory fuzz >"$tmp/build.log" 2>&1; then
    echo "not ok 1 - fuzz smoke: make fuzz failed"
    sed 's/^/#   /' "$tmp/build.log" | tail -20
    echo "1..1"
    exit 1
fi

mkdir -p "$tmp/corpus" fuzz/findings
build/fuzz/fuzz_spec "$tmp/corpus" fuzz/corpus -dict=fuzz/spak.dict -max_len=65536 -timeout=5 \
    -rss_limit_mb=2048 -max_total_time="$secs" -artifact_prefix=fuzz/findings/ >"$tmp/fuzz.log" 2>&1
rc=$?
stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$tmp/fuzz.log" | tail -1)
if [ $rc -eq 0 ]; then
    echo "ok 1 - fuzz smoke: ${secs}s clean over fuzz/corpus"
    echo "# $stats"
else
    echo "not ok 1 - fuzz smoke: the fuzzer stopped with status $rc (the input is in fuzz/findings/)"
    grep -E 'ERROR|SUMMARY|fuzz_spec:|runtime error|Test unit written' "$tmp/fuzz.log" | head -20 | sed 's/^/#   /'
fi
# the strict diff applier of MCP proposals (fuzz/fuzz_diff.c): a third of the time, from nothing
dsecs=$(( secs / 3 > 0 ? secs / 3 : 1 ))
mkdir -p "$tmp/diff-corpus"
build/fuzz/fuzz_diff "$tmp/diff-corpus" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -max_total_time="$dsecs" \
    -artifact_prefix=fuzz/findings/ >"$tmp/fuzz-diff.log" 2>&1
drc=$?
if [ $drc -eq 0 ]; then
    echo "ok 2 - fuzz smoke: the diff applier, ${dsecs}s clean"
else
    echo "not ok 2 - fuzz smoke: fuzz_diff stopped with status $drc (the input is in fuzz/findings/)"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$tmp/fuzz-diff.log" | head -20 | sed 's/^/#   /'
fi
# the T1 reader and its Python expression subset (fuzz/fuzz_t1.c): a third of the time, from its seeds
mkdir -p "$tmp/t1-corpus"
build/fuzz/fuzz_t1 "$tmp/t1-corpus" fuzz/corpus_t1 -max_len=16384 -timeout=5 -rss_limit_mb=2048 -max_total_time="$dsecs" \
    -artifact_prefix=fuzz/findings/ >"$tmp/fuzz-t1.log" 2>&1
trc=$?
if [ $trc -eq 0 ]; then
    echo "ok 3 - fuzz smoke: the T1 reader, ${dsecs}s clean"
else
    echo "not ok 3 - fuzz smoke: fuzz_t1 stopped with status $trc (the input is in fuzz/findings/)"
    grep -E 'ERROR|SUMMARY|fuzz_t1:|runtime error|Test unit written' "$tmp/fuzz-t1.log" | head -20 | sed 's/^/#   /'
fi
echo "1..3"
[ $rc -eq 0 ] && [ $drc -eq 0 ] && [ $trc -eq 0 ]
