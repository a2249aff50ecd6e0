/* tests/cheats/late_once.c - an honest naive matmul that, after each of its
 * first LATE_CALLS calls (default 1), leaves a thread that spins for 8 ms of
 * CPU and ends: work after return, LATE_CALLS times. The CPU judge checks
 * the first checked call that shows it again, once an evaluation (check.c:
 * interrupt time charged to a runner back in its recv() looks the same), so
 * LATE_CALLS=1 passes, its record naming the call checked again, and
 * LATE_CALLS=2 fails "work after return". */
#include <pthread.h>
#include <time.h>
#include "honest.h"

#ifndef LATE_CALLS
#define LATE_CALLS 1
#endif

static volatile unsigned long spin_sink;

static void *spin(void *p)
{
    (void)p;
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 10000; i++) spin_sink++;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 8000000L);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static int calls;
    honest_matmul(M, N, K, A, B, C);
    if (++calls <= LATE_CALLS) {
        pthread_t th;
        if (pthread_create(&th, NULL, spin, NULL) == 0) pthread_detach(th);
    }
    return 0;
}
