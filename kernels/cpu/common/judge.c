/*
 * kernels/cpu/common/judge.c - spak-harness-cpu, the trusted CPU judge: it
 * never loads the code it judges. The candidate (a shared object exporting
 * the ABI of kernels/cpu/<family>/abi.h) and the baseline (OpenBLAS behind
 * the same ABI, or a .so) each run in their own runner, spak-runner-cpu
 * (runner.c), started in spak's sandbox (rctl.c) and driven over a socket.
 * The judge draws its seed from getrandom(), makes every input, owns the
 * double reference, the clock (CLOCK_MONOTONIC), the hardware bound and the
 * record channel: its own stdout, "__SPAK_TRACE__ " + one JSON object per
 * line. Nothing a runner prints becomes a record (its output is a capped
 * log on the judge's stderr). Everything that depends on the kernel family
 * comes from its descriptor (family.h); this file has no branch on a family.
 *
 * Build: make (build/spak-harness-cpu, build/spak-runner-cpu and
 * build/cpu/matmul/baseline-openblas.so, from kernels/cpu/cpu.mk). Run:
 *
 *   spak-harness-cpu --family matmul|attention --candidate PATH.so
 *       [--candidate PATH.so ...]       up to 16: a session (below)
 *       [--seed N]                      accepted and ignored (the records say so)
 *       [--shapes 1024x1024x1024,...]   timed + checked (matmul MxNxK,
 *                                       attention BxHxSxD, 'c' suffix = causal)
 *       [--heldout 1000x999x1001,...]   checked only; shapes no strategy saw
 *       [--causal]                      every attention shape is causal
 *       [--min-time 0.3]                seconds of candidate time per shape (at least)
 *       [--precision 0.02]              pairs until the ratio's interval is within +-2%
 *       [--level 0.95]                  of this confidence level,
 *       [--max-reps 500] [--max-time S]  or this many pairs / seconds a shape
 *                                       (default 2 + 10 x min-time)
 *       [--between-runs 0.02]           the sd of the log ratio between runs of the
 *                                       same code, added to each ratio's interval
 *                                       (CPU_BETWEEN_RUNS_SD, docs/aa-calibration.md)
 *       [--baseline openblas|naive-attention|so|none] [--baseline-so PATH]
 *       [--tolerance X] [--check-only] [--ceilings-cache PATH]
 *       [--bound-scale X]               0 < X <= 1: a lower hardware bound (tests)
 *       [--traffic MODEL[,KEY=V,...]]   the family's traffic model of the candidate's
 *                                       loops, for its bottleneck class (matmul:
 *                                       naive|reorder|blocked|packed, with TILE_M,
 *                                       TILE_N, TILE_K, THREADS; analysis.c)
 *       [--stop-slower-than MS|SHAPE=MS,...]  hopeless: the timed shapes are checked
 *                                       first, and a candidate whose first 2 checked calls
 *                                       of a shape (or its 2 warm-up calls, or its first
 *                                       3 pairs) are each slower than MS (and than 20 ms,
 *                                       CPU_STOP_MIN_CALL_S) is stopped there: its
 *                                       Performance record says "verdict":"stopped" with
 *                                       what it measured; nothing more is checked or timed
 *
 * Exit status 0 when the judge did its job (a wrong candidate is reported in
 * the records), 2 on bad arguments, 3 when a .so cannot be loaded, 4 when a
 * runner cannot be started.
 *
 * Order: the baseline's runner starts first and is timed alone on every
 * timed shape; then the candidate's runner starts; three checked calls per
 * shape (check.c); if all pass, each timed shape is timed interleaved with
 * the baseline, every timed call checked (timing.c); the Correctness record
 * of a timed shape comes after its timing (with "checks", the number of
 * checked calls), then its Performance record; the Analysis records of all
 * timed shapes come last (analysis.c: the class needs every shape's time).
 *
 * A session (--candidate more than once, the engine's re-time of its
 * leading candidates, docs/language.md "The re-time"): each candidate in its
 * own runner, each checked on every shape; those that pass are timed on
 * each timed shape in rounds, one batch of every candidate and one of the
 * baseline a round in a rotating order (cpu_time_session), so that they all
 * see the same machine; every record carries "session" (its id) and
 * "rival" (the candidate's position among the --candidate), the Performance
 * records "versus" (paired ratios between the candidates). No Analysis
 * records: the session ranks, the evaluations already classified.
 *
 * Tolerance (fp32): 1e-5 for both families by default (--tolerance). Measured
 * on this machine (AMD EPYC Zen 5, 2026-11-23), shape 64x64xK, rel_err of:
 *                         K=256    K=1024   K=4096   K=16384
 *     naive (i-j-k sum)   2.9e-7   5.8e-7   1.2e-6   2.3e-6
 *     reorder/blocked     2.9e-7   5.7e-7   1.2e-6   2.3e-6
 *     packed (FMA, KC)    2.9e-7   3.4e-7   3.6e-7   3.8e-7
 *     bf16-input cheat    2.4e-3   2.3e-3   2.3e-3   2.3e-3
 *   attention rungs (S up to 1024, D up to 256): 2e-7 .. 7e-7.
 *   So 1e-5 leaves 8x margin above honest fp32 at K=4096 and is about 30x
 *   below fp16/tf32 rounding.
 *
 * Analysis: peak FMA GFLOP/s and memory bandwidth, cached in --ceilings-cache
 * (ceilings.c: the judge writes it; runners never see it): the highest of
 * the recent measurements, measured again at a run's start (the engine's
 * PATH.remeasure) and whenever a result lies above their roofline.
 * Bytes are the compulsory traffic (inputs read once, output written once).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../common/prf.h"
#include "../../common/record_nulls.h"
#include "../../common/stop_limits.h"
#include "family.h"
#include "judge.h"

#define TRACE_PREFIX "__SPAK_TRACE__ "

typedef cpu_shape shape;

/* every family linked in, NULL-terminated (generated by kernels/cpu/cpu.mk) */
extern const cpu_family *const cpu_families[];

