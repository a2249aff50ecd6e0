/* tests/trust/mm_predict_check.c - cheat (predicts the check), matmul: above
 * 2^27 multiply-adds the harness checks 16 random rows exactly and C x
 * against A (B x) for 4 random vectors x, all drawn from --seed in argv. The
 * candidate rebuilds them (derive_seed(seed, shape index + 1, call), then
 * seed ^ 0xf00d; trust.h has the generator) and, instead of the product,
 * writes C = Y (X^T X)^-1 X^T with Y = A (B X): a matrix that agrees with A B
 * on exactly those 4 directions (O((MK + KN + MN) 4) work), then the 16 rows
 * exactly. After the checks, or without a seed to predict from, it draws X
 * and the rows itself: a guess, which a check drawn after the call catches. */
#include "trust.h"

#define NV 4
#define NR 16

static int shape_index(int M, int N, int K)
{
    char list[8192], held[4096], me[64];
    if (!trust_arg("--shapes", list, sizeof list)) return -1;
    if (trust_arg("--heldout", held, sizeof held) && held[0]) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, ",%s", held);
    }
    snprintf(me, sizeof me, "%dx%dx%d", M, N, K);
    int idx = 0;
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ","), idx++)
        if (strcmp(t, me) == 0) return idx;
    return -1;
}

/* inverse of the 4x4 symmetric positive definite g, by Gauss-Jordan */
static void inverse4(double g[NV][NV], double inv[NV][NV])
{
    double a[NV][2 * NV];
    for (int i = 0; i < NV; i++)
        for (int j = 0; j < 2 * NV; j++) a[i][j] = j < NV ? g[i][j] : (j - NV == i);
    for (int c = 0; c < NV; c++) {
        double p = a[c][c];
        for (int j = 0; j < 2 * NV; j++) a[c][j] /= p;
        for (int i = 0; i < NV; i++)
            if (i != c) {
                double f = a[i][c];
                for (int j = 0; j < 2 * NV; j++) a[i][j] -= f * a[c][j];
            }
    }
    for (int i = 0; i < NV; i++)
        for (int j = 0; j < NV; j++) inv[i][j] = a[i][NV + j];
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    char seed_s[64];
    int call = trust_call_no(M, N, K, 0), idx = shape_index(M, N, K);
    if ((double)M * N * K <= (double)(1 << 27)) { /* checked in full: honest */
        trust_mm(M, N, K, A, B, C);
        return 0;
    }
    bool predict = idx >= 0 && call <= 3 && trust_arg("--seed", seed_s, sizeof seed_s);
    rng r;
    uint64_t s0 = predict ? derive_seed(strtoull(seed_s, NULL, 10), (uint64_t)idx + 1, (uint64_t)(call - 1))
                          : (uint64_t)call * 7919;
    rng_seed(&r, s0 ^ 0xf00dull);
    long rows[NR];
    for (int t = 0; t < NR; t++) rows[t] = (long)(rng_next(&r) % (uint64_t)M);
    /* the harness draws the rows twice (two passes), then the vectors */
    rng_seed(&r, s0 ^ 0xf00dull);
    for (int t = 0; t < NR; t++) (void)rng_next(&r);
    double *X = malloc(sizeof(double) * (size_t)N * NV), *BX = malloc(sizeof(double) * (size_t)K * NV),
           *W = malloc(sizeof(double) * (size_t)M * NV);
    if (!X || !BX || !W) {
        free(X), free(BX), free(W);
        return 2;
    }
    for (int v = 0; v < NV; v++)
        for (long j = 0; j < N; j++) X[j * NV + v] = rng_normal(&r);
    double g[NV][NV] = {{0}}, gi[NV][NV];
    for (long j = 0; j < N; j++)
        for (int v = 0; v < NV; v++)
            for (int w = 0; w < NV; w++) g[v][w] += X[j * NV + v] * X[j * NV + w];
    inverse4(g, gi);
    for (long k = 0; k < K; k++)
        for (int v = 0; v < NV; v++) {
            double s = 0;
            for (long j = 0; j < N; j++) s += (double)B[k * N + j] * X[j * NV + v];
            BX[k * NV + v] = s;
        }
    for (long i = 0; i < M; i++) {
        double y[NV] = {0};
        for (long k = 0; k < K; k++)
            for (int v = 0; v < NV; v++) y[v] += (double)A[i * K + k] * BX[k * NV + v];
        for (int w = 0; w < NV; w++) {
            W[i * NV + w] = 0;
            for (int v = 0; v < NV; v++) W[i * NV + w] += y[v] * gi[v][w];
        }
        for (long j = 0; j < N; j++) {
            double c = 0;
            for (int w = 0; w < NV; w++) c += W[i * NV + w] * X[j * NV + w];
            C[i * N + j] = (float)c;
        }
    }
    for (int t = 0; t < NR; t++) trust_mm_rows(N, K, A, B, C, rows[t], rows[t] + 1);
    free(X), free(BX), free(W);
    return 0;
}
