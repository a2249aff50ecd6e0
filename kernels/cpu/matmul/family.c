/*
 * kernels/cpu/matmul/family.c - the matmul family as the CPU harness sees it
 * (the descriptor of kernels/cpu/common/family.h): C[M][N] = A[M][K] B[K][N]
 * in fp32 (abi.h), shapes MxNxK, a double reference, the check of each
 * timed call, and OpenBLAS sgemm (baseline_openblas.c, a .so run in a runner)
 * as the built-in baseline. Linked into spak-harness-cpu by matmul.mk; the
 * runner links call.c instead.
 *
 * Reference ("method" in each Correctness record): "full-double" when
 * M*N*K <= 2^27, else "freivalds4+rows16": ||(C - AB)x|| / ||ABx|| over 4
 * normal vectors x in double (an estimate of the Frobenius relative error),
 * max'ed with the exact double error of 16 random full rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/family.h"
#include "abi.h"
#include "traffic.h"

static void sizes(const cpu_shape *sh, size_t in[3], int *nin, size_t *out)
{
    in[0] = (size_t)sh->d[0] * sh->d[2];
    in[1] = (size_t)sh->d[2] * sh->d[1];
    *nin = 2;
    *out = (size_t)sh->d[0] * sh->d[1];
}

static double flops(const cpu_shape *sh)
{
    return 2.0 * sh->d[0] * sh->d[1] * sh->d[2];
}

/* row i of A B in double */
static void mm_row(long N, long K, const float *A, const float *B, long i, double *row)
{
    for (long j = 0; j < N; j++) row[j] = 0;
    for (long k = 0; k < K; k++) {
        double a = A[i * K + k];
        const float *b = B + k * N;
        for (long j = 0; j < N; j++) row[j] += a * b[j];
    }
}

/* one exact row of C = A B in double, compared with out */
static void mm_row_err(long N, long K, const float *A, const float *B, const float *C, long i,
                       double *row, cpu_errstat *e)
{
    mm_row(N, K, A, B, i, row);
    for (long j = 0; j < N; j++) {
        double d = (double)C[i * N + j] - row[j];
        e->num += d * d;
        e->den += row[j] * row[j];
        e->checked++;
    }
}

/* relative error of the matmul output; counts elements far off (> 10 tol
 * times the reference rms) among the exactly checked rows */
static double matmul_error(const cpu_shape *sh, const cpu_bufs *b, double tol, uint64_t seed, const char **method,
                           double *frac_off)
{
    long M = sh->d[0], N = sh->d[1], K = sh->d[2];
    const float *A = b->in[0], *B = b->in[1], *C = b->out;
    double *row = cpu_xmalloc(sizeof(double) * (size_t)N);
    cpu_errstat rows = {0};
    bool full = (double)M * N * K <= (double)(1 << 27);
    long nrows = full ? M : (M < 16 ? M : 16);
    rng r;
    rng_seed(&r, seed ^ 0xf00dull);
    /* exact rows: all of them, or 16 random ones */
    size_t off = 0;
    for (long t = 0; t < nrows; t++) {
        long i = full ? t : (long)(rng_next(&r) % (uint64_t)M);
        mm_row_err(N, K, A, B, C, i, row, &rows);
    }
    double rms = sqrt(rows.den / (double)(rows.checked ? rows.checked : 1));
    /* second pass over the same rows to count far-off elements */
    rng_seed(&r, seed ^ 0xf00dull);
    for (long t = 0; t < nrows; t++) {
        long i = full ? t : (long)(rng_next(&r) % (uint64_t)M);
        mm_row(N, K, A, B, i, row);
        for (long j = 0; j < N; j++)
            if (!(fabs((double)C[i * N + j] - row[j]) <= 10 * tol * rms)) off++;
    }
    *frac_off = rows.checked ? (double)off / (double)rows.checked : 0;
    double rel = rows.den > 0 ? sqrt(rows.num / rows.den) : (rows.num > 0 ? INFINITY : 0);
    if (full) {
        *method = "full-double";
        free(row);
        return rel;
    }
    /* Freivalds: ||(C - AB) x|| / ||AB x|| for 4 normal vectors x */
    *method = "freivalds4+rows16";
    double *x = cpu_xmalloc(sizeof(double) * (size_t)N), *y = cpu_xmalloc(sizeof(double) * (size_t)K);
    double num = 0, den = 0;
    for (int v = 0; v < 4; v++) {
        for (long j = 0; j < N; j++) x[j] = rng_normal(&r);
        for (long k = 0; k < K; k++) {
            double s = 0;
            for (long j = 0; j < N; j++) s += B[k * N + j] * x[j];
            y[k] = s;
        }
        for (long i = 0; i < M; i++) {
            double z = 0, w = 0;
            for (long k = 0; k < K; k++) z += A[i * K + k] * y[k];
            for (long j = 0; j < N; j++) w += C[i * N + j] * x[j];
            num += (w - z) * (w - z);
            den += z * z;
        }
    }
    double fr = den > 0 ? sqrt(num / den) : INFINITY;
    if (!(fr <= rel)) rel = fr; /* NaN-safe max */
    free(x);
    free(y);
    free(row);
    return rel;
}