/* ---- small utilities ---------------------------------------------------- */

double cpu_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

void *cpu_xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "spak-harness-cpu: out of memory (%zu bytes)\n", n);
        exit(4);
    }
    return p;
}

int cpu_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static rng judge_rng;
static uint64_t judge_key[2], judge_draws;

rng *cpu_judge_rng(void)
{
    return &judge_rng;
}

uint64_t cpu_judge_secret(void)
{
    return spak_siphash_u64(judge_key, judge_draws++);
}

/* the seed from the OS: no argument, file or environment can set it */
static uint64_t os_seed(void)
{
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t n = getrandom((char *)&v + got, sizeof v - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fprintf(stderr, "spak-harness-cpu: getrandom failed: %s\n", strerror(errno));
            exit(4);
        }
        got += (size_t)n;
    }
    return v & 0x7fffffffffffull; /* exact in a JSON number */
}

/* n > 0: a number in [0, n) drawn from the OS, apart from the seed (which
 * the records state): the held-out shapes drawn at run time follow from
 * nothing a candidate or a spec can see or set */
static uint64_t os_below(uint64_t n)
{
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t k = getrandom((char *)&v + got, sizeof v - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            fprintf(stderr, "spak-harness-cpu: getrandom failed: %s\n", strerror(errno));
            exit(4);
        }
        got += (size_t)k;
    }
    return v % n; /* the bias of a 64-bit draw over n <= 2^31 is below 2^-32 */
}

/* One size in 1..hi: any of them, or (odd) an odd one, the sizes a kernel
 * that quietly assumes a power-of-two block (and drops the tail) gets
 * wrong, whatever the listed shapes share. */
static long draw_size(long hi, bool odd)
{
    if (odd) return 2 * (long)os_below((uint64_t)(hi + 1) / 2) + 1;
    return 1 + (long)os_below((uint64_t)hi);
}

/* ---- trace records ------------------------------------------------------ */

void cpu_set_num(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, isfinite(v) ? json_real(v) : json_null());
}

/* the family whose records these are: a family described at run time
 * adds its own fields to each (family.h, record) */
static const cpu_family *emit_family;

void cpu_emit(json_t *o)
{
    if (emit_family && emit_family->record) emit_family->record(o);
    spak_record_omit_nulls(o); /* a passing record says nothing of what it has no value for */
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (s) {
        printf(TRACE_PREFIX "%s\n", s);
        fflush(stdout);
        free(s);
    }
    json_decref(o);
}

/* ---- shapes ------------------------------------------------------------- */

/* One shape of family f from the n characters at s: f->ndims numbers in
 * 1 .. 2^20 joined by 'x', a 'c'/'C' suffix for causal where the family has
 * one, the last number at most f->max_last where set. */
static bool parse_shape(const cpu_family *f, const char *s, size_t n, shape *out)
{
    memset(out, 0, sizeof *out);
    int want = f->ndims;
    char buf[80];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (f->causal && (buf[n - 1] == 'c' || buf[n - 1] == 'C')) {
        out->causal = 1;
        buf[--n] = 0;
    }
    int got = 0;
    char *p = buf;
    for (;;) {
        char *x = strchr(p, 'x');
        if (x) *x = 0;
        long v;
        if (got == want || !parse_long(p, 1, 1 << 20, &v)) return false;
        out->d[got++] = v;
        if (!x) break;
        p = x + 1;
    }
    if (got != want) return false;
    if (f->max_last > 0 && out->d[want - 1] > f->max_last) return false;
    size_t len = 0;
    for (int k = 0; k < want; k++)
        len += (size_t)snprintf(out->str + len, sizeof out->str - len, "%s%ld", k ? "x" : "", out->d[k]);
    snprintf(out->str + len, sizeof out->str - len, "%s", out->causal ? "c" : "");
    return true;
}

static bool parse_shape_list(options *o, const char *list, bool heldout)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (o->nshapes >= MAX_SHAPES) return false;
        shape *sh = &o->shapes[o->nshapes];
        if (!parse_shape(o->fam, p, n, sh)) return false;
        sh->heldout = heldout;
        o->nshapes++;
        if (!e) break;
        p = e + 1;
    }
    return true;
}

/* ---- arguments ----------------------------------------------------------- */

/* The families linked in, in their listed order (cpu_family.order): the
 * usage text and the messages name them in this order. */
#define MAX_FAMILIES 32
static const cpu_family *fams[MAX_FAMILIES + 1];

static int cmp_family(const void *a, const void *b)
{
    const cpu_family *x = *(const cpu_family *const *)a, *y = *(const cpu_family *const *)b;
    return x->order != y->order ? (x->order > y->order) - (x->order < y->order) : strcmp(x->name, y->name);
}

