/*
 * harness_core.h - the host-side logic of spak-harness-cuda that needs no GPU:
 * command-line and shape parsing, per-precision tolerances, timing
 * statistics, the bottleneck classifier and the trace records. Plain C11,
 * compiled by cc, unit tested by kernels/cuda/common/test_harness_core.c.
 *
 * Ownership: parsed arguments point into argv (not copied); record strings
 * returned by hc_record_* are malloc'd and freed by the caller.
 */
#ifndef SPAK_HARNESS_CORE_H
#define SPAK_HARNESS_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "session.h" /* CS_BETWEEN_RUNS_SD */

#ifdef __cplusplus
extern "C" {
#endif

#define HC_MAX_SHAPES 64
#define HC_TRACE_PREFIX "__SPAK_TRACE__ "
#define HC_MAX_CAND 8 /* --candidate in one session (session.h's CS_MAX_CAND) */

struct hc_shape {
    long m, n, k;
    bool heldout;
};

struct hc_args {
    const char *family;        /* "gemm" */
    const char *candidate;     /* path of the candidate .so (the first --candidate) */
    const char *candidates[HC_MAX_CAND]; /* every --candidate: more than one is a session */
    int ncand;
    int batch_ms;              /* --batch-ms: the work a timed batch holds (default 3) */
    double between_runs;       /* --between-runs: the ratio intervals' spread between runs (session.h) */
    const char *stop_slower;   /* --stop-slower-than MS|SHAPE=MS,...: hopeless, stop early (hc_stop_ms); NULL none */
    unsigned long long seed;
    int dtype;                 /* enum spak_gemm_dtype */
    struct hc_shape shapes[HC_MAX_SHAPES];
    int nshapes;
    int reps;                  /* timed repetitions per side, >= 30 unless --reps says less for a smoke run */
    int warmup;
    bool check_only;
    const char *ceilings_cache;
    int timeout_s;             /* per shape: a child that runs longer is killed (hang) */
    bool ncu;                  /* --ncu: hardware counters of each passing shape through ncu */
    bool profile_one;          /* --profile-one (internal, what --ncu runs under ncu): launch the
                                  candidate once on shapes[0], inputs generated on the host */
};

/* Parse argv. Returns 0 on success, 1 when --help was asked (usage in err),
 * -1 on a usage error (message in err). Defaults: dtype bf16, reps 30,
 * warm-up 5, timeout 300 s, shapes 4096x4096x4096, held-out
 * 3000x5000x2000,129x263x72 (used only when neither list is given). */
int hc_parse_args(int argc, char **argv, struct hc_args *a, char *err, size_t errlen);

/* ---- the options both CUDA harnesses take (this one and spak-harness-cuda-fmha) ---- */
struct hc_common_opts {
    const char *family, *candidate, *dtype, *shapes, *heldout, *ceilings_cache; /* into argv; NULL = not given */
    const char *candidates[HC_MAX_CAND]; /* every --candidate in order (candidate: the first) */
    int ncand;
    unsigned long long seed;
    bool have_seed, check_only;
    int reps, warmup, timeout_s; /* the caller sets its defaults first */
    int batch_ms;                /* 0: the default, 3 */
    double between_runs;         /* --between-runs SD in [0, 1); < 0: the default, CS_BETWEEN_RUNS_SD */
    const char *stop_slower;     /* --stop-slower-than, its syntax checked (hc_stop_ms); NULL: not given */
};
/* A harness's own flags (no value): true when `flag` is one (and taken). */
typedef bool (*hc_own_flag)(const char *flag, void *ud);
/* Parse argv: the shared options into *c (its defaults set by the caller),
 * the harness's own flags through own(). Then --family must be `family`, and
 * --candidate (repeatable up to HC_MAX_CAND times: a session) and --seed
 * given. 0 on success, 1 for --help (usage in err), -1
 * on a usage error (message in err). */
int hc_parse_common(int argc, char **argv, const char *family, const char *usage, hc_own_flag own, void *ud,
                    struct hc_common_opts *c, char *err, size_t errlen);
/* The shared fields of *c into a harness's arguments (struct hc_args, struct fc_args). */
#define HC_TAKE_COMMON(a, c)                                                                                        \
    ((a)->family = (c).family, (a)->candidate = (c).candidate, (a)->seed = (c).seed, (a)->reps = (c).reps,          \
     memcpy((a)->candidates, (c).candidates, sizeof (a)->candidates), (a)->ncand = (c).ncand,                      \
     (a)->batch_ms = (c).batch_ms ? (c).batch_ms : 3,                                                              \
     (a)->between_runs = (c).between_runs >= 0 ? (c).between_runs : CS_BETWEEN_RUNS_SD,                            \
     (a)->warmup = (c).warmup, (a)->timeout_s = (c).timeout_s, (a)->check_only = (c).check_only,                     \
     (a)->ceilings_cache = (c).ceilings_cache, (a)->stop_slower = (c).stop_slower)
/* --stop-slower-than (the engine's early stop, src/analyze/early_stop.h): a
 * candidate whose first two batches of a timed shape (the warm-up's) are
 * each slower than the limit a call is hopeless: its Performance record says
 * "verdict":"stopped" and no further shape is run (session_device.cuh). The
 * value is MS (every timed shape) or SHAPE=MS,... with shapes as the records
 * write them. hc_stop_ms: the limit for shape in ms (0: none), or -1 when
 * spec is malformed (a number <= 0, an entry without '='); names that are
 * no shape of the run are the caller's to refuse (hc_stop_names). */
double hc_stop_ms(const char *spec, const char *shape);
/* The SHAPE names of spec that are not among names[0..n): the first one
 * into bad[nbad] and false; true when every name is one (or spec is MS). */
bool hc_stop_names(const char *spec, const char *const *names, int n, char *bad, size_t nbad);
/* A decimal integer in lo..hi, nothing else around it. */
bool hc_parse_ll(const char *s, long long lo, long long hi, long long *out);

/* ---- the child-process model of both harnesses: a probe child, then one child per shape ---- */
enum { HC_CHILD_OK = 0, HC_CHILD_HARNESS_ERR = 3, HC_CHILD_NO_DEVICE = 4 };

struct hc_child {
    int status;                /* waitpid status */
    bool timed_out;            /* killed at the deadline */
    bool saw_correctness, saw_performance, saw_pass; /* records it printed (relay) */
    bool saw_stopped;          /* a Performance record with "verdict":"stopped" (--stop-slower-than) */
    char *first_line;          /* its first line; malloc'd, the caller frees it */
};
typedef int (*hc_child_fn)(int fd, const void *arg);
/* Fork a child that runs fn(fd, arg) and exits with its value; fd is the
 * write end of a pipe, which with `relay` is also the child's stdout, each
 * line of which the parent prints to its own stdout as it comes (lines over
 * 64 KB are dropped). A child still running after timeout_s seconds is
 * killed. 0, or -1 when pipe() or fork() failed (errno). */
int hc_run_child(hc_child_fn fn, const void *arg, int timeout_s, bool relay, struct hc_child *res);
/* A shape's child that ended without a verdict of its own (timed out,
 * killed by a signal, failed before its Correctness record, or died after a
 * passing check before its timing): the parent records the failure. */
bool hc_child_no_verdict(const struct hc_child *r, bool check_only);
/* Why a child ended without a verdict, in words. */
void hc_describe_child(const struct hc_child *r, int timeout_s, char *buf, size_t n);
/* After shape i of n's child r (rc: run_shape_child's answer, 1 = no verdict
 * of its own), whether the shapes after it run: 0 they do; 2 they do not,
 * the child stopped the candidate early (--stop-slower-than; why: "not
 * checked: ..."); 1 they do not and fail, the child was killed at its limit
 * of timeout_s (a hang; why names the shape), so that a hanging candidate
 * costs one limit, not one a shape. */
int hc_after_child(const struct hc_child *r, int rc, int i, int n, int timeout_s, char *why, size_t whylen);

/* What the probe child reports of the device (one JSON line). */
struct hc_device {
    char name[256];
    double copy_gbps, peak_tflops;
    int sm_count, max_threads_per_sm, cc;
    long long l2_bytes;
};
int hc_parse_probe(const char *line, struct hc_device *d, char *err, size_t errlen);

/* "MxNxK[,MxNxK...]" appended to shapes[*n..]; 0 or -1 (message in err). */
int hc_parse_shapes(const char *s, bool heldout, struct hc_shape *shapes, int max, int *n,
                    char *err, size_t errlen);

/* "fp32"|"fp16"|"bf16" -> 0|1|2, or -1. */
int hc_parse_dtype(const char *s);
const char *hc_dtype_name(int dtype);
size_t hc_dtype_size(int dtype);

/* Normwise relative error ||C - R||_F / ||R||_F allowed for an output of this
 * dtype when the reference is exact (fp64) and accumulation is fp32; see
 * harness_core.c for the derivation. */
double hc_tolerance(int dtype);

/* Sorts v in place; linear-interpolated quantiles. n >= 1. */
struct hc_stats {
    double median, p20, p80, min, max;
};
void hc_stats(double *v, int n, struct hc_stats *out);
double hc_quantile_sorted(const double *v, int n, double q);

/* Bottleneck classification from the numbers of one measurement. */
struct hc_perf_in {
    double flops, bytes, time_ms;
    double peak_tflops;        /* measured cuBLAS rate for this dtype at 8192^3 */
    double peak_gbps;          /* measured device-to-device copy rate (read+write) */
    int registers, smem_bytes, local_bytes, block_threads, blocks_per_sm;
    long long grid_blocks;
    int sm_count;
    int max_threads_per_sm;
};
struct hc_perf_out {
    double tflops, gbps, arith_intensity, ridge, frac_peak, frac_bw, occupancy, wave_eff;
    const char *bottleneck;    /* static string */
    bool suspicious;           /* faster than the roofline allows */
    char why[512];
};
void hc_classify(const struct hc_perf_in *in, struct hc_perf_out *out);

/* Decoded NVML clock-event (throttle) reasons, e.g. "sw_power_cap,hw_slowdown";
 * "none" for 0. Writes into buf. */
const char *hc_throttle_names(unsigned long long mask, char *buf, size_t n);

/* Shape as "MxNxK" into buf. */
const char *hc_shape_str(const struct hc_shape *s, char *buf, size_t n);

/* ---- records: one JSON object each, without the prefix; malloc'd ---- */
struct hc_correctness {
    const struct hc_shape *shape;
    int dtype;
    bool passed, skipped;
    double rel_err, tolerance, baseline_rel_err;
    unsigned long long seed;
    const char *reason;        /* "ok" or why not */
    const char *candidate;
};
char *hc_record_correctness(const struct hc_correctness *c);

struct hc_performance {
    const struct hc_shape *shape;
    int dtype;
    struct hc_stats cand, base;
    int reps;
    double flops;
    int sm_clock_mhz, mem_clock_mhz;
    double power_w;
    unsigned long long throttle_mask;
    bool l2_flushed;
};
char *hc_record_performance(const struct hc_performance *p);

char *hc_record_analysis(const struct hc_shape *shape, int dtype, const struct hc_perf_in *in,
                         const struct hc_perf_out *out);

/* ---- record building blocks both families use (fmha_core.c) ----
 * A record is begun by the family (type, shape, heldout, dtype and its own
 * fields, in their order) as a Jansson object and finished here; the
 * finishers take the reference to rec and return the compact JSON text
 * (malloc'd, the caller frees) or NULL when out of memory. */
struct json_t;
/* x as a JSON number, or null when it is not finite (JSON has no NaN/Inf) */
struct json_t *hc_jnum(double x);
/* rec as compact JSON in insertion order; takes rec's reference */
char *hc_dump(struct json_t *rec);
/* A record as every CUDA judge emits it (harness_device.cuh's emit), by the
 * rule of kernels/common/record_nulls.h: a record that is not a failure
 * leaves out its null members. Takes rec (malloc'd JSON text) and returns
 * the record to emit (rec itself when nothing is left out or it does not
 * parse, else a new text; NULL only when rec is NULL). */
char *hc_omit_nulls(char *rec);
/* appends flops .. suspicious (the roofline analysis) */
char *hc_finish_analysis(struct json_t *rec, const struct hc_perf_in *in, const struct hc_perf_out *out);
/* appends sm_clock_mhz .. l2_flush (the clocks while timing) */
char *hc_finish_clocks(struct json_t *rec, int sm_clock_mhz, int mem_clock_mhz, double power_w,
                       unsigned long long throttle_mask, bool l2_flushed);

/* ---- where a judge's wall time goes (issue 18, "a cheaper evaluation") ----
 * A judge process keeps one hc_phases: named phases with the wall seconds
 * spent in them (summed over repeats, with their count), and writes them
 * once as a "Cost" record (docs/trust-gpu.md, "Where an evaluation's time
 * goes"): the parent one of scope "run", each shape's child one of scope
 * "shape". A name "a.b" is a part of phase "a" (its seconds are inside
 * a's); names are copied (at most HC_PHASE_NAME-1 bytes kept); past
 * HC_PHASES_MAX distinct names the rest are summed into "other". */
#define HC_PHASES_MAX 32
#define HC_PHASE_NAME 40
struct hc_phases {
    double t0, mark;                  /* CLOCK_MONOTONIC: begun, and the last mark */
    int n;
    char name[HC_PHASES_MAX][HC_PHASE_NAME];
    double s[HC_PHASES_MAX];
    long count[HC_PHASES_MAX];
};
/* seconds on CLOCK_MONOTONIC (the clock every phase is read on) */
double hc_now_s(void);
/* begins p now */
void hc_phases_begin(struct hc_phases *p);
/* adds seconds (and one count) to the phase name */
void hc_phase_add(struct hc_phases *p, const char *name, double seconds);
/* the time since the last mark (or the begin) added to name; the mark
 * moves to now. Returns those seconds. */
double hc_phase_mark(struct hc_phases *p, const char *name);
/* adds seconds to the part "top.sub" of phase top */
void hc_phase_add_part(struct hc_phases *p, const char *top, const char *sub, double seconds);
/* The seconds from this process's start (the kernel's start time of the
 * process) to now on CLOCK_BOOTTIME, read from /proc/self/stat; -1 when it
 * cannot be read. What exec, the dynamic loader and static constructors
 * (the CUDA runtime's among them) cost before main. */
double hc_process_age_s(void);
/* The Cost record: {"type":"Cost","scope":scope,"family":family,"shape":
 * shape or null,"wall_s":since begin,"phases":{name: seconds},"counts":
 * {name: count}} with extra's members appended (extra may be NULL; its
 * reference is taken). Malloc'd compact JSON, NULL when out of memory. */
char *hc_record_cost(const struct hc_phases *p, const char *scope, const char *family, const char *shape,
                     struct json_t *extra);

/* ---- hardware counters (ncu --csv, details page) ---- */
#define HC_NCU_MAX_METRICS 16
struct hc_ncu_metric {
    char name[112];
    char unit[24];
    double value;
};
struct hc_ncu_result {
    int kernels;                /* distinct kernel IDs in the CSV */
    char kernel[256];           /* the chosen one: longest gpu__time_duration.sum, else the first */
    int nmetrics;               /* rows of that kernel, numeric or not */
    int nfinite;                /* of them with a numeric value (others: value NaN, "n/a" in ncu) */
    struct hc_ncu_metric m[HC_NCU_MAX_METRICS];
    char error[512];            /* first "==ERROR==" line of the output, if any */
};
/* Parses the text ncu printed with --csv (any other lines are skipped; the
 * first ==ERROR== line is kept). Values lose thousands separators; byte and
 * second units are normalized to "byte" and "ns"; a non-numeric value (n/a)
 * is kept as NaN (null in the record). Returns r->nfinite. */
int hc_ncu_parse_csv(const char *text, struct hc_ncu_result *r);

/* Counters record: available with metrics when r && r->nfinite > 0, else
 * {"available":false,"reason":reason}. */
char *hc_record_counters(const struct hc_shape *shape, int dtype, const struct hc_ncu_result *r,
                         const char *reason);

#ifdef __cplusplus
}
#endif

#endif
