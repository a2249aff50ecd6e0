/* context_sections.c - the prompt's sections that read the run's
 * measurements (context_sections.h). */
#include "program/context_sections.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/device.h"
#include "analyze/records.h"
#include "analyze/trace.h"
#include "analyze/views.h"

#define PUT(...) (void)spak_buf_printf(b, __VA_ARGS__) /* a full buffer records its cut */

static char *read_capped(const char *path, size_t cap)
{
    char *t = NULL;
    size_t n;
    if (spak_read_file(path, (size_t)1 << 20, &t, &n, NULL) != SPAK_OK)
        return NULL;
    if (n > cap)
        t[cap] = '\0';
    return t;
}

json_t *spak_ctx_records(spak_store *st, const char *run_id, int64_t eval_id)
{
    json_t *a = json_array();
    spak_trace_row *rows = NULL;
    size_t n = 0;
    if (!st || spak_store_trace_list(st, run_id, eval_id, &rows, &n, NULL) != SPAK_OK)
        return a;
    for (size_t i = 0; i < n; i++)
        if (rows[i].valid && rows[i].record_json) {
            json_t *r = json_loads(rows[i].record_json, 0, NULL);
            if (json_is_object(r))
                json_array_append(a, r);
            json_decref(r);
        }
    spak_store_trace_rows_free(rows, n);
    return a;
}

char *spak_ctx_eval_source(const spak_strategy_run *e, const spak_eval *ev, size_t cap)
{
    spak_candidate cand = {0};
    bool found = false;
    char *t = NULL;
    if (ev->cand_key && spak_store_candidate_get(e->store, e->run_id, ev->cand_key, &cand, &found, NULL) == SPAK_OK &&
        found && cand.source_path)
        t = read_capped(cand.source_path, cap);
    spak_store_candidate_free(&cand);
    uint64_t idx;
    char path[PATH_MAX];
    if (!t && ev->cand_key && spak_space_find(e->space, ev->cand_key, &idx) &&
        spak_cand_source_of(e->site, idx, path, sizeof path))
        t = read_capped(path, cap);
    return t;
}

/* ---- the ABI ---- */

#define ABI_MAX_FILES 8

static void abi_add(const char *path, const char *label, spak_buf *b, char seen[][PATH_MAX], size_t *n_seen, int depth)
{
    char real[PATH_MAX];
    if (depth > 4 || *n_seen >= ABI_MAX_FILES || !realpath(path, real))
        return;
    for (size_t i = 0; i < *n_seen; i++)
        if (strcmp(seen[i], real) == 0)
            return;
    spak_snprintf(seen[(*n_seen)++], PATH_MAX, "%s", real);
    char *t = read_capped(path, 32 << 10);
    if (!t)
        return;
    if (label)
        PUT("\n/* ---- %s (included above) ---- */\n", label);
    PUT("%s", t);
    /* the quoted includes, relative to this file's folder */
    char dir[PATH_MAX];
    spak_snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl)
        sl[1] = '\0';
    else
        dir[0] = '\0';
    for (const char *p = t; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '#')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, "include", 7) != 0)
            continue;
        q += 7;
        while (*q == ' ' || *q == '\t')
            q++;
        const char *end = *q == '"' ? strchr(q + 1, '"') : NULL;
        const char *nl = strchr(q, '\n');
        if (!end || (nl && end > nl) || end - q - 1 <= 0 || end - q - 1 >= 256)
            continue;
        char name[256], inc[PATH_MAX];
        spak_snprintf(name, sizeof name, "%.*s", (int)(end - q - 1), q + 1);
        if (spak_snprintf(inc, sizeof inc, "%s%s", dir, name))
            abi_add(inc, name, b, seen, n_seen, depth + 1);
    }
    free(t);
}

char *spak_ctx_abi_with_includes(const char *path, size_t cap)
{
    spak_buf b;
    spak_buf_init(&b, cap);
    char(*seen)[PATH_MAX] = calloc(ABI_MAX_FILES, PATH_MAX);  /* the files shown, by real path */
    size_t n_seen = 0;
    if (seen)
        abi_add(path, NULL, &b, seen, &n_seen, 0);
    free(seen);
    if (!b.len) {
        spak_buf_free(&b);
        return NULL;
    }
    return spak_buf_take(&b);
}

/* ---- the machine ---- */

static void put_json_scalars(spak_buf *b, const json_t *o, const char *skip)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)o, k, v) {
        if (skip && strcmp(k, skip) == 0)
            continue;
        if (json_is_string(v))
            PUT("%s%s: %s", first ? "" : "; ", k, json_string_value(v));
        else if (json_is_number(v))
            PUT("%s%s: %.4g", first ? "" : "; ", k, json_number_value(v));
        else
            continue;
        first = false;
    }
}

