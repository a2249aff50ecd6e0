/*
 * kernels/cpu/matmul/abi.h - the fixed C ABI of a CPU matmul candidate.
 * Shared by the trusted harness (kernels/cpu/common/judge.c) and every candidate.
 *
 *   int spak_matmul(int M, int N, int K,
 *                   const float *A, const float *B, float *C);
 *
 * fp32, row-major, no transposes, no alpha/beta:  C[M][N] = A[M][K] * B[K][N]
 * (lda = K, ldb = N, ldc = N). Any M, N, K >= 1 (not only tile multiples).
 * C's previous contents are garbage (the harness fills it with NaN) and every
 * element must be written. A and B must not be written. All work, including
 * work done by threads the candidate starts, must be finished when the call
 * returns. No state may carry results from one call to the next.
 * Returns 0 on success, non-zero if it cannot handle the arguments.
 *
 * Optional: const spak_kernel_info *spak_info(void);  (see ../common/info.h)
 *
 * A candidate is built as a shared object:
 *   cc -O3 -march=native -fPIC -shared -DNAME=VALUE... x.c -o x.so -lpthread -lm
 */
#ifndef SPAK_CPU_MATMUL_ABI_H
#define SPAK_CPU_MATMUL_ABI_H

#include "../common/info.h"

#define SPAK_MATMUL_SYMBOL "spak_matmul"
typedef int (*spak_matmul_fn)(int M, int N, int K, const float *A, const float *B, float *C);

#if defined(__GNUC__)
#define SPAK_EXPORT __attribute__((visibility("default")))
#else
#define SPAK_EXPORT
#endif

SPAK_EXPORT int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C);
SPAK_EXPORT const spak_kernel_info *spak_info(void);

#endif
