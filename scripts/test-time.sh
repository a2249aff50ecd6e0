#!/usr/bin/env bash
# scripts/test-time.sh [--purge] [COMMIT] - how long the README's test
# command takes from a fresh clone (issue 15): clones COMMIT (default HEAD)
# of this repository into a new temporary folder, runs scripts/test.sh there
# with an empty HOME (no pip cache, no LLM, MCP or Kernel Tuner venv), and
# prints the wall time, the deps/build/lanes/pool times and the summary line.
# The clone and its log stay in the folder named at the end.
#
# --purge (as root): first removes, as a fresh machine of this kind would lack
# them, the Debian packages that `scripts/deps.sh --test` installs and the
# machine image does not have (PURGE, default the list for the c-kernels image
# below), with what only they pulled in, and empties apt's package cache; the
# test command installs them again. Nothing else may run meanwhile: the test
# suites time things.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
purge=0 commit=HEAD
for a in "$@"; do
    case "$a" in
    --purge) purge=1 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "test-time.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
    *) commit=$a ;;
    esac
done
rev=$(git -C "$ROOT" rev-parse --verify "$commit^{commit}") || { echo "test-time.sh: '$commit' is no commit here" >&2; exit 2; }
# the packages deps.sh --test installs that the c-kernels image lacks
# (/work/.library/env/packages/installed-cpp.txt, checked 2026-12-07)
PURGE=${PURGE:-pkg-config libsqlite3-dev libjansson-dev libcurl4-openssl-dev libopenblas-dev libseccomp-dev libffi-dev python3-jsonschema chromium slurm-wlm munge uidmap}
D=$(mktemp -d "${TMPDIR:-/tmp}/spak-test-time.XXXXXX")
# mktemp makes it 0700: the sandbox's uids must reach the clone, as they reach
# any clone in a folder others may enter (the home inside stays 0700)
chmod 755 "$D"
if [ $purge = 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "test-time.sh: --purge needs root" >&2; exit 2; }
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --autoremove $PURGE >"$D/purge.log" 2>&1 ||
        { echo "test-time.sh: apt-get purge failed (see $D/purge.log)" >&2; exit 1; }
    apt-get clean
    echo "test-time.sh: purged $(grep -c '^Removing\|^Purging' "$D/purge.log" || true) package steps ($PURGE)"
fi
git clone -q "$ROOT" "$D/spak"
git -C "$D/spak" checkout -q "$rev"
mkdir -m 700 "$D/home"
echo "test-time.sh: $(git -C "$D/spak" log --oneline -1), started $(date -u +%H:%M:%S) UTC; log $D/test.log"
t0=$(date +%s)
rc=0
(cd "$D/spak" && HOME=$D/home scripts/test.sh) >"$D/test.log" 2>&1 || rc=$?
t=$(($(date +%s) - t0))
grep -E '^scripts/test.sh: deps|^one at a time|passed, [0-9]+ failed' "$D/test.log" | tail -3
printf 'test-time.sh: %d min %d s (exit %d), ended %s UTC, %s\n' $((t / 60)) $((t % 60)) "$rc" "$(date -u +%H:%M:%S)" \
    "$([ $purge = 1 ] && echo "the image's missing packages purged first" || echo "packages as found")"
echo "test-time.sh: the clone and the log: $D"
exit "$rc"