void spak_ctx_machine(const spak_strategy_run *e, spak_buf *b)
{
    bool cuda = strcmp(e->target, "cuda") == 0;
    if (cuda) {
        json_t *g = spak_device_gpu_detail();
        if (g) {
            PUT("GPU: %s, compute capability %s, max SM clock %s MHz, max memory clock %s MHz, %s MiB of memory, "
                "driver %s\n",
                json_string_value(json_object_get(g, "gpu")), json_string_value(json_object_get(g, "compute_cap")),
                json_string_value(json_object_get(g, "sm_clock_max_mhz")),
                json_string_value(json_object_get(g, "mem_clock_max_mhz")),
                json_string_value(json_object_get(g, "memory_total_mib")),
                json_string_value(json_object_get(g, "driver")));
        } else {
            PUT("GPU: not read here (no nvidia-smi on the machine that builds this prompt; the judge measures on "
                "the GPU's machine)\n");
        }
        json_decref(g);
    }
    json_t *c = spak_device_cpu_detail();
    PUT("CPU: %s, %lld cores online", json_string_value(json_object_get(c, "cpu")),
        (long long)json_integer_value(json_object_get(c, "cores")));
    size_t i;
    json_t *v;
    PUT("; ISA flags that matter:");
    json_array_foreach(json_object_get(c, "isa"), i, v) PUT(" %s", json_string_value(v));
    if (!json_array_size(json_object_get(c, "isa")))
        PUT(" none of sse4_2/avx/avx2/fma/avx512 found");
    PUT("\ncaches (per cpu0):");
    json_array_foreach(json_object_get(c, "caches"), i, v)
        PUT("%s L%s %s %s (shared by cpus %s)", i ? ";" : "", json_string_value(json_object_get(v, "level")),
            json_string_value(json_object_get(v, "type")), json_string_value(json_object_get(v, "size")),
            json_string_value(json_object_get(v, "shared_cpus")));
    if (!json_array_size(json_object_get(c, "caches")))
        PUT(" not readable here");
    PUT("\n");
    json_decref(c);
    /* the ceilings the judge measured (its cache beside the home) */
    char path[PATH_MAX];
    spak_snprintf(path, sizeof path, "%s/cache/device/ceilings-%s.json", e->site->home, e->target);
    json_t *ce = json_load_file(path, 0, NULL);
    if (json_is_object(ce)) {
        PUT("measured peak rates (the judge's ceilings, the roofline of the analysis): ");
        put_json_scalars(b, ce, "method");
        const char *m = json_string_value(json_object_get(ce, "method"));
        PUT("\n%s%s", m ? "how they were measured: " : "", m ? m : "");
    } else {
        PUT("measured peak rates: not measured yet (the judge measures them on its first evaluation and every "
            "Analysis record carries them)");
    }
    json_decref(ce);
}

/* ---- records ---- */

static double rnum(const json_t *r, const char *k)
{
    json_t *v = json_object_get(r, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static bool is_case(const json_t *r, const char *c)
{
    const char *t = json_string_value(json_object_get(r, SPAK_REC_TYPE));
    return t && strcmp(t, c) == 0;
}

static bool heldout(const json_t *r)
{
    return json_is_true(json_object_get(r, SPAK_FIELD_HELDOUT));
}

/* The record of case c about shape s (not held out), or NULL. */
static const json_t *rec_of(const json_t *recs, const char *c, const char *s)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *rs = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
        if (is_case(r, c) && !heldout(r) && rs && strcmp(rs, s) == 0)
            return r;
    }
    return NULL;
}

/* The metric of a record: the loop's field, or its TFLOP/s twin. */
static double metric_of(const spak_strategy_run *e, const json_t *r)
{
    return rnum(r, e->loop->metric);
}

/* The baseline's own figure in the metric's unit (baseline_<metric>). */
static double baseline_of(const spak_strategy_run *e, const json_t *r)
{
    char bk[80];
    spak_snprintf(bk, sizeof bk, "%s%s", SPAK_FIELD_BASELINE_PREFIX, e->loop->metric);
    return rnum(r, bk);
}

/* The baseline's name: the record's, or the spec's where the record names a
 * file (a baseline built from source: its path is no name, and not
 * deterministic). */
static const char *baseline_name(const spak_strategy_run *e, const json_t *r)
{
    const char *n = json_string_value(json_object_get(r, "baseline"));
    if (n && !strchr(n, '/'))
        return n;
    const char *sp = e->m && e->m->problem ? spak_block_string(e->m->problem, "baseline") : NULL;
    return sp ? sp : "baseline";
}

static void put_ci(spak_buf *b, const json_t *r)
{
    json_t *ci = json_object_get(r, SPAK_FIELD_RATIO_CI);
    if (json_array_size(ci) == 2)
        PUT(" [%.4g-%.4g]", json_number_value(json_array_get(ci, 0)), json_number_value(json_array_get(ci, 1)));
}

/* ---- the starting point ---- */

static bool is_point_key(const char *k)
{
    return k && strncmp(k, "code:", 5) != 0 && strncmp(k, "llm:", 4) != 0;
}

bool spak_ctx_without(const spak_strategy_run *e, unsigned bit)
{
    return e->o && (e->o->context_without & bit);
}

