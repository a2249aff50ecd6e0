/* tests/cheats/burner.c - cheat: an honest naive matmul that, on its first
 * call, leaves a thread spinning on each core for good, so the baseline,
 * timed after it in the same process or beside it, runs on busy cores and the
 * candidate's ratio looks better. */
#include <pthread.h>
#include <unistd.h>
#include "honest.h"

static volatile unsigned long spin_sink;

static void *spin(void *p)
{
    (void)p;
    for (;;) spin_sink++;
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static int started;
    if (!started) {
        started = 1;
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long t = 0; t < n && t < 8; t++) {
            pthread_t th;
            if (pthread_create(&th, NULL, spin, NULL) == 0) pthread_detach(th);
        }
    }
    honest_matmul(M, N, K, A, B, C);
    return 0;
}