/* The check of one timed call: Freivalds with two normal vectors x drawn
 * from seed (which the judge draws after the call returned):
 * ||C x - A (B x)|| / ||A (B x)|| in double, O(MK + KN + MN) per vector
 * against the call's O(MNK). A wrong element e at (i, j) adds (e x_j)^2: a
 * kernel that skips rows, computes a third of them or replays an old result
 * is off by far more than the tolerance; honest fp32 is within it (the same
 * estimate as "freivalds4" above, with 2 vectors). */
static double matmul_timed_error(const cpu_shape *sh, const cpu_bufs *b, uint64_t seed, const char **method)
{
    long M = sh->d[0], N = sh->d[1], K = sh->d[2];
    const float *A = b->in[0], *B = b->in[1], *C = b->out;
    double *x = cpu_xmalloc(sizeof(double) * (size_t)N), *y = cpu_xmalloc(sizeof(double) * (size_t)K);
    rng r;
    rng_seed(&r, seed);
    double num = 0, den = 0;
    for (int v = 0; v < 2; v++) {
        for (long j = 0; j < N; j++) x[j] = rng_normal(&r);
        for (long k = 0; k < K; k++) {
            double s = 0;
            const float *row = B + k * N;
            for (long j = 0; j < N; j++) s += row[j] * x[j];
            y[k] = s;
        }
        for (long i = 0; i < M; i++) {
            double z = 0, w = 0;
            const float *ar = A + i * K, *cr = C + i * N;
            for (long k = 0; k < K; k++) z += ar[k] * y[k];
            for (long j = 0; j < N; j++) w += cr[j] * x[j];
            num += (w - z) * (w - z);
            den += z * z;
        }
    }
    free(x);
    free(y);
    *method = "freivalds2";
    return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

/* the built-in baseline's runner: OpenBLAS on every core, threads that stop
 * spinning 2^4 cycles after a call, and the kernel family the CPU's ISA
 * allows (judge.c's openblas_coretype: OpenBLAS's own detection falls back
 * to SSE3 kernels on CPU models it does not know). All three are read at
 * library load, so they are set here, in the runner's environment; see
 * baseline_openblas.c. */
static const char *const openblas_env[] = {"OPENBLAS_NUM_THREADS={threads}", "OPENBLAS_THREAD_TIMEOUT=4",
                                           "OPENBLAS_CORETYPE={openblas_core}", NULL};

/* the fields the in-process baseline wrote (the report shows openblas_core),
 * from baseline_openblas.c's "openblas core=C threads=N timeout=T" */
static void openblas_describe(json_t *rec, const char *desc)
{
    char core[64] = "", timeout[32] = "";
    int threads = 0;
    if (sscanf(desc, "openblas core=%63s threads=%d timeout=%31s", core, &threads, timeout) != 3) return;
    json_object_set_new(rec, "baseline_threads", json_integer(threads));
    json_object_set_new(rec, "openblas_thread_timeout", strcmp(timeout, "default") ? json_string(timeout) : json_null());
    json_object_set_new(rec, "openblas_core", json_string(core));
}

const cpu_family cpu_family_matmul = {
    .name = "matmul",
    .order = 1,
    .symbol = SPAK_MATMUL_SYMBOL,
    .ndims = 3,
    .shape_syntax = "matmul MxNxK",
    .shape_help = "matmul MxNxK",
    .default_shapes = "512x512x512,1024x1024x1024",
    .default_heldout = "1x1x1,17x31x45,127x253x61,333x200x517,1000x999x1001",
    .sizes = sizes,
    .flops = flops,
    .error = matmul_error,
    .timed_error = matmul_timed_error,
    .builtin_baseline = "openblas",
    .builtin_baseline_so = "cpu/matmul/baseline-openblas.so",
    .builtin_baseline_env = openblas_env,
    .baseline_describe = openblas_describe,
    .traffic = matmul_traffic,
    .traffic_models = MATMUL_TRAFFIC_MODELS,
};