void spak_ctx_start(const spak_strategy_run *e, const spak_eval *ev, size_t n, spak_buf *b)
{
    const spak_eval *s = NULL;
    for (size_t i = 0; i < n && !s; i++)
        if (is_point_key(ev[i].cand_key))
            s = &ev[i];
    char *src = NULL;
    if (s) {
        PUT("The first point of the space measured in this run, %s: %s", s->cand_key, s->status);
        if (spak_ctx_without(e, SPAK_CTX_WITHOUT_MEASUREMENTS)) {
            PUT("; its measurement: %s", SPAK_CTX_OMITTED_MEASUREMENTS);
        } else if (strcmp(s->status, SPAK_EVAL_DONE) == 0) {
            json_t *recs = spak_ctx_records(e->store, e->run_id, s->eval_id);
            double lo, hi;
            PUT(", %s %.4g, %.3fx the baseline", e->loop->metric, s->metric, s->ratio);
            if (spak_views_ratio_ci(recs, &lo, &hi, NULL))
                PUT(" (95%% interval [%.3g-%.3g])", lo, hi);
            size_t i;
            json_t *r;
            json_array_foreach(recs, i, r) if (is_case(r, SPAK_REC_PERFORMANCE) && !heldout(r))
                PUT("\n- %s: %s %.4g, baseline %.4g, ratio %.4g", json_string_value(json_object_get(r, "shape")),
                    e->loop->metric, metric_of(e, r), baseline_of(e, r), rnum(r, SPAK_FIELD_RATIO));
            json_decref(recs);
        } else if (s->error) {
            PUT(": %s", s->error);
        }
        src = spak_ctx_eval_source(e, s, 48 << 10);
    } else {
        uint64_t next = 0;
        bool found = false;
        PUT("Not measured yet: no point of the space has been evaluated in this run");
        if (spak_space_next(e->space, SPAK_STRAT_DEFAULT, e->seed, e->done, e->n_done, &next, &found, NULL) ==
                SPAK_OK &&
            found) {
            char path[PATH_MAX], key[512];
            if (spak_space_key(e->space, next, key, sizeof key))
                PUT("; the space's starting point is %s", key);
            if (spak_cand_source_of(e->site, next, path, sizeof path))
                src = read_capped(path, 48 << 10);
        }
        PUT(".");
    }
    if (src)
        PUT("\nIts source (built with the point's parameters as -D defines):\n```%s\n%s\n```",
            strcmp(e->target, "cuda") == 0 ? "cuda" : "c", src);
    free(src);
}

/* ---- per-shape results ---- */

static void flops_rule(const spak_strategy_run *e, spak_buf *b)
{
    const char *fam = e->m->problem ? spak_block_string(e->m->problem, "family") : NULL;
    if (fam && (strcmp(fam, "matmul") == 0 || strcmp(fam, "gemm") == 0))
        PUT("How FLOPs are counted: 2*M*N*K a call for a shape MxNxK (one multiply and one add per term).\n");
    else if (fam && (strcmp(fam, "attention") == 0 || strcmp(fam, "fmha") == 0))
        PUT("How FLOPs are counted: 4*B*H*S*S*D a call for a shape BxHxSxD (QK^T and PV, 2 flops a "
            "multiply-add each), halved when causal (a shape with a 'c' suffix); softmax is not counted.\n");
    else
        PUT("How FLOPs are counted: as the judge's Analysis records say (their 'flops' field, a call).\n");
}

/* A shape with a 'c' among the letters after its last digit (the
 * attention families' causal mark; suffixes come in either order). */
static bool causal(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] >= 'a' && s[n - 1] <= 'z')
        if (s[--n] == 'c')
            return true;
    return false;
}

static void shape_rows(const spak_strategy_run *e, const char *what, const spak_eval *ev, const json_t *recs,
                       spak_buf *b)
{
    PUT("%s %s:\n", what, ev->cand_key ? ev->cand_key : "?");
    size_t i, n_ho = 0, ho_fail = 0, rows = 0;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (is_case(r, SPAK_REC_CORRECTNESS) && heldout(r)) {
            n_ho++;
            ho_fail += json_is_false(json_object_get(r, SPAK_FIELD_PASSED));
        }
        if (!is_case(r, SPAK_REC_CORRECTNESS) || heldout(r))
            continue;
        const char *s = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
        if (!s)
            continue;
        rows++;
        const json_t *p = rec_of(recs, SPAK_REC_PERFORMANCE, s), *a = rec_of(recs, SPAK_REC_ANALYSIS, s);
        PUT("- %s%s:", s, causal(s) ? " (causal)" : "");
        if (p) {
            PUT(" %s %.4g (baseline %s %.4g), ratio %.4g", e->loop->metric, metric_of(e, p), baseline_name(e, p),
                baseline_of(e, p), rnum(p, SPAK_FIELD_RATIO));
            put_ci(b, p);
            PUT(", %.0f reps, median %.4g ms;", rnum(p, SPAK_FIELD_REPS), rnum(p, SPAK_FIELD_TIME_MS));
        } else {
            PUT(" not timed;");
        }
        if (a)
            PUT(" %.4g flops a call, bottleneck %s;", rnum(a, SPAK_FIELD_FLOPS),
                json_string_value(json_object_get(a, SPAK_FIELD_BOTTLENECK))
                    ? json_string_value(json_object_get(a, SPAK_FIELD_BOTTLENECK))
                    : "?");
        PUT(" correctness %s, rel_err %.3g against the tolerance %.3g\n",
            json_is_true(json_object_get(r, SPAK_FIELD_PASSED)) ? "passed" : "FAILED", rnum(r, "rel_err"),
            rnum(r, "tolerance"));
    }
    if (!rows)
        PUT("- no per-shape records (%s%s%s)\n", ev->status, ev->error ? ": " : "", ev->error ? ev->error : "");
    if (n_ho)
        PUT("- held-out shapes: %zu checked, %zu failed (their sizes are not shown)\n", n_ho, ho_fail);
}