static void list_families(void)
{
    int n = 0;
    for (const cpu_family *const *f = cpu_families; *f && n < MAX_FAMILIES; f++) fams[n++] = *f;
    qsort(fams, (size_t)n, sizeof fams[0], cmp_family);
    fams[n] = NULL;
}

/* appends sep (unless buf is empty) and s to buf, within n bytes */
static void join(char *buf, size_t n, const char *sep, const char *s)
{
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", l ? sep : "", s);
}

static void usage(void)
{
    char names[256] = "", bases[256] = "", shapes[512] = "";
    for (int k = 0; fams[k]; k++) {
        join(names, sizeof names, "|", fams[k]->name);
        join(shapes, sizeof shapes, "; ", fams[k]->shape_help);
        if (fams[k]->builtin_baseline) join(bases, sizeof bases, "|", fams[k]->builtin_baseline);
    }
    for (int k = 0; fams[k]; k++)
        if (fams[k]->named_baseline) join(bases, sizeof bases, "|", fams[k]->named_baseline);
    join(bases, sizeof bases, "|", "so|none");
    fprintf(stderr,
            "usage: spak-harness-cpu --family %s --candidate PATH.so [--candidate PATH.so ...]\n"
            "         [--seed N (ignored)]\n"
            "         [--shapes S,...] [--heldout S,...] [--causal] [--min-time SEC]\n"
            "         [--precision REL] [--level L] [--max-reps N] [--max-time SEC] [--between-runs SD]\n"
            "         [--busy-wait SEC (the most it waits for other work to end, in all; default %g)]\n"
            "         [--baseline %s] [--baseline-so PATH]\n"
            "         [--tolerance X] [--check-only] [--ceilings-cache PATH]\n"
            "         [--traffic MODEL[,KEY=VALUE,...]] [--stop-slower-than MS|SHAPE=MS,...]\n"
            "         [--decl FILE (family declared: the kernel, its shapes and its reference)]\n"
            "  shapes: %s\n",
            names, CPU_LOAD_WAIT_TOTAL_S, bases, shapes);
}

static void bad_shapes(void)
{
    char syn[512] = "", lim[256] = "";
    for (int k = 0; fams[k]; k++) {
        join(syn, sizeof syn, ", ", fams[k]->shape_syntax);
        if (fams[k]->limit_help) join(lim, sizeof lim, ", ", fams[k]->limit_help);
    }
    fprintf(stderr, "spak-harness-cpu: bad shape list (%s, at most %d%s%s)\n", syn, MAX_SHAPES, *lim ? ", " : "",
            lim);
}

/* --baseline NAME (NULL: the family's default) into o->base, o->base_name */
static int parse_baseline(options *o, const char *base)
{
    const cpu_family *f = o->fam;
    if (!base) base = o->base_so ? "so" : f->builtin_baseline ? f->builtin_baseline : "none";
    if (!strcmp(base, "none")) {
        o->base = BASE_NONE;
        o->base_name = "none";
        return 0;
    }
    if (f->builtin_baseline && !strcmp(base, f->builtin_baseline)) {
        o->base = BASE_BUILTIN;
        o->base_name = f->builtin_baseline;
        return 0;
    }
    bool named = !strcmp(base, "so");
    for (int k = 0; fams[k]; k++) {
        if (fams[k]->builtin_baseline && !strcmp(base, fams[k]->builtin_baseline)) {
            fprintf(stderr, "spak-harness-cpu: --baseline %s is for %s only\n", base, fams[k]->name);
            return 2;
        }
        if (fams[k]->named_baseline && !strcmp(base, fams[k]->named_baseline)) named = true;
    }
    if (!named) {
        fprintf(stderr, "spak-harness-cpu: unknown baseline '%s'\n", base);
        return 2;
    }
    if (!o->base_so) {
        char hints[512] = "";
        for (int k = 0; fams[k]; k++)
            if (fams[k]->named_baseline) {
                char h[256];
                snprintf(h, sizeof h, "%s: %s", fams[k]->named_baseline, fams[k]->named_baseline_help);
                join(hints, sizeof hints, "; ", h);
            }
        fprintf(stderr, "spak-harness-cpu: --baseline %s needs --baseline-so PATH%s%s%s\n", base,
                *hints ? " (for " : "", hints, *hints ? ")" : "");
        return 2;
    }
    o->base = BASE_SO;
    o->base_name = !strcmp(base, "so") ? o->base_so : base;
    return 0;
}

/* --traffic MODEL[,KEY=VALUE...]: split into the model's name and its
 * parameters; a model the family does not have is a usage error (a class
 * silently resting on the compulsory traffic would hide the typo) */
static int parse_traffic(options *o)
{
    const char *arg = o->traffic_model, *comma = strchr(arg, ',');
    size_t l = comma ? (size_t)(comma - arg) : strlen(arg);
    snprintf(o->traffic_buf, sizeof o->traffic_buf, "%.*s", (int)l, arg);
    o->traffic_model = o->traffic_buf;
    o->traffic_params = comma ? comma + 1 : "";
    char desc[200];
    cpu_shape probe = {.d = {64, 64, 64, 64}};
    if (l >= sizeof o->traffic_buf || !o->fam->traffic ||
        o->fam->traffic(&probe, o->traffic_model, o->traffic_params, 1 << 20, desc, sizeof desc) < 0) {
        fprintf(stderr, "spak-harness-cpu: unknown --traffic model '%s' for family %s (%s)\n", arg, o->fam->name,
                o->fam->traffic_models ? o->fam->traffic_models : "it has none");
        return 2;
    }
    return 0;
}

