# kernels/cuda/device-libs.sh - sourced (bash) by the scripts that run spak
# on the GPU machine (loop_on_gpu.sh, declared_loop.sh, session-check.sh,
# device-kit.sh setup). One function:
#
#   spak_device_libs CARRIED_LIB_DIR [BINARY...]
#
# The runners, and the judges' probe children, start in the engine's sandbox
# with a clean environment (no LD_LIBRARY_PATH), so every library they load
# must be in the ld cache. As root it adds, where `ldconfig -p` lacks them:
#   - cuBLAS (libcublas, libcublasLt: the GEMM judge and its baseline, the
#     declared judge's SGEMM ceiling) and cuDNN (libcudnn, dlopen()ed by the
#     FMHA baseline with its engine libraries), from the CUDA toolkit's
#     folders or the pip wheels (nvidia.cublas, nvidia.cudnn);
#   - each library of CARRIED_LIB_DIR (device-kit.sh pack: what spak's
#     binaries load besides glibc and CUDA) that the machine lacks, copied to
#     /usr/local/lib/spak-carried: a library the machine has keeps its own
#     version (CARRIED_LIB_DIR may be "" or absent: nothing carried);
# runs ldconfig, then prints each BINARY's libraries that are still not
# found (none: nothing printed). Without root it changes nothing and says so.
# Returns 1 when a BINARY still misses a library, else 0.

# spak_in_ld_cache SONAME: whether the ld cache has SONAME
spak_in_ld_cache() {
    ldconfig -p 2>/dev/null | awk '{print $1}' | grep -qxF "$1"
}

spak_device_libs() {
    local carried=${1:-} lib d f missing=0
    shift
    if [ ! -w /etc/ld.so.conf.d ]; then
        echo "device-libs: not root: the ld cache is left as it is"
    else
        for lib in libcublas.so.13 libcublasLt.so.13 libcudnn.so.9; do
            spak_in_ld_cache "$lib" && continue
            for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13.0/lib \
                /usr/lib/x86_64-linux-gnu \
                $(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2>/dev/null) \
                $(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__) + "/lib")' 2>/dev/null); do
                if [ -e "$d/$lib" ]; then
                    grep -qxF "$d" /etc/ld.so.conf.d/zz-spak-cuda.conf 2>/dev/null || echo "$d" >>/etc/ld.so.conf.d/zz-spak-cuda.conf
                    break
                fi
            done
        done
        if [ -n "$carried" ] && [ -d "$carried" ]; then
            for f in "$carried"/*.so*; do
                [ -e "$f" ] || continue
                lib=$(basename "$f")
                spak_in_ld_cache "$lib" && continue
                mkdir -p /usr/local/lib/spak-carried
                cp -L "$f" /usr/local/lib/spak-carried/
                echo "device-libs: carried $lib (the machine lacks it)"
            done
            [ -d /usr/local/lib/spak-carried ] && echo /usr/local/lib/spak-carried >/etc/ld.so.conf.d/zz-spak-carried.conf
        fi
        ldconfig
    fi
    for f in "$@"; do
        [ -e "$f" ] || continue
        if ldd "$f" 2>/dev/null | grep -q 'not found'; then
            echo "device-libs: $f: $(ldd "$f" | grep 'not found' | awk '{print $1}' | tr '\n' ' ')not found"
            missing=1
        fi
    done
    return $missing
}
