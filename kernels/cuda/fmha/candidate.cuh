/*
 * candidate.cuh - helpers shared by the FMHA rungs (candidate side): what
 * every CUDA family shares (../common/common.cuh: element types, the kernel-info
 * helper), exp2 on the SFU, quad reductions and the argument checks of the
 * launchers.
 * Candidates written by the loop may include it or not; the contract is
 * abi.h alone.
 */
#ifndef SPAK_FMHA_CANDIDATE_CUH
#define SPAK_FMHA_CANDIDATE_CUH

#include <math.h>

#include "../common/common.cuh"
#include "abi.h"

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

/* Row max and row sum over the 4 threads of a quad (an mma accumulator row
 * is spread over them), for the two rows a thread holds (rungs 3 and 4). */
__device__ __forceinline__ void quad_max2(float &a, float &b)
{
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        a = fmaxf(a, __shfl_xor_sync(0xffffffffu, a, off));
        b = fmaxf(b, __shfl_xor_sync(0xffffffffu, b, off));
    }
}

__device__ __forceinline__ void quad_sum2(float &a, float &b)
{
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        a += __shfl_xor_sync(0xffffffffu, a, off);
        b += __shfl_xor_sync(0xffffffffu, b, off);
    }
}

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

#endif
