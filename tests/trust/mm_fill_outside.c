/* tests/trust/mm_fill_outside.c - cheat (writes that outlive the
 * evaluation): on its first call it writes 64 MiB into each place outside
 * its working directory that might be writable: /dev/shm, /tmp, /var/tmp,
 * the folder above its own, and appends to any world-writable file it
 * finds in /dev/shm. The kernel is honest. Every write must be refused, and
 * nothing of it may be left. */
#include "trust.h"
#include <dirent.h>

static void spill(const char *path, int flags)
{
    static char buf[1 << 20];
    memset(buf, 'O', sizeof buf);
    int fd = open(path, O_WRONLY | flags, 0666);
    if (fd < 0) return;
    for (int m = 0; m < 64; m++)
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) break;
    close(fd);
    fprintf(stderr, "mm_fill_outside: wrote into %s\n", path);
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        spill("/dev/shm/trust-fill-shm", O_CREAT | O_TRUNC);
        spill("/tmp/trust-fill-tmp", O_CREAT | O_TRUNC);
        spill("/var/tmp/trust-fill-vartmp", O_CREAT | O_TRUNC);
        spill("../trust-fill-parent", O_CREAT | O_TRUNC);
        DIR *d = opendir("/dev/shm");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char p[512];
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "/dev/shm/%s", e->d_name);
            spill(p, O_APPEND);
        }
        if (d) closedir(d);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
