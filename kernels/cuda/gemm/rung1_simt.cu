/*
 * rung1_simt.cu - GEMM ladder rung 1: SIMT shared-memory tiling (fp32, fp16,
 * bf16 in; fp32 accumulate; same-type out). Layouts: abi.h (A row-major MxK,
 * B column-major KxN, C row-major MxN).
 *
 * Each block computes a BM x BN tile of C with (BM/TM)*(BN/TN) threads; each
 * thread a TM x TN sub-tile held in registers (outer products over k).
 * Operands are staged through shared memory BK columns of k at a time,
 * transposed (As[k][m], Bs[k][n]) and converted to fp32. Every load and store
 * is bounds-checked: any M, N, K >= 1 is handled (no declared constraints).
 *
 * Design/tuning space (-D at build time):
 *   BM  block rows          32, 64, 128, 256     (default 128)
 *   BN  block columns       32, 64, 128, 256     (default 128)
 *   BK  k per smem stage    4, 8, 16, 32         (default 8)
 *   TM  rows per thread     2, 4, 8, 16          (default 8)
 *   TN  columns per thread  2, 4, 8, 16          (default 8)
 *   requires (BM/TM)*(BN/TN) in 32..1024, and BM*BK, BN*BK multiples of it.
 * Build: nvcc -O3 -arch=sm_90a -shared -Xcompiler -fPIC -o rung1.so rung1_simt.cu
 */
#include "candidate.cuh"

#ifndef BM
#define BM 128
#endif
#ifndef BN
#define BN 128
#endif
#ifndef BK
#define BK 8
#endif
#ifndef TM
#define TM 8
#endif
#ifndef TN
#define TN 8
#endif

#define NTHREADS ((BM / TM) * (BN / TN))
static_assert(BM % TM == 0 && BN % TN == 0, "BM/TM and BN/TN must divide");
static_assert(NTHREADS >= 32 && NTHREADS <= 1024, "threads per block out of range");
static_assert((BM * BK) % NTHREADS == 0 && (BN * BK) % NTHREADS == 0, "tile loads must split evenly");

template <typename T>
__global__ void __launch_bounds__(NTHREADS) gemm_simt(int M, int N, int K, const T *__restrict__ A,
                                                     const T *__restrict__ B, T *__restrict__ C)
{
    __shared__ float As[BK][BM];
    __shared__ float Bs[BK][BN];
    const int tid = threadIdx.x;
    const int tx = tid % (BN / TN), ty = tid / (BN / TN);
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++)
            acc[i][j] = 0.f;

    for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
        for (int e = tid; e < BM * BK; e += NTHREADS) {
            int r = e / BK, kk = e % BK; /* consecutive threads: consecutive k of one row */
            int gm = m0 + r, gk = k0 + kk;
            As[kk][r] = (gm < M && gk < K) ? elem<T>::to_f(A[(size_t)gm * K + gk]) : 0.f;
        }
#pragma unroll
        for (int e = tid; e < BN * BK; e += NTHREADS) {
            int r = e / BK, kk = e % BK;
            int gn = n0 + r, gk = k0 + kk;
            Bs[kk][r] = (gn < N && gk < K) ? elem<T>::to_f(B[(size_t)gn * K + gk]) : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; i++)
                a[i] = As[kk][ty * TM + i];
#pragma unroll
            for (int j = 0; j < TN; j++)
                b[j] = Bs[kk][tx * TN + j];
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TN; j++)
                    acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; i++) {
        int r = m0 + ty * TM + i;
#pragma unroll
        for (int j = 0; j < TN; j += 2)
            store2<T>(C, M, N, r, n0 + tx * TN + j, acc[i][j], j + 1 < TN ? acc[i][j + 1] : 0.f);
    }
}

static const struct spak_gemm_info g_info = {
    SPAK_GEMM_ABI_VERSION,
    "rung1_simt BM=" SPAK_STR(BM) " BN=" SPAK_STR(BN) " BK=" SPAK_STR(BK) " TM=" SPAK_STR(TM) " TN=" SPAK_STR(TN),
    SPAK_DT_BIT(SPAK_DT_F32) | SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16),
    1, 1, 1, 50};

extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &g_info; }

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    dim3 grid(spak_cdiv(N, BN), spak_cdiv(M, BM));
    if (M <= 0 || N <= 0 || K <= 0 || grid.y > 65535)
        return (int)cudaErrorInvalidValue;
    switch (dtype) {
    case SPAK_DT_F32:
        gemm_simt<float><<<grid, NTHREADS, 0, s>>>(M, N, K, (const float *)A, (const float *)B, (float *)C);
        break;
    case SPAK_DT_F16:
        gemm_simt<__half><<<grid, NTHREADS, 0, s>>>(M, N, K, (const __half *)A, (const __half *)B, (__half *)C);
        break;
    case SPAK_DT_BF16:
        gemm_simt<__nv_bfloat16><<<grid, NTHREADS, 0, s>>>(M, N, K, (const __nv_bfloat16 *)A,
                                                            (const __nv_bfloat16 *)B, (__nv_bfloat16 *)C);
        break;
    default:
        return (int)cudaErrorInvalidValue;
    }
    return (int)cudaGetLastError();
}

extern "C" int spak_gemm_kernel_info(int M, int N, int K, int dtype, struct spak_gemm_kinfo *o)
{
    long long grid = (long long)spak_cdiv(N, BN) * spak_cdiv(M, BM);
    (void)K;
    switch (dtype) {
    case SPAK_DT_F32: return spak_fill_kinfo(gemm_simt<float>, NTHREADS, 0, grid, o);
    case SPAK_DT_F16: return spak_fill_kinfo(gemm_simt<__half>, NTHREADS, 0, grid, o);
    case SPAK_DT_BF16: return spak_fill_kinfo(gemm_simt<__nv_bfloat16>, NTHREADS, 0, grid, o);
    default: return (int)cudaErrorInvalidValue;
    }
}
