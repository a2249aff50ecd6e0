/* sockpair: a legitimate program that uses AF_UNIX sockets (OpenMP runtimes
 * and the CUDA driver may): a socketpair between two threads of a fork, and
 * a plain socket(AF_UNIX). The syscall filter allows both. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        _exit(write(sv[1], "ping", 4) == 4 ? 0 : 1);
    }
    close(sv[1]);
    char buf[8] = {0};
    ssize_t n = read(sv[0], buf, sizeof buf - 1);
    int status = 0;
    waitpid(pid, &status, 0);
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (n != 4 || strcmp(buf, "ping") != 0 || status != 0 || u < 0) {
        fprintf(stderr, "sockpair: read %zd '%s', child status %d, socket %d\n", n, buf, status, u);
        return 1;
    }
    close(u);
    printf("socketpair=ok\n");
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