void spak_ctx_shapes(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec, const spak_eval *best,
                     const json_t *brec, spak_buf *b)
{
    flops_rule(e, b);
    const json_t *c = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(lrec ? lrec : brec, i, r) if (!c && is_case(r, SPAK_REC_CORRECTNESS)) c = r;
    if (c) {
        const char *m = json_string_value(json_object_get(c, "check_method"));
        PUT("Correctness: every shape's output against the reference, relative error at most the tolerance %.3g "
            "(inputs drawn fresh each evaluation)%s%s.\n",
            rnum(c, "tolerance"), m ? "; method: " : "", m ? m : "");
    } else {
        PUT("Correctness: the tolerance is in the judge's Correctness records; none recorded yet.\n");
    }
    if (!latest) {
        PUT("Not measured yet: no evaluation has finished in this run.");
        return;
    }
    shape_rows(e, "latest candidate", latest, lrec, b);
    if (best && best->eval_id != latest->eval_id)
        shape_rows(e, "best candidate", best, brec, b);
}

/* ---- the analysis ---- */

/* The spread p20-p80 of a median, as a fraction of it. */
static double spread(const json_t *r, const char *med, const char *p20, const char *p80)
{
    double m = rnum(r, med), a = rnum(r, p20), z = rnum(r, p80);
    return m > 0 && a == a && z == z ? (z - a) / m : NAN;
}

static void noise_rows(const spak_strategy_run *e, const json_t *recs, spak_buf *b)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (!is_case(r, SPAK_REC_PERFORMANCE) || heldout(r))
            continue;
        const char *s = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
        const char *ended = json_string_value(json_object_get(r, "reps_ended"));
        PUT("- %s: %.0f repetitions%s%s%s; candidate median %.4g ms, p20-p80 spread %.0f%%; baseline %s median %.4g "
            "ms (%s %.4g), spread %.0f%%; ratio %.4g",
            s ? s : "?", rnum(r, SPAK_FIELD_REPS), ended ? " (ended by " : "", ended ? ended : "",
            ended ? ")" : "",
            rnum(r, SPAK_FIELD_TIME_MS), 100 * spread(r, "time_ms", "time_ms_p20", "time_ms_p80"),
            baseline_name(e, r), rnum(r, "baseline_time_ms"), e->loop->metric, baseline_of(e, r),
            100 * spread(r, "baseline_time_ms", "baseline_time_ms_p20", "baseline_time_ms_p80"),
            rnum(r, SPAK_FIELD_RATIO));
        put_ci(b, r);
        if (json_is_number(json_object_get(r, SPAK_FIELD_SM_CLOCK_MHZ))) {
            const char *thr = json_string_value(json_object_get(r, SPAK_FIELD_THROTTLE_REASONS));
            PUT(", SM clock %.0f MHz, memory clock %.0f MHz, throttle: %s", rnum(r, SPAK_FIELD_SM_CLOCK_MHZ),
                rnum(r, SPAK_FIELD_MEM_CLOCK_MHZ), thr && *thr ? thr : "none");
        }
        if (json_is_boolean(json_object_get(r, SPAK_FIELD_PRECISION_REACHED)))
            PUT(", %s", json_is_true(json_object_get(r, SPAK_FIELD_PRECISION_REACHED))
                            ? "the interval is as narrow as asked"
                            : "the interval is wider than asked (noise)");
        PUT("\n");
    }
}

static void bottleneck_rows(const json_t *recs, spak_buf *b)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (!is_case(r, SPAK_REC_ANALYSIS) || heldout(r))
            continue;
        const char *s = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
        const char *cls = json_string_value(json_object_get(r, SPAK_FIELD_BOTTLENECK));
        double fp = rnum(r, SPAK_FIELD_FRAC_PEAK_FLOPS);
        if (fp != fp)
            fp = rnum(r, SPAK_FIELD_FRAC_PEAK);
        double fb = rnum(r, "frac_peak_bw");
        if (fb != fb)
            fb = rnum(r, "frac_bw");
        PUT("- %s: %s-bound; %.3g%% of the compute peak, %.3g%% of the memory bandwidth, arithmetic intensity "
            "%.4g flop/byte",
            s ? s : "?", cls ? cls : "unknown", 100 * fp, 100 * fb, rnum(r, SPAK_FIELD_ARITH_INTENSITY));
        const char *why = json_string_value(json_object_get(r, SPAK_FIELD_WHY));
        if (why)
            PUT("; the judge's reason: %s", why);
        PUT("\n");
    }
}

static void eval_line(const spak_strategy_run *e, const char *what, const spak_eval *ev, const json_t *recs,
                      spak_buf *b)
{
    PUT("%s %s: %s", what, ev->cand_key ? ev->cand_key : "?", ev->status);
    if (strcmp(ev->status, SPAK_EVAL_DONE) != 0) {
        PUT("%s%s\n", ev->error ? ": " : "", ev->error ? ev->error : "");
        return;
    }
    double lo, hi;
    PUT(", %s %.4g, %.4gx the baseline", e->loop->metric, ev->metric, ev->ratio);
    if (spak_views_ratio_ci(recs, &lo, &hi, NULL))
        PUT(" (95%% interval [%.4g-%.4g], geometric mean over the shapes)", lo, hi);
    PUT("\n");
}

