/*
 * tests/trust/trust.h - what the adversarial candidates of tests/trust share:
 * the family ABI (kernels/cpu/<family>/abi.h, declared here again), honest
 * kernels (what a cheat falls back to when it cannot cheat, and the honest
 * controls), the shapes several cheats take (a side effect on the first call,
 * a memo of results), and the harness knowledge an adversary would read: how
 * to read the argv the harness was started with, where spak's home is, how
 * many times a shape was called, and the harness's own headers for its random
 * numbers and its CPU model (kernels/cpu/common/rng.h, cpu_model.h: the suite
 * copies them beside the candidates, which then need nothing outside their
 * folder to build). Everything is static inline: each candidate uses a part.
 */
#ifndef SPAK_TRUST_H
#define SPAK_TRUST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* spak builds with -D_GNU_SOURCE; a hand build may not */
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the harness's own headers, not copies: a copy that drifted from them would
 * make a seed-predicting or ceilings-forging cheat fail for the wrong reason */
#include "../../kernels/cpu/common/rng.h"
#include "../../kernels/cpu/common/cpu_model.h"

#define TRUST_EXPORT __attribute__((visibility("default")))

TRUST_EXPORT int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C);
TRUST_EXPORT int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K,
                                const float *V, float *O);

/* ---- honest kernels ------------------------------------------------------ */

