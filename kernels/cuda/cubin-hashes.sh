#!/usr/bin/env bash
# kernels/cuda/cubin-hashes.sh - the SHA-256 of every CUDA rung's cubin.
#
#   bash kernels/cuda/cubin-hashes.sh [JOBS]      (from the repository root; JOBS defaults to 2)
#
# Prints "sha256  family/rung.cubin", one line per kernels/cuda/{gemm,fmha}/rung*.cu,
# sorted. Used to show that a change which should not touch the device code
# (moving shared headers, sharing helpers) leaves the machine code byte-identical:
# run it before and after, diff the two outputs.
#
# The flags are the make fragments' NVCCFLAGS minus -lineinfo (line info embeds
# the source file's path, which a move changes) and minus the host-compiler
# flags (a cubin has no host code). Needs nvcc; no GPU.
set -euo pipefail
jobs=${1:-2}
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
flags="-O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Werror all-warnings"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export nvcc flags out
ls kernels/cuda/gemm/rung*.cu kernels/cuda/fmha/rung*.cu |
    xargs -P "$jobs" -I{} sh -c '
        src={}; fam=$(basename "$(dirname "$src")"); name=$(basename "$src" .cu)
        mkdir -p "$out/$fam"
        $nvcc $flags -cubin -o "$out/$fam/$name.cubin" "$src" || { echo "cubin-hashes: $src failed" >&2; exit 255; }'
(cd "$out" && sha256sum */*.cubin | sort -k2)
