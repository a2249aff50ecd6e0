/*
 * mm_freivalds.c - the same hole as predict.c, against the built-in matmul
 * family: its timed calls are checked by Freivalds (||C x - A (B x)|| /
 * ||A (B x)|| for two normal vectors x drawn from a seed the judge takes
 * "after the call returned"). Until 2026-12-06 that seed was the draw of
 * the judge's input generator right after the CALL's nonce, itself the draw
 * right after the call's inputs, so a candidate that solves the generator
 * from A (solve.h) knows x before it starts: it computes z = A (B x) for
 * both vectors (O(MK + KN)) and writes the rank-2 C = Z (X^T X)^-1 X^T,
 * which has C x = z exactly, in O(MN), never forming A B.
 * The three checked calls of a shape (a full reference on 16 rows and four
 * Freivalds vectors from a seed that came from the same stream, but the
 * solve is not worth it there) are computed honestly.
 * Gains if accepted: an O(n^2) "matmul" recorded as correct, its ratio to
 * OpenBLAS growing with n. Build: cc -O2 -march=native -shared -fPIC
 * mm_freivalds.c -o mm_freivalds.so -lm (-DHONEST: the honest control); run through spak-harness-cpu --family
 * matmul (README.md). Logs "redteam: faked" per faked call.
 */
#include <stdlib.h>

#include "solve.h"

/* the honest kernel, for the checked calls (ikj, one thread) */
static void mm(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (long i = 0; i < M; i++) {
        float *c = C + i * N;
        for (long j = 0; j < N; j++) c[j] = 0;
        for (long k = 0; k < K; k++) {
            float a = A[i * K + k];
            const float *b = B + k * N;
            for (long j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

static int call_no(int M, int N, int K) /* calls of this shape so far, this one included */
{
    static long key[64];
    static int n[64], nk;
    long k = ((long)M * 1000003 + N) * 1000003 + K;
    for (int i = 0; i < nk; i++)
        if (key[i] == k) return ++n[i];
    if (nk == 64) return 1000;
    key[nk] = k, n[nk] = 1;
    return n[nk++];
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void seed_(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
    r->has_spare = 0;
}

static double uniform_(rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal_(rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u = uniform_(r), v = uniform_(r), m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2.0 * M_PI * v);
    r->has_spare = 1;
    return m * cos(2.0 * M_PI * v);
}

static long faked;

/* C with C x_v = A (B x_v) for the two vectors the judge will draw; 0, or
 * -1 when the generator cannot be solved from A */
static int fake(int M, int N, int K, const float *A, const float *B, float *C)
{
    rng g;
    if (!quant[NQ]) init_quantiles();
    if (!recover(A, (long)M * K, &g)) return -1;
    fill(&g, NULL, (long)M * K); /* A */
    fill(&g, NULL, (long)K * N); /* B */
    rng_next(&g);                /* the CALL's nonce */
    rng r;
    seed_(&r, rng_next(&g)); /* the check's seed: the next draw */
    double *x = malloc(sizeof(double) * 2 * (size_t)N), *y = malloc(sizeof(double) * (size_t)K);
    double *z = malloc(sizeof(double) * 2 * (size_t)M);
    if (!x || !y || !z) return -1;
    for (int v = 0; v < 2; v++) {
        for (long j = 0; j < N; j++) x[v * N + j] = normal_(&r);
        for (long k = 0; k < K; k++) {
            double s = 0;
            for (long j = 0; j < N; j++) s += B[k * N + j] * x[v * N + j];
            y[k] = s;
        }
        for (long i = 0; i < M; i++) {
            double s = 0;
            for (long k = 0; k < K; k++) s += A[i * K + k] * y[k];
            z[v * M + i] = s;
        }
    }
    double g11 = 0, g12 = 0, g22 = 0; /* X^T X */
    for (long j = 0; j < N; j++)
        g11 += x[j] * x[j], g12 += x[j] * x[N + j], g22 += x[N + j] * x[N + j];
    double det = g11 * g22 - g12 * g12;
    for (long i = 0; i < M; i++) {
        double a = (g22 * z[i] - g12 * z[M + i]) / det, b = (g11 * z[M + i] - g12 * z[i]) / det;
        for (long j = 0; j < N; j++) C[i * N + j] = (float)(a * x[j] + b * x[N + j]);
    }
    free(x), free(y), free(z);
    return 0;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
#ifdef HONEST
    mm(M, N, K, A, B, C);
    return 0;
#endif
    if (call_no(M, N, K) <= 3 || (long)M * K < 100000 || fake(M, N, K, A, B, C)) {
        mm(M, N, K, A, B, C);
        return 0;
    }
    if (++faked % 8 == 1) fprintf(stderr, "redteam: faked %ld calls\n", faked);
    return 0;
}