/* --stop-slower-than MS (every timed shape) or SHAPE=MS,... (the shapes
 * named, as the records write them): o->stop_ms. 0, or 2 after a message. */
/* parse_stop's callback: MS for every shape, or SHAPE=MS for a timed shape */
static bool stop_each(const char *name, size_t len, double ms, void *ud)
{
    options *o = ud;
    if (!name) {
        for (int i = 0; i < o->nshapes; i++) o->stop_ms[i] = ms;
        return true;
    }
    for (int k = 0; k < o->nshapes; k++)
        if (!o->shapes[k].heldout && strlen(o->shapes[k].str) == len && !strncmp(o->shapes[k].str, name, len)) {
            o->stop_ms[k] = ms;
            return true;
        }
    return false;
}

static int parse_stop(options *o, const char *arg)
{
    if (spak_stop_parse(arg, stop_each, o)) return 0;
    fprintf(stderr,
            "spak-harness-cpu: bad --stop-slower-than '%s' (milliseconds a call > 0, or SHAPE=MS,... naming timed "
            "shapes)\n",
            arg);
    return 2;
}

/* Held-out shapes drawn at run time (docs/trust-cpu.md, "Held-out shapes
 * drawn at run time"): CPU_DRAWN shapes appended to the list, each
 * dimension in 1 .. the largest any listed shape gives it (the family's
 * ABI takes any size from 1; attention's D stays within its cap because
 * every listed D does), the first drawn uniformly, the second from the odd
 * sizes; causal as a listed shape drawn at random is. Checked like any
 * held-out shape (one call: a shape no call has seen), never timed,
 * recorded with "drawn": true. They live in the judge's memory only: no
 * argument, file or variable a runner can read holds them before the
 * CALL that carries one. */
#define CPU_DRAWN 2
static void draw_shapes(options *o)
{
    int listed = o->nshapes;
    long hi[4] = {1, 1, 1, 1};
    for (int i = 0; i < listed; i++)
        for (int k = 0; k < o->fam->ndims; k++)
            if (o->shapes[i].d[k] > hi[k]) hi[k] = o->shapes[i].d[k];
    for (int j = 0; listed && j < CPU_DRAWN && o->nshapes < MAX_SHAPES; j++) {
        shape *sh = &o->shapes[o->nshapes++];
        memset(sh, 0, sizeof *sh);
        size_t len = 0;
        for (int k = 0; k < o->fam->ndims; k++) {
            sh->d[k] = draw_size(hi[k], j == 1);
            len += (size_t)snprintf(sh->str + len, sizeof sh->str - len, "%s%ld", k ? "x" : "", sh->d[k]);
        }
        sh->causal = o->fam->causal && o->shapes[os_below((uint64_t)listed)].causal;
        snprintf(sh->str + len, sizeof sh->str - len, "%s", sh->causal ? "c" : "");
        sh->heldout = sh->drawn = true;
    }
}

/* The shapes: --shapes/--heldout (or the family's defaults), or, for a
 * family described at run time, its --decl file's (which also gives the
 * tolerance). 0, or 2 with the message printed. */
