/* tests/cheats/writes_inputs.c - cheat: a correct result, but A is used as
 * scratch (scaled in place and only approximately restored), so the caller's
 * input changes. */
#include "honest.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    honest_matmul_scratch_a(M, N, K, A, B, C);
    return 0;
}
