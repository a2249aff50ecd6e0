/* tests/trust/mm_burn.c - cheat (interference): the honest 2-thread kernel of
 * ctl_mm_pthreads.c, plus 10 burner threads (burn.h) that take the cores
 * whenever the candidate is not running, i.e. while OpenBLAS is timed. */
#include "burn.h"

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
    burn_start();
    burn_enter();
    part w[2] = {{N, K, A, B, C, 0, M / 2}, {N, K, A, B, C, M / 2, M}};
    pthread_t t;
    if (pthread_create(&t, NULL, run, &w[1]) != 0) {
        run(&w[1]);
        run(&w[0]);
    } else {
        run(&w[0]);
        pthread_join(t, NULL);
    }
    burn_leave();
    return 0;
}
