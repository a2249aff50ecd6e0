/*
 * tests/trust_gpu/tg_gemm.cuh - the GEMM candidates' honest kernel and
 * declarations (the ABI: kernels/cuda/gemm/abi.h). A 16x16-tiled SIMT GEMM,
 * fp32 accumulation, any M, N, K (bounds-checked), fp32/fp16/bf16, over a
 * range of rows [r0, r1) of C (the third-of-the-rows cheat, the two-stream
 * control). Slow next to cuBLAS on purpose: a cheat shows as a ratio far
 * above what this kernel earns honestly.
 */
#ifndef SPAK_TRUST_GPU_TG_GEMM_CUH
#define SPAK_TRUST_GPU_TG_GEMM_CUH

#include "../../kernels/cuda/gemm/abi.h"
#include "tg.cuh"

static __device__ __forceinline__ float tg_f(float v) { return v; }
static __device__ __forceinline__ float tg_f(__half v) { return __half2float(v); }
static __device__ __forceinline__ float tg_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> static __device__ __forceinline__ T tg_to(float v);
template <> __device__ __forceinline__ float tg_to<float>(float v) { return v; }
template <> __device__ __forceinline__ __half tg_to<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 tg_to<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

#define TG_T 16

/* C[m][n] = sum_k A[m*K+k] B[n*K+k] for r0 <= m < r1; block (16, 16): x is n, y is m */
template <typename T>
__global__ void tg_gemm_kernel(int M, int N, int K, const T *A, const T *B, T *C, int r0, int r1)
{
    __shared__ float as[TG_T][TG_T + 1], bs[TG_T][TG_T + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int m0 = r0 + blockIdx.y * TG_T, n0 = blockIdx.x * TG_T;
    float acc = 0.f;
    for (int k0 = 0; k0 < K; k0 += TG_T) {
        int k = k0 + tx;
        as[ty][tx] = (m0 + ty < r1 && m0 + ty < M && k < K) ? tg_f(A[(size_t)(m0 + ty) * K + k]) : 0.f;
        bs[ty][tx] = (n0 + ty < N && k < K) ? tg_f(B[(size_t)(n0 + ty) * K + k]) : 0.f;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TG_T; kk++)
            acc = fmaf(as[ty][kk], bs[tx][kk], acc);
        __syncthreads();
    }
    int m = m0 + ty, n = n0 + tx;
    if (m < r1 && m < M && n < N)
        C[(size_t)m * N + n] = tg_to<T>(acc);
}

/* rows [r0, r1) of C = A B enqueued on st; 1 (cudaErrorInvalidValue) for a
 * dtype it does not know */
static inline int tg_gemm_rows(int M, int N, int K, int dtype, const void *A, const void *B, void *C, int r0, int r1,
                        cudaStream_t st)
{
    if (r1 <= r0)
        return 0;
    dim3 block(TG_T, TG_T), grid((N + TG_T - 1) / TG_T, (r1 - r0 + TG_T - 1) / TG_T);
    if (dtype == SPAK_DT_F32)
        tg_gemm_kernel<float><<<grid, block, 0, st>>>(M, N, K, (const float *)A, (const float *)B, (float *)C, r0, r1);
    else if (dtype == SPAK_DT_F16)
        tg_gemm_kernel<__half><<<grid, block, 0, st>>>(M, N, K, (const __half *)A, (const __half *)B, (__half *)C, r0,
                                                       r1);
    else if (dtype == SPAK_DT_BF16)
        tg_gemm_kernel<__nv_bfloat16><<<grid, block, 0, st>>>(M, N, K, (const __nv_bfloat16 *)A,
                                                              (const __nv_bfloat16 *)B, (__nv_bfloat16 *)C, r0, r1);
    else
        return (int)cudaErrorInvalidValue;
    return (int)cudaGetLastError();
}

static inline int tg_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t st)
{
    return tg_gemm_rows(M, N, K, dtype, A, B, C, 0, M, st);
}

static inline size_t tg_gemm_esize(int dtype) { return dtype == SPAK_DT_F32 ? 4 : 2; }

/* A fingerprint of the call's A and B (32 sampled words each, or all of
 * them: full) and its sizes, on the host (tg_input_key). 0 or a CUDA error. */
static inline int tg_gemm_key(int M, int N, int K, int dtype, const void *A, const void *B, bool full,
                              cudaStream_t s, unsigned long long *key)
{
    size_t es = tg_gemm_esize(dtype);
    const void *bufs[2] = {A, B};
    size_t bytes[2] = {(size_t)M * K * es, (size_t)K * N * es};
    int rc = tg_input_key(bufs, bytes, 2, full, s, key);
    *key ^= ((unsigned long long)M << 40) ^ ((unsigned long long)N << 20) ^ (unsigned long long)K;
    return rc;
}

/* this GEMM call's number for its shape (0 on the first) */
static inline int tg_gemm_call_no(int M, int N, int K, int dtype) { return tg_call_no(M, N, K, dtype); }

/* The declarations: every dtype, any shape, sm_80 and later. */
#define TG_GEMM_INFO(NAME)                                                                         \
    static const struct spak_gemm_info tg_info_ = {                                                \
        SPAK_GEMM_ABI_VERSION, NAME,                                                               \
        SPAK_DT_BIT(SPAK_DT_F32) | SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16), 1, 1, 1, 80}; \
    extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &tg_info_; }

#endif
