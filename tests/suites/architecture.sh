#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/architecture.sh [BUILD_DIR] - the shape of the tree (TAP), the
# targets of #12 that a tool can check (BUILD_DIR is not used: the checks read
# the sources):
#   - no include cycle between modules under src/ and tool/ (tests/arch/cycles.py:
#     a module is a .c/.h pair with the same path stem, at any depth; a failure
#     prints the cycle and the #include lines that make it)
#   - src/engine.c under 900 lines (the state machine only)
#   - no function in src/ or tool/ over 150 lines (tests/arch/funclen.py: from
#     the line that starts the definition to its closing brace; a failure prints
#     "LINES FILE:LINE NAME" per offender)
#   - the tests' short window (tests/tap.sh's shorten and short_args): only
#     with SPAK_TEST_WINDOW=short, only on the CPU judge's commands
# Each check is first run on small synthetic trees in a temporary folder, a
# good one that must pass and bad ones that must fail, so that a check that
# cannot fail (or fails on everything) is caught before it judges the tree.
# Needs only bash and python3; runs in about a second.
set -u
cd "$(dirname "$0")/../.."
. tests/tap.sh
R=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spak-arch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
# tap.sh's notok, counted, so that the exit status says whether any check failed
eval "tap_$(declare -f notok)"
notok() { failed=$((failed + 1)); tap_notok "$@"; }
# expect NAME STATUS OUTPUT-FILE: STATUS 0 is ok; otherwise the output is shown
expect() {
    if [ "$2" -eq 0 ]; then ok "$1"; else notok "$1"; sed 's/^/#   /' "$3" | head -40; fi
}

# ---- the checks, each on a tree ROOT; output in $tmp/out ----
cycles() { python3 "$R/tests/arch/cycles.py" "$1" src tool >"$tmp/out" 2>&1; }
engine_lines() {
    local n
    if [ ! -f "$1/src/engine.c" ]; then
        echo "$1/src/engine.c is missing (the state machine is to live there)" >"$tmp/out"
        return 1
    fi
    n=$(wc -l <"$1/src/engine.c")
    [ "$n" -lt 900 ] && return 0
    echo "$1/src/engine.c has $n lines (the target is under 900)" >"$tmp/out"
    return 1
}
funclen() {  # paths printed relative to ROOT
    local d=()
    [ -d "$1/src" ] && d+=(src)
    [ -d "$1/tool" ] && d+=(tool)
    (cd "$1" && python3 "$R/tests/arch/funclen.py" --min "${MIN:-150}" "${d[@]}") >"$tmp/out" 2>&1
}
# must_fail NAME CHECK ROOT GREP: the check fails and its output matches GREP
must_fail() {
    if "$2" "$3"; then
        notok "$1: the check fails (it passed)"
    elif ! grep -qE -- "$4" "$tmp/out"; then
        notok "$1: the check fails and says /$4/" "$(head -5 "$tmp/out")"
    else
        ok "$1"
    fi
}
must_pass() {
    if "$2" "$3"; then ok "$1"; else notok "$1: the check passes" "$(head -5 "$tmp/out")"; fi
}

# ---- synthetic trees ----
mk() {  # mk ROOT PATH LINE... : write a file of the given lines
    local root=$1 path=$2
    shift 2
    mkdir -p "$(dirname "$root/$path")"
    printf '%s\n' "$@" >"$root/$path"
}
# a good tree: modules at several depths, an include resolved against the
# file's folder, one against src/, one against include/, a .c without its own
# header, a header without a .c
G=$tmp/good
mk "$G" include/api.h '#include <stdio.h>'
mk "$G" src/util.h '#include "api.h"'
mk "$G" src/util.c '#include "util.h"'
mk "$G" src/a/b/deep.h '#include "util.h"' '#include "near.h"' 'int deep(void);'
mk "$G" src/a/b/deep.c '#include "a/b/deep.h"' 'int deep(void) { return 0; }'
mk "$G" src/a/b/near.h '/* #include "a/b/deep.h" in a comment is no include */'
mk "$G" src/a/b/backend.c '#include "a/b/deep.h"' 'int other(void) { return deep(); }'
mk "$G" tool/cli.h '#include "a/b/deep.h"'
mk "$G" tool/main.c '#include "cli.h"' 'int main(void) { return 0; }'
must_pass "cycles: a tree without a cycle passes" cycles "$G"

