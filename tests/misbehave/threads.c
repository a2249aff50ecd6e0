/* threads: a legitimate pthreads candidate (built with -pthread): four
 * threads each fill a quarter of an array, joined. */
#include <pthread.h>
#include <stdio.h>

#define N 400000
static double a[N];

static void *work(void *arg)
{
    long k = (long)arg;
    for (long i = k * (N / 4); i < (k + 1) * (N / 4); i++)
        a[i] = (double)i * 0.5;
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (long k = 0; k < 4; k++)
        if (pthread_create(&t[k], NULL, work, (void *)k) != 0) {
            perror("pthread_create");
            return 1;
        }
    for (int k = 0; k < 4; k++)
        pthread_join(t[k], NULL);
    double s = 0;
    for (long i = 0; i < N; i++)
        s += a[i];
    if (s != 0.5 * (double)N * (double)(N - 1) / 2.0) {
        fprintf(stderr, "threads: wrong sum %f\n", s);
        return 1;
    }
    printf("threads=4\n");
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
