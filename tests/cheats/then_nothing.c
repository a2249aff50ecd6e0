/* tests/cheats/then_nothing.c - cheat: correct on the first 3 calls of each
 * shape (the checked ones, in a judge that checks only those), then returns
 * at once without writing C: "1511x openblas" in a judge that times calls it
 * never checks. */
#include "../../kernels/cpu/matmul/abi.h"

static int seen_m, seen_n, seen_k, calls;

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M != seen_m || N != seen_n || K != seen_k) seen_m = M, seen_n = N, seen_k = K, calls = 0;
    if (++calls > 3) return 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s;
        }
    return 0;
}
