# tests/trust/checkd.sh - sourced by tests/suites/trust_cpu.sh and declared.sh
# (after SPAK_TRUST_BUILD is exported): check.py as one process for the whole
# suite (`check.py serve`) instead of a Python start a check (0.1 s each,
# about 170 a pass of trust_cpu). `$CHECK SUBCOMMAND ARGS...` prints what
# check.py prints and exits with its status, as `python3 check.py ...` did;
# an argument may not hold a newline or \x1f.
coproc CHECKD { exec python3 "$(dirname "${BASH_SOURCE[0]}")/check.py" serve; }
CHECK=check_py
check_py() {
    local IFS=$'\x1f' rc line
    printf '%s\n' "$*" >&"${CHECKD[1]}" || { echo "check.py's server is gone"; return 2; }
    IFS= read -r rc <&"${CHECKD[0]}" || { echo "check.py's server is gone"; return 2; }
    while IFS= read -r line <&"${CHECKD[0]}" && [ "$line" != $'\x1e' ]; do
        printf '%s\n' "$line"
    done
    return "$rc"
}