void spak_ctx_analysis(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec,
                       const spak_eval *best, const json_t *brec, spak_buf *b)
{
    if (!latest) {
        PUT("Not available yet: no evaluation has finished in this run.");
        return;
    }
    eval_line(e, "latest candidate", latest, lrec, b);
    if (strcmp(latest->status, SPAK_EVAL_DONE) == 0) {
        PUT("noise (the judge interleaves candidate and baseline calls; the ratio's interval is a t-interval on "
            "the paired log ratios):\n");
        noise_rows(e, lrec, b);
        PUT("bottleneck (roofline against the measured peaks):\n");
        bottleneck_rows(lrec, b);
    }
    if (best && best->eval_id != latest->eval_id) {
        eval_line(e, "best so far", best, brec, b);
        double l1, h1, l2, h2;
        if (strcmp(latest->status, SPAK_EVAL_DONE) == 0 && spak_views_ratio_ci(lrec, &l1, &h1, NULL) &&
            spak_views_ratio_ci(brec, &l2, &h2, NULL))
            PUT("%s\n", l1 <= h2 && l2 <= h1 ? "The latest and the best intervals overlap: their difference is "
                                               "within the noise."
                                             : "The latest and the best intervals do not overlap.");
    } else if (best) {
        PUT("The latest candidate is the best so far.\n");
    }
}

/* ---- hardware counters ---- */

void spak_ctx_counters(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec, spak_buf *b)
{
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(lrec, i, r) {
        if (!is_case(r, "Counters") || heldout(r))
            continue;
        n++;
        const char *s = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
        if (!json_is_true(json_object_get(r, "available"))) {
            const char *why = json_string_value(json_object_get(r, SPAK_FIELD_REASON));
            PUT("- %s: none (%s)\n", s ? s : "?", why ? why : "no reason given");
            continue;
        }
        const char *tool = json_string_value(json_object_get(r, "tool"));
        const char *kern = json_string_value(json_object_get(r, "kernel"));
        PUT("- %s (%s, kernel %s):", s ? s : "?", tool ? tool : "?", kern ? kern : "?");
        const char *k;
        json_t *v, *units = json_object_get(r, "units");
        json_object_foreach(json_object_get(r, "metrics"), k, v) {
            const char *u = json_string_value(json_object_get(units, k));
            PUT(" %s = %.4g%s%s;", k, json_number_value(v), u && *u ? " " : "", u ? u : "");
        }
        PUT("\n");
    }
    if (n)
        return;
    json_t *res = latest && latest->result_json ? json_loads(latest->result_json, 0, NULL) : NULL;
    const char *note = json_string_value(json_object_get(res, "counters"));
    if (note && strncmp(note, "counters not taken", 18) == 0) {
        /* the judge was not asked this time (analyze/counters.h) */
        PUT("None for the latest evaluation: %s (spak takes hardware counters at the first evaluation of each "
            "design point; that evaluation's records hold them; `spak run --counters every` takes them at every "
            "evaluation).",
            note);
        json_decref(res);
        return;
    }
    json_decref(res);
    if (!latest)
        PUT("None yet: no evaluation has finished in this run.");
    else if (strcmp(e->target, "cuda") == 0)
        PUT("None: the latest evaluation recorded no Counters records (the measure command runs the judge "
            "without --ncu, or the profile failed); the Analysis numbers above are the judge's own.");
    else
        PUT("None: the CPU judge reads no hardware performance counters; the bottleneck numbers above come from "
            "the measured time, the counted FLOPs and a modelled memory traffic against the measured peaks.");
}

/* ---- diagnostics and resource report ---- */

