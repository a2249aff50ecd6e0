/* sleeper [--escape]: sleeps far past any timeout. With --escape it first
 * starts a grandchild in a new session (out of the process group) and prints
 * its host pid ("escapee PID"), to check that a kill reaches it too. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--escape") == 0) {
        pid_t p = fork();
        if (p == 0) {
            setsid();
            if (fork() == 0) {
                char buf[64];
                ssize_t n = readlink("/proc/self", buf, sizeof buf - 1); /* host pid */
                buf[n > 0 ? n : 0] = '\0';
                printf("escapee %s\n", buf);
                fflush(stdout);
                for (;;)
                    sleep(1000);
            }
            _exit(0);
        }
    }
    for (;;)
        sleep(1000);
}
