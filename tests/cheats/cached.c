/* tests/cheats/cached.c - cheat: computes the first call honestly, keeps the
 * result, and replays it on every later call of the same shape (the way a
 * benchmark that reuses one input set would never notice). */
#include <stdlib.h>
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

static float *cache;
static int cm, cn, ck;

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    size_t n = (size_t)M * (size_t)N;
    if (cache && cm == M && cn == N && ck == K) {
        memcpy(C, cache, n * sizeof(float));
        return 0;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s;
        }
    free(cache);
    cache = malloc(n * sizeof(float));
    if (cache) memcpy(cache, C, n * sizeof(float));
    cm = M, cn = N, ck = K;
    return 0;
}
