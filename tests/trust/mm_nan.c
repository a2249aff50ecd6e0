/* tests/trust/mm_nan.c - a failure that must keep its reason: an honest
 * kernel that leaves one NaN in C. The harness reports it with
 * "rel_err": null, which today does not fit the schema and is dropped, so
 * the evaluation fails for "no valid record" and the reason is lost. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm(M, N, K, A, B, C);
    C[(long)M * N / 2] = NAN;
    return 0;
}
