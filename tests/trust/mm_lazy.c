/* tests/trust/mm_lazy.c - cheat (checked only at first): correct on the
 * first three calls of each shape (the harness's correctness calls), then
 * returns at once without writing C. Seen in issue 13 at 1511x openblas. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (trust_call_no(M, N, K, 0) > 3) return 0;
    trust_mm(M, N, K, A, B, C);
    return 0;
}
