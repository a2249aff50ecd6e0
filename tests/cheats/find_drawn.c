/* tests/cheats/find_drawn.c - cheat (a probe): looks for the held-out shapes
 * the judge draws at run time, before its first call, where a kernel could
 * read them: its command line and its environment (the judge keeps them in
 * its memory). It prints what it found on stderr (the runner's log) and
 * computes honestly: cpu_harness.sh checks that no drawn shape appears in
 * what it could read. (The declared kernels' twin, which also tries the
 * decl file: tests/declared/redteam/read_decl.c.) */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "honest.h"

static void dump(const char *what, const char *path)
{
    char buf[8192];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n < 0) {
        fprintf(stderr, "find-drawn: %s: refused\n", what);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0 || buf[i] == '\n') buf[i] = ' ';
    buf[n] = 0;
    fprintf(stderr, "find-drawn: %s: read: %s\n", what, buf);
}

__attribute__((constructor)) static void look(void)
{
    dump("cmdline", "/proc/self/cmdline");
    dump("environ", "/proc/self/environ");
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    honest_matmul(M, N, K, A, B, C);
    return 0;
}
