/*
 * late_child.c - work after return, in a process the runner's own stop does
 * not reach, whose CPU time leaves with it.
 *
 * Idea: after the judge's checked calls of a shape (the first 5 here: 3
 * checked calls and 2 warm-ups), each call writes zeros over its last rows,
 * starts a child with clone(CLONE_VM) (a process of its own sharing the
 * memory, not a thread: the runner's kill(getpid(), SIGSTOP) at DONE does
 * not stop it) that computes those rows, computes the first rows itself and
 * returns before the child is done. The child keeps working after DONE while
 * the judge waits for the runner's stop, reads the CPU clocks, scans the
 * output for poison (zeros are not poison) and freezes the cgroup; it exits
 * when done, and an exited process's CPU time is no longer in the readings
 * of the cgroup's members: the late-CPU check sees nothing.
 * Gains if accepted: the rows finished after DONE are off the clock (a
 * share of the work the judge never timed); the child's CPU after DONE is
 * invisible. Logs "redteam: late" counts (the child saw the call returned
 * before it finished) on stderr, the runner's log.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sm.h"

#define SHARE 1 /* the child's rows above half, in 1/1024ths of the rows */

typedef struct job {
    const float *x;
    float *y;
    int r0, r1, cols;
    volatile int returned, done;
} job;

static job J;
static long calls, last_n, late, ontime;
static char stack[1 << 16] __attribute__((aligned(64)));

static int child(void *p)
{
    job *j = p;
    sm_rows(j->x, j->y, j->r0, j->r1, j->cols);
    if (j->returned) __atomic_add_fetch(&late, 1, __ATOMIC_RELAXED);
    else __atomic_add_fetch(&ontime, 1, __ATOMIC_RELAXED);
    j->done = 1;
    return 0;
}

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    if ((long)rows * cols != last_n) calls = 0, last_n = (long)rows * cols;
    if (J.r1 && !J.done) { /* the last child still running: honest */
        sm_rows(x, y, 0, rows, cols);
        return;
    }
    if (++calls <= 5 || rows < 64) {
        sm_rows(x, y, 0, rows, cols);
        return;
    }
    int h = rows / 2 - (int)((long)rows * SHARE / 1024);
    memset(y + (long)h * cols, 0, (size_t)(rows - h) * (size_t)cols * sizeof *y);
    J = (job){x, y, h, rows, cols, 0, 0};
    if (clone(child, stack + sizeof stack, CLONE_VM | SIGCHLD, &J) < 0) {
        sm_rows(x, y, h, rows, cols);
        J.done = 1;
    }
    sm_rows(x, y, 0, h, cols);
    J.returned = 1;
    if ((calls & 31) == 0) fprintf(stderr, "redteam: late %ld ontime %ld\n", late, ontime);
}