void spak_ctx_diag(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec, spak_buf *b)
{
    if (!latest) {
        PUT("None yet: no candidate has been built in this run.");
        return;
    }
    bool cuda = strcmp(e->target, "cuda") == 0;
    const char *log = latest->build_log ? latest->build_log : "";
    size_t said = 0;
    for (const char *p = log; *p;) {
        size_t k = strcspn(p, "\n");
        said += !(k >= 2 && p[0] == '$' && p[1] == ' ') && k > 0;
        p += k + (p[k] == '\n');
    }
    PUT("build of %s (the command, then what the compiler printed):\n%s%s", latest->cand_key ? latest->cand_key : "?",
        log, *log && log[strlen(log) - 1] != '\n' ? "\n" : "");
    if (!said)
        PUT("The compiler printed no diagnostics.\n");
    /* the resource report: ptxas's lines (CUDA) and the judge's Analysis numbers */
    if (cuda) {
        size_t n = 0;
        for (const char *p = log; *p;) {
            size_t k = strcspn(p, "\n");
            if (k > 5 && memmem(p, k, "ptxas", 5) && (memmem(p, k, "Used", 4) || memmem(p, k, "spill", 5))) {
                PUT("%s%.*s\n", n++ ? "" : "resource report (ptxas -v):\n", (int)k, p);
            }
            p += k + (p[k] == '\n');
        }
        if (!n)
            PUT("resource report: ptxas printed no register or spill lines for this build.\n");
    } else {
        PUT("Vectorization remarks: not collected (the build does not ask the compiler for -fopt-info-vec).\n");
    }
    size_t i;
    json_t *r;
    json_array_foreach(lrec, i, r) {
        if (is_case(r, SPAK_REC_ANALYSIS) && !heldout(r) && json_is_number(json_object_get(r, "registers")))
            PUT("- %s: %.0f registers a thread, %.0f bytes of shared memory a block, %.0f bytes spilled, occupancy "
                "%.2f, wave efficiency %.2f\n",
                json_string_value(json_object_get(r, SPAK_FIELD_SHAPE)), rnum(r, "registers"),
                rnum(r, "smem_bytes"), rnum(r, "spills"), rnum(r, "occupancy"), rnum(r, "wave_efficiency"));
        if (json_is_false(json_object_get(r, SPAK_FIELD_PASSED))) {
            char cut[512];
            const char *why = json_string_value(json_object_get(r, SPAK_FIELD_REASON));
            const char *s = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
            if (spak_ctx_without(e, SPAK_CTX_WITHOUT_MEASUREMENTS))
                why = spak_context_hide_measured(why, cut, sizeof cut);
            PUT("failed check (%s) on %s: %s\n", json_string_value(json_object_get(r, SPAK_REC_TYPE)),
                heldout(r) ? "a held-out shape" : s ? s : "?", why ? why : "no reason given");
        }
    }
    if (strcmp(latest->status, SPAK_EVAL_STOPPED) == 0 && spak_ctx_without(e, SPAK_CTX_WITHOUT_MEASUREMENTS)) {
        PUT("outcome: stopped early by the judge (%s)\n", SPAK_CTX_OMITTED_MEASUREMENTS);  /* its why says how slow */
    } else if (strcmp(latest->status, SPAK_EVAL_DONE) != 0) {
        char cut[512];
        const char *why = latest->error;
        if (spak_ctx_without(e, SPAK_CTX_WITHOUT_MEASUREMENTS))
            why = spak_context_hide_measured(why, cut, sizeof cut);
        PUT("outcome: %s%s%s\n", latest->status, why ? ": " : "", why ? why : "");
        if (latest->stderr_tail && *latest->stderr_tail)
            PUT("stderr (its tail):\n%s\n", latest->stderr_tail);
    }
}

/* ---- the diff ---- */

typedef struct lines {
    const char **p;
    size_t *len;
    size_t n;
} lines;

static bool split_lines(const char *t, lines *l)
{
    size_t n = 0;
    for (const char *p = t; *p; p++)
        n += *p == '\n';
    n += t[0] && t[strlen(t) - 1] != '\n';
    l->n = 0;
    l->p = calloc(n ? n : 1, sizeof *l->p);
    l->len = calloc(n ? n : 1, sizeof *l->len);
    if (!l->p || !l->len)
        return false;
    for (const char *p = t; *p;) {
        size_t k = strcspn(p, "\n");
        l->p[l->n] = p;
        l->len[l->n++] = k;
        p += k + (p[k] == '\n');
    }
    return true;
}

