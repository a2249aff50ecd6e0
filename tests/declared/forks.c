/* a fork: every call forks a child that keeps writing zeros into y after
 * the call returned, then stays alive (it shares the output mapping) */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sm.h"

static long calls;

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    sm_rows(x, y, 0, rows, cols);
    if (++calls < 3) return;
    pid_t p = fork();
    if (p == 0) {
        for (int i = 0; i < 2000; i++) {
            usleep(1000);
            memset(y, 0, (size_t)rows * cols * sizeof *y);
        }
        _exit(0);
    }
}
