/* tests/trust/mm_late_tail.c - cheat (work after return, the part that is
 * quick enough to hide): synchronous on the first three calls of each shape;
 * later calls compute 90% of the rows, write zeros over the rest (so no
 * element is left unwritten when DONE arrives) and hand the last tenth to a
 * worker thread (late.h) that finishes it after the call returned, within the moment
 * the judge takes to freeze the runner. The output is complete and correct
 * by the time the judge checks it; only the CPU the runner used after DONE
 * tells. */
#include "late.h"

typedef struct mm_job {
    int N, K;
    const float *A, *B;
    float *C;
    long r0, r1;
} mm_job;

static void do_rows(void *p)
{
    mm_job *j = p;
    trust_mm_rows(j->N, j->K, j->A, j->B, j->C, j->r0, j->r1);
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    long tail = M / 10 > 0 ? M / 10 : 1;
    if (trust_call_no(M, N, K, 1) <= 3 || M < 2) {
        trust_mm(M, N, K, A, B, C);
        return 0;
    }
    trust_mm_rows(N, K, A, B, C, 0, M - tail);
    memset(C + (M - tail) * (long)N, 0, sizeof(float) * (size_t)(tail * N));
    mm_job j = {N, K, A, B, C, M - tail, M};
    if (!late_post(do_rows, &j, sizeof j)) do_rows(&j);
    return 0;
}