static bool line_eq(const lines *a, size_t i, const lines *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* One hunk of ops[from, to) ('=' same, '-' only in a, '+' only in b). */
static void put_hunk(spak_buf *b, const char *ops, size_t from, size_t to, const lines *x, const lines *y)
{
    size_t ai = 0, bi = 0;
    for (size_t k = 0; k < from; k++) {
        ai += ops[k] != '+';
        bi += ops[k] != '-';
    }
    size_t an = 0, bn = 0;
    for (size_t k = from; k < to; k++) {
        an += ops[k] != '+';
        bn += ops[k] != '-';
    }
    PUT("@@ -%zu,%zu +%zu,%zu @@\n", ai + (an > 0), an, bi + (bn > 0), bn);
    for (size_t k = from; k < to; k++) {
        if (ops[k] == '+') {
            PUT("+%.*s\n", (int)y->len[bi], y->p[bi]);
            bi++;
        } else if (ops[k] == '-') {
            PUT("-%.*s\n", (int)x->len[ai], x->p[ai]);
            ai++;
        } else {
            PUT(" %.*s\n", (int)x->len[ai], x->p[ai]);
            ai++;
            bi++;
        }
    }
}

bool spak_unified_diff(const char *a, const char *bt, const char *la, const char *lb, spak_buf *b)
{
    lines x = {0}, y = {0};
    bool ok = false;
    uint32_t *t = NULL;
    char *ops = NULL;
    if (!split_lines(a, &x) || !split_lines(bt, &y) || x.n > SPAK_DIFF_MAX_LINES || y.n > SPAK_DIFF_MAX_LINES)
        goto out;
    /* the longest common subsequence of lines, from the ends */
    size_t w = y.n + 1;
    t = calloc((x.n + 1) * w, sizeof *t);
    ops = malloc(x.n + y.n + 1);
    if (!t || !ops)
        goto out;
    for (size_t i = x.n; i-- > 0;)
        for (size_t j = y.n; j-- > 0;)
            t[i * w + j] = line_eq(&x, i, &y, j) ? t[(i + 1) * w + j + 1] + 1
                                                 : (t[(i + 1) * w + j] > t[i * w + j + 1] ? t[(i + 1) * w + j]
                                                                                          : t[i * w + j + 1]);
    size_t i = 0, j = 0, n = 0;
    while (i < x.n || j < y.n) {
        if (i < x.n && j < y.n && line_eq(&x, i, &y, j)) {
            ops[n++] = '=';
            i++;
            j++;
        } else if (i < x.n && (j == y.n || t[(i + 1) * w + j] >= t[i * w + j + 1])) {
            ops[n++] = '-';  /* removals before additions, as diff -u writes them */
            i++;
        } else {
            ops[n++] = '+';
            j++;
        }
    }
    ok = true;
    bool header = false;
    for (size_t k = 0; k < n;) {
        if (ops[k] == '=') {
            k++;
            continue;
        }
        /* a hunk: 3 lines of context, joined with the next change when they are close */
        size_t from = k >= 3 ? k - 3 : 0, end = k;
        for (;;) {
            while (end < n && ops[end] != '=')
                end++;
            size_t same = 0;
            while (end + same < n && ops[end + same] == '=')
                same++;
            if (end + same < n && same <= 6)
                end += same;
            else {
                end = end + (same < 3 ? same : 3);
                break;
            }
        }
        if (!header)
            PUT("--- %s\n+++ %s\n", la, lb);
        header = true;
        put_hunk(b, ops, from, end, &x, &y);
        k = end;
    }
out:
    free(x.p);
    free(x.len);
    free(y.p);
    free(y.len);
    free(t);
    free(ops);
    return ok;
}

void spak_ctx_diff(const spak_strategy_run *e, const spak_eval *latest, const spak_eval *best, spak_buf *b)
{
    if (!latest || !best) {
        PUT("None yet: %s.", !latest ? "no evaluation has finished in this run" : "there is no best candidate yet");
        return;
    }
    if (latest->eval_id == best->eval_id) {
        PUT("None: the last candidate, %s, is the best one.", best->cand_key ? best->cand_key : "?");
        return;
    }
    char *sa = spak_ctx_eval_source(e, best, 256 << 10), *sb = spak_ctx_eval_source(e, latest, 256 << 10);
    char la[300], lb[300];
    spak_snprintf(la, sizeof la, "best (%s)", best->cand_key ? best->cand_key : "?");
    spak_snprintf(lb, sizeof lb, "last (%s)", latest->cand_key ? latest->cand_key : "?");
    size_t before = b->len;
    if (!sa || !sb)
        PUT("Not available: the source of the %s cannot be read.", !sa ? "best candidate" : "last candidate");
    else if (!spak_unified_diff(sa, sb, la, lb, b))
        PUT("Not available: the sources are over %d lines, too long to compare here.", SPAK_DIFF_MAX_LINES);
    else if (b->len == before)
        PUT("None: the sources are the same; the candidates differ in their parameters only (%s against %s).",
            latest->cand_key ? latest->cand_key : "?", best->cand_key ? best->cand_key : "?");
    free(sa);
    free(sb);
}

/* ---- predictions against outcomes ---- */

static int sign_of(double d, double eps)
{
    return d > eps ? 1 : d < -eps ? -1 : 0;
}

/* One row; the absolute relative error into *rel (NAN when unscored), the
 * direction's verdict into *dir (1 right, 0 wrong, -1 unscored). */
static void prediction_row(const spak_strategy_run *e, const spak_eval *ev, const json_t *l, spak_buf *b,
                           double *rel, int *dir)
{
    double pm = rnum(l, "predicted_metric"), pr = rnum(l, "predicted_ratio");
    double before = rnum(l, "best_metric_before");
    bool done = strcmp(ev->status, SPAK_EVAL_DONE) == 0;
    bool max = e->loop->objective == SPAK_OBJ_MAXIMIZE;
    *rel = NAN;
    *dir = -1;
    PUT("- %s:", ev->cand_key ? ev->cand_key : "?");
    if (pm == pm)
        PUT(" predicted %s %.4g", e->loop->metric, pm);
    if (pr == pr)
        PUT("%s ratio %.4g", pm == pm ? "," : " predicted", pr);
    if (!done) {
        PUT("; outcome %s (no measurement to score)\n", ev->status);
        return;
    }
    PUT("; measured %.4g (ratio %.4g)", ev->metric, ev->ratio);
    if (pm == pm && ev->metric != 0) {
        *rel = fabs(pm - ev->metric) / fabs(ev->metric);
        PUT("; error %.4g (%.0f%% of the measured)", fabs(pm - ev->metric), 100 * *rel);
    } else if (pr == pr && ev->ratio > 0) {
        *rel = fabs(pr - ev->ratio) / ev->ratio;
        PUT("; ratio error %.4g (%.0f%% of the measured)", fabs(pr - ev->ratio), 100 * *rel);
    }
    /* the direction: better or worse than the best when it was predicted (a
     * ratio is turned into the metric through the measured baseline) */
    double pv = pm == pm ? pm : (pr == pr && ev->ratio > 0 ? pr * ev->metric / ev->ratio : NAN);
    if (before == before && pv == pv) {
        double eps = 1e-9 * fabs(before);
        int ps = sign_of(pv - before, eps), ms = sign_of(ev->metric - before, eps);
        if (!max) {
            ps = -ps;
            ms = -ms;
        }
        *dir = ps == ms;
        PUT("; direction against the best then (%.4g): predicted %s, measured %s: %s", before,
            ps > 0 ? "better" : ps < 0 ? "worse" : "equal", ms > 0 ? "better" : ms < 0 ? "worse" : "equal",
            *dir ? "right" : "wrong");
    }
    PUT("\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void spak_ctx_predictions(const spak_strategy_run *e, const spak_eval *ev, size_t n, spak_buf *b)
{
    double *rels = calloc(n ? n : 1, sizeof *rels);
    size_t n_pred = 0, n_rel = 0, n_dir = 0, right = 0;
    for (size_t i = 0; rels && i < n; i++) {
        json_t *res = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        json_t *l = json_object_get(res, "llm");
        if (!l)  /* a proposal over MCP (strategy external) carries its prediction under the same names */
            l = json_object_get(res, "external");
        if (json_is_number(json_object_get(l, "predicted_metric")) ||
            json_is_number(json_object_get(l, "predicted_ratio"))) {
            double rel;
            int dir;
            prediction_row(e, &ev[i], l, b, &rel, &dir);
            n_pred++;
            if (rel == rel)
                rels[n_rel++] = rel;
            if (dir >= 0) {
                n_dir++;
                right += (size_t)dir;
            }
        }
        json_decref(res);
    }
    if (!n_pred)
        PUT("None yet: no earlier step of this run carried a prediction with a number (give one: it is scored "
            "here against the measurement).");
    else if (n_rel) {
        qsort(rels, n_rel, sizeof *rels, cmp_double);
        double med = n_rel % 2 ? rels[n_rel / 2] : (rels[n_rel / 2 - 1] + rels[n_rel / 2]) / 2;
        PUT("score: %zu predictions, %zu measured; median absolute error %.0f%% of the measured; direction right %zu "
            "of %zu",
            n_pred, n_rel, 100 * med, right, n_dir);
    }
    free(rels);
}

/* ---- the context's parts kept for a budget chosen later (spak mcp's
 * spak_context max_tokens) ---- */

static const char *const PART_KEYS[] = {"language", "task", "abi_header", "abi_symbol", "space", "machine", "start",
                                        "best_source", "diff", "analysis", "shapes", "counters", "diagnostics",
                                        "rules", "lessons_omitted", "predictions", "metric"};

/* The address of part key i's string in p. */
static const char **part_field(spak_prompt_parts *p, size_t i)
{
    const char **f[] = {&p->language, &p->task, &p->abi_header, &p->abi_symbol, &p->space, &p->machine, &p->start,
                        &p->best_source, &p->diff, &p->analysis, &p->shapes, &p->counters, &p->diagnostics,
                        &p->rules, &p->lessons_omitted, &p->predictions, &p->metric};
    return f[i];
}

json_t *spak_ctx_parts_json(const spak_prompt_parts *p, long context_tokens)
{
    json_t *j = json_pack("{s:s}", "mode", p->mode == SPAK_PROMPT_CODE ? "code" : "params");
    spak_prompt_parts c = *p;
    for (size_t i = 0; j && i < SPAK_ARRAY_LEN(PART_KEYS); i++)
        if (*part_field(&c, i))
            json_object_set_new(j, PART_KEYS[i], json_string(*part_field(&c, i)));
    json_t *l = json_array(), *h = json_array();
    for (size_t i = 0; i < p->n_lessons; i++)
        json_array_append_new(l, json_string(p->lessons[i] ? p->lessons[i] : ""));
    for (size_t i = 0; i < p->n_history; i++)
        json_array_append_new(h, json_string(p->history[i] ? p->history[i] : ""));
    json_object_set_new(j, "lessons", l);
    json_object_set_new(j, "history", h);
    if (context_tokens > 0)
        json_object_set_new(j, "context_tokens", json_integer(context_tokens));
    return j;
}

bool spak_ctx_parts_from_json(const json_t *j, spak_prompt_parts *p, const char ***lists)
{
    memset(p, 0, sizeof *p);
    *lists = NULL;
    const char *mode = json_string_value(json_object_get(j, "mode"));
    if (!mode || !json_string_value(json_object_get(j, "task")))
        return false;
    p->mode = strcmp(mode, "code") == 0 ? SPAK_PROMPT_CODE : SPAK_PROMPT_PARAMS;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(PART_KEYS); i++)
        *part_field(p, i) = json_string_value(json_object_get(j, PART_KEYS[i]));
    const json_t *l = json_object_get(j, "lessons"), *h = json_object_get(j, "history");
    size_t nl = json_array_size(l), nh = json_array_size(h);
    *lists = calloc(nl + nh + 1, sizeof **lists);
    if (!*lists)
        return false;
    for (size_t i = 0; i < nl; i++)
        (*lists)[i] = json_string_value(json_array_get(l, i));
    for (size_t i = 0; i < nh; i++)
        (*lists)[nl + i] = json_string_value(json_array_get(h, i));
    p->lessons = *lists;
    p->n_lessons = nl;
    p->history = *lists + nl;
    p->n_history = nh;
    return true;
}
