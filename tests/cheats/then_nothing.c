/* tests/cheats/then_nothing.c - cheat: correct on the first 3 calls of each
 * shape (the checked ones, in a judge that checks only those), then returns
 * at once without writing C: "1511x openblas" in a judge that times calls it
 * never checks. */
#include "honest.h"

static int seen_m, seen_n, seen_k, calls;

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M != seen_m || N != seen_n || K != seen_k) seen_m = M, seen_n = N, seen_k = K, calls = 0;
    if (++calls > 3) return 0;
    honest_matmul(M, N, K, A, B, C);
    return 0;
}
