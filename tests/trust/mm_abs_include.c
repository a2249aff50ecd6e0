/* tests/trust/mm_abs_include.c - the build cache key (not a cheat): an honest
 * kernel scaled by TRUST_SCALE from a header included by absolute path (the
 * suite substitutes @HDR_PATH@ and writes the header). The suite runs it
 * with TRUST_SCALE 1.0f (correct), then changes the header to 2.0f: a cache
 * key that misses the header reuses the stale, correct .so. */
#include "trust.h"
#include "@HDR_PATH@"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm(M, N, K, A, B, C);
    for (long i = 0; i < (long)M * N; i++) C[i] *= TRUST_SCALE;
    return 0;
}
