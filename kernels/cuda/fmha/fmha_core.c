/*
 * fmha_core.c - GPU-free logic of spak-harness-cuda-fmha (see fmha_core.h).
 */
#include "fmha_core.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: spak-harness-cuda-fmha --family fmha --candidate PATH.so [--candidate PATH.so ...] --seed N\n"
    "         [--dtype fp16|bf16] [--shapes BxHxSxD[gN][c],...] [--heldout ...]\n"
    "         [--reps N] [--warmup N] [--batch-ms MS] [--between-runs SD] [--check-only] [--lse] [--no-baseline]\n"
    "         [--ceilings-cache PATH] [--timeout SEC] [--stop-slower-than MS|SHAPE=MS,...]\n"
    "  shape: B batch, H heads, S sequence, D head dim; gN = N key/value heads (GQA,\n"
    "         N divides H); c = causal.  e.g. 4x16x4096x128c, 2x8x1000x64g2";

int fc_parse_dtype(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "fp16") || !strcmp(s, "f16"))
        return 1;
    if (!strcmp(s, "bf16"))
        return 2;
    return -1;
}

/* One decimal field of at most 23 chars ending at a char of `stops` or NUL. */
static int take_num(const char **pp, const char *stops, long long lo, long long hi, long long *out)
{
    const char *p = *pp;
    char buf[24];
    size_t len = 0;
    while (p[len] && !strchr(stops, p[len]))
        len++;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, p, len);
    buf[len] = 0;
    if (!hc_parse_ll(buf, lo, hi, out))
        return -1;
    *pp = p + len;
    return 0;
}

int fc_parse_shapes(const char *s, bool heldout, struct fc_shape *shapes, int max, int *n, char *err,
                    size_t errlen)
{
    static const long long lim[4] = {4096, 1024, 1 << 20, 256};
    static const char *const names[4] = {"B", "H", "S", "D"};
    const char *p = s;
    if (!s || !*s) {
        snprintf(err, errlen, "empty shape list");
        return -1;
    }
    while (*p) {
        long long d[4], g = 0;
        bool causal = false, have_g = false;
        struct fc_shape *sh;
        const char *start = p;
        for (int i = 0; i < 4; i++) {
            if (take_num(&p, i < 3 ? "x," : "gc,", 1, lim[i], &d[i])) {
                snprintf(err, errlen, "bad shape near '%.24s' (want BxHxSxD[gN][c], %s in 1..%lld)", start,
                         names[i], lim[i]);
                return -1;
            }
            if (i < 3) {
                if (*p != 'x') {
                    snprintf(err, errlen, "bad shape near '%.24s' (want BxHxSxD[gN][c])", start);
                    return -1;
                }
                p++;
            }
        }
        while (*p && *p != ',') {
            if (*p == 'c' && !causal) {
                causal = true;
                p++;
            } else if (*p == 'g' && !have_g) {
                p++;
                if (take_num(&p, "gc,", 1, 1024, &g)) {
                    snprintf(err, errlen, "bad shape near '%.24s' (gN: N key/value heads, 1..1024)", start);
                    return -1;
                }
                have_g = true;
            } else {
                snprintf(err, errlen, "bad shape near '%.24s' (suffixes: gN, c; each once)", start);
                return -1;
            }
        }
        if (!have_g)
            g = d[1];
        if (d[1] % g != 0) {
            snprintf(err, errlen, "bad shape near '%.24s': %lld key/value heads do not divide H=%lld", start, g,
                     d[1]);
            return -1;
        }
        if (d[3] % 8 != 0) {
            snprintf(err, errlen, "bad shape near '%.24s': D=%lld is not a multiple of 8", start, d[3]);
            return -1;
        }
        /* candidates index with int: keep every tensor under 2^31 elements */
        if ((double)d[0] * d[1] * d[2] * d[3] >= 2147483648.0) {
            snprintf(err, errlen, "bad shape near '%.24s': B*H*S*D must stay under 2^31", start);
            return -1;
        }
        if (*n >= max) {
            snprintf(err, errlen, "too many shapes (at most %d)", max);
            return -1;
        }
        sh = &shapes[(*n)++];
        sh->b = (long)d[0];
        sh->h = (long)d[1];
        sh->s = (long)d[2];
        sh->d = (long)d[3];
        sh->hkv = (long)g;
        sh->causal = causal;
        sh->heldout = heldout;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "trailing ',' in shape list");
                return -1;
            }
        }
    }
    return 0;
}

