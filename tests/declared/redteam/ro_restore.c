/*
 * ro_restore.c - writes the read-only input x and restores it before
 * returning, so the judge's hash of the inputs sees nothing.
 * Idea: use x as scratch (the row's exponentials written over it, then x
 * put back from a copy), reached by every way around the read-only mapping
 * that does not fault: mprotect(PROT_WRITE) of its pages, a write through
 * /proc/self/mem (which ignores page protections), and a fresh writable
 * mapping of the memfd through /proc/self/map_files. Each attempt's result
 * is logged ("redteam: ro"); where all fail, the kernel is honest.
 * Gains if accepted: a kernel that writes its read-only inputs (the class),
 * here a scratch buffer for free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sm.h"

static int tried;

static void attempt(float *x)
{
    uintptr_t pg = (uintptr_t)x & ~(uintptr_t)4095;
    int rc = mprotect((void *)pg, 4096, PROT_READ | PROT_WRITE);
    fprintf(stderr, "redteam: ro mprotect %s\n", rc ? strerror(errno) : "WORKED");
    int fd = open("/proc/self/mem", O_RDWR);
    float v = x[0];
    ssize_t w = fd >= 0 ? pwrite(fd, &v, sizeof v, (off_t)(uintptr_t)x) : -1;
    fprintf(stderr, "redteam: ro /proc/self/mem %s\n", w == (ssize_t)sizeof v ? "WORKED" : strerror(errno));
    if (fd >= 0) close(fd);
    char path[128];
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    int opened = -1;
    while (m && fgets(line, sizeof line, m)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)x >= lo && (uintptr_t)x < hi) {
            snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", lo, hi);
            opened = open(path, O_RDWR);
            fprintf(stderr, "redteam: ro map_files %s\n", opened >= 0 ? "WORKED" : strerror(errno));
            void *p = opened >= 0 ? mmap(NULL, hi - lo, PROT_READ | PROT_WRITE, MAP_SHARED, opened, 0) : MAP_FAILED;
            if (opened >= 0) fprintf(stderr, "redteam: ro remap %s\n", p != MAP_FAILED ? "WORKED" : strerror(errno));
            if (opened >= 0) close(opened);
        }
    }
    if (m) fclose(m);
}

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    if (!tried++) attempt((float *)x);
    sm_rows(x, y, 0, rows, cols);
}