static int shapes_of(options *o, const char *shapes, const char *heldout)
{
    if (o->fam->load) {
        char why[300] = "";
        if (shapes || heldout || !o->decl) {
            fprintf(stderr, "spak-harness-cpu: family %s takes --decl FILE and its shapes from it (no --shapes)\n",
                    o->fam->name);
            return 2;
        }
        int rc = o->fam->load(o->decl, o->runner_exe, o->shapes, &o->nshapes, MAX_SHAPES, &o->tol, why, sizeof why);
        if (rc) fprintf(stderr, "spak-harness-cpu: --decl %s: %s\n", o->decl, why);
        return rc;
    }
    if (!shapes) shapes = o->fam->default_shapes;
    if (!heldout) heldout = o->fam->default_heldout;
    if (!parse_shape_list(o, shapes, false) || (*heldout && !parse_shape_list(o, heldout, true))) {
        bad_shapes();
        return 2;
    }
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->min_time = 0.3;
    o->precision = 0.02;
    o->between_runs = CPU_BETWEEN_RUNS_SD;
    o->level = 0.95;
    o->max_reps = 500;
    o->max_time = -1; /* 2 + 10 x min-time unless given */
    o->tol = -1;
    o->bound_scale = 1;
    const char *fam = NULL, *shapes = NULL, *heldout = NULL, *base = NULL, *seed = NULL, *stop = NULL;
    int rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(var)                                                            \
    do {                                                                     \
        if (!v) {                                                            \
            fprintf(stderr, "spak-harness-cpu: %s needs a value\n", a);      \
            return 2;                                                        \
        }                                                                    \
        var = v;                                                             \
        i++;                                                                 \
    } while (0)
        if (!strcmp(a, "--family"))
            TAKE(fam);
        else if (!strcmp(a, "--candidate")) {
            const char *cp;
            TAKE(cp);
            if (o->ncand >= CPU_MAX_RIVALS) {
                fprintf(stderr, "spak-harness-cpu: at most %d --candidate in one session\n", CPU_MAX_RIVALS);
                return 2;
            }
            o->cand_path = o->cand_path ? o->cand_path : cp;
            o->cand_paths[o->ncand++] = cp;
        } else if (!strcmp(a, "--seed"))
            TAKE(seed);
        else if (!strcmp(a, "--shapes"))
            TAKE(shapes);
        else if (!strcmp(a, "--heldout"))
            TAKE(heldout);
        else if (!strcmp(a, "--baseline"))
            TAKE(base);
        else if (!strcmp(a, "--baseline-so"))
            TAKE(o->base_so);
        else if (!strcmp(a, "--ceilings-cache"))
            TAKE(o->ceil_cache);
        else if (!strcmp(a, "--traffic"))
            TAKE(o->traffic_model);
        else if (!strcmp(a, "--decl"))
            TAKE(o->decl);
        else if (!strcmp(a, "--stop-slower-than"))
            TAKE(stop);
        else if (!strcmp(a, "--min-time")) {
            const char *s;
            TAKE(s);
            if (!parse_double(s, &o->min_time) || o->min_time < 0 || o->min_time > 600) {
                fprintf(stderr, "spak-harness-cpu: bad --min-time '%s'\n", s);
                return 2;
            }
        } else if (!strcmp(a, "--precision") || !strcmp(a, "--level") || !strcmp(a, "--max-time")) {
            /* the ratio's precision (0 < p < 1), its level (0.5 <= L < 1), the
             * seconds a shape may take (at most 600) */
            const char *s;
            double x;
            TAKE(s);
            bool lv = !strcmp(a, "--level"), mt = !strcmp(a, "--max-time");
            if (!parse_double(s, &x) || x <= 0 || (mt ? x > 600 : x >= 1) || (lv && x < 0.5)) {
                fprintf(stderr, "spak-harness-cpu: bad %s '%s' (%s)\n", a, s,
                        mt ? "0 < seconds <= 600" : lv ? "0.5 <= level < 1" : "0 < relative precision < 1");
                return 2;
            }
            *(lv ? &o->level : mt ? &o->max_time : &o->precision) = x;
        } else if (!strcmp(a, "--between-runs")) {
            const char *s;
            TAKE(s);
            if (!parse_double(s, &o->between_runs) || o->between_runs < 0 || o->between_runs >= 1) {
                fprintf(stderr, "spak-harness-cpu: bad --between-runs '%s' (0 <= sd < 1; 0: none)\n", s);
                return 2;
            }
        } else if (!strcmp(a, "--max-reps")) {
            const char *s;
            long x;
            TAKE(s);
            if (!parse_long(s, 5, 5000, &x)) {
                fprintf(stderr, "spak-harness-cpu: bad --max-reps '%s' (5 .. 5000)\n", s);
                return 2;
            }
            o->max_reps = (int)x;
        } else if (!strcmp(a, "--busy-wait")) {
            const char *s;
            double x;
            TAKE(s);
            if (!parse_double(s, &x) || x < 0 || x > 3600) {
                fprintf(stderr, "spak-harness-cpu: bad --busy-wait '%s' (0 <= seconds <= 3600; 0: never wait)\n", s);
                return 2;
            }
            cpu_load_wait_budget(x);
        } else if (!strcmp(a, "--tolerance")) {
            const char *s;
            TAKE(s);
            if (!parse_double(s, &o->tol) || o->tol <= 0) {
                fprintf(stderr, "spak-harness-cpu: bad --tolerance '%s'\n", s);
                return 2;
            }
        } else if (!strcmp(a, "--bound-scale")) {
            /* for tests of the "impossible" verdict: the bound can only be
             * lowered (a stricter judge), never raised */
            const char *s;
            TAKE(s);
            if (!parse_double(s, &o->bound_scale) || o->bound_scale <= 0 || o->bound_scale > 1) {
                fprintf(stderr, "spak-harness-cpu: bad --bound-scale '%s' (0 < x <= 1)\n", s);
                return 2;
            }
        } else if (!strcmp(a, "--check-only"))
            o->check_only = true;
        else if (!strcmp(a, "--causal"))
            o->causal_all = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 2;
        } else {
            fprintf(stderr, "spak-harness-cpu: unknown argument '%s'\n", a);
            usage();
            return 2;
        }
#undef TAKE
    }
    if (!fam || !o->cand_path) {
        fprintf(stderr, "spak-harness-cpu: --family and --candidate are required\n");
        usage();
        return 2;
    }
    for (int k = 0; fams[k] && !o->fam; k++)
        if (!strcmp(fam, fams[k]->name)) o->fam = fams[k];
    if (!o->fam) {
        fprintf(stderr, "spak-harness-cpu: unknown family '%s'\n", fam);
        return 2;
    }
    if (o->traffic_model && parse_traffic(o)) return 2;
    /* --seed is accepted for old specs and ignored: a seed in argv is one a
     * candidate could read; the records say it was ignored */
    long sv;
    if (seed && !parse_long(seed, 0, (1L << 47) - 1, &sv)) {
        fprintf(stderr, "spak-harness-cpu: bad --seed '%s' (0 .. 2^47-1)\n", seed);
        return 2;
    }
    o->seed_arg = seed != NULL;
    o->seed = os_seed();
    if (o->ncand > 1) /* a session's id: its records say which session measured them */
        snprintf(o->session, sizeof o->session, "s%012llx", (unsigned long long)os_seed());
    if (o->tol < 0) o->tol = 1e-5;
    if (o->max_time < 0) o->max_time = 2 + 10 * o->min_time;
    if ((rc = shapes_of(o, shapes, heldout)) != 0) return rc;
    if (stop && parse_stop(o, stop)) return 2;
    if (o->causal_all)
        for (int i = 0; i < o->nshapes; i++)
            if (o->fam->causal && !o->shapes[i].causal) {
                o->shapes[i].causal = 1;
                size_t l = strlen(o->shapes[i].str);
                if (l + 1 < sizeof o->shapes[i].str) o->shapes[i].str[l] = 'c', o->shapes[i].str[l + 1] = 0;
            }
    if (!o->fam->load) draw_shapes(o); /* a decl's drawn shapes are spak's (src/build/decl.c) */
    return parse_baseline(o, base);
}