static bool fmha_flag(const char *flag, void *ud)
{
    struct fc_args *a = ud;
    if (!strcmp(flag, "--lse"))
        a->time_lse = true;
    else if (!strcmp(flag, "--no-baseline"))
        a->no_baseline = true;
    else
        return false;
    return true;
}

int fc_parse_args(int argc, char **argv, struct fc_args *a, char *err, size_t errlen)
{
    struct hc_common_opts c = {.reps = 30, .warmup = 5, .timeout_s = 600, .between_runs = -1};

    memset(a, 0, sizeof *a);
    int r = hc_parse_common(argc, argv, "fmha", USAGE, fmha_flag, a, &c, err, errlen);
    if (r)
        return r;
    a->dtype = c.dtype ? fc_parse_dtype(c.dtype) : 1;
    if (a->dtype < 0) {
        snprintf(err, errlen, "--dtype: want fp16 or bf16, got '%s'", c.dtype);
        return -1;
    }
    HC_TAKE_COMMON(a, c);
    if (!c.shapes && !c.heldout) {
        c.shapes = "4x16x4096x128,4x16x4096x128c";
        c.heldout = "1x3x1000x128,2x4x777x64g2c";
    }
    if (c.shapes && fc_parse_shapes(c.shapes, false, a->shapes, FC_MAX_SHAPES, &a->nshapes, err, errlen))
        return -1;
    if (c.heldout && fc_parse_shapes(c.heldout, true, a->shapes, FC_MAX_SHAPES, &a->nshapes, err, errlen))
        return -1;
    return 0;
}

const char *fc_shape_str(const struct fc_shape *s, char *buf, size_t n)
{
    char g[24] = "";
    if (s->hkv != s->h)
        snprintf(g, sizeof g, "g%ld", s->hkv);
    snprintf(buf, n, "%ldx%ldx%ldx%ld%s%s", s->b, s->h, s->s, s->d, g, s->causal ? "c" : "");
    return buf;
}

size_t fc_q_elems(const struct fc_shape *s) { return (size_t)s->b * s->h * s->s * s->d; }
size_t fc_kv_elems(const struct fc_shape *s) { return (size_t)s->b * s->hkv * s->s * s->d; }
size_t fc_rows(const struct fc_shape *s) { return (size_t)s->b * s->h * s->s; }

double fc_flops(const struct fc_shape *s)
{
    double f = 4.0 * s->b * s->h * (double)s->s * s->s * s->d;
    return s->causal ? f / 2 : f;
}

double fc_bytes(const struct fc_shape *s, int dtype, bool with_lse)
{
    double es = dtype == 1 || dtype == 2 ? 2.0 : 4.0;
    return es * (2.0 * fc_q_elems(s) + 2.0 * fc_kv_elems(s)) + (with_lse ? 4.0 * fc_rows(s) : 0);
}

/*
 * Tolerances on ||O - R||_F / ||R||_F, R computed by the harness's reference
 * kernel in fp64 from the very same (already rounded) inputs:
 *  - two roundings to the 16-bit type are allowed by the contract: P before
 *    the second product and O at the end. Each is a relative error uniform in
 *    +-u (u = 2^-11 fp16, 2^-8 bf16), RMS u/sqrt(3); P's error, spread over
 *    S terms with random signs, stays ~u/sqrt(3) relative to O even where O
 *    is small by cancellation. Honest total ~ sqrt(2)*u/sqrt(3): 4e-4 fp16,
 *    3.3e-3 bf16 (worst-case rounding, rounding to nearest halves it).
 *  - what must fail: scores or the running max/sum kept in 16 bits (score
 *    errors of |s|*u ~ 1e-2..1e-1 absolute in the exponent for the amplified
 *    second check), P V accumulated in 16 bits (~u*sqrt(S/6), 1e-2 fp16 and
 *    8e-2 bf16 at S=4096), a missing 1/l or a wrong mask (O(1)).
 *  Tolerances: fp16 2e-3, bf16 1e-2 (about 4x / 3x the honest error).
 *  - LSE: fp32 scores from exact products, fp32 max/sum: |err| ~ 1e-6..1e-5
 *    (exp2/log2 approximations included); scores rounded to 16 bits would be
 *    off by ~|s|*u. Tolerance 1e-3 absolute (natural-log units), either dtype.
 */
