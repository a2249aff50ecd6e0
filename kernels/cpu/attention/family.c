/*
 * kernels/cpu/attention/family.c - the attention-forward family as the CPU
 * harness sees it (the descriptor of kernels/cpu/common/family.h):
 * O = softmax(Q K^T / sqrt(D)) V per (batch, head) in fp32 (abi.h), shapes
 * BxHxSxD with a 'c' suffix for causal, a double reference, and no built-in
 * baseline (the naive rung built as a .so is the usual one: --baseline
 * naive-attention --baseline-so PATH). Linked into spak-harness-cpu by
 * attention.mk.
 *
 * Reference ("method" in each Correctness record): "full-double" when
 * B*H*S*S*D <= 2^27, else "sampled-rows": the exact double reference on a
 * random subset of (b,h,i) rows (about 2^27/(S*D) rows); NaN and poison are
 * checked by the core on all of O.
 */
#include <math.h>
#include <stdlib.h>

#include "../common/family.h"
#include "abi.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static void sizes(const cpu_shape *sh, size_t in[3], int *nin, size_t *out)
{
    size_t n = (size_t)sh->d[0] * sh->d[1] * sh->d[2] * sh->d[3];
    in[0] = in[1] = in[2] = n;
    *nin = 3;
    *out = n;
}

static double flops(const cpu_shape *sh)
{
    double f = 4.0 * sh->d[0] * sh->d[1] * (double)sh->d[2] * sh->d[2] * sh->d[3];
    return sh->causal ? f / 2 : f;
}

/* exact double attention for one (b,h,i) row, compared with O */
static void attn_row(const cpu_shape *sh, const cpu_bufs *b, long bh, long i, double *p, double *o, cpu_errstat *e)
{
    long S = sh->d[2], D = sh->d[3];
    const float *Q = b->in[0] + bh * S * D, *K = b->in[1] + bh * S * D, *V = b->in[2] + bh * S * D;
    const float *O = b->out + bh * S * D;
    double scale = 1.0 / sqrt((double)D), m = -INFINITY;
    long n = sh->causal ? i + 1 : S;
    for (long j = 0; j < n; j++) {
        double s = 0;
        for (long d = 0; d < D; d++) s += (double)Q[i * D + d] * K[j * D + d];
        p[j] = s * scale;
        if (p[j] > m) m = p[j];
    }
    double l = 0;
    for (long j = 0; j < n; j++) {
        p[j] = exp(p[j] - m);
        l += p[j];
    }
    for (long d = 0; d < D; d++) o[d] = 0;
    for (long j = 0; j < n; j++)
        for (long d = 0; d < D; d++) o[d] += p[j] * V[j * D + d];
    for (long d = 0; d < D; d++) {
        double ref = o[d] / l, diff = (double)O[i * D + d] - ref;
        e->num += diff * diff;
        e->den += ref * ref;
        e->checked++;
    }
}

static double attention_error(const cpu_shape *sh, const cpu_bufs *b, double tol, uint64_t seed,
                              const char **method, double *frac_off)
{
    long BH = sh->d[0] * sh->d[1], S = sh->d[2], D = sh->d[3];
    double *p = cpu_xmalloc(sizeof(double) * (size_t)S), *o = cpu_xmalloc(sizeof(double) * (size_t)D);
    double work = (double)BH * S * S * D;
    bool full = work <= (double)(1 << 27);
    double keep = full ? 1.0 : (double)(1 << 27) / work;
    cpu_errstat e = {0};
    size_t off = 0;
    rng r;
    /* the scale of attention outputs shrinks with the row length, so "far
     * off" is judged per row: a row whose own relative error exceeds 10 tol */
    rng_seed(&r, seed ^ 0xa77ull);
    for (long bh = 0; bh < BH; bh++)
        for (long i = 0; i < S; i++) {
            if (!full && rng_uniform(&r) >= keep) continue;
            cpu_errstat row = {0};
            attn_row(sh, b, bh, i, p, o, &row);
            if (!(sqrt(row.num) <= 10 * tol * sqrt(row.den))) off += (size_t)D;
            e.num += row.num;
            e.den += row.den;
            e.checked += row.checked;
        }
    *method = full ? "full-double" : "sampled-rows";
    *frac_off = e.checked ? (double)off / (double)e.checked : 0;
    free(p);
    free(o);
    return e.den > 0 ? sqrt(e.num / e.den) : (e.num > 0 ? INFINITY : 0);
}

/* The check of one timed call: exact double rows (b, h, i) drawn from seed
 * (which the judge draws after the call returned), about 2^23 multiply-adds
 * in all and between 4 and 64 rows, so a kernel cannot compute only the rows
 * that will be checked. */
static double attention_timed_error(const cpu_shape *sh, const cpu_bufs *b, uint64_t seed, const char **method)
{
    long BH = sh->d[0] * sh->d[1], S = sh->d[2], D = sh->d[3];
    double *p = cpu_xmalloc(sizeof(double) * (size_t)S), *o = cpu_xmalloc(sizeof(double) * (size_t)D);
    long nrows = (long)((double)(1 << 23) / ((double)S * D));
    nrows = nrows < 4 ? 4 : nrows > 64 ? 64 : nrows;
    rng r;
    rng_seed(&r, seed);
    cpu_errstat e = {0};
    for (long t = 0; t < nrows; t++) {
        long bh = (long)(rng_next(&r) % (uint64_t)BH), i = (long)(rng_next(&r) % (uint64_t)S);
        attn_row(sh, b, bh, i, p, o, &e);
    }
    free(p);
    free(o);
    *method = "sampled-rows";
    return e.den > 0 ? sqrt(e.num / e.den) : (e.num > 0 ? INFINITY : 0);
}

const cpu_family cpu_family_attention = {
    .name = "attention",
    .order = 2,
    .symbol = SPAK_ATTENTION_SYMBOL,
    .ndims = 4,
    .causal = true,
    .max_last = SPAK_ATTN_MAX_D,
    .shape_syntax = "attention BxHxSxD[c]",
    .shape_help = "attention BxHxSxD, suffix c = causal",
    .limit_help = "D <= " STR(SPAK_ATTN_MAX_D),
    .default_shapes = "1x8x1024x64,1x8x1024x64c",
    .default_heldout = "1x1x1x1,2x3x77x40,1x2x129x64c,1x4x257x80c",
    .sizes = sizes,
    .flops = flops,
    .error = attention_error,
    .timed_error = attention_timed_error,
    .named_baseline = "naive-attention",
    .named_baseline_help = "kernels/cpu/attention/naive.c built as a .so",
};
