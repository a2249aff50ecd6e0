/* tests/trust/mm_linger.c - cheat (outlives its evaluation): on its first
 * call it starts a detached thread and a forked child that leaves the
 * process group (setsid) and closes its output; both are named
 * "trust-linger" (comm) and bump a heartbeat file in the working directory
 * every 20 ms, forever. The kernel is honest. Nothing of it may still run
 * once the evaluation is over. */
#include "trust.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <time.h>

static void beat_forever(const char *path)
{
    prctl(PR_SET_NAME, "trust-linger", 0, 0, 0);
    for (unsigned long n = 0;; n++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            char b[32];
            int l = snprintf(b, sizeof b, "%lu\n", n);
            (void)!write(fd, b, (size_t)l);
            close(fd);
        }
        struct timespec t = {0, 20000000};
        nanosleep(&t, NULL);
    }
}

static void *thread_main(void *p)
{
    (void)p;
    beat_forever("trust-linger-thread.beat");
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool started;
    if (!started) {
        started = true;
        pid_t pid = fork();
        if (pid == 0) {
            setsid();
            for (int fd = 0; fd < 3; fd++) close(fd);
            beat_forever("trust-linger-child.beat");
        }
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, NULL) == 0) pthread_detach(t);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
