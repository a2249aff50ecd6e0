/* tests/trust/ctl_mm_openmp.c - honest control: C = A B with an OpenMP
 * parallel loop over the rows (built with -fopenmp; spak's own build passes
 * no -fopenmp, so the suites build it with cc). libgomp's workers stay
 * alive between calls; with the runner's OMP_WAIT_POLICY=PASSIVE they sleep
 * on a futex once the region ends, so nothing is busy after the call
 * returns. Must stay correct and accepted under every defence. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
#pragma omp parallel for schedule(static)
    for (long i = 0; i < M; i++)
        trust_mm_rows(N, K, A, B, C, i, i + 1);
    return 0;
}
