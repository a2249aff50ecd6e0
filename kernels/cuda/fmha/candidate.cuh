/*
 * candidate.cuh - helpers shared by the FMHA rungs (candidate side): what
 * every CUDA family shares (../common/common.cuh: element types, the kernel-info
 * helper), exp2 on the SFU and the argument checks of the launchers.
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
