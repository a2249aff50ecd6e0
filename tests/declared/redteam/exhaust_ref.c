/*
 * exhaust_ref.c - resources exhausted so that the reference (started by
 * the judge on the first check, after this call returned, in a runner of
 * its own under the same unprivileged uid) cannot start: on its first call
 * the candidate forks sleeping children until fork fails (RLIMIT_NPROC),
 * and keeps them. A judge that failed open on a reference it cannot run
 * would accept whatever the candidate wrote: here nothing (zeros).
 * Gains if accepted: no work at all.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int forked;

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    (void)x;
    if (!forked) {
        int n = 0;
        for (; n < 100000; n++) {
            pid_t p = fork();
            if (p < 0) break;
            if (p == 0) {
                for (;;) pause();
            }
        }
        forked = n;
        fprintf(stderr, "redteam: exhaust forked %d children\n", n);
    }
    memset(y, 0, (size_t)rows * (size_t)cols * sizeof *y);
}
