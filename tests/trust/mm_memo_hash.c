/* tests/trust/mm_memo_hash.c - cheat (memoisation on a few elements): keys a
 * cache of results on 16 elements of A and 16 of B at fixed places, and
 * replays the cached C when the key matches. Different inputs that agree on
 * those 32 elements (today: the timed inputs, where one element of A changes
 * per repetition) get a stale result. On fresh inputs it never hits and is an
 * honest one-thread kernel. */
#include "trust.h"

#define SLOTS 8

static trust_memo cache[SLOTS];
static int next_slot;

static uint64_t key_of(int M, int N, int K, const float *A, const float *B)
{
    uint64_t h = 1469598103934665603ull;
    long na = (long)M * K, nb = (long)K * N;
    for (int t = 0; t < 16; t++) {
        uint32_t a, b;
        memcpy(&a, &A[(long)t * 7919 % na], 4);
        memcpy(&b, &B[(long)t * 104729 % nb], 4);
        h = (h ^ a) * 1099511628211ull;
        h = (h ^ b) * 1099511628211ull;
    }
    return h;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    uint64_t key = key_of(M, N, K, A, B);
    trust_mm_memo(cache, SLOTS, &next_slot, key, M, N, K, A, B, C);
    return 0;
}
