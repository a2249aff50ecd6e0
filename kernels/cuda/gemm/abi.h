/*
 * abi.h - the C ABI every GEMM candidate shared object exports.
 *
 * A candidate is one .cu file plus -D parameter values, built by nvcc into a
 * shared object (-shared -Xcompiler -fPIC, -arch=sm_90a for Hopper rungs).
 * The harness (spak-harness-cuda, trusted) dlopen()s it in a child process and
 * calls only the symbols below. The launcher lives in the candidate, so grid
 * shape, dynamic shared memory and TMA descriptors stay with the kernel.
 *
 * The function computed (one layout for every rung, the "TN" form that tensor
 * cores and cuBLAS like best):
 *
 *     C[m][n] = sum_k A[m][k] * B[k][n]      0 <= m < M, 0 <= n < N
 *
 *   A  row-major M x K:     A[m][k] at A + m*K + k        (K contiguous)
 *   B  column-major K x N:  B[k][n] at B + n*K + k        (K contiguous;
 *                           equivalently B^T stored row-major N x K)
 *   C  row-major M x N:     C[m][n] at C + m*N + n
 *
 * No alpha/beta: C is overwritten (beta = 0). Leading dimensions are the
 * packed ones above. Element types: all three matrices have the same type,
 * `dtype`; accumulation is in fp32 for every dtype (the precision contract:
 * fp16/bf16 accumulated in fp16/bf16, or fp32 computed through TF32/bf16, is
 * lower precision than declared and the harness's tolerance rejects it).
 *
 * The cuBLAS reference computes exactly this function:
 *   cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one,
 *                B, type, K,  A, type, K,  &zero,  C, type, N,
 *                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)
 * i.e. cuBLAS's column-major C^T (N x M) = B^T (N x K) * A^T (K x M).
 *
 * Pointers are device pointers from cudaMalloc (256-byte aligned). All work
 * must be enqueued on `stream` (a non-blocking stream the harness created);
 * when spak_gemm returns, nothing of the candidate may run on another stream.
 * spak_gemm must not write A or B, must not keep results between calls, and
 * must not synchronize the device for the harness.
 */
#ifndef SPAK_GEMM_ABI_H
#define SPAK_GEMM_ABI_H

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPAK_GEMM_ABI_VERSION 1

enum spak_gemm_dtype {
    SPAK_DT_F32 = 0,
    SPAK_DT_F16 = 1,
    SPAK_DT_BF16 = 2
};
#define SPAK_DT_BIT(d) (1u << (d))

/* What a candidate declares about itself. Static storage in the candidate.
 * The harness refuses (a Correctness record with "skipped": true, never a
 * pass) every shape or dtype outside these declarations. */
struct spak_gemm_info {
    int abi_version;       /* SPAK_GEMM_ABI_VERSION */
    const char *name;      /* e.g. "rung3_wgmma BM=128 BN=128 BK=64 ST=4" */
    unsigned dtypes;       /* OR of SPAK_DT_BIT(dtype) the candidate supports */
    int m_multiple;        /* M must be a multiple of this (1 = any M) */
    int n_multiple;        /* likewise for N */
    int k_multiple;        /* likewise for K (TMA rungs need K % 8 == 0: 16-byte row pitch) */
    int min_sm;            /* lowest compute capability, major*10+minor (90 for sm_90a) */
};

/* Required. Returns the candidate's declarations; never NULL. */
const struct spak_gemm_info *spak_gemm_info(void);

/* Required. C = A * B as described above, enqueued on `stream`. Returns 0
 * (cudaSuccess) or a cudaError_t value; 1 (cudaErrorInvalidValue) for a
 * shape or dtype it cannot handle. */
int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C,
              cudaStream_t stream);

/* Resource use of the main kernel the launcher would run for this problem,
 * for the Analysis record (the candidate fills it with
 * cudaFuncGetAttributes / cudaOccupancyMaxActiveBlocksPerMultiprocessor,
 * since its kernels belong to its own copy of the CUDA runtime). */
struct spak_gemm_kinfo {
    int registers;          /* per thread */
    int smem_bytes;         /* static + dynamic shared memory per block */
    int local_bytes;        /* local memory per thread (spills, stack) */
    int block_threads;
    int blocks_per_sm;      /* occupancy: resident blocks per SM */
    long long grid_blocks;  /* blocks (or persistent CTAs) launched */
};

/* Optional (resolved with dlsym; may be absent). 0 on success. */
int spak_gemm_kernel_info(int M, int N, int K, int dtype, struct spak_gemm_kinfo *out);

#ifdef __cplusplus
}
#endif

#endif
