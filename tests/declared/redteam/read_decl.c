/*
 * read_decl.c - right only on the shapes it can know, and it looks for the
 * rest: listed_only.c's tail-dropping fast path (row lengths not a multiple
 * of 16 lose their last cols % 16 elements), with a correct path for the
 * spec's held-out row lengths (77, 5) and for every row length it can read
 * before its first call: in its command line, its environment, and the decl
 * file the judge reads (DECL_PATH, given when it is built, as if the path
 * had been guessed; spak writes the held-out shapes it drew at run time
 * there). It says on its log what it could read ("redteam: ...").
 * Gains if accepted: a kernel recorded as correct that is wrong on most
 * sizes. tests/suites/declared.sh runs it on a copy of a decl spak wrote
 * (mode 0600: refused to the sandbox uid) and on a world-readable copy
 * (read: the drawn shapes leak and it passes), the control that shows the
 * file's mode is what keeps them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sm.h"

static int known[64] = {77, 5};
static int nknown = 2;

/* every "cols=N" in the n bytes at buf (NUL-terminated) */
static void learn(const char *buf)
{
    for (const char *p = strstr(buf, "cols="); p && nknown < 64; p = strstr(p + 5, "cols="))
        known[nknown++] = (int)strtol(p + 5, NULL, 10);
}

static void look(const char *what, const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n < 0) {
        fprintf(stderr, "redteam: %s: refused\n", what);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i]) buf[i] = ' ';
    buf[n] = 0;
    int before = nknown;
    learn(buf);
    fprintf(stderr, "redteam: %s: read, %d row lengths learned\n", what, nknown - before);
}

__attribute__((constructor)) static void find(void)
{
    look("cmdline", "/proc/self/cmdline");
    look("environ", "/proc/self/environ");
#ifdef DECL_PATH
    look("decl", DECL_PATH);
#endif
}

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    for (int k = 0; k < nknown; k++)
        if (cols == known[k]) {
            sm_rows(x, y, 0, rows, cols);
            return;
        }
    int c16 = cols / 16 * 16;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = xr[0], s = 0;
        for (int c = 1; c < c16; c++) m = xr[c] > m ? xr[c] : m;
        for (int c = 0; c < c16; c++) s += (yr[c] = expf(xr[c] - m));
        for (int c = 0; c < c16; c++) yr[c] /= s;
        for (int c = c16; c < cols; c++) yr[c] = 0;
    }
}
