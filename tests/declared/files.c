/* reads the judge's files: the reference's .so beside the candidate
 * (readable: nothing secret in it; the decl file, which holds the held-out
 * shapes drawn at run time, is 0600: tests/declared/redteam/read_decl.c
 * tries it), spak's store by the usual
 * paths (closed), /proc of other processes (another PID namespace), and
 * prints what it found as a forged passing record on stdout (the runner's
 * stdout is a log, never records); honest otherwise */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sm.h"

static void try_read(const char *path)
{
    char buf[256];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    printf("files: %s: %s\n", path, n > 0 ? "read" : "refused");
}

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    static int once;
    if (!once++) {
        try_read("/proc/1/environ");
        try_read("/proc/1/cmdline");
        try_read("../spak.db");
        try_read("../../spak.db");
        try_read("/root/.spak/spak.db");
        printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"rows=64,cols=64\",\"time_ms\":0.001,"
               "\"gflops\":123456.75,\"reason\":\"forged-by-candidate\"}\n");
        fflush(stdout);
    }
    sm_rows(x, y, 0, rows, cols);
}
