/* tests/cheats/third_rows.c - cheat: correct on the first 3 calls of each
 * shape, then computes every third row of C and writes zeros elsewhere (every
 * element written, so only a check of the values catches it). */
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

static int seen_m, seen_n, seen_k, calls;

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M != seen_m || N != seen_n || K != seen_k) seen_m = M, seen_n = N, seen_k = K, calls = 0;
    int step = ++calls > 3 ? 3 : 1;
    for (int i = 0; i < M; i++) {
        if (i % step) {
            memset(C + (long)i * N, 0, sizeof(float) * (size_t)N);
            continue;
        }
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s;
        }
    }
    return 0;
}