B1=$tmp/bad1  # a cycle of three modules, deep folders, through a header and a .c
cp -r "$G" "$B1"
mk "$B1" src/x/y/one.h '#include "x/two.h"'
mk "$B1" src/x/y/one.c '#include "x/y/one.h"'
mk "$B1" src/x/two.h '#include "three.h"'
mk "$B1" src/x/three.h 'int three(void);'
mk "$B1" src/x/three.c '#include "three.h"' '#include "x/y/one.h"'
must_fail "cycles: one -> two -> three -> one fails and prints the cycle" cycles "$B1" \
    'cycle: src/x/three -> src/x/y/one -> src/x/two -> src/x/three'
if grep -q 'src/x/three.c:2 includes "x/y/one.h"' "$tmp/out"; then
    ok "cycles: the failure names the #include lines"
else notok "cycles: the failure names the #include lines" "$(head -5 "$tmp/out")"; fi

B2=$tmp/bad2  # a .c without its own header implements spec.h and closes a cycle
cp -r "$G" "$B2"
mk "$B2" src/spec/spec.h 'int spec_load(void);'
mk "$B2" src/spec/check.c '#include "spec/spec.h"' '#include "know.h"' \
    'static int helper(void) { return 1; }' 'int spec_load(void)' '{' '    return helper();' '}'
mk "$B2" src/know.h '#include "spec/expr.h"'
mk "$B2" src/know.c '#include "know.h"'
mk "$B2" src/spec/expr.h '#include "spec.h"'
must_fail "cycles: a .c that implements another header joins its module (check.c -> spec)" cycles "$B2" \
    'cycle: src/know -> src/spec/expr -> src/spec/spec -> src/know'

B3=$tmp/bad3  # two modules in tool/ and src/ including each other
cp -r "$G" "$B3"
mk "$B3" src/engine.h '#include "../tool/cli.h"'
mk "$B3" src/engine.c '#include "engine.h"'
mk "$B3" tool/cli.h '#include "engine.h"'
must_fail "cycles: a cycle between src/ and tool/ fails" cycles "$B3" 'cycle: src/engine -> tool/cli -> src/engine'

E=$tmp/eng
mkdir -p "$E/src"
yes 'x;' | head -n 899 >"$E/src/engine.c"
must_pass "engine.c: 899 lines pass" engine_lines "$E"
echo 'x;' >>"$E/src/engine.c"
must_fail "engine.c: 900 lines fail" engine_lines "$E" 'has 900 lines'

# functions: body lines of N statements
body() { local i; for ((i = 0; i < $1; i++)); do echo "    x += $i;"; done; }
F=$tmp/fun
mkdir -p "$F/src/deep/er" "$F/tool"
{
    echo '#include <stdio.h>'
    echo 'static const char *const names[] = {'      # an initializer is no function
    yes '    "a {", "b", /* } */' | head -n 300
    echo '};'
    echo 'int proto(int a);'                          # a prototype is no function
    echo 'static const char *'                        # 150 lines: signature over 3 lines
    echo 'fits(int a,'
    echo '     int b)'
    echo '{'
    echo '    int x = a + b; /* { not a brace */'
    echo '    const char *s = "}}}";'
    echo "    char c = '}';"
    body 141
    echo '    return s + x + c;'
    echo '}'
} >"$F/src/deep/er/ok.c"
must_pass "funclen: a 150-line function (multi-line signature, braces in strings and comments) passes" funclen "$F"
MIN=149 funclen "$F"
check "funclen: ... and it counts 150 lines from 'static const char *'" \
    "grep -qx '150 src/deep/er/ok.c:305 fits' \"\$tmp/out\""

