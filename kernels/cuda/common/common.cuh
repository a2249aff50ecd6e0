/*
 * common.cuh - what the candidates of every CUDA family share (candidate
 * side): stringizing, the launcher's error return, ceiling division, element
 * type traits and the kernel-info helper. Included through each family's
 * candidate.cuh; the contract with a harness is the family's abi.h alone.
 */
#ifndef SPAK_CUDA_COMMON_CUH
#define SPAK_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#define SPAK_STR2(x) #x
#define SPAK_STR(x) SPAK_STR2(x)

/* Return a cudaError_t from the launcher on the first failing call. */
#define SPAK_TRY(call)                                                                             \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return (int)e_;                                                                        \
    } while (0)

static inline __host__ __device__ int spak_cdiv(long long a, long long b) { return (int)((a + b - 1) / b); }

/* Element types: to and from float; pack2 puts two floats into one 32-bit
 * register as (lo, hi), the layout of mma/wgmma A fragments. */
template <typename T> struct elem;
template <> struct elem<float> {
    static __device__ __forceinline__ float to_f(float v) { return v; }
    static __device__ __forceinline__ float from_f(float v) { return v; }
};
template <> struct elem<__half> {
    static __device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
    static __device__ __forceinline__ __half from_f(float v) { return __float2half_rn(v); }
    static __device__ __forceinline__ uint32_t pack2(float lo, float hi)
    {
        __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&h);
    }
};
template <> struct elem<__nv_bfloat16> {
    static __device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
    static __device__ __forceinline__ __nv_bfloat16 from_f(float v) { return __float2bfloat16_rn(v); }
    static __device__ __forceinline__ uint32_t pack2(float lo, float hi)
    {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&h);
    }
};

/* Fill a family's kernel-info record (spak_gemm_kinfo, spak_fmha_kinfo: the
 * same fields) from a kernel symbol of this module. */
template <typename K, typename Info>
static int spak_fill_kinfo(K kernel, int threads, int dyn_smem, long long grid, Info *o)
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

#endif
