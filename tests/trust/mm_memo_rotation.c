/* tests/trust/mm_memo_rotation.c - cheat (memoisation across input sets):
 * keys its cache on a hash of ALL of A and B (O(MK + KN), far cheaper than
 * the O(MNK) product) and keeps the last 16 results, so a judge that times
 * a fixed rotation of prepared input sets is answered from memory after the
 * first round. On inputs that never recur it is an honest one-thread kernel
 * (today's harness changes one element per repetition: never recurs). */
#include "trust.h"

#define SLOTS 16

static trust_memo cache[SLOTS];
static int next_slot;

static uint64_t hash_all(const float *x, size_t n, uint64_t h)
{
    const uint32_t *w = (const uint32_t *)(const void *)x;
    for (size_t i = 0; i < n; i++) h = (h ^ w[i]) * 1099511628211ull;
    return h;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    uint64_t key = hash_all(B, (size_t)K * N, hash_all(A, (size_t)M * K, 1469598103934665603ull));
    trust_mm_memo(cache, SLOTS, &next_slot, key, M, N, K, A, B, C);
    return 0;
}
