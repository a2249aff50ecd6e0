/* forkbomb: every process forks forever; when fork fails it says why (once
 * per process) and keeps retrying every 10 ms. Contained by RLIMIT_NPROC. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
    int told = 0;
    for (;;) {
        pid_t p = fork();
        if (p < 0) {
            if (!told) {
                fprintf(stderr, "fork: %s\n", strerror(errno));
                told = 1;
            }
            usleep(10000);
        } else if (p == 0) {
            told = 0;
        }
    }
}
