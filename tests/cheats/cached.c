/* tests/cheats/cached.c - cheat: computes the first call honestly, keeps the
 * result, and replays it on every later call of the same shape (the way a
 * benchmark that reuses one input set would never notice). */
#include <string.h>
#include "honest.h"

static float *cache;
static int cm, cn, ck;

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    size_t n = (size_t)M * (size_t)N;
    if (cache && cm == M && cn == N && ck == K) {
        memcpy(C, cache, n * sizeof(float));
        return 0;
    }
    honest_matmul(M, N, K, A, B, C);
    cache = honest_keep(cache, C, n);
    cm = M, cn = N, ck = K;
    return 0;
}
