/*
 * tests/trust_gpu/tg_fmha.cuh - the FMHA candidates' honest kernel and
 * declarations (the ABI: kernels/cuda/fmha/abi.h). One warp per query row,
 * each lane owning D/32 of the head dimensions: per key, a warp-reduced dot
 * product, then the online softmax update (fp32 throughout); any S, D 64 or
 * 128, causal, GQA, the LSE. Over a range of query rows [r0, r1) of every
 * head (the third-of-the-rows cheat, the two-stream control). Slow next to
 * cuDNN on purpose: a cheat shows as a ratio far above what it earns.
 */
#ifndef SPAK_TRUST_GPU_TG_FMHA_CUH
#define SPAK_TRUST_GPU_TG_FMHA_CUH

#include "../../kernels/cuda/fmha/abi.h"
#include "tg.cuh"

static __device__ __forceinline__ float tg_ff(__half v) { return __half2float(v); }
static __device__ __forceinline__ float tg_ff(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> static __device__ __forceinline__ T tg_fto(float v);
template <> __device__ __forceinline__ __half tg_fto<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 tg_fto<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T, int D>
__global__ void tg_fmha_kernel(int B, int H, int Hkv, int S, int causal, const T *Q, const T *K, const T *V, T *O,
                               float *lse, float scale, int r0, int r1)
{
    constexpr int P = D / 32;
    const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32, rows = r1 - r0;
    if (warp >= (long long)B * H * rows)
        return;
    const long long bh = warp / rows;
    const int i = r0 + (int)(warp % rows), b = (int)(bh / H), h = (int)(bh % H), hk = h / (H / Hkv);
    const T *q = Q + ((size_t)bh * S + i) * D;
    const T *k = K + ((size_t)b * Hkv + hk) * S * D, *v = V + ((size_t)b * Hkv + hk) * S * D;
    float qv[P], ov[P], m = -INFINITY, l = 0.f;
#pragma unroll
    for (int p = 0; p < P; p++)
        qv[p] = tg_ff(q[lane + 32 * p]) * scale, ov[p] = 0.f;
    const int n = causal ? i + 1 : S;
    for (int j = 0; j < n; j++) {
        float s = 0.f;
#pragma unroll
        for (int p = 0; p < P; p++)
            s = fmaf(qv[p], tg_ff(k[(size_t)j * D + lane + 32 * p]), s);
#pragma unroll
        for (int off = 16; off; off >>= 1)
            s += __shfl_xor_sync(0xffffffffu, s, off);
        float mn = fmaxf(m, s), c = expf(m - mn), e = expf(s - mn);
        l = l * c + e;
#pragma unroll
        for (int p = 0; p < P; p++)
            ov[p] = fmaf(ov[p], c, e * tg_ff(v[(size_t)j * D + lane + 32 * p]));
        m = mn;
    }
    T *o = O + ((size_t)bh * S + i) * D;
#pragma unroll
    for (int p = 0; p < P; p++)
        o[lane + 32 * p] = tg_fto<T>(ov[p] / l);
    if (lse && lane == 0)
        lse[bh * S + i] = m + logf(l);
}

/* query rows [r0, r1) of every (b, h), enqueued on st; 1 for what it cannot do */
static inline int tg_fmha_rows(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                        const void *V, void *O, float *lse, float scale, int r0, int r1, cudaStream_t st)
{
    if (B < 1 || H < 1 || Hkv < 1 || S < 1 || H % Hkv || (D != 64 && D != 128) ||
        (dtype != SPAK_FMHA_F16 && dtype != SPAK_FMHA_BF16))
        return (int)cudaErrorInvalidValue;
    if (r1 <= r0)
        return 0;
    long long warps = (long long)B * H * (r1 - r0);
    unsigned blocks = (unsigned)((warps * 32 + 127) / 128);
#define TG_FMHA_GO(T, DD)                                                                          \
    tg_fmha_kernel<T, DD><<<blocks, 128, 0, st>>>(B, H, Hkv, S, causal, (const T *)Q, (const T *)K, (const T *)V, \
                                                  (T *)O, lse, scale, r0, r1)
    if (dtype == SPAK_FMHA_F16 && D == 64)
        TG_FMHA_GO(__half, 64);
    else if (dtype == SPAK_FMHA_F16)
        TG_FMHA_GO(__half, 128);
    else if (D == 64)
        TG_FMHA_GO(__nv_bfloat16, 64);
    else
        TG_FMHA_GO(__nv_bfloat16, 128);
#undef TG_FMHA_GO
    return (int)cudaGetLastError();
}

static inline int tg_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                   const void *V, void *O, float *lse, float scale, cudaStream_t st)
{
    return tg_fmha_rows(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, 0, S, st);
}

/* this FMHA call's number for its problem (0 on the first) */
static inline int tg_fmha_call_no(int B, int H, int Hkv, int S, int D, int causal, int dtype)
{
    return tg_call_no(((long long)B << 32) | H, ((long long)Hkv << 32) | S, ((long long)D << 8) | causal, dtype);
}

static inline size_t tg_fmha_obytes(int B, int H, int S, int D) { return (size_t)B * H * S * D * 2; }

/* The declarations: fp16 and bf16, D 64 and 128, any S, causal, GQA, LSE. */
#define TG_FMHA_INFO(NAME)                                                                         \
    static const struct spak_fmha_info tg_info_ = {                                                \
        SPAK_FMHA_ABI_VERSION, NAME, SPAK_FMHA_DT_BIT(SPAK_FMHA_F16) | SPAK_FMHA_DT_BIT(SPAK_FMHA_BF16), \
        SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128), 1, 0, 1, 1, 1, 80};                            \
    extern "C" const struct spak_fmha_info *spak_fmha_info(void) { return &tg_info_; }

/* A fingerprint of the call's Q, K and V (32 sampled words each, or all
 * of them: full) and its sizes, on the host (tg_input_key). 0 or a CUDA
 * error. */
static inline int tg_fmha_key(int B, int H, int Hkv, int S, int D, int causal, const void *Q, const void *K,
                              const void *V, bool full, cudaStream_t st, unsigned long long *key)
{
    size_t qb = (size_t)B * H * S * D * 2, kb = (size_t)B * Hkv * S * D * 2;
    const void *bufs[3] = {Q, K, V};
    size_t bytes[3] = {qb, kb, kb};
    int rc = tg_input_key(bufs, bytes, 3, full, st, key);
    *key ^= ((unsigned long long)S << 40) ^ ((unsigned long long)B << 28) ^ ((unsigned long long)H << 18) ^
            ((unsigned long long)Hkv << 8) ^ (unsigned long long)(D + causal);
    return rc;
}

/* the common parameter list of spak_fmha, and the call of the honest kernel with it */
#define TG_FMHA_PARAMS                                                                             \
    int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K, const void *V, void *O, \
        float *lse, float scale, void *workspace, size_t workspace_bytes, cudaStream_t stream
#define TG_FMHA_HONEST(st) tg_fmha(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, st)

#endif
