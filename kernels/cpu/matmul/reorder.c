/*
 * kernels/cpu/matmul/reorder.c - rung 1: loop reordering. The i-k-j order
 * streams a row of B and a row of C with unit stride, so the inner loop
 * vectorizes (C_i += A_ik * B_k) and B is read sequentially.
 *
 * Design/tuning defines (defaults in brackets):
 *   UNROLL_K  [1]  k iterations fused per pass over the C row (1, 2, 4): fewer
 *                  loads/stores of the C row per flop.
 *
 * Build and check:
 *   cc -O3 -march=native -fPIC -shared -DUNROLL_K=4 kernels/cpu/matmul/reorder.c -o reorder.so
 *   build/spak-harness-cpu --family matmul --candidate ./reorder.so --seed 1 --check-only
 */
#include "abi.h"

#ifndef UNROLL_K
#define UNROLL_K 1
#endif
#if UNROLL_K != 1 && UNROLL_K != 2 && UNROLL_K != 4
#error "UNROLL_K must be 1, 2 or 4"
#endif

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    for (int i = 0; i < M; i++) {
        float *restrict c = C + (long)i * N;
        const float *a = A + (long)i * K;
        for (int j = 0; j < N; j++) c[j] = 0.0f;
        int k = 0;
#if UNROLL_K >= 2
        for (; k + UNROLL_K <= K; k += UNROLL_K) {
            const float *restrict b0 = B + (long)k * N;
            const float *restrict b1 = b0 + N;
            float a0 = a[k], a1 = a[k + 1];
#if UNROLL_K == 4
            const float *restrict b2 = b1 + N;
            const float *restrict b3 = b2 + N;
            float a2 = a[k + 2], a3 = a[k + 3];
            for (int j = 0; j < N; j++) c[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
#else
            for (int j = 0; j < N; j++) c[j] += a0 * b0[j] + a1 * b1[j];
#endif
        }
#endif
        for (; k < K; k++) {
            const float *restrict b = B + (long)k * N;
            float ak = a[k];
            for (int j = 0; j < N; j++) c[j] += ak * b[j];
        }
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/reorder", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
