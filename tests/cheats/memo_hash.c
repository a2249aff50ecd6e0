/* tests/cheats/memo_hash.c - cheat: memoises on a hash of a few input
 * elements (the signs of A[0] and B[0]: four keys), replaying the stored C on
 * a hit. Against a judge that changes one element between timed calls, or
 * rotates a few input sets, it replays every time; against fresh inputs it
 * must collide within five calls, and the replay is wrong. */
#include <string.h>
#include "honest.h"

static float *memo[4];
static size_t memo_n[4];

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    size_t n = (size_t)M * (size_t)N;
    int key = (A[0] < 0) * 2 + (B[0] < 0);
    if (memo[key] && memo_n[key] == n) {
        memcpy(C, memo[key], n * sizeof(float));
        return 0;
    }
    honest_matmul(M, N, K, A, B, C);
    memo[key] = honest_keep(memo[key], C, n);
    if (memo[key]) memo_n[key] = n;
    return 0;
}
