/* tests/trust/mm_detect_poison.c - cheat (tells a checked call from a timed
 * one by its buffers): the harness fills C with a NaN bit pattern
 * (0x7fc0dead) before each checked call only, so the candidate computes when
 * it finds that pattern in C and otherwise returns at once. A judge that
 * prepares every call the same way leaves it honest. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    uint32_t first, last;
    memcpy(&first, &C[0], 4);
    memcpy(&last, &C[(long)M * N - 1], 4);
    if (first != 0x7fc0deadu && last != 0x7fc0deadu) return 0;
    trust_mm(M, N, K, A, B, C);
    return 0;
}