/* the runner and the built-in baseline's .so beside this binary */
static int find_siblings(options *o)
{
    char self[3072];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 4;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return 4;
    *slash = 0;
    snprintf(o->runner_exe, sizeof o->runner_exe, "%s/spak-runner-cpu", self);
    if (o->fam->builtin_baseline_so)
        snprintf(o->builtin_so, sizeof o->builtin_so, "%s/%s", self, o->fam->builtin_baseline_so);
    return access(o->runner_exe, X_OK) ? 4 : 0;
}

/* OpenBLAS's kernel family for this CPU. OpenBLAS picks its kernels from
 * the CPU model (cpuid family/model), not from the ISA flags: on a CPU whose
 * model it does not know (a new one, or a virtual machine that masks the
 * model) it falls back to "Prescott", SSE3 kernels 5-8x slower than the
 * CPU allows (seen: 40-70 GFLOP/s against 330 on an AVX-512 Xeon whose model
 * a VM hid), which turns every candidate into a multiple of a crippled
 * baseline. So the judge names the family from the ISA the CPU reports:
 * SkylakeX where AVX-512 F/BW/DQ/VL are there, Haswell where AVX2 and FMA
 * are, else none (OpenBLAS's own detection). OPENBLAS_CORETYPE in the
 * judge's environment overrides this; the record's openblas_core says what
 * ran. */
static const char *openblas_coretype(void)
{
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && *user) return user;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

/* the built-in baseline's runner environment, "{threads}" and
 * "{openblas_core}" replaced; an entry whose value resolves to nothing is
 * left out */
static const char *const *baseline_env(const options *o, char store[][64], const char **env, int cap)
{
    int n = 0;
    for (const char *const *e = o->fam->builtin_baseline_env; e && *e && n < cap - 1; e++) {
        const char *t = strstr(*e, "{threads}");
        const char *c = strstr(*e, "{openblas_core}");
        if (t) {
            snprintf(store[n], 64, "%.*s%d%s", (int)(t - *e), *e, cpu_ncpus(), t + 9);
        } else if (c) {
            const char *core = openblas_coretype();
            if (!core) continue;
            snprintf(store[n], 64, "%.*s%s%s", (int)(c - *e), *e, core, c + 15);
        } else {
            snprintf(store[n], 64, "%s", *e);
        }
        env[n] = store[n];
        n++;
    }
    env[n] = NULL;
    return env;
}

static int start_side(const options *o, side *s, const char *label, const char *so, const char *const *env)
{
    memset(s, 0, sizeof *s);
    s->label = label;
    char prec[16], why[512];
    int rc = cpu_runner_start(o->runner_exe, so, o->fam->name, env, &s->r, s->name, sizeof s->name, prec,
                              sizeof prec, why, sizeof why);
    if (rc) {
        fprintf(stderr, "spak-harness-cpu: %s\n", why);
        return rc;
    }
    /* a candidate's calls must leave nothing running (work after return) */
    if (!strcmp(label, "candidate")) cpu_runner_strict(s->r);
    snprintf(s->prec, sizeof s->prec, "%s", prec[0] ? prec : "fp32");
    if (!s->name[0]) snprintf(s->name, sizeof s->name, "%s", so);
    return 0;
}

/* the fields that tie a record to its session and candidate */
static void session_fields(const options *o, json_t *rec, int rival)
{
    json_object_set_new(rec, "session", json_string(o->session));
    json_object_set_new(rec, "rival", json_integer(rival));
    json_object_set_new(rec, "session_size", json_integer(o->ncand));
}

