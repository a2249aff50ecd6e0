/* tests/trust/ctl_mm_pthreads.c - honest control: C = A B on 2 pthreads, each
 * a half of the rows, joined before return. Must stay correct and accepted
 * under every defence (the build has no -fopenmp, so pthreads stand in for
 * OpenMP). */
#include <pthread.h>
#include "trust.h"

typedef struct part {
    int N, K;
    const float *A, *B;
    float *C;
    long r0, r1;
} part;

static void *run(void *p)
{
    part *w = p;
    trust_mm_rows(w->N, w->K, w->A, w->B, w->C, w->r0, w->r1);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    part w[2] = {{N, K, A, B, C, 0, M / 2}, {N, K, A, B, C, M / 2, M}};
    pthread_t t;
    if (pthread_create(&t, NULL, run, &w[1]) != 0) {
        trust_mm(M, N, K, A, B, C);
        return 0;
    }
    run(&w[0]);
    pthread_join(t, NULL);
    return 0;
}
