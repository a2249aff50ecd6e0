/* fdpeer: a runner's view of the fds a judge passes (spak_sandbox_start's
 * keep_fds). Writes "to-judge" to fd 3, reads one line from fd 4 and prints
 * it back ("got LINE"), and says how many fds above 4 it has (none should
 * reach it) and whether fds 3 and 4 survive an exec (close-on-exec cleared). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    int others = 0;
    for (int fd = 5; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            others++;
    int f3 = fcntl(3, F_GETFD), f4 = fcntl(4, F_GETFD);
    printf("cloexec3=%d cloexec4=%d others=%d\n", f3 < 0 ? -1 : (f3 & FD_CLOEXEC) != 0,
           f4 < 0 ? -1 : (f4 & FD_CLOEXEC) != 0, others);
    if (write(3, "to-judge\n", 9) != 9)
        printf("write fd 3 failed\n");
    char line[128];
    size_t n = 0;
    char c;
    while (n + 1 < sizeof line && read(4, &c, 1) == 1 && c != '\n')
        line[n++] = c;
    line[n] = '\0';
    printf("got %s\n__SPAK_TRACE__ {}\n", line);
    return 0;
}