/* the fields every Correctness record carries besides check.c's */
static void correctness_fields(const options *o, const side *c, json_t *rec)
{
    json_object_set_new(rec, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(rec, "seed_source", json_string(o->seed_arg ? "getrandom (--seed ignored)" : "getrandom"));
    json_object_set_new(rec, "candidate", json_string(c->name));
    json_object_set_new(rec, "declared_precision", json_string(c->prec));
}

/* stops the baseline's runner and its twin's: 0, or what went wrong with
 * either in why (may be NULL) */
static int stop_baseline(side *b, char *why, size_t nwhy)
{
    int bad = cpu_runner_stop(b->r, "baseline", why, nwhy);
    if (b->twin) {
        char tw[600];
        if (cpu_runner_stop(b->twin->r, "baseline's twin", tw, sizeof tw) && !bad) {
            if (why) snprintf(why, nwhy, "%s", tw);
            bad = 1;
        }
    }
    return bad;
}

/* End the candidate's runner and the baseline's (with its twin). A runner
 * whose sandbox saw a denied system call (the candidate may have gone on
 * after the EPERM, and every number it gave is suspect) or ran below the
 * isolation minimum fails the evaluation: one more Correctness record,
 * passed false, after everything it measured. */
static void runners_verdict(const options *o, side *c, side *b, int rival)
{
    char why[2][600];
    int bad_c = cpu_runner_stop(c->r, "candidate", why[0], sizeof why[0]);
    int bad_b = b ? stop_baseline(b, why[1], sizeof why[1]) : 0;
    for (int k = 0; k < 2; k++) {
        if (!(k ? bad_b : bad_c)) continue;
        json_t *rec = json_object();
        json_object_set_new(rec, "type", json_string("Correctness"));
        json_object_set_new(rec, "shape", json_string("runner"));
        json_object_set_new(rec, "heldout", json_false());
        json_object_set_new(rec, "passed", json_false());
        json_object_set_new(rec, "reason", json_string(why[k]));
        json_object_set_new(rec, "seed", json_integer((json_int_t)o->seed));
        if (o->ncand > 1 && !k) session_fields(o, rec, rival);
        cpu_emit(rec);
        fprintf(stderr, "spak-harness-cpu: %s\n", why[k]);
    }
}

/* The checks of every shape into recs[] (Correctness records, not
 * emitted); returns how many failed. With a --stop-slower-than limit the
 * timed shapes are checked first, and a candidate whose first two checked
 * calls of a timed shape were both slower than its limit is stopped there:
 * the other shapes are not checked (their records say so), its stopped
 * Performance record is emitted, and -1 is returned. */
static int check_all(const options *o, side *c, json_t **recs)
{
    bool limits = false;
    for (int i = 0; i < o->nshapes; i++) limits |= o->stop_ms[i] > 0;
    int failed = 0, stopped_at = -1;
    double call_s[2] = {NAN, NAN};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < o->nshapes; i++) {
            if ((pass == 0) != (!limits || !o->shapes[i].heldout)) continue;
            recs[i] = json_object();
            bool stopped = false;
            if (stopped_at >= 0) {
                json_object_set_new(recs[i], "type", json_string("Correctness"));
                json_object_set_new(recs[i], "shape", json_string(o->shapes[i].str));
                json_object_set_new(recs[i], "heldout", json_boolean(o->shapes[i].heldout));
                if (o->shapes[i].drawn) json_object_set_new(recs[i], "drawn", json_true());
                json_object_set_new(recs[i], "verdict", json_string("stopped"));
                json_object_set_new(recs[i], "reason", json_string("not checked: the candidate was stopped early"));
            } else if (!cpu_check_shape(o, c, &o->shapes[i], recs[i], o->stop_ms[i] * 1e-3, &stopped, call_s)) {
                if (stopped) stopped_at = i;
                else failed++;
            }
            correctness_fields(o, c, recs[i]);
        }
    if (stopped_at < 0) return failed;
    fprintf(stderr, "spak-harness-cpu: %s: stopped early at %s (slower than --stop-slower-than)\n", c->name,
            o->shapes[stopped_at].str);
    cpu_emit_stopped(o, c, &o->shapes[stopped_at], call_s, 2, o->stop_ms[stopped_at] * 1e-3, 1, 0);
    return -1;
}

/* A session (o->ncand > 1): every candidate started and checked, those
 * that pass timed together on each timed shape (cpu_time_session). A
 * candidate whose runner cannot start gets a failed Correctness record
 * (shape "runner"); the others go on. */
static int session_main(options *o, side *bp, solo_stat *solo)
{
    static side cs[CPU_MAX_RIVALS];
    static json_t *recs[CPU_MAX_RIVALS][MAX_SHAPES];
    side *cp[CPU_MAX_RIVALS];
    bool alive[CPU_MAX_RIVALS], started[CPU_MAX_RIVALS];
    int nc = o->ncand;
    for (int k = 0; k < nc; k++) {
        cp[k] = &cs[k];
        started[k] = alive[k] = start_side(o, &cs[k], "candidate", o->cand_paths[k], NULL) == 0;
        if (!started[k]) {
            json_t *rec = json_pack("{s:s,s:s,s:b,s:b,s:s}", "type", "Correctness", "shape", "runner", "heldout", 0,
                                    "passed", 0, "reason", "the candidate's runner could not be started");
            session_fields(o, rec, k);
            cpu_emit(rec);
            continue;
        }
        for (int i = 0; i < o->nshapes; i++) {
            recs[k][i] = json_object();
            bool stopped = false;  /* no --stop-slower-than in a session: never set */
            double call_s[2];
            if (!cpu_check_shape(o, &cs[k], &o->shapes[i], recs[k][i], 0, &stopped, call_s)) alive[k] = false;
            correctness_fields(o, &cs[k], recs[k][i]);
            session_fields(o, recs[k][i], k);
        }
        char denied[300];
        if (cpu_runner_denied(cs[k].r, "candidate", denied, sizeof denied)) alive[k] = false;
        for (int i = 0; i < o->nshapes; i++) /* held-out shapes, and every shape of one not timed */
            if (!alive[k] || o->shapes[i].heldout || o->check_only) cpu_emit(json_incref(recs[k][i]));
    }
    if (!o->check_only) {
        cpu_bound bound;
        cpu_get_bound(&bound);
        bound.gflops *= o->bound_scale;
        bound.scale = o->bound_scale;
        for (int i = 0; i < o->nshapes; i++) {
            if (o->shapes[i].heldout) continue;
            json_t *cr[CPU_MAX_RIVALS];
            bool any = false;
            for (int k = 0; k < nc; k++) cr[k] = started[k] ? recs[k][i] : NULL, any = any || alive[k];
            if (!any) break;
            cpu_time_session(o, cp, nc, bp, &o->shapes[i], &solo[i], &bound, cr, alive);
        }
    }
    for (int k = 0; k < nc; k++) {
        if (!started[k]) continue;
        for (int i = 0; i < o->nshapes; i++) json_decref(recs[k][i]);
        runners_verdict(o, &cs[k], k == nc - 1 ? bp : NULL, k);
    }
    if (bp && nc > 0 && !started[nc - 1]) (void)stop_baseline(bp, NULL, 0);
    return 0;
}

