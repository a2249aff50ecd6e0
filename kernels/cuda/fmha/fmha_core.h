/*
 * fmha_core.h - the host-side logic of spak-harness-cuda-fmha that needs no
 * GPU: command line and shape parsing, tolerances, FLOP and byte counts,
 * trace records. Plain C11, compiled by cc, unit tested by
 * kernels/cuda/fmha/test_fmha_core.c. Timing statistics, the bottleneck
 * classifier and the throttle names are the GEMM harness's (harness_core.h),
 * linked in unchanged.
 *
 * Ownership: parsed arguments point into argv (not copied); record strings
 * returned by fc_record_* are malloc'd and freed by the caller.
 */
#ifndef SPAK_FMHA_CORE_H
#define SPAK_FMHA_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/harness_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FC_MAX_SHAPES 64

/* One attention problem. Shape syntax (--shapes/--heldout, comma separated):
 *
 *     BxHxSxD[gN][c]       e.g. 4x16x4096x128   4x16x4096x128c   2x8x1000x64g2c
 *
 * B batch, H query heads, S sequence length (queries = keys), D head dim;
 * "gN": N key/value heads (Hkv = N, must divide H; absent: Hkv = H; g1 = MQA);
 * "c": causal. Suffixes in either order, each at most once. */
struct fc_shape {
    long b, h, hkv, s, d;
    bool causal;
    bool heldout;
};

struct fc_args {
    const char *family;        /* "fmha" */
    const char *candidate;     /* path of the candidate .so (the first --candidate) */
    const char *candidates[HC_MAX_CAND]; /* every --candidate: more than one is a session */
    int ncand;
    int batch_ms;              /* --batch-ms: the work a timed batch holds (default 3) */
    double between_runs;       /* --between-runs: the ratio intervals' spread between runs (session.h) */
    const char *stop_slower;   /* --stop-slower-than (harness_core.h, hc_stop_ms); NULL none */
    unsigned long long seed;
    int dtype;                 /* 1 fp16, 2 bf16 (abi.h) */
    struct fc_shape shapes[FC_MAX_SHAPES];
    int nshapes;
    int reps;                  /* timed repetitions per side (default 30) */
    int warmup;                /* default 5 */
    bool check_only;
    bool time_lse;             /* --lse: time both sides writing the LSE too */
    bool no_baseline;          /* --no-baseline: do not build cuDNN's graph */
    const char *ceilings_cache;
    int timeout_s;             /* per shape (default 600) */
};

/* Parse argv. 0 on success, 1 for --help (usage in err), -1 on a usage
 * error (message in err). Defaults: dtype fp16, reps 30, warm-up 5, timeout
 * 600 s; with neither --shapes nor --heldout: shapes 4x16x4096x128,
 * 4x16x4096x128c, held-out 1x3x1000x128, 2x4x777x64g2c. */
int fc_parse_args(int argc, char **argv, struct fc_args *a, char *err, size_t errlen);

/* Appends the comma-separated list to shapes[*n..]. 0 or -1 (message in err). */
int fc_parse_shapes(const char *s, bool heldout, struct fc_shape *shapes, int max, int *n, char *err,
                    size_t errlen);

/* "fp16"|"bf16" -> 1|2, else -1. */
int fc_parse_dtype(const char *s);

/* Canonical text of a shape, the syntax above ("2x8x1000x64g2c"; "g" only
 * when Hkv != H). */
const char *fc_shape_str(const struct fc_shape *s, char *buf, size_t n);

/* Element counts. */
size_t fc_q_elems(const struct fc_shape *s);   /* B*H*S*D: Q and O */
size_t fc_kv_elems(const struct fc_shape *s);  /* B*Hkv*S*D: K and V each */
size_t fc_rows(const struct fc_shape *s);      /* B*H*S: LSE */

/* The FLOP convention: 4*B*H*S*S*D, halved when causal. */
double fc_flops(const struct fc_shape *s);
/* Fewest bytes through device memory: Q, K, V read once, O written once
 * (+ the fp32 LSE when with_lse). */
double fc_bytes(const struct fc_shape *s, int dtype, bool with_lse);

/* Tolerances (derivation in fmha_core.c). */
double fc_tolerance(int dtype);   /* normwise relative error of O */
double fc_lse_tolerance(void);    /* max |lse - ref| */

/* ---- records: one JSON object each, without the prefix; malloc'd ---- */
struct fc_correctness {
    const struct fc_shape *shape;
    int dtype;
    bool passed, skipped;
    double rel_err, tolerance;
    double lse_err;                 /* NaN when not checked */
    double baseline_rel_err;        /* NaN when the baseline did not run */
    const char *baseline_error;     /* NULL when the baseline ran */
    unsigned long long seed;
    const char *reason;
    const char *candidate;
};
char *fc_record_correctness(const struct fc_correctness *c);

struct fc_performance {
    const struct fc_shape *shape;
    int dtype;
    struct hc_stats cand, base;
    bool have_base;
    const char *baseline_error;     /* NULL when the baseline ran */
    const char *baseline_engine;    /* e.g. "cudnn 9.19.0 composite graph, engine 7" */
    int reps;
    bool with_lse;
    int sm_clock_mhz, mem_clock_mhz;
    double power_w;
    unsigned long long throttle_mask;
    bool l2_flushed;
};
char *fc_record_performance(const struct fc_performance *p);

char *fc_record_analysis(const struct fc_shape *shape, int dtype, const struct hc_perf_in *in,
                         const struct hc_perf_out *out);

#ifdef __cplusplus
}
#endif

#endif