/* rows [r0, r1) of C = A B, i-k-j order (vectorises; one thread) */
static inline void trust_mm_rows(int N, int K, const float *A, const float *B, float *C, long r0, long r1)
{
    for (long i = r0; i < r1; i++) {
        float *c = C + i * N;
        for (int j = 0; j < N; j++) c[j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float a = A[i * K + k];
            const float *b = B + (long)k * N;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

static inline void trust_mm(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_rows(N, K, A, B, C, 0, M);
}

/* one query row i of head bh: O_i = softmax(Q_i K^T / sqrt(D)) V */
static inline void trust_attn_row(int S, int D, int causal, const float *Q, const float *K, const float *V,
                                  float *O, long bh, long i, float *p)
{
    const float *q = Q + (bh * S + i) * D, *k = K + bh * S * D, *v = V + bh * S * D;
    float *o = O + (bh * S + i) * D;
    long n = causal ? i + 1 : S;
    float m = -INFINITY, l = 0.0f, scale = 1.0f / sqrtf((float)D);
    for (long j = 0; j < n; j++) {
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[d] * k[j * D + d];
        p[j] = s * scale;
        m = p[j] > m ? p[j] : m;
    }
    for (long j = 0; j < n; j++) {
        p[j] = expf(p[j] - m);
        l += p[j];
    }
    for (int d = 0; d < D; d++) o[d] = 0.0f;
    for (long j = 0; j < n; j++) {
        float w = p[j] / l;
        for (int d = 0; d < D; d++) o[d] += w * v[j * D + d];
    }
}

/* rows [r0, r1) of every head; returns non-zero when out of memory */
static inline int trust_attn_rows(int B, int H, int S, int D, int causal, const float *Q, const float *K,
                                  const float *V, float *O, long r0, long r1)
{
    float *p = malloc(sizeof(float) * (size_t)S);
    if (!p) return 2;
    for (long bh = 0; bh < (long)B * H; bh++)
        for (long i = r0; i < r1; i++) trust_attn_row(S, D, causal, Q, K, V, O, bh, i, p);
    free(p);
    return 0;
}

/* C = A B on 2 pthreads, each a half of the rows, joined before return (the
 * build has no -fopenmp, so pthreads stand in for OpenMP); one thread when
 * the second cannot be started. */
typedef struct trust_mm_part {
    int N, K;
    const float *A, *B;
    float *C;
    long r0, r1;
} trust_mm_part;

static inline void *trust_mm_part_run(void *p)
{
    trust_mm_part *w = p;
    trust_mm_rows(w->N, w->K, w->A, w->B, w->C, w->r0, w->r1);
    return NULL;
}

static inline void trust_mm_2threads(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_part w[2] = {{N, K, A, B, C, 0, M / 2}, {N, K, A, B, C, M / 2, M}};
    pthread_t t;
    if (pthread_create(&t, NULL, trust_mm_part_run, &w[1]) != 0) {
        trust_mm(M, N, K, A, B, C);
        return;
    }
    trust_mm_part_run(&w[0]);
    pthread_join(t, NULL);
}

/* ---- shapes several cheats take ------------------------------------------- */

/* An honest C = A B that first runs side_effect() once, on the first call of
 * the process: the cheats whose harm is what they do (a system call, a file
 * written or read), not a wrong C. */
static inline void trust_mm_after_once(void (*side_effect)(void), int M, int N, int K, const float *A,
                                       const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        side_effect();
    }
    trust_mm(M, N, K, A, B, C);
}

/* Says on stderr (the runner's log) what a system call that returns a file
 * descriptor gave: "WHAT: OK_WORD" or the error; closes the descriptor. Call
 * it right after the call, while errno is the call's. */
static inline void trust_say_fd(const char *what, long fd, const char *ok_word)
{
    fprintf(stderr, "%s: %s\n", what, fd >= 0 ? ok_word : strerror(errno));
    if (fd >= 0) close((int)fd);
}

/* A memo of results: C for (M, N, K, key), in slots reused round-robin. */
typedef struct trust_memo {
    int M, N, K;
    uint64_t key;
    float *C;
} trust_memo;

/* Replays the memoised C for (M, N, K, key) from memo[0..slots) when there
 * is one; else computes C = A B honestly and keeps a copy in the next slot
 * (*next counts them). The memo owns its copies. */
static inline void trust_mm_memo(trust_memo *memo, int slots, int *next, uint64_t key, int M, int N, int K,
                                 const float *A, const float *B, float *C)
{
    size_t bytes = sizeof(float) * (size_t)M * (size_t)N;
    for (int s = 0; s < slots; s++)
        if (memo[s].C && memo[s].M == M && memo[s].N == N && memo[s].K == K && memo[s].key == key) {
            memcpy(C, memo[s].C, bytes);
            return;
        }
    trust_mm(M, N, K, A, B, C);
    trust_memo *e = &memo[(*next)++ % slots];
    free(e->C);
    e->C = malloc(bytes);
    if (e->C) memcpy(e->C, C, bytes);
    e->M = M, e->N = N, e->K = K, e->key = key;
}

/* ---- calls per shape ------------------------------------------------------ */

/* The 1-based number of this call for this shape: the harness checks each
 * shape with three calls before it times anything, so "call > 3" means
 * "timed" (or at least "past the checks") to an adversary who read it. */
static inline int trust_call_no(long a, long b, long c, long d)
{
    typedef struct seen_shape { long k[4]; int n; } seen_shape;
    static seen_shape seen[64];
    static int nseen;
    for (int i = 0; i < nseen; i++)
        if (seen[i].k[0] == a && seen[i].k[1] == b && seen[i].k[2] == c && seen[i].k[3] == d) return ++seen[i].n;
    if (nseen == 64) return 1000;
    seen[nseen] = (seen_shape){{a, b, c, d}, 1};
    return seen[nseen++].n;
}

/* ---- what the process was started with ------------------------------------ */

/* The value after `flag` in /proc/self/cmdline, copied into out; NULL when
 * the process was not started with it (a runner without the judge's argv). */
static inline const char *trust_arg(const char *flag, char *out, size_t n)
{
    static char buf[65536];
    static ssize_t len = -1;
    if (len < 0) {
        int fd = open("/proc/self/cmdline", O_RDONLY);
        len = 0;
        if (fd >= 0) {
            ssize_t r;
            while (len < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0) len += r;
            close(fd);
        }
        buf[len] = 0;
    }
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(buf + i) + 1)
        if (strcmp(buf + i, flag) == 0) {
            i += (ssize_t)strlen(buf + i) + 1;
            if (i >= len) return NULL;
            snprintf(out, n, "%s", buf + i);
            return out;
        }
    return NULL;
}

/* ---- spak's home ------------------------------------------------------------ */

/* The directory holding spak.db: walk up from the working directory (today
 * the run directory HOME/runs/RUN/eN), else from the ceilings cache named in
 * argv. Returns false when nothing is found. */
static inline bool trust_find_home(char *out, size_t n)
{
    char dir[4096], probe[4200], arg[4096];
    struct stat st;
    if (getcwd(dir, sizeof dir)) {
        for (int up = 0; up < 8; up++) {
            snprintf(probe, sizeof probe, "%s/spak.db", dir);
            if (stat(probe, &st) == 0) {
                return snprintf(out, n, "%s", dir) > 0;
            }
            char *sl = strrchr(dir, '/');
            if (!sl || sl == dir) break;
            *sl = 0;
        }
    }
    if (trust_arg("--ceilings-cache", arg, sizeof arg)) {
        for (int up = 0; up < 3; up++) {
            char *sl = strrchr(arg, '/');
            if (!sl) return false;
            *sl = 0;
        }
        return snprintf(out, n, "%s", arg) > 0;
    }
    return false;
}

/* ---- exfiltration ------------------------------------------------------------ */

/* What a cheat that got hold of a secret does with it: every channel that
 * reaches the store today (stdout, stderr, a trace record). */
static inline void trust_leak(const char *what, const char *secret)
{
    printf("%s: %s\n", what, secret);
    printf("__SPAK_TRACE__ {\"type\":\"Correctness\",\"shape\":\"leak\",\"heldout\":true,\"passed\":true,"
           "\"rel_err\":0,\"tolerance\":1e-5,\"reason\":\"%s\"}\n",
           secret);
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", what, secret);
}

#endif