int main(int argc, char **argv)
{
    list_families();
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    emit_family = o.fam;
    if ((rc = find_siblings(&o)) != 0) {
        fprintf(stderr, "spak-harness-cpu: spak-runner-cpu is missing beside the harness\n");
        return rc;
    }
    /* the key of every draw (cpu_judge_secret): the seed the records state,
     * so the inputs follow from it and the judge's code alone */
    judge_key[0] = o.seed;
    judge_key[1] = 0x7370616b2d6a6467ull; /* "spak-jdg" */
    rng_seed(&judge_rng, cpu_judge_secret());
    side c, b, twin, *bp = NULL;
    static solo_stat solo[MAX_SHAPES];
    bool timed = !o.check_only && o.base != BASE_NONE;
    if (timed) {
        char store[8][64];
        const char *env[8];
        bool builtin = o.base == BASE_BUILTIN;
        const char *so = builtin ? o.builtin_so : o.base_so;
        const char *const *benv = builtin ? baseline_env(&o, store, env, 8) : NULL;
        rc = start_side(&o, &b, "baseline", so, benv);
        if (rc) return rc;
        bp = &b;
        /* the baseline's twin (timing.c, solo_shape): without it the
         * baseline is timed back to back, and its records say so */
        if (start_side(&o, &twin, "baseline", so, benv) == 0)
            b.twin = &twin;
        else
            fprintf(stderr, "spak-harness-cpu: the baseline's twin could not start (above): the baseline is timed "
                    "back to back (its records say baseline_solo_beside_twin: false)\n");
        /* alone: before the candidate's runner exists */
        cpu_time_baseline_solo(&o, bp, solo);
        cpu_runner_freeze(b.r, true);
        if (b.twin) cpu_runner_freeze(twin.r, true);
    }
    if (o.ncand > 1) return session_main(&o, bp, solo);
    if ((rc = start_side(&o, &c, "candidate", o.cand_path, NULL)) != 0) {
        if (bp) (void)stop_baseline(bp, NULL, 0); /* the candidate's start failure is the news */
        return rc;
    }
    json_t *recs[MAX_SHAPES];
    int failed = check_all(&o, &c, recs);
    if (failed < 0) { /* hopeless: stopped early while checked */
        for (int i = 0; i < o.nshapes; i++) cpu_emit(recs[i]);
        runners_verdict(&o, &c, bp, 0);
        return 0;
    }
    fprintf(stderr, "spak-harness-cpu: %s: %d of %d shapes passed\n", c.name, o.nshapes - failed, o.nshapes);
    /* a candidate that made a denied system call is not timed: what it did
     * after the EPERM is not to be trusted (runners_verdict fails it) */
    char denied[300];
    bool was_denied = cpu_runner_denied(c.r, "candidate", denied, sizeof denied);
    if (was_denied)
        fprintf(stderr, "spak-harness-cpu: not timed: %s\n", denied);
    bool time_now = !o.check_only && !failed && !was_denied;
    for (int i = 0; i < o.nshapes; i++)
        if (!time_now || o.shapes[i].heldout) cpu_emit(json_incref(recs[i]));
    if (!o.check_only && failed)
        fprintf(stderr, "spak-harness-cpu: not timed: a candidate that fails a check is never timed\n");
    if (time_now) {
        cpu_ceilings ceil;
        cpu_get_ceilings(o.ceil_cache, &ceil);
        cpu_bound bound;
        cpu_get_bound(&bound);
        bound.gflops *= o.bound_scale;
        bound.scale = o.bound_scale;
        bool go = true; /* a timed call failed its check: the rest is not timed */
        double time_s[MAX_SHAPES];
        for (int i = 0; i < o.nshapes; i++) {
            time_s[i] = NAN;
            if (o.shapes[i].heldout) continue;
            if (go && cpu_runner_denied(c.r, "candidate", denied, sizeof denied))
                go = false; /* denied during an earlier timed shape: no more timing */
            bool stopped = false;
            if (!go)
                cpu_emit(json_incref(recs[i]));
            else
                go = cpu_time_shape(&o, &c, bp, &o.shapes[i], &solo[i], &bound, o.stop_ms[i], recs[i], &time_s[i],
                                    &stopped);
            if (stopped) { /* hopeless: the shapes after it are checked, not timed */
                fprintf(stderr, "spak-harness-cpu: %s: stopped early (slower than --stop-slower-than)\n",
                        o.shapes[i].str);
                go = false;
            }
        }
        cpu_emit_analyses(&o, time_s, &ceil);
    }
    for (int i = 0; i < o.nshapes; i++) json_decref(recs[i]);
    runners_verdict(&o, &c, bp, 0);
    return 0;
}
