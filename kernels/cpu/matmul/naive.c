/*
 * kernels/cpu/matmul/naive.c - rung 0 of the CPU matmul ladder: the textbook
 * triple loop (i, j, k) with a scalar fp32 dot product per output element.
 * B is walked down a column (stride N), so it misses the cache on every k.
 *
 * Design/tuning defines: none (this is the reference point of the ladder).
 *
 * Build and check:
 *   cc -O3 -march=native -fPIC -shared kernels/cpu/matmul/naive.c -o naive.so -lm
 *   build/spak-harness-cpu --family matmul --candidate ./naive.so --seed 1 \
 *       --shapes 256x256x256 --check-only
 */
#include "abi.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s;
        }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/naive", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
