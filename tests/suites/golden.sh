#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/golden.sh BUILD_DIR - golden cases of the spec language (TAP).
#
#   tests/golden/valid/*.spak    `spak check` exits 0 (stderr == X.expected when
#                                that file exists: the warnings); fmt is
#                                idempotent; `spak dump` of fmt's output equals
#                                the dump of the original; every comment of
#                                the input is still in fmt's output
#   tests/golden/invalid/*.spak  `spak check` exits 1 and its stderr equals
#                                X.expected byte for byte (paths as passed,
#                                relative to the repo root)
#   tests/golden/fmt/*.spak      `spak fmt` output equals X.expected, and the
#                                expected text is itself canonical
#   examples/*.spak, examples/declared/*.spak  check and round-trip like valid files
# plus the CLI contract: usage errors exit 2, fmt --write / --check, a file
# over the 4 MiB cap is refused cleanly.
#
# To regenerate an .expected after a deliberate change, run from the repo root
#   build/spak check tests/golden/invalid/X.spak 2> tests/golden/invalid/X.expected
# and READ the result before committing it.
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
SPAK=$B/spak
n=0 failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spak-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ok() {  # cond-status name [diagnostic lines on stdin are not read]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}

# Print the comment texts of a spec, one per line: the text from an unquoted
# // or # to the end of the line, trailing blanks dropped. Tracks '...' and
# "..." strings on a line and """ strings across lines.
comments_of() {
    awk '
    {
        line = $0; out = ""; i = 1; L = length(line)
        while (i <= L) {
            c = substr(line, i, 1)
            if (triple) {
                if (substr(line, i, 3) == "\"\"\"") { triple = 0; i += 3; continue }
                i++; continue
            }
            if (q != "") {
                if (c == "\\") { i += 2; continue }
                if (c == q) q = ""
                i++; continue
            }
            if (substr(line, i, 3) == "\"\"\"") { triple = 1; i += 3; continue }
            if (c == "\"" || c == "\047") { q = c; i++; continue }
            if (c == "#" || substr(line, i, 2) == "//") { out = substr(line, i); break }
            i++
        }
        q = ""
        sub(/[ \t\r]+$/, "", out)
        if (out != "") print out
    }' "$1"
}

# One test: file GOT equals EXPECTED byte for byte; on failure the first
# LINES lines of the diff as TAP comments.
same_as() {  # expected got name lines
    cmp -s "$1" "$2"
    local r=$?
    ok $r "$3"
    [ $r -eq 0 ] || diff "$1" "$2" | sed 's/^/#   /' | head -"$4"
}

# The round-trip checks shared by valid files and examples.
round_trip() {  # file name
    local f=$1 name=$2
    "$SPAK" fmt "$f" >"$tmp/f1.spak" 2>"$tmp/fmt.err"
    ok $? "$name: fmt succeeds"
    "$SPAK" fmt "$tmp/f1.spak" >"$tmp/f2.spak" 2>/dev/null
    cmp -s "$tmp/f1.spak" "$tmp/f2.spak"
    ok $? "$name: fmt is idempotent"
    "$SPAK" dump "$f" >"$tmp/d1" 2>/dev/null
    local r1=$?
    "$SPAK" dump "$tmp/f1.spak" >"$tmp/d2" 2>/dev/null
    local r2=$?
    [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -s "$tmp/d1" ] && cmp -s "$tmp/d1" "$tmp/d2"
    ok $? "$name: dump(fmt(x)) == dump(x)"
    local missing=0
    while IFS= read -r c; do
        if ! grep -qF -- "$c" "$tmp/f1.spak"; then
            echo "#   comment lost: $c"
            missing=1
        fi
    done < <(comments_of "$f")
    ok $missing "$name: fmt keeps every comment"
}

# Call FN FILE NAME EXPECTED for every spec of DIR; NAME is DIR's last part
# and the file's name (valid/x.spak), EXPECTED the .expected beside it.
each_spec() {  # dir fn
    local f
    for f in "$1"/*.spak; do
        [ -f "$f" ] || continue
        "$2" "$f" "$(basename "$1")/$(basename "$f")" "${f%.spak}.expected"
    done
}

# `spak check FILE` exits 0; its stderr (the warnings) left in $tmp/err.
check_passes() {  # file name
    "$SPAK" check "$1" >/dev/null 2>"$tmp/err"
    local rc=$?
    ok $rc "$2: check exits 0"
    [ $rc -eq 0 ] || sed 's/^/#   /' "$tmp/err" | head -20
}

# ---- valid specs ----
valid_case() {  # file name expected
    local f=$1 name=$2 exp=$3
    check_passes "$f" "$name"
    if [ -f "$exp" ]; then
        same_as "$exp" "$tmp/err" "$name: warnings equal $(basename "$exp")" 20
    elif [ -s "$tmp/err" ]; then
        ok 1 "$name: no diagnostics expected (add $(basename "$exp") if the warnings are intended)"
        sed 's/^/#   /' "$tmp/err" | head -20
    fi
    round_trip "$f" "$name"
}
each_spec tests/golden/valid valid_case

# ---- invalid specs ----
invalid_case() {  # file name expected
    local f=$1 name=$2 exp=$3
    "$SPAK" check "$f" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [ $rc -eq 1 ]
    ok $? "$name: check exits 1 (got $rc)"
    if [ -f "$exp" ]; then
        same_as "$exp" "$tmp/err" "$name: stderr equals $(basename "$exp")" 30
    else
        ok 1 "$name: $(basename "$exp") is missing"
    fi
}
each_spec tests/golden/invalid invalid_case

# ---- formatter cases ----
fmt_case() {  # file name expected
    local f=$1 name=$2 exp=$3
    "$SPAK" fmt "$f" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [ $rc -eq 0 ] && cmp -s "$exp" "$tmp/out"
    local r=$?
    ok $r "$name: fmt output equals $(basename "$exp")"
    [ $r -eq 0 ] || diff "$exp" "$tmp/out" | sed 's/^/#   /' | head -30
    cp "$exp" "$tmp/canon.spak"
    "$SPAK" fmt --check "$tmp/canon.spak" >/dev/null 2>&1
    ok $? "$name: $(basename "$exp") is canonical (fmt --check passes on it)"
    round_trip "$f" "$name"
}
each_spec tests/golden/fmt fmt_case

# ---- examples ----
example_case() {  # file name expected(unused)
    check_passes "$1" "$2"
    round_trip "$1" "$2"
}
each_spec examples example_case
each_spec examples/declared example_case

# ---- the CLI contract ----
usage() {  # name args...
    local name=$1
    shift
    "$SPAK" "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    [ $rc -eq 2 ] && [ -s "$tmp/err" ]
    ok $? "usage error exits 2 with a message: $name (got $rc)"
}
usage "spak (no command)"
usage "unknown command" frobnicate
usage "check without a file" check
usage "check with an unknown option" check --bogus tests/golden/valid/minimal.spak
usage "fmt without a file" fmt
usage "fmt printing two files" fmt tests/golden/valid/minimal.spak tests/golden/valid/full.spak
usage "fmt with an unknown option" fmt --bogus tests/golden/valid/minimal.spak
usage "dump without a file" dump

"$SPAK" check tests/golden/valid/minimal.spak tests/golden/invalid/dup_fact.spak >/dev/null 2>&1
[ $? -eq 1 ]
ok $? "check of a valid and an invalid file exits 1"

"$SPAK" check "$tmp/no-such-file.spak" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q "no-such-file.spak" "$tmp/err"
ok $? "check of a missing file exits 1 and names it"

"$SPAK" check --json tests/golden/valid/minimal.spak tests/golden/invalid/dup_fact.spak >"$tmp/json" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && grep -q '"valid": true' "$tmp/json" && grep -q '"valid": false' "$tmp/json" &&
    grep -q '"message": "duplicate fact' "$tmp/json"
ok $? "check --json reports each file's validity and diagnostics"

cp tests/golden/fmt/comments.spak "$tmp/rewrite.spak"
"$SPAK" fmt --check "$tmp/rewrite.spak" >/dev/null 2>&1
[ $? -eq 1 ]
ok $? "fmt --check exits 1 on a file that is not canonical"
"$SPAK" fmt --write "$tmp/rewrite.spak" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/out" ] && cmp -s "$tmp/rewrite.spak" tests/golden/fmt/comments.expected
ok $? "fmt --write rewrites the file in place into canonical form"
"$SPAK" fmt --check "$tmp/rewrite.spak" >/dev/null 2>&1
ok $? "fmt --check passes after fmt --write"

cp tests/golden/invalid/unclosed_brace.spak "$tmp/broken.spak"
"$SPAK" fmt --write "$tmp/broken.spak" >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] && cmp -s "$tmp/broken.spak" tests/golden/invalid/unclosed_brace.spak
ok $? "fmt --write leaves a file that does not parse untouched and exits 1"

# a file over the 4 MiB cap: refused with one clean message, no crash
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$tmp/big.spak"
for cmd in check fmt dump; do
    "$SPAK" $cmd "$tmp/big.spak" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "larger than the limit of 4194304 bytes" "$tmp/err"
    ok $? "$cmd refuses a 5 MiB file with one message and exit 1 (got $rc)"
done

# just under the cap: a big but well-formed file is accepted
{
    echo "system Big {"
    echo "    notes {"
    yes '        // a comment line that pads the file towards the size cap ......' | head -n 50000
    echo "    }"
    echo "}"
} >"$tmp/almost.spak"
"$SPAK" check --quiet "$tmp/almost.spak" >/dev/null 2>&1
ok $? "a 3.4 MB spec under the cap is accepted"

echo "1..$n"
[ "$failed" -eq 0 ]
