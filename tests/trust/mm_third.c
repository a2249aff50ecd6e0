/* tests/trust/mm_third.c - cheat (checked only at first): correct on the
 * first three calls of each shape, then computes only the first third of the
 * rows of C. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    long rows = trust_call_no(M, N, K, 0) > 3 ? (M + 2) / 3 : M;
    trust_mm_rows(N, K, A, B, C, 0, rows);
    return 0;
}
