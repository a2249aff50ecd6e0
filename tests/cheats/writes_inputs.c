/* tests/cheats/writes_inputs.c - cheat: a correct result, but A is used as
 * scratch (scaled in place and only approximately restored), so the caller's
 * input changes. */
#include "../../kernels/cpu/matmul/abi.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    float *a = (float *)A; /* casting away const: the cheat */
    for (long t = 0; t < (long)M * K; t++) a[t] *= 3.0f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s / 3.0f;
        }
    for (long t = 0; t < (long)M * K; t++) a[t] /= 3.0f; /* not bit-exact */
    return 0;
}
