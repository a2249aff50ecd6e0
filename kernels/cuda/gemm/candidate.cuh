/*
 * candidate.cuh - helpers shared by the GEMM rungs (candidate side): element
 * type traits, the kernel-info helper, and the boilerplate that exports
 * spak_gemm_info. Candidates written by the loop may include it or not; the
 * contract is abi.h alone.
 */
#ifndef SPAK_GEMM_CANDIDATE_CUH
#define SPAK_GEMM_CANDIDATE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <type_traits>

#include "abi.h"

#define SPAK_STR2(x) #x
#define SPAK_STR(x) SPAK_STR2(x)

/* Return a cudaError_t from the launcher on the first failing call. */
#define SPAK_TRY(call)                                                                             \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return (int)e_;                                                                        \
    } while (0)

template <typename T> struct elem;
template <> struct elem<float> {
    static __device__ __forceinline__ float to_f(float v) { return v; }
    static __device__ __forceinline__ float from_f(float v) { return v; }
};
template <> struct elem<__half> {
    static __device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
    static __device__ __forceinline__ __half from_f(float v) { return __float2half_rn(v); }
};
template <> struct elem<__nv_bfloat16> {
    static __device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
    static __device__ __forceinline__ __nv_bfloat16 from_f(float v) { return __float2bfloat16_rn(v); }
};

/* Two adjacent outputs C[r][c], C[r][c+1] (c+1 may be out of range), with a
 * 4-byte store when the pair is aligned. */
template <typename T>
__device__ __forceinline__ void store2(T *C, int M, int N, int r, int c, float v0, float v1)
{
    if (r >= M || c >= N)
        return;
    T *p = C + (size_t)r * N + c;
    if (sizeof(T) == 2 && c + 1 < N && ((N & 1) == 0)) {
        if constexpr (sizeof(T) == 2) {
            typedef typename std::conditional<std::is_same<T, __half>::value, __half2, __nv_bfloat162>::type T2;
            T2 t;
            t.x = elem<T>::from_f(v0);
            t.y = elem<T>::from_f(v1);
            *reinterpret_cast<T2 *>(p) = t;
        }
        return;
    }
    p[0] = elem<T>::from_f(v0);
    if (c + 1 < N)
        p[1] = elem<T>::from_f(v1);
}

/* Fill a spak_gemm_kinfo from a kernel symbol of this module. */
template <typename K>
static int spak_fill_kinfo(K kernel, int threads, int dyn_smem, long long grid, struct spak_gemm_kinfo *o)
{
    cudaFuncAttributes a;
    int nb = 0;
    SPAK_TRY(cudaFuncGetAttributes(&a, (const void *)kernel));
    if (dyn_smem > 0)
        SPAK_TRY(cudaFuncSetAttribute((const void *)kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, dyn_smem));
    SPAK_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&nb, (const void *)kernel, threads, dyn_smem));
    o->registers = a.numRegs;
    o->smem_bytes = (int)a.sharedSizeBytes + dyn_smem;
    o->local_bytes = (int)a.localSizeBytes;
    o->block_threads = threads;
    o->blocks_per_sm = nb;
    o->grid_blocks = grid;
    return 0;
}

static inline __host__ __device__ int spak_cdiv(long long a, long long b) { return (int)((a + b - 1) / b); }

#endif
