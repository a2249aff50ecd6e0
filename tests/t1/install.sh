#!/usr/bin/env bash
# tests/t1/install.sh - Kernel Tuner (PyPI `kernel_tuner`, pinned) for
# tests/suites/t1.sh, fetched at test time and kept between runs, never
# copied into the repository:
#   - a virtual environment with kernel_tuner installed, in $SPAK_T1_VENV
#     (default ~/.cache/spak/t1-venv): its own functions compute the grids
#     spak's must equal, and its T4 schema validates spak's export;
#   - its source distribution unpacked in $SPAK_T1_SDIST (default
#     ~/.cache/spak/t1-sdist): test/test_T1_input.json, test/convolution.cu,
#     test/vector_add.cu and the T1/T4 schemas ship there.
# Prints two lines on stdout: the venv's python, the unpacked sdist's
# folder. Any failure: a reason on stderr, exit status 1.
set -eu
VER=1.5.0
VENV=${SPAK_T1_VENV:-$HOME/.cache/spak/t1-venv}
SDIST=${SPAK_T1_SDIST:-$HOME/.cache/spak/t1-sdist}
installed() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(0 if m.version("kernel_tuner") == sys.argv[1] else 1)' \
            "$VER" 2>/dev/null
}
mkdir -p "$(dirname "$VENV")" "$(dirname "$SDIST")"
exec 9>"$VENV.lock"
if command -v flock >/dev/null; then flock 9; fi  # one installer at a time
if ! installed; then
    command -v python3 >/dev/null || { echo "install.sh: python3 is not installed (scripts/deps.sh --test)" >&2; exit 1; }
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2 || { echo "install.sh: python3 -m venv failed (python3-venv)" >&2; exit 1; }
    "$VENV/bin/pip" install -q "kernel_tuner==$VER" jsonschema >&2 || { echo "install.sh: pip install kernel_tuner==$VER failed" >&2; exit 1; }
    installed || { echo "install.sh: kernel_tuner $VER did not install" >&2; exit 1; }
fi
if [ ! -f "$SDIST/kernel_tuner-$VER/test/test_T1_input.json" ]; then
    rm -rf "$SDIST.tmp" && mkdir -p "$SDIST.tmp"
    "$VENV/bin/pip" download -q --no-binary :all: --no-deps -d "$SDIST.tmp" "kernel_tuner==$VER" >&2 ||
        { echo "install.sh: pip download of the kernel_tuner $VER sdist failed" >&2; exit 1; }
    tar -xzf "$SDIST.tmp/kernel_tuner-$VER.tar.gz" -C "$SDIST.tmp" >&2 || { echo "install.sh: cannot unpack the sdist" >&2; exit 1; }
    rm -rf "$SDIST" && mkdir -p "$SDIST" && mv "$SDIST.tmp/kernel_tuner-$VER" "$SDIST/" && rm -rf "$SDIST.tmp"
fi
echo "$VENV/bin/python"
echo "$SDIST/kernel_tuner-$VER"
