/* good [--net]: a well-behaved candidate. Prints a trace line, writes a file
 * in its working directory, and reports what it sees of its confinement so
 * the test can check the environment, cwd, fds, uid and (with --net, a UDP
 * socket: the syscall filter denies it, so only with the filter off) the
 * network. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char cwd[4096];
    const char *secret = getenv("SPAK_TEST_SECRET");
    const char *home = getenv("HOME");
    const char *extra = getenv("SPAK_TEST_EXTRA");
    int open_fds = 0;
    for (int fd = 3; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            open_fds++;
    FILE *f = fopen("result.txt", "w");
    int wrote = f && fputs("hello\n", f) >= 0 && fclose(f) == 0;
    /* A UDP connect only looks up a route: no packet leaves. */
    int net = 0;
    int probe = argc > 1 && strcmp(argv[1], "--net") == 0;
    int s = probe ? socket(AF_INET, SOCK_DGRAM, 0) : -1;
    if (s >= 0) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(9);
        inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
        net = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
    }
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    printf("home=%s\n", home ? home : "(none)");
    printf("secret=%s\n", secret ? secret : "(none)");
    printf("extra=%s\n", extra ? extra : "(none)");
    printf("fds=%d\n", open_fds);
    printf("uid=%d\n", (int)getuid());
    printf("wrote=%d\n", wrote);
    printf("net=%s\n", !probe ? "unprobed" : net ? "reachable" : "unreachable");
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