{
    echo 'int proto(int a);'
    echo ''
    echo 'static int'
    echo 'too_long(int a, int b,'
    echo '         int c) {'                           # K&R brace on the signature line
    body 146
    echo '    return a;'
    echo '}'                                          # 151 lines from "static int"
} >"$F/tool/long.c"
must_fail "funclen: a 151-line function (brace on the signature line) fails, named with its first line" \
    funclen "$F" "^151 tool/long.c:3 too_long$"

F2=$tmp/fun2
mkdir -p "$F2/src"
{
    echo 'int old_style(a, b)'                         # an old-style definition
    echo '    int a;'
    echo '    int b;'
    echo '{'
    body 200
    echo '}'
    echo 'void noret(void) NORETURN'                  # an attribute macro after the signature
    echo '{'
    body 160
    echo '}'
    echo '#define BIG(x) { \'                         # a macro body is no function
    yes '    x; \' | head -n 200
    echo '}'
} >"$F2/src/kr.c"
must_fail "funclen: an old-style (K&R) definition counts from its first line" funclen "$F2" \
    "^205 src/kr.c:1 old_style$"
check "funclen: an attribute macro after the signature is still a function" \
    "grep -qx '163 src/kr.c:206 noret' \"\$tmp/out\""
check "funclen: a long macro body is not a function" '[ "$(wc -l <"$tmp/out")" -eq 2 ]'

# ---- the tree ----
if cycles .; then ok "no include cycle between modules of src/ and tool/"; else
    notok "no include cycle between modules of src/ and tool/"; sed 's/^/#   /' "$tmp/out"; fi
if engine_lines .; then ok "src/engine.c is under 900 lines ($(wc -l <src/engine.c))"; else
    notok "src/engine.c is under 900 lines"; sed 's/^/#   /' "$tmp/out"; fi
if funclen .; then ok "no function in src/ or tool/ over 150 lines"; else
    notok "no function in src/ or tool/ over 150 lines ($(wc -l <"$tmp/out") do)"; sed 's/^/#   /' "$tmp/out"; fi

# ---- the tests' short window (tests/tap.sh): a sanitizer build's CPU judge ----
# commands get it, nothing else does, and nothing without SPAK_TEST_WINDOW=short
printf '%s\n' 'measure { cmd: "{{harness}} --family matmul --candidate {{candidate}} --min-time 0.2 --ceilings-cache {{ceilings}}" }' \
    'measure { cmd: "python3 measure.py {{x}}" }' >"$tmp/w.spak"
cp "$tmp/w.spak" "$tmp/w0.spak" && cp "$tmp/w.spak" "$tmp/w1.spak"
(unset SPAK_TEST_WINDOW; shorten "$tmp/w0.spak")
SPAK_TEST_WINDOW=short shorten "$tmp/w1.spak"
check "shorten: without SPAK_TEST_WINDOW=short a spec is left as it is" 'cmp -s "$tmp/w.spak" "$tmp/w0.spak"'
check "shorten: with it, the CPU judge's command ends with the short window, another command is left alone" \
    "grep -q -- '--ceilings-cache {{ceilings}} $SPAK_SHORT_WINDOW\"' \"\$tmp/w1.spak\" && grep -qx 'measure { cmd: \"python3 measure.py {{x}}\" }' \"\$tmp/w1.spak\""
check "short_args: the window only with SPAK_TEST_WINDOW=short" \
    '[ "$(SPAK_TEST_WINDOW=short short_args)" = "$SPAK_SHORT_WINDOW" ] && [ -z "$(SPAK_TEST_WINDOW= short_args)" ]'

echo "1..$n"
[ "$failed" -eq 0 ]
