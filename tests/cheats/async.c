/* tests/cheats/async.c - cheat: returns while its thread still writes the
 * output. The work goes to a detached thread and the call returns at once, so
 * a timer around the call sees almost nothing. (The thread starts with a 2 ms
 * nap so the race is lost the same way on every run; a real kernel with a
 * missing join loses it less predictably.) */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "../../kernels/cpu/matmul/abi.h"

typedef struct job {
    int M, N, K;
    const float *A, *B;
    float *C;
} job;

static void *work(void *p)
{
    job *j = p;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    for (int i = 0; i < j->M; i++)
        for (int c = 0; c < j->N; c++) {
            float s = 0.0f;
            for (int k = 0; k < j->K; k++) s += j->A[(long)i * j->K + k] * j->B[(long)k * j->N + c];
            j->C[(long)i * j->N + c] = s;
        }
    free(j);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    job *j = malloc(sizeof *j);
    if (!j) return 1;
    *j = (job){M, N, K, A, B, C};
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &at, work, j);
    pthread_attr_destroy(&at);
    if (rc) {
        free(j);
        return 1;
    }
    return 0; /* the cheat: no join */
}
