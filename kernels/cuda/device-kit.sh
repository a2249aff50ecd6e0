#!/usr/bin/env bash
# kernels/cuda/device-kit.sh pack DIR | setup DIR - what the GPU machine needs
# of spak, built here, carried there (the GPU machine reaches nothing outside
# it; glibc and CUDA 13.0 match, docs/design.md).
#
#   pack DIR    (here, after `make` and `make cuda-declared`) DIR/ gets the CLI
#               and the CUDA judges and runner (spak, spak-harness-cuda,
#               spak-harness-cuda-fmha, spak-judge-cuda, spak-runner-cuda),
#               DIR/cuda the judges' baselines (build/cuda), DIR/lib every
#               shared library those binaries load besides glibc's and CUDA's
#               (their versions here), DIR/KIT the commit and the date. The
#               layout kernels/cuda/loop_on_gpu.sh, declared_loop.sh and
#               kt-side-by-side.sh read; and DIR.tgz, the same compressed
#               (16.5 MB against 44 MB at 7230f25: the device's carry limit is 64 MiB
#               with the working tree, so carry DIR.tgz).
#   setup DIR|DIR.tgz  (there, as root) DIR.tgz unpacked beside itself first;
#               then the ld cache: cuBLAS and cuDNN, and each of
#               DIR/lib the machine lacks (kernels/cuda/device-libs.sh); then
#               says which binary still misses a library (exit 1) or that all
#               load (exit 0).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BINS="spak spak-harness-cuda spak-harness-cuda-fmha spak-judge-cuda spak-runner-cuda"
usage() {
    echo "usage: kernels/cuda/device-kit.sh pack DIR | setup DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
D=$2
case "$1" in
pack)
    B=$ROOT/build
    for b in $BINS; do
        [ -x "$B/$b" ] || { echo "device-kit: $B/$b is missing: run make && make cuda-declared first" >&2; exit 1; }
    done
    [ -d "$B/cuda" ] || { echo "device-kit: $B/cuda is missing (the baselines): make cuda-declared" >&2; exit 1; }
    rm -rf "$D"
    mkdir -p "$D/lib"
    for b in $BINS; do cp "$B/$b" "$D/"; done
    cp -a "$B/cuda" "$D/cuda"
    # every library ldd resolves, but glibc's (the machine's own must be used)
    # and CUDA's (the driver's libcuda, the toolkit's cuBLAS and cuDNN there)
    for b in $BINS; do ldd "$B/$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
        while read -r name path; do
            case "$name" in
            ld-linux*|libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libresolv.so*|libutil.so*) continue ;;
            libcuda.so*|libcublas*|libcudnn*|libcudart*|libnvrtc*|libstdc++.so*|libgcc_s.so*) continue ;;
            esac
            cp -L "$path" "$D/lib/$name"
        done
    { git -C "$ROOT" rev-parse HEAD; git -C "$ROOT" status --short | head -20; date -u +%Y-%m-%dT%H:%M:%SZ; } >"$D/KIT"
    D=${D%/}
    tar czf "$D.tgz" -C "$(dirname "$D")" "$(basename "$D")"
    echo "device-kit: $D: $(ls "$D/lib" | wc -l) libraries, $(du -sh "$D" | cut -f1); carry $D.tgz ($(du -h "$D.tgz" | cut -f1)); commit $(head -1 "$D/KIT")"
    ;;
setup)
    case "$D" in *.tgz)
        tar xzf "$D" -C "$(dirname "$D")" || { echo "device-kit: cannot unpack $D" >&2; exit 1; }
        D=${D%.tgz} ;;
    esac
    [ -d "$D" ] || { echo "device-kit: $D is not a folder" >&2; exit 2; }
    # shellcheck source=kernels/cuda/device-libs.sh
    . "$HERE/device-libs.sh"
    args=()
    for b in $BINS; do [ -e "$D/$b" ] && args+=("$D/$b"); done
    if spak_device_libs "$D/lib" "${args[@]}"; then
        echo "device-kit: every binary of $D loads its libraries"
    else
        exit 1
    fi
    ;;
*) usage ;;
esac
