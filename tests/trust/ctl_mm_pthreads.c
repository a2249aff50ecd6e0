/* tests/trust/ctl_mm_pthreads.c - honest control: C = A B on 2 pthreads, each
 * a half of the rows, joined before return. Must stay correct and accepted
 * under every defence (the build has no -fopenmp, so pthreads stand in for
 * OpenMP). */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_2threads(M, N, K, A, B, C);
    return 0;
}