double fc_tolerance(int dtype) { return dtype == 1 ? 2e-3 : dtype == 2 ? 1e-2 : 0; }
double fc_lse_tolerance(void) { return 1e-3; }

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *dtn(int dt) { return dt == 1 ? "fp16" : dt == 2 ? "bf16" : "?"; }

char *fc_record_correctness(const struct fc_correctness *c)
{
    char shape[96];
    return hc_dump(json_pack("{s:s, s:s, s:b, s:s, s:b, s:I, s:b, s:b, s:o, s:o, s:o, s:o, s:s, s:o, s:o, "
                          "s:I, s:s, s:s}",
                          "type", "Correctness",
                          "shape", fc_shape_str(c->shape, shape, sizeof shape),
                          "heldout", c->shape->heldout,
                          "dtype", dtn(c->dtype),
                          "causal", c->shape->causal,
                          "hkv", (json_int_t)c->shape->hkv,
                          "passed", c->passed,
                          "skipped", c->skipped,
                          "rel_err", hc_jnum(c->rel_err),
                          "tolerance", hc_jnum(c->tolerance),
                          "lse_err", hc_jnum(c->lse_err),
                          "lse_tolerance", hc_jnum(fc_lse_tolerance()),
                          "baseline", "cudnn",
                          "baseline_rel_err", hc_jnum(c->baseline_rel_err),
                          "baseline_error", jstr_or_null(c->baseline_error),
                          "seed", (json_int_t)c->seed,
                          "reason", c->reason ? c->reason : "",
                          "candidate", c->candidate ? c->candidate : ""));
}

char *fc_record_performance(const struct fc_performance *p)
{
    char shape[96];
    double f = fc_flops(p->shape);
    double tf = f / p->cand.median / 1e9;
    double btf = p->have_base ? f / p->base.median / 1e9 : NAN;
    double ratio = p->have_base ? p->base.median / p->cand.median : NAN;
    return hc_finish_clocks(
        json_pack("{s:s, s:s, s:b, s:s, s:b, s:o, s:o, s:o, s:i, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:s}",
                  "type", "Performance",
                  "shape", fc_shape_str(p->shape, shape, sizeof shape),
                  "heldout", p->shape->heldout,
                  "dtype", dtn(p->dtype),
                  "causal", p->shape->causal,
                  "time_ms", hc_jnum(p->cand.median),
                  "time_ms_p20", hc_jnum(p->cand.p20),
                  "time_ms_p80", hc_jnum(p->cand.p80),
                  "reps", p->reps,
                  "tflops", hc_jnum(tf),
                  "flops", hc_jnum(f),
                  "baseline", "cudnn",
                  "baseline_time_ms", p->have_base ? hc_jnum(p->base.median) : json_null(),
                  "baseline_tflops", hc_jnum(btf),
                  "ratio", hc_jnum(ratio),
                  "baseline_error", jstr_or_null(p->baseline_error),
                  "baseline_engine", jstr_or_null(p->baseline_engine),
                  "lse", p->with_lse,
                  "flops_convention", "4*B*H*S*S*D, halved when causal"),
        p->sm_clock_mhz, p->mem_clock_mhz, p->power_w, p->throttle_mask, p->l2_flushed);
}

char *fc_record_analysis(const struct fc_shape *shape, int dtype, const struct hc_perf_in *in,
                         const struct hc_perf_out *o)
{
    char s[96];
    return hc_finish_analysis(json_pack("{s:s, s:s, s:b, s:s, s:b}",
                                        "type", "Analysis",
                                        "shape", fc_shape_str(shape, s, sizeof s),
                                        "heldout", shape->heldout,
                                        "dtype", dtn(dtype),
                                        "causal", shape->causal),
                              in, o);
}
