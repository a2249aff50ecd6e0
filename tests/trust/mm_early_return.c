/* tests/trust/mm_early_return.c - cheat (early return, work finishing on
 * another thread): synchronous on the first three calls of each shape (the
 * checks, which compare the output again after a settle wait), then hands
 * every later call to a worker thread and returns at once. The timer stops
 * at the return; the work goes on while the baseline is timed. */
#include "early.h"

typedef struct mm_job {
    int M, N, K;
    const float *A, *B;
    float *C;
} mm_job;

static void do_mm(void *p)
{
    mm_job *j = p;
    trust_mm(j->M, j->N, j->K, j->A, j->B, j->C);
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    mm_job j = {M, N, K, A, B, C};
    if (trust_call_no(M, N, K, 0) > 3 && early_post(do_mm, &j, sizeof j)) return 0;
    do_mm(&j);
    return 0;
}
