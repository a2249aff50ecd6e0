/* tests/cheats/ctor_seed.c - cheat: works in a constructor, at load time
 * (untimed): reads the harness's seed and shapes from /proc/self/cmdline
 * (--seed, --shapes), regenerates the inputs the way a seeded harness would
 * (kernels/cpu/common/rng.h) and precomputes C; every call then copies the
 * precomputed C and computes nothing. It says on stderr what its command line
 * was (the runner's log). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../kernels/cpu/common/rng.h"
#include "honest.h"

static float *pre;
static int pm, pn, pk;

__attribute__((constructor)) static void precompute(void)
{
    char buf[4096] = "";
    int fd = open("/proc/self/cmdline", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
    if (fd >= 0) close(fd);
    long seed = 7; /* a guess when the command line has none */
    pm = pn = pk = 64;
    fprintf(stderr, "ctor-seed: cmdline:");
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
        fprintf(stderr, " %s", buf + i);
        if (!strcmp(buf + i, "--seed") && i + 6 < n) seed = atol(buf + i + 7);
        if (!strcmp(buf + i, "--shapes") && i + 8 < n) sscanf(buf + i + 9, "%dx%dx%d", &pm, &pn, &pk);
    }
    fprintf(stderr, "\n");
    float *A = malloc(sizeof(float) * (size_t)pm * pk), *B = malloc(sizeof(float) * (size_t)pk * pn);
    pre = malloc(sizeof(float) * (size_t)pm * pn);
    if (!A || !B || !pre) return;
    uint64_t s = derive_seed((uint64_t)seed, 1, 0);
    fill_normal(A, (size_t)pm * pk, s * 4);
    fill_normal(B, (size_t)pk * pn, s * 4 + 1);
    honest_matmul(pm, pn, pk, A, B, pre);
    free(A);
    free(B);
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    (void)A, (void)B;
    if (!pre || M != pm || N != pn || K != pk) return 1;
    memcpy(C, pre, sizeof(float) * (size_t)M * N);
    return 0;
}
