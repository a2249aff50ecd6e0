/*
 * candidate.cuh - helpers shared by the FMHA rungs (candidate side): what
 * every CUDA family shares (../common/common.cuh: element types, the kernel-info
 * helper), exp2 on the SFU, quad reductions, the argument checks of the
 * launchers and their dispatch over the input type and head dim.
 * Candidates written by the loop may include it or not; the contract is
 * abi.h alone.
 */
#ifndef SPAK_FMHA_CANDIDATE_CUH
#define SPAK_FMHA_CANDIDATE_CUH

#include <math.h>

#include <type_traits>

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

/* The end of an mma-layout rung (3, 4), for the two rows row0 and row1 a
 * thread holds: o[4j..4j+3] are columns 8j + 2*t4 (+1) of row0 (o[4j],
 * o[4j+1]) and of row1 (o[4j+2], o[4j+3]), j < D/8. Each row scaled by its
 * 1/l (0 for an empty row) and stored as T pairs to O's [S][D] of batch b,
 * head h (of H); with lse, the quad's t4 == 0 thread stores m*scale + ln l
 * (m the row max in the scaled log2 domain) to lse's [S] of (b, h). Rows past
 * S are skipped. */
template <typename T, int D>
__device__ __forceinline__ void store_rows(T *__restrict__ O, float *__restrict__ lse, int b, int H, int h, int S,
                                           const float *o, int row0, int row1, int t4, float m0, float m1, float l0,
                                           float l1, float scale)
{
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
    T *Og = O + ((size_t)b * H + h) * S * D;
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
        int d = 8 * j + 2 * t4;
        if (row0 < S)
            *reinterpret_cast<uint32_t *>(Og + (size_t)row0 * D + d) = elem<T>::pack2(o[4 * j] * inv0, o[4 * j + 1] * inv0);
        if (row1 < S)
            *reinterpret_cast<uint32_t *>(Og + (size_t)row1 * D + d) = elem<T>::pack2(o[4 * j + 2] * inv1, o[4 * j + 3] * inv1);
    }
    if (lse && t4 == 0) {
        float *L = lse + ((size_t)b * H + h) * S;
        if (row0 < S)
            L[row0] = m0 * scale + logf(l0);
        if (row1 < S)
            L[row1] = m1 * scale + logf(l1);
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

/* The launchers' and kernel-info queries' dispatch over what the rungs
 * instantiate: fp16 or bf16 in, D 64 or 128. Calls f(spak_type<T>(),
 * std::integral_constant<int, D>()) and returns what it returns; a caller
 * has checked dtype and D (spak_fmha_args_ok) first. */
template <typename T> struct spak_type {
    typedef T type;
};
template <typename F> static inline int spak_fmha_dispatch(int dtype, int D, F f)
{
    if (dtype == SPAK_FMHA_F16)
        return D == 64 ? f(spak_type<__half>(), std::integral_constant<int, 64>())
                       : f(spak_type<__half>(), std::integral_constant<int, 128>());
    return D == 64 ? f(spak_type<__nv_bfloat16>(), std::integral_constant<int, 64>())
                   : f(spak_type<__nv_bfloat16>(), std::integral_constant<int, 128>());
}

#endif
