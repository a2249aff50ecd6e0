/*
 * candidate.cuh - helpers shared by the FMHA rungs (candidate side): element
 * type traits, the kernel-info helper, argument checks and the export of
 * spak_fmha_info. Candidates written by the loop may include it or not; the
 * contract is abi.h alone.
 */
#ifndef SPAK_FMHA_CANDIDATE_CUH
#define SPAK_FMHA_CANDIDATE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "abi.h"

#define SPAK_STR2(x) #x
#define SPAK_STR(x) SPAK_STR2(x)

#define SPAK_TRY(call)                                                                             \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return (int)e_;                                                                        \
    } while (0)

/* log2(e): softmax in base 2 with the scale pre-multiplied (one FFMA + EX2) */
#define SPAK_LOG2E 1.4426950408889634f
#define SPAK_LN2 0.6931471805599453f

/* 2^x by the SFU (ex2.approx.ftz: rel. error ~2^-22, flushes denormals;
 * 2^-inf = +0, which the masked scores rely on). exp2f() without
 * -use_fast_math adds denormal handling around the same instruction. */
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

template <typename T> struct elem;
template <> struct elem<__half> {
    static __device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
    static __device__ __forceinline__ __half from_f(float v) { return __float2half_rn(v); }
    /* two floats -> one 32-bit register holding (lo, hi) */
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

/* The checks every launcher does first. 0 = fine. */
static inline int spak_fmha_args_ok(const struct spak_fmha_info *info, int B, int H, int Hkv, int S, int D,
                                    int causal, int dtype)
{
    if (B < 1 || H < 1 || Hkv < 1 || S < 1 || H % Hkv != 0)
        return 0;
    if (dtype != SPAK_FMHA_F16 && dtype != SPAK_FMHA_BF16)
        return 0;
    if (!(info->dtypes & SPAK_FMHA_DT_BIT(dtype)) || !(info->head_dims & SPAK_FMHA_D_BIT(D)))
        return 0;
    if ((info->s_multiple > 1 && S % info->s_multiple) || (info->max_s > 0 && S > info->max_s))
        return 0;
    if ((causal && !info->causal) || (Hkv != H && !info->gqa))
        return 0;
    return 1;
}

/* Fill a spak_fmha_kinfo from a kernel symbol of this module. */
template <typename K>
static int spak_fill_kinfo(K kernel, int threads, int dyn_smem, long long grid, struct spak_fmha_kinfo *o)
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
