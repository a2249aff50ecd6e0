/*
 * report.c - a run's report (report.h): load everything the store holds
 * about the run, derive the numbers once (struct rep), then render the same
 * facts twice: as Markdown and as one self-contained HTML page with inline
 * SVG charts. docs/reports.md says what each number means.
 *
 * Sentences are assembled from the derived numbers (say()), never written in
 * advance: a section without data says which data is missing.
 */
#include "report/report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/records.h"
#include "analyze/evaluate.h"
#include "analyze/trace.h"
#include "analyze/views.h"
#include "knowledge/learn.h"
#include "spec/spec.h"
#include "store/scopes.h"
#include "report/svg.h"
#include "util.h"

#define MAX_SENTENCES 48
#define SENTENCE_MAX 1200
#define CELL_MAX 160     /* bytes of an error shown in a table cell */
#define TITLE_MAX 1200   /* bytes of a text shown as a tooltip */

/* Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
#define C_BLUE "#0072B2"
#define C_ORANGE "#E69F00"
#define C_VERMIL "#D55E00"
#define C_GREEN "#009E73"
#define C_SKY "#56B4E9"
#define C_PURPLE "#CC79A7"
#define C_GREY "#6b6b6b"

/* ---- the derived view of one evaluation --------------------------------- */
typedef struct rev {
    const spak_eval *e;
    const spak_candidate *cand; /* NULL when the candidate row is missing */
    json_t *params;             /* object (own reference) or NULL */
    json_t *recs;               /* array of the valid records that count (own reference) */
    size_t n_bad_recs;          /* records that did not fit the schema */
    bool ok;                    /* done, not known wrong, metric known */
    bool final;                 /* done or failed */
    double baseline;            /* the baseline in metric units; NAN unknown */
    bool baseline_explicit;     /* from a baseline_<metric> field (else metric/ratio) */
    double ai, rate, peak, bw;  /* flop/B, GFLOP/s achieved, GFLOP/s and GB/s ceilings */
    double roof_frac;           /* rate / roofline bound at ai */
    bool flagged;               /* above_roofline or suspicious in a record */
    bool untrusted;             /* its records came from a command not one of spak's judges */
    const char *why;            /* Analysis "why" (borrowed from recs) */
    double time_ms;             /* geomean over Performance records */
    double t_p20, t_p80;        /* the same of time_ms_p20 and time_ms_p80; NAN unknown */
    double m_lo, m_hi;          /* the metric's spread (spread_of); NAN unknown */
    double ci_lo, ci_hi;        /* the ratio's interval from the records (ratio_ci); NAN unknown */
    double best_so_far;         /* NAN until the first ok evaluation */
} rev;

/* ---- effects of parameter values ----------------------------------------- */
typedef struct effect {
    char param[128], value[128];
    size_t n;          /* evaluations behind it; 0 = unknown */
    double median;     /* median metric of those; NAN unknown */
    double pct;        /* effect in percent, positive = better for the objective */
    double num;        /* numeric value for ordering; NAN if not a number */
    bool tested;       /* the knowledge step recorded a significant effect for it */
    double t_pct;      /* that tested effect in percent (positive = better) */
    double t_unc;      /* its uncertainty in percent; NAN unknown */
    const char *t_text; /* the lesson's sentence (borrowed from rep.les) */
} effect;

typedef struct effects {
    effect *it;
    size_t n, alloc;
    bool learned;       /* the knowledge step ran on this run (lessons recorded) */
    size_t n_tested;    /* effects with a tested lesson */
    double overall;     /* median metric of all the correct evaluations used */
    size_t n_used;      /* correct evaluations used */
    char single[512];   /* parameters with only one value tried, comma separated */
} effects;

/* ---- everything the report knows about the run --------------------------- */
typedef struct rep {
    spak_store *st;
    spak_run run;
    json_t *summary, *device, *budget, *first_detail;
    spak_spec *spec;
    const spak_model *m;
    const spak_loop_def *loop;
    const char *system, *loop_name, *metric, *target, *baseline_name, *family, *precision;
    bool maximize;
    spak_eval *ev;
    size_t n;
    rev *r;
    spak_candidate *cand;
    size_t nc;
    spak_journal_entry *j;
    size_t nj;
    spak_lesson *les;
    size_t nles;
    size_t n_ok, n_failed, n_unfinished, n_bad_recs, n_flagged, n_roof, n_untrusted;
    long best;            /* index into r, -1 none */
    long first_ok;        /* index into r, -1 none */
    double baseline, baseline_lo, baseline_hi;
    size_t n_baseline;
    bool baseline_explicit;
    double peak, bw;      /* median ceilings over the evaluations that have them */
    bool ceilings_vary;
    double elapsed_s;
    const char *run_error; /* borrowed from jdetail */
    json_t *jdetail;       /* array: parsed journal details (json null where none) */
    json_t *facts;         /* {name: {"true": n, "false": n, "error": n, "first_true": eval}} */
    json_t *fired;         /* {rule: count} when the journal records fired rules */
    json_t *predictions;   /* array of {eval, candidate, predicted, measured} */
    const char *model;     /* LLM model named in the journal, or NULL */
    char *knowledge_diff;  /* malloc'd, or NULL: spec v(n) -> v(n+1) */
    char *next_spec;       /* malloc'd path of v(n+1), or NULL */
    char *knowledge_note;  /* malloc'd: why there is no diff (a crystallization error), or NULL */
    effects eff;
    char *say[MAX_SENTENCES]; /* the summary, plain text */
    size_t n_say;
} rep;

/* ---- small helpers -------------------------------------------------------- */

static double jnum(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of the finite values of v[0..n) (v is reordered); NAN when none. */
static double median(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            v[k++] = v[i];
    if (!k)
        return NAN;
    qsort(v, k, sizeof *v, cmp_double);
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

/* Geometric mean of field (positive values) over the records that count for
 * case c (NULL: any case), the rule the engine steers by (analyze/trace.h). */
static double geomean(const json_t *recs, const char *c, const char *field, size_t *n_out)
{
    double s = 0;
    size_t n = 0, i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        if (!spak_trace_counts(rec, c))
            continue;
        double v = jnum(rec, field);
        if (v > 0) {
            s += log(v);
            n++;
        }
    }
    if (n_out)
        *n_out = n;
    return n ? exp(s / (double)n) : NAN;
}

static void num(char *buf, size_t n, double v)
{
    spak_svg_num(buf, n, v, 4);
}

/* A JSON scalar as text ("128", "packed", "true"); *numeric gets its number. */
static void value_text(const json_t *v, char *buf, size_t n, double *numeric)
{
    *numeric = NAN;
    if (json_is_string(v))
        spak_snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v)) {
        spak_snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        *numeric = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        spak_snprintf(buf, n, "%g", json_real_value(v));
        *numeric = json_real_value(v);
    } else if (json_is_boolean(v))
        spak_snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        spak_snprintf(buf, n, "%s", d ? d : "?");
        free(d);
    }
}

/* Append one sentence (plain text; escaped when rendered). */
static void say(rep *r, const char *fmt, ...) SPAK_PRINTF(2, 3);
static void say(rep *r, const char *fmt, ...)
{
    if (r->n_say >= MAX_SENTENCES)
        return;
    char *s = malloc(SENTENCE_MAX);
    if (!s)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, SENTENCE_MAX, fmt, ap);
    va_end(ap);
    r->say[r->n_say++] = s;
}

static const char *better_word(const rep *r)
{
    return r->maximize ? "higher" : "lower";
}

static bool better(const rep *r, double a, double b)
{
    return r->maximize ? a > b : a < b;
}

/* ---- loading -------------------------------------------------------------- */

static rev *find_rev(rep *r, int64_t eval_id)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->r[mid].e->eval_id < eval_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && r->r[lo].e->eval_id == eval_id ? &r->r[lo] : NULL;
}

static spak_status load(rep *r, const char *run_id, spak_err *err)
{
    spak_status st = spak_store_run_get(r->st, run_id, &r->run, err);
    if (st != SPAK_OK)
        return st;
    r->summary = r->run.summary_json ? json_loads(r->run.summary_json, 0, NULL) : NULL;
    r->device = r->run.device_json ? json_loads(r->run.device_json, 0, NULL) : NULL;
    r->budget = r->run.budget_json ? json_loads(r->run.budget_json, 0, NULL) : NULL;
    if ((st = spak_store_eval_list(r->st, r->run.id, &r->ev, &r->n, err)) != SPAK_OK ||
        (st = spak_store_candidate_list(r->st, r->run.id, &r->cand, &r->nc, err)) != SPAK_OK ||
        (st = spak_store_journal_list(r->st, r->run.id, &r->j, &r->nj, err)) != SPAK_OK)
        return st;
    spak_lesson *all = NULL;
    size_t nall = 0;
    if ((st = spak_store_lesson_list(r->st, NULL, NULL, NULL, &all, &nall, err)) != SPAK_OK)
        return st;
    /* keep this run's lessons: move them to the front, free the rest */
    for (size_t i = 0; i < nall; i++) {
        if (all[i].run_id && strcmp(all[i].run_id, r->run.id) == 0) {
            spak_lesson t = all[r->nles];
            all[r->nles++] = all[i];
            all[i] = t;
        }
    }
    for (size_t i = r->nles; i < nall; i++)
        spak_store_lesson_free(&all[i]);
    r->les = all;

    r->r = calloc(r->n ? r->n : 1, sizeof *r->r);
    r->jdetail = json_array();
    if (!r->r || !r->jdetail)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        rev *v = &r->r[i];
        v->e = &r->ev[i];
        v->recs = json_array();
        v->baseline = v->ai = v->rate = v->peak = v->bw = v->roof_frac = v->time_ms = v->best_so_far = NAN;
        v->t_p20 = v->t_p80 = v->m_lo = v->m_hi = v->ci_lo = v->ci_hi = NAN;
        for (size_t k = 0; k < r->nc; k++)
            if (r->cand[k].cand_id == v->e->cand_id) {
                v->cand = &r->cand[k];
                if (r->cand[k].params_json)
                    v->params = json_loads(r->cand[k].params_json, 0, NULL);
                break;
            }
        if (!v->recs)
            return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    spak_trace_row *rows = NULL;
    size_t nrows = 0;
    if ((st = spak_store_trace_list(r->st, r->run.id, -1, &rows, &nrows, err)) != SPAK_OK)
        return st;
    for (size_t i = 0; i < nrows; i++) {
        rev *v = find_rev(r, rows[i].eval_id);
        if (!v)
            continue;
        json_t *rec = rows[i].valid && rows[i].record_json ? json_loads(rows[i].record_json, 0, NULL) : NULL;
        if (json_is_object(rec) && !spak_trace_counts(rec, NULL))
            json_decref(rec);  /* held out: checked, never reported as a number (analyze/trace.h) */
        else if (json_is_object(rec))
            json_array_append_new(v->recs, rec);
        else {
            json_decref(rec);
            v->n_bad_recs++;
        }
    }
    spak_store_trace_rows_free(rows, nrows);

    for (size_t i = 0; i < r->nj; i++) {
        json_t *d = r->j[i].detail_json ? json_loads(r->j[i].detail_json, 0, NULL) : NULL;
        json_array_append_new(r->jdetail, d ? d : json_null());
    }
    r->first_detail = json_array_get(r->jdetail, 0);

    /* the spec the run used, for names, the objective and the spaces */
    if (r->run.spec_text) {
        spak_err se;
        if (spak_spec_load_mem(r->run.spec_path ? r->run.spec_path : "spec", r->run.spec_text,
                               strlen(r->run.spec_text), &r->spec, &se) == SPAK_OK) {
            r->m = spak_spec_model(r->spec);
            const char *ln = jstr(r->first_detail, "loop");
            r->loop = ln ? spak_model_loop(r->m, ln) : NULL;
            if (!r->loop && r->m->n_loops)
                r->loop = &r->m->loops[0];
        }
    }
    return SPAK_OK;
}

/* ---- deriving the numbers ---------------------------------------------------- */

/* The ratio's interval: the geometric means over the records that count of
 * the two ends of ratio_ci ([lo, hi]); NAN when no record has one. */
static void ratio_interval(const json_t *recs, double *lo, double *hi)
{
    double s0 = 0, s1 = 0;
    size_t n = 0, i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        const json_t *ci = json_object_get(rec, SPAK_FIELD_RATIO_CI);
        double a = json_number_value(json_array_get(ci, 0)), b = json_number_value(json_array_get(ci, 1));
        if (!spak_trace_counts(rec, NULL) || json_array_size(ci) != 2 || !(a > 0) || !(b >= a))
            continue;
        s0 += log(a);
        s1 += log(b);
        n++;
    }
    *lo = n ? exp(s0 / (double)n) : NAN;
    *hi = n ? exp(s1 / (double)n) : NAN;
}

/* The spreads of an evaluation: its time's p20..p80 (geometric means over
 * the Performance records), the metric's spread (the metric's own
 * <metric>_p20/_p80 fields when records have them, else the time's relative
 * spread carried over: a rate scales as 1/time, anything minimised as time)
 * and the ratio's interval. */
static void spread_of(const rep *r, rev *v)
{
    v->t_p20 = geomean(v->recs, SPAK_REC_PERFORMANCE, SPAK_FIELD_TIME_MS_P20, NULL);
    v->t_p80 = geomean(v->recs, SPAK_REC_PERFORMANCE, SPAK_FIELD_TIME_MS_P80, NULL);
    ratio_interval(v->recs, &v->ci_lo, &v->ci_hi);
    if (!v->ok)
        return;
    char f20[160], f80[160];
    spak_snprintf(f20, sizeof f20, "%s_p20", r->metric);
    spak_snprintf(f80, sizeof f80, "%s_p80", r->metric);
    double m = v->e->metric, a = geomean(v->recs, NULL, f20, NULL), b = geomean(v->recs, NULL, f80, NULL);
    if (a > 0 && b > 0) {
        v->m_lo = fmin(a, b), v->m_hi = fmax(a, b);
    } else if (v->t_p20 > 0 && v->t_p80 >= v->t_p20 && v->time_ms > 0 && isfinite(m)) {
        v->m_lo = r->maximize ? m * v->time_ms / v->t_p80 : m * v->t_p20 / v->time_ms;
        v->m_hi = r->maximize ? m * v->time_ms / v->t_p20 : m * v->t_p80 / v->time_ms;
    }
}

static void derive_eval(rep *r, rev *v)
{
    const spak_eval *e = v->e;
    /* a candidate stopped early as hopeless is final too (censored: not ok,
     * its reason, the judge's, is what the report says of it) */
    v->final = strcmp(e->status, SPAK_EVAL_DONE) == 0 || strcmp(e->status, SPAK_EVAL_FAILED) == 0 ||
               strcmp(e->status, SPAK_EVAL_STOPPED) == 0;
    v->ok = strcmp(e->status, SPAK_EVAL_DONE) == 0 && e->correct != 0 && isfinite(e->metric);
    /* the baseline in the metric's unit: baseline_<metric>, else implied by the ratio */
    char bf[200];
    spak_snprintf(bf, sizeof bf, "%s%s", SPAK_FIELD_BASELINE_PREFIX, r->metric);
    size_t nb = 0;
    double b = geomean(v->recs, NULL, bf, &nb);
    if (nb) {
        v->baseline = b;
        v->baseline_explicit = true;
    } else if (v->ok && e->ratio > 0 && isfinite(e->ratio)) {
        v->baseline = r->maximize ? e->metric / e->ratio : e->metric * e->ratio;
    }
    v->time_ms = geomean(v->recs, SPAK_REC_PERFORMANCE, SPAK_FIELD_TIME_MS, NULL);
    spread_of(r, v);
    /* roofline: the first Analysis record with an arithmetic intensity, and
     * the Performance record of the same shape, of those that count */
    size_t i;
    json_t *rec;
    json_array_foreach(v->recs, i, rec) {
        if (json_is_true(json_object_get(rec, SPAK_FIELD_ABOVE_ROOFLINE)) ||
            json_is_true(json_object_get(rec, SPAK_FIELD_SUSPICIOUS)))
            v->flagged = true;
    }
    json_array_foreach(v->recs, i, rec) {
        if (!spak_trace_counts(rec, SPAK_REC_ANALYSIS))
            continue;
        double ai = jnum(rec, SPAK_FIELD_ARITH_INTENSITY);
        if (!(ai > 0))
            continue;
        double peak = jnum(rec, SPAK_FIELD_PEAK_GFLOPS);
        if (!(peak > 0))
            peak = jnum(rec, SPAK_FIELD_PEAK_TFLOPS) * 1e3;
        double bw = jnum(rec, SPAK_FIELD_PEAK_GBPS);
        const char *shape = jstr(rec, SPAK_FIELD_SHAPE);
        double rate = NAN;
        size_t k;
        json_t *p;
        json_array_foreach(v->recs, k, p) {
            if (!spak_trace_counts(p, SPAK_REC_PERFORMANCE))
                continue;
            const char *ps = jstr(p, SPAK_FIELD_SHAPE);
            if (shape && ps && strcmp(shape, ps) != 0)
                continue;
            rate = jnum(p, SPAK_FIELD_GFLOPS);
            if (!(rate > 0))
                rate = jnum(p, SPAK_FIELD_TFLOPS) * 1e3;
            if (!(rate > 0) && jnum(rec, SPAK_FIELD_FLOPS) > 0 && jnum(p, SPAK_FIELD_TIME_MS) > 0)
                rate = jnum(rec, SPAK_FIELD_FLOPS) / (jnum(p, SPAK_FIELD_TIME_MS) * 1e6);
            break;
        }
        if (!(rate > 0) && peak > 0) {
            double f = jnum(rec, SPAK_FIELD_FRAC_PEAK_FLOPS);
            if (!(f > 0))
                f = jnum(rec, SPAK_FIELD_FRAC_PEAK);
            rate = f * peak;
        }
        v->ai = ai;
        v->rate = rate > 0 ? rate : NAN;
        v->peak = peak > 0 ? peak : NAN;
        v->bw = bw > 0 ? bw : NAN;
        v->why = jstr(rec, SPAK_FIELD_WHY);
        if (v->rate > 0 && v->peak > 0 && v->bw > 0) {
            double roof = fmin(v->peak, ai * v->bw);
            v->roof_frac = v->rate / roof;
        }
        break;
    }
    if (!v->why) {
        json_array_foreach(v->recs, i, rec) if (jstr(rec, SPAK_FIELD_WHY)) v->why = jstr(rec, SPAK_FIELD_WHY);
    }
}

/* Facts evaluated at each KNOWLEDGE step (journal rows into "decide" with a
 * "facts" object), rules the journal says fired, LLM predictions and model,
 * the run's error, and a recorded knowledge diff. */
static void derive_journal(rep *r)
{
    r->facts = json_object();
    r->fired = json_object();
    r->predictions = json_array();
    json_t *pending = NULL; /* prediction of the last PROGRAM step */
    for (size_t i = 0; i < r->nj; i++) {
        json_t *d = json_array_get(r->jdetail, i);
        if (!json_is_object(d))
            continue;
        const char *to = r->j[i].to_state;
        json_t *facts = json_object_get(d, "facts");
        int64_t eval_id = json_is_integer(json_object_get(d, "eval_id")) ? json_integer_value(json_object_get(d, "eval_id")) : 0;
        if (json_is_object(facts)) {
            const char *k;
            json_t *val;
            json_object_foreach(facts, k, val) {
                json_t *t = json_object_get(r->facts, k);
                if (!t) {
                    t = json_pack("{s:i,s:i,s:i}", "true", 0, "false", 0, "error", 0);
                    json_object_set_new(r->facts, k, t);
                }
                const char *slot = json_is_true(val) ? "true" : json_is_false(val) ? "false" : "error";
                json_object_set_new(t, slot, json_integer(json_integer_value(json_object_get(t, slot)) + 1));
                if (json_is_true(val) && !json_object_get(t, "first_true") && eval_id)
                    json_object_set_new(t, "first_true", json_integer(eval_id));
                if (!json_is_boolean(val) && !json_object_get(t, "error_text") && jstr(val, "error"))
                    json_object_set_new(t, "error_text", json_string(jstr(val, "error")));
            }
        }
        json_t *fired = json_object_get(d, "fired");
        if (json_is_array(fired)) {
            size_t k;
            json_t *f;
            json_array_foreach(fired, k, f) {
                const char *name = json_is_string(f) ? json_string_value(f) : jstr(f, "rule");
                if (name)
                    json_object_set_new(r->fired, name,
                                        json_integer(json_integer_value(json_object_get(r->fired, name)) + 1));
            }
        }
        if (jstr(d, "model"))
            r->model = jstr(d, "model");
        if (to && strcmp(to, "program") == 0) {
            json_t *p = json_object_get(d, "prediction");
            pending = p && !json_is_null(p) ? p : NULL;
        } else if (to && strcmp(to, "build") == 0 && eval_id && !pending &&
                   json_is_object(json_object_get(d, "prediction"))) {
            /* the LLM driver journals its proposal's prediction when it leaves PROGRAM */
            pending = json_object_get(d, "prediction");
        }
        if (to && strcmp(to, "build") == 0 && pending && eval_id) {
            json_t *pv = json_is_object(pending) ? json_object_get(pending, r->metric) : pending;
            if (json_is_object(pending) && !pv)
                pv = json_object_get(pending, "metric");
            rev *v = find_rev(r, eval_id);
            json_t *row = json_pack("{s:I,s:s}", "eval", (json_int_t)eval_id, "candidate",
                                    v && v->e->cand_key ? v->e->cand_key : "");
            if (row) {
                json_object_set_new(row, "predicted", json_is_number(pv) ? json_real(json_number_value(pv)) : json_null());
                json_object_set_new(row, "measured", v && v->ok ? json_real(v->e->metric) : json_null());
                const char *why = json_is_object(pending) ? jstr(pending, "why") : NULL;
                if (!why && json_is_object(pending))
                    why = jstr(pending, "rationale");
                if (why)
                    json_object_set_new(row, "rationale", json_string(why));
                json_array_append_new(r->predictions, row);
            }
            pending = NULL;
        }
        if (jstr(d, "error") && (!to || strcmp(to, "program") != 0))
            r->run_error = jstr(d, "error");
        double el = jnum(d, "elapsed_s");
        if (isfinite(el))
            r->elapsed_s = el;
    }
    /* crystallization (learn.h) at the end of a run: kv (SPAK_KV_RUN, id) names
     * spec v(n+1); the diff is v(n) (the spec text the run used) against it */
    char *val = NULL;
    if (spak_store_run_summary_get(r->st, r->run.id, &val, NULL) == SPAK_OK && val) {
        json_t *kd = json_loads(val, 0, NULL);
        const char *path = jstr(kd, "crystallized"), *cerr = jstr(kd, "crystallize_error");
        char *next = NULL;
        size_t len;
        if (path && r->run.spec_text && spak_read_file(path, (size_t)4 << 20, &next, &len, NULL) == SPAK_OK) {
            r->knowledge_diff = spak_text_diff(r->run.spec_text, next);
            r->next_spec = strdup(path);
        } else if (path) {
            size_t l = strlen(path) + 80;
            r->knowledge_note = malloc(l);
            if (r->knowledge_note)
                spak_snprintf(r->knowledge_note, l, "spec v(n+1) was written to %s, which can no longer be read", path);
        } else if (cerr) {
            r->knowledge_note = strdup(cerr);
        }
        free(next);
        json_decref(kd);
    }
    free(val);
}

static effect *effect_add(effects *x)
{
    effect *p = spak_grow(x->it, &x->alloc, x->n, sizeof *p);
    if (!p)
        return NULL;
    x->it = p;
    effect *f = &x->it[x->n++];
    f->median = f->num = f->t_pct = f->t_unc = NAN;
    return f;
}

/*
 * Effects have two sources. The observed one (effects_from_evaluations) is
 * computed here from every correct evaluation; the tested one is the
 * knowledge step's (learn.h): lessons of kind "effect", subject "P=v",
 * effect = ratio of geometric means in the objective's direction, recorded
 * only when a significance test passed. lessons_overlay() attaches the
 * tested effect to the observed bar of the same P=v, so a reader sees both
 * and which associations survived the test. Another source (a future
 * driver's ablations) fills the same struct.
 */
static void lessons_overlay(const rep *r, effects *x)
{
    bool learned = false;
    if (spak_store_learned_get(r->st, r->run.id, &learned, NULL) != SPAK_OK)
        learned = false;  /* a store that cannot say counts as not learned; lessons, when any, still say so */
    x->learned = learned || r->nles > 0;
    for (size_t i = 0; i < r->nles; i++) {
        const spak_lesson *l = &r->les[i];
        const char *eq = l->subject ? strchr(l->subject, '=') : NULL;
        if (!eq || !isfinite(l->effect) || !l->kind || strcmp(l->kind, "effect") != 0)
            continue;
        for (size_t k = 0; k < x->n; k++) {
            effect *f = &x->it[k];
            if (strlen(f->param) == (size_t)(eq - l->subject) && strncmp(f->param, l->subject, (size_t)(eq - l->subject)) == 0 &&
                strcmp(f->value, eq + 1) == 0) {
                f->tested = true;
                f->t_pct = (l->effect - 1) * 100;
                f->t_unc = isfinite(l->uncertainty) ? l->uncertainty * 100 : NAN;
                f->t_text = l->text;
                x->n_tested++;
            }
        }
    }
}

static int cmp_effect(const void *a, const void *b)
{
    const effect *x = a, *y = b;
    int c = strcmp(x->param, y->param);
    if (c)
        return c;
    if (isfinite(x->num) && isfinite(y->num))
        return x->num < y->num ? -1 : x->num > y->num;
    return strcmp(x->value, y->value);
}

static spak_status effects_from_evaluations(const rep *r, effects *x, spak_err *err)
{
    double *all = malloc((r->n ? r->n : 1) * sizeof *all), *vals = malloc((r->n ? r->n : 1) * sizeof *vals);
    if (!all || !vals) {
        free(all);
        free(vals);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    size_t na = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->r[i].ok)
            all[na++] = r->r[i].e->metric;
    x->n_used = na;
    x->overall = median(all, na);
    /* every (param, value) pair seen among the correct evaluations */
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        if (!v->ok || !json_is_object(v->params))
            continue;
        const char *k;
        json_t *pv;
        json_object_foreach(v->params, k, pv) {
            char vt[128];
            double nv;
            value_text(pv, vt, sizeof vt, &nv);
            bool seen = false;
            for (size_t q = 0; q < x->n && !seen; q++)
                seen = strcmp(x->it[q].param, k) == 0 && strcmp(x->it[q].value, vt) == 0;
            if (seen)
                continue;
            effect *f = effect_add(x);
            if (!f) {
                free(all);
                free(vals);
                return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
            }
            spak_snprintf(f->param, sizeof f->param, "%s", k);
            spak_snprintf(f->value, sizeof f->value, "%s", vt);
            f->num = nv;
        }
    }
    for (size_t q = 0; q < x->n; q++) {
        effect *f = &x->it[q];
        size_t nv = 0;
        for (size_t i = 0; i < r->n; i++) {
            const rev *v = &r->r[i];
            json_t *pv = v->ok ? json_object_get(v->params, f->param) : NULL;
            if (!pv)
                continue;
            char vt[128];
            double d;
            value_text(pv, vt, sizeof vt, &d);
            if (strcmp(vt, f->value) == 0)
                vals[nv++] = v->e->metric;
        }
        f->n = nv;
        f->median = median(vals, nv);
        if (x->overall != 0 && isfinite(x->overall))
            f->pct = (r->maximize ? f->median - x->overall : x->overall - f->median) / fabs(x->overall) * 100;
        else
            f->pct = NAN;
    }
    free(all);
    free(vals);
    /* a parameter with one value tried has no contrast: drop it, name it */
    size_t k = 0;
    for (size_t q = 0; q < x->n; q++) {
        size_t count = 0;
        for (size_t p = 0; p < x->n; p++)
            count += strcmp(x->it[p].param, x->it[q].param) == 0;
        if (count > 1) {
            x->it[k++] = x->it[q];
        } else {
            size_t l = strlen(x->single);
            spak_snprintf(x->single + l, sizeof x->single - l, "%s%s", l ? ", " : "", x->it[q].param);
        }
    }
    x->n = k;
    return SPAK_OK;
}

static const char *param_origin(const rep *r, const char *param)
{
    if (!r->m)
        return NULL;
    const spak_param_def *p = spak_model_param(r->m, param);
    if (!p || !p->origin)
        return NULL;
    if (strcmp(p->origin, "design_space") == 0)
        return "design choice";
    if (strcmp(p->origin, "tuning_space") == 0)
        return "tuning value";
    return "parameter";
}

static const char *strategy_name(const rep *r)
{
    if (r->run.strategy)
        return r->run.strategy;
    const char *s = jstr(r->summary, "strategy");
    return s ? s : "unknown";
}

static bool is_cpu(const rep *r)
{
    return strcmp(r->target, "cpu") == 0 ||
           (!json_object_get(r->device, "gpu") && !json_object_get(r->device, "gpu_name") && !r->m);
}

/* Failures grouped by their error text: "4 x wrong: wrong values, ..." */
static void failure_groups(const rep *r, char *buf, size_t n)
{
    buf[0] = '\0';
    bool *done = calloc(r->n ? r->n : 1, sizeof *done);
    if (!done)
        return;
    size_t off = 0, groups = 0;
    for (size_t i = 0; i < r->n && groups < 5; i++) {
        const rev *v = &r->r[i];
        if (v->ok || !v->final || done[i])
            continue;
        const char *why = v->e->error ? v->e->error : v->e->exit_desc ? v->e->exit_desc : "no reason recorded";
        size_t count = 0;
        for (size_t k = i; k < r->n; k++) {
            const rev *w = &r->r[k];
            if (w->ok || !w->final || done[k])
                continue;
            const char *wy = w->e->error ? w->e->error : w->e->exit_desc ? w->e->exit_desc : "no reason recorded";
            if (strcmp(why, wy) == 0) {
                done[k] = true;
                count++;
            }
        }
        char cut[200];
        spak_snprintf(cut, sizeof cut, "%.150s%s", why, strlen(why) > 150 ? "..." : "");
        if (!spak_snprintf(buf + off, n - off, "%s%zu x %s", groups ? "; " : "", count, cut))
            break;
        off += strlen(buf + off);
        groups++;
    }
    free(done);
}

/* the eval ids of the JSON array a, "3, 7 and 9" */
static void id_list(char *buf, size_t n, const json_t *a)
{
    size_t i, len = 0, k = json_array_size(a);
    json_t *t;
    buf[0] = '\0';
    json_array_foreach(a, i, t) {
        int w = snprintf(buf + len, n - len, "%s%lld", i == 0 ? "" : i + 1 == k ? " and " : ", ",
                         (long long)json_integer_value(t));
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
}

/* 4b. the run's decision on its intervals, and the re-time of its leading
 * candidates side by side (how they ranked), from the summary */
static void decision_say(rep *r)
{
    const char *d = jstr(r->summary, "decision");
    const json_t *rt = json_object_get(r->summary, "retime"), *ci = json_object_get(r->summary, "ratio_ci");
    char iv[120] = "", ids[300];
    if (!d)
        return;
    if (json_array_size(ci) == 2)
        spak_snprintf(iv, sizeof iv, " (the best's ratio %.3fx, its 95%% interval %.3f to %.3f)",
                      jnum(r->summary, "ratio"), json_number_value(json_array_get(ci, 0)),
                      json_number_value(json_array_get(ci, 1)));
    id_list(ids, sizeof ids, json_object_get(r->summary, "tied_with"));
    bool one = json_array_size(json_object_get(r->summary, "tied_with")) == 1;
    const char *ev = one ? "evaluation" : "evaluations";
    const char *on = jstr(r->summary, "decided_by") ? ", decided on the re-time side by side" : "";
    if (!strcmp(d, "winner"))
        say(r, "Decision: winner%s%s: no other candidate's interval overlaps the best's.", on, iv);
    else if (!strcmp(d, "tied"))
        say(r, "Decision: tied%s%s: %s %s %s the best within their intervals, each as narrow as asked.", on, iv,
            ev, ids, one ? "equals" : "equal");
    else if (json_object_get(r->summary, "measured_under_load") || json_is_number(json_object_get(rt, "foreign_load")))
        say(r, "Decision: %s%s%s: measured under load (other work took up to %.0f%% of the judge's CPUs, above "
               "%.0f%%): a ratio measured so holds for a machine that was not this one, so nothing was decided on it.",
            d, on, iv,
            100 * fmax(json_number_value(json_object_get(json_object_get(r->summary, "measured_under_load"), "foreign_load_max")),
                       json_number_value(json_object_get(rt, "foreign_load"))),
            100 * SPAK_FOREIGN_LOAD_MAX);
    else
        say(r, "Decision: %s%s%s: %s %s %s the best and the intervals are wider than asked, so the noise was "
               "too high to decide.", d, on, iv, ev, ids, one ? "overlaps" : "overlap");
    if (!rt)
        return;
    if (strcmp(jstr(rt, "status") ? jstr(rt, "status") : "", "done") != 0) {
        say(r, "The leading candidates were not re-timed side by side (%s): %s.", jstr(rt, "status") ? jstr(rt, "status") : "?",
            jstr(rt, "why") ? jstr(rt, "why") : "no reason recorded");
        return;
    }
    char rank[1600] = "";
    size_t len = 0, nc = json_array_size(json_object_get(rt, "candidates"));
    for (size_t want = 1; want <= nc; want++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(rt, "candidates"), i, c) {
            const json_t *cci = json_object_get(c, "ratio_ci");
            if (json_integer_value(json_object_get(c, "rank")) != (json_int_t)want || len >= sizeof rank)
                continue;
            int w = snprintf(rank + len, sizeof rank - len, "%s%zu. %s (evaluation %lld) %.3fx [%.3f-%.3f]",
                             want > 1 ? ", " : "", want, jstr(c, "candidate") ? jstr(c, "candidate") : "?",
                             (long long)json_integer_value(json_object_get(c, "eval_id")), jnum(c, "ratio"),
                             json_number_value(json_array_get(cci, 0)), json_number_value(json_array_get(cci, 1)));
            len = w < 0 ? sizeof rank : len + (size_t)w;
        }
    }
    say(r, "Before the run ended, its %zu leading candidates were re-timed side by side, round-robin with the baseline "
           "in one session of %s (session %s); ranked: %s.", nc, jstr(rt, "judge") ? jstr(rt, "judge") : "the judge",
        jstr(rt, "session") ? jstr(rt, "session") : "?", rank[0] ? rank : "none was correct");
}

static void summarize(rep *r)
{
    char a[64], b[64], c[64];
    const char *sys = r->system ? r->system : "?";
    const spak_run *run = &r->run;
    /* 1. where the run stands */
    spak_svg_num(a, sizeof a, r->elapsed_s, 3);
    if (strcmp(run->status, SPAK_RUN_DONE) == 0)
        say(r, "Run %s of %s (loop %s) finished after %zu evaluations in %s s: it stopped on '%s'.", run->id, sys,
            r->loop_name, r->n, a, run->stop_reason ? run->stop_reason : "no reason recorded");
    else if (strcmp(run->status, SPAK_RUN_FAILED) == 0)
        say(r, "Run %s of %s (loop %s) FAILED in state '%s' after %zu evaluations: %s.", run->id, sys, r->loop_name,
            run->state, r->n, r->run_error ? r->run_error : "the journal records no error text");
    else
        say(r, "Run %s of %s (loop %s) has not finished: it is %s in state '%s' after %zu evaluations; this report shows it as far as it went.",
            run->id, sys, r->loop_name, run->status, run->state, r->n);
    /* 2. the device */
    const char *cpu = jstr(r->device, "cpu");
    json_t *cores = json_object_get(r->device, "cores");
    const char *gpu = jstr(r->device, "gpu");
    if (!gpu)
        gpu = jstr(r->device, "gpu_name");
    char ncores[48] = "";
    if (json_is_integer(cores))
        spak_snprintf(ncores, sizeof ncores, " (%lld core%s)", (long long)json_integer_value(cores),
                      json_integer_value(cores) == 1 ? "" : "s");
    if (is_cpu(r))
        say(r, "CPU-only run: the target is '%s' and it was measured on %s%s; no GPU was used.", r->target,
            cpu ? cpu : "a CPU the run did not name", ncores);
    else
        say(r, "GPU run: the target is '%s'%s%s.", r->target, gpu ? ", device " : "", gpu ? gpu : "");
    /* 3. counts */
    if (r->n == 0) {
        say(r, "No evaluation was recorded, so there is nothing to chart.");
    } else {
        char groups[1200];
        failure_groups(r, groups, sizeof groups);
        say(r, "Of %zu evaluations, %zu were correct and measured and %zu failed%s%s%s.", r->n, r->n_ok, r->n_failed,
            r->n_failed ? " (" : "", r->n_failed ? groups : "", r->n_failed ? ")" : "");
        if (r->n_unfinished)
            say(r, "%zu evaluations did not finish (interrupted or still running).", r->n_unfinished);
        if (r->n_untrusted)
            say(r, "The records of %zu evaluation%s are untrusted: they came from the spec's own measure command, "
                   "not from one of spak's judges, and such a command can print any number.",
                r->n_untrusted, r->n_untrusted == 1 ? "" : "s");
    }
    /* 4. the best */
    if (r->best >= 0) {
        const rev *bv = &r->r[r->best];
        num(a, sizeof a, bv->e->metric);
        if (isfinite(bv->e->ratio))
            say(r, "The best candidate, %s (evaluation %lld), reached %s %s, %.2fx the baseline%s%s%s.",
                bv->e->cand_key ? bv->e->cand_key : "?", (long long)bv->e->eval_id, r->metric, a, bv->e->ratio,
                r->baseline_name ? " (" : "", r->baseline_name ? r->baseline_name : "", r->baseline_name ? ")" : "");
        else
            say(r, "The best candidate, %s (evaluation %lld), reached %s %s; no ratio to a baseline was recorded.",
                bv->e->cand_key ? bv->e->cand_key : "?", (long long)bv->e->eval_id, r->metric, a);
        const rev *fv = &r->r[r->first_ok];
        if (r->first_ok != r->best) {
            num(b, sizeof b, fv->e->metric);
            double d = fv->e->metric != 0 ? (bv->e->metric - fv->e->metric) / fabs(fv->e->metric) * 100 : NAN;
            double x = fv->e->metric > 0 && bv->e->metric > 0
                           ? (r->maximize ? bv->e->metric / fv->e->metric : fv->e->metric / bv->e->metric)
                           : NAN;
            if (x >= 2)
                say(r, "The first correct evaluation (evaluation %lld, %s) reached %s; the best is %.1fx better.",
                    (long long)fv->e->eval_id, fv->e->cand_key ? fv->e->cand_key : "?", b, x);
            else
                say(r, "The first correct evaluation (evaluation %lld, %s) reached %s; the best is %.1f%% %s.",
                    (long long)fv->e->eval_id, fv->e->cand_key ? fv->e->cand_key : "?", b, fabs(d), better_word(r));
        } else {
            say(r, "The first correct evaluation was already the best.");
        }
        size_t after = 0;
        for (size_t i = (size_t)r->best + 1; i < r->n; i++)
            after += r->r[i].final;
        if (after && !jstr(r->summary, "decided_by"))
            say(r, "After the best (evaluation %lld) came %zu more evaluation%s; none did better.",
                (long long)bv->e->eval_id, after, after == 1 ? "" : "s");
    } else if (r->n) {
        say(r, "No evaluation was correct and measured, so the run has no best candidate and no %s to report.",
            r->metric);
    }
    decision_say(r);
    /* 5. the baseline */
    if (r->n_baseline) {
        num(a, sizeof a, r->baseline);
        num(b, sizeof b, r->baseline_lo);
        num(c, sizeof c, r->baseline_hi);
        char spread[120];
        if (r->baseline_lo == r->baseline_hi)
            spak_snprintf(spread, sizeof spread, "%s", r->n_baseline > 1 ? "the same in each" : "one measurement");
        else
            spak_snprintf(spread, sizeof spread, "median of %zu; range %s to %s, %.1f%% apart", r->n_baseline, b, c,
                          (r->baseline_hi - r->baseline_lo) / fabs(r->baseline) * 100);
        if (r->baseline_explicit)
            say(r, "The baseline%s%s%s measured %s %s (%s), timed in the same process as each candidate.",
                r->baseline_name ? " (" : "", r->baseline_name ? r->baseline_name : "", r->baseline_name ? ")" : "",
                r->metric, a, spread);
        else
            say(r, "No record carries baseline_%s; the baseline %s %s is implied by the recorded ratios of %zu evaluations (%s).",
                r->metric, r->metric, a, r->n_baseline, spread);
    } else if (r->n_ok) {
        say(r, "No record gives a baseline %s and no ratio was recorded, so the chart has no baseline line.", r->metric);
    }
    /* 6. bottlenecks */
    json_t *bn = json_object();
    for (size_t i = 0; bn && i < r->n; i++)
        if (r->r[i].ok && r->r[i].e->bottleneck)
            json_object_set_new(bn, r->r[i].e->bottleneck,
                                json_integer(json_integer_value(json_object_get(bn, r->r[i].e->bottleneck)) + 1));
    if (json_object_size(bn)) {
        char list[400] = "";
        size_t off = 0;
        const char *k;
        json_t *v;
        json_object_foreach(bn, k, v) {
            if (!spak_snprintf(list + off, sizeof list - off, "%s%s %lld", off ? ", " : "", k,
                               (long long)json_integer_value(v)))
                break;
            off += strlen(list + off);
        }
        say(r, "Bottleneck class of the correct evaluations, as the harness classified them: %s.", list);
    }
    json_decref(bn);
    /* 7. roofline */
    if (r->best >= 0 && isfinite(r->r[r->best].roof_frac)) {
        const rev *bv = &r->r[r->best];
        num(a, sizeof a, bv->ai);
        num(b, sizeof b, r->peak / r->bw);
        say(r, "The best candidate runs at %.0f%% of the roofline bound at its arithmetic intensity (%s flop/B; the ridge is at %s flop/B).",
            bv->roof_frac * 100, a, b);
    }
    if (r->n_flagged)
        say(r, "%zu evaluations were flagged by the harness as faster than the roofline allows (see the table).",
            r->n_flagged);
    if (r->n_bad_recs)
        say(r, "%zu trace records did not fit the trace schema; they are kept in the store as errors.", r->n_bad_recs);
}

static spak_status derive(rep *r, spak_err *err)
{
    r->system = r->m ? r->m->system_name : NULL;
    r->loop_name = r->loop ? r->loop->name : jstr(r->first_detail, "loop");
    if (!r->loop_name)
        r->loop_name = "?";
    r->metric = r->loop ? r->loop->metric : jstr(r->summary, "metric");
    if (!r->metric)
        r->metric = "metric";
    const char *obj = jstr(r->summary, "objective");
    r->maximize = r->loop ? r->loop->objective == SPAK_OBJ_MAXIMIZE : !(obj && strcmp(obj, "minimize") == 0);
    r->target = jstr(r->first_detail, "target");
    if (!r->target && r->m && r->m->problem)
        r->target = spak_block_string(r->m->problem, "target");
    if (!r->target)
        r->target = "cpu";
    r->baseline_name = jstr(r->summary, "baseline");
    if (!r->baseline_name && r->m && r->m->problem)
        r->baseline_name = spak_block_string(r->m->problem, "baseline");
    r->family = r->m && r->m->problem ? spak_block_string(r->m->problem, "family") : NULL;
    r->precision = r->m && r->m->problem ? spak_block_string(r->m->problem, "precision") : NULL;
    r->best = r->first_ok = -1;
    double best = NAN;
    for (size_t i = 0; i < r->n; i++) {
        rev *v = &r->r[i];
        derive_eval(r, v);
        if (v->ok) {
            r->n_ok++;
            if (r->first_ok < 0)
                r->first_ok = (long)i;
            if (isnan(best) || better(r, v->e->metric, best)) {
                best = v->e->metric;
                r->best = (long)i;
            }
        } else if (v->final) {
            r->n_failed++;
        } else {
            r->n_unfinished++;
        }
        v->best_so_far = best;
        r->n_bad_recs += v->n_bad_recs;
        r->n_flagged += v->flagged;
        v->untrusted = spak_result_untrusted(v->e->result_json);
        r->n_untrusted += v->untrusted;
        r->n_roof += v->ok && v->ai > 0 && v->rate > 0;
    }
    /* the run's own best is the report's: ranked on the paired ratio where
     * the evaluations have one to the same baseline (analyze/progress.h),
     * or a winner named side by side (the re-time, analyze/retime.h: its
     * summary's best), whatever the evaluations' metrics said */
    json_t *sb = json_object_get(json_object_get(r->summary, "best"), "eval_id");
    for (size_t i = 0; json_is_integer(sb) && i < r->n; i++)
        if (r->r[i].ok && r->r[i].e->eval_id == json_integer_value(sb))
            r->best = (long)i;
    /* the baseline: explicit values when any evaluation has one */
    double *tmp = malloc((r->n ? r->n : 1) * sizeof *tmp), *tmp2 = malloc((r->n ? r->n : 1) * sizeof *tmp2);
    if (!tmp || !tmp2) {
        free(tmp);
        free(tmp2);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n; i++)
        r->baseline_explicit |= r->r[i].baseline_explicit;
    size_t nb = 0;
    for (size_t i = 0; i < r->n; i++)
        if (isfinite(r->r[i].baseline) && r->r[i].baseline_explicit == r->baseline_explicit)
            tmp[nb++] = r->r[i].baseline;
    r->n_baseline = nb;
    r->baseline = median(tmp, nb);
    r->baseline_lo = nb ? tmp[0] : NAN;
    r->baseline_hi = nb ? tmp[nb - 1] : NAN;
    /* device ceilings: the median over the evaluations (the harness caches them) */
    size_t np = 0, nw = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->r[i].peak > 0)
            tmp[np++] = r->r[i].peak;
        if (r->r[i].bw > 0)
            tmp2[nw++] = r->r[i].bw;
    }
    r->peak = median(tmp, np);
    r->bw = median(tmp2, nw);
    r->ceilings_vary = (np && tmp[0] != tmp[np - 1]) || (nw && tmp2[0] != tmp2[nw - 1]);
    free(tmp);
    free(tmp2);
    r->elapsed_s = NAN;
    derive_journal(r);
    double se = jnum(r->summary, "elapsed_s");
    if (isfinite(se))
        r->elapsed_s = se;
    spak_status st = effects_from_evaluations(r, &r->eff, err);
    if (st != SPAK_OK)
        return st;
    lessons_overlay(r, &r->eff);
    if (r->eff.n)
        qsort(r->eff.it, r->eff.n, sizeof *r->eff.it, cmp_effect);
    summarize(r);
    return SPAK_OK;
}

static void rep_free(rep *r)
{
    for (size_t i = 0; r->r && i < r->n; i++) {
        json_decref(r->r[i].params);
        json_decref(r->r[i].recs);
    }
    free(r->r);
    spak_store_evals_free(r->ev, r->n);
    spak_store_candidates_free(r->cand, r->nc);
    spak_store_journal_free(r->j, r->nj);
    spak_store_lessons_free(r->les, r->nles);
    spak_store_run_free(&r->run);
    json_decref(r->summary);
    json_decref(r->device);
    json_decref(r->budget);
    json_decref(r->jdetail);
    json_decref(r->facts);
    json_decref(r->fired);
    json_decref(r->predictions);
    free(r->knowledge_diff);
    free(r->next_spec);
    free(r->knowledge_note);
    free(r->eff.it);
    for (size_t i = 0; i < r->n_say; i++)
        free(r->say[i]);
    spak_spec_free(r->spec);
}

/* ---- rendering helpers shared by both formats ------------------------------- */

/* Why an evaluation is not a success, in a few words. */
static const char *why_not(const rev *v)
{
    if (v->ok)
        return NULL;
    if (!v->final)
        return v->e->status;
    if (v->e->error)
        return v->e->error;
    if (v->e->exit_desc)
        return v->e->exit_desc;
    return "no reason recorded";
}

static const char *correct_word(const rev *v)
{
    if (!v->final)
        return v->e->status;
    if (v->e->correct == 1)
        return v->ok ? "yes" : "yes, not measured";
    if (v->e->correct == 0)
        return "no";
    return v->ok ? "not checked" : "not judged";
}

/* Distinct compilers (first word after "$ " in build logs) with counts. */
static void compilers(const rep *r, char *buf, size_t n)
{
    buf[0] = '\0';
    size_t off = 0;
    for (size_t i = 0; i < r->n; i++) {
        const char *log = r->r[i].e->build_log;
        if (!log || strncmp(log, "$ ", 2) != 0)
            continue;
        char cc[256];
        size_t l = strcspn(log + 2, " \n");
        spak_snprintf(cc, sizeof cc, "%.*s", (int)(l < 255 ? l : 255), log + 2);
        if (strstr(buf, cc))
            continue;
        if (!spak_snprintf(buf + off, n - off, "%s%s", off ? ", " : "", cc))
            break;
        off += strlen(buf + off);
    }
}

/* min..max of a numeric field over the Performance records of all
 * evaluations; false when no record has it. */
static bool field_range(const rep *r, const char *field, double *lo, double *hi, size_t *count)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    *count = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t k;
        json_t *rec;
        json_array_foreach(r->r[i].recs, k, rec) {
            double v = jnum(rec, field);
            if (isfinite(v)) {
                *lo = fmin(*lo, v);
                *hi = fmax(*hi, v);
                (*count)++;
            }
        }
    }
    return *count > 0;
}

/* Distinct string values of a field over all records, comma separated. */
static void field_strings(const rep *r, const char *field, char *buf, size_t n, size_t max_items)
{
    buf[0] = '\0';
    size_t off = 0, items = 0;
    for (size_t i = 0; i < r->n && items < max_items; i++) {
        size_t k;
        json_t *rec;
        json_array_foreach(r->r[i].recs, k, rec) {
            const char *s = jstr(rec, field);
            if (!s || !*s)
                continue;
            /* exact item match in the list so far */
            bool seen = false;
            for (const char *p = buf; *p && !seen;) {
                size_t l = strcspn(p, ",");
                seen = l == strlen(s) && strncmp(p, s, l) == 0;
                p += l;
                while (*p == ',' || *p == ' ')
                    p++;
            }
            if (seen || strchr(s, ','))
                continue;
            if (!spak_snprintf(buf + off, n - off, "%s%s", off ? ", " : "", s))
                return;
            off += strlen(buf + off);
            if (++items >= max_items)
                return;
        }
    }
}

/* Seeds the harness recorded ("seed" in records): count and a few values. */
static void seeds(const rep *r, char *buf, size_t n)
{
    buf[0] = '\0';
    size_t off = 0, count = 0, shown = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t k;
        json_t *rec;
        json_array_foreach(r->r[i].recs, k, rec) {
            json_t *s = json_object_get(rec, SPAK_FIELD_SEED);
            if (!json_is_integer(s))
                continue;
            count++;
            if (shown < 6 && spak_snprintf(buf + off, n - off, "%s%lld", off ? ", " : "", (long long)json_integer_value(s))) {
                off += strlen(buf + off);
                shown++;
            }
        }
    }
    if (count > shown && off)
        spak_snprintf(buf + off, n - off, ", ... (%zu records carry a seed)", count);
}

typedef struct unit {
    double div;
    const char *rate, *bw;
} unit;

static unit rate_unit(const rep *r)
{
    double top = fmax(r->peak, 0);
    for (size_t i = 0; i < r->n; i++)
        if (r->r[i].rate > top)
            top = r->r[i].rate;
    unit u = {1, "GFLOP/s", "GB/s"};
    if (top >= 1e4) {
        u.div = 1e3;
        u.rate = "TFLOP/s";
    }
    return u;
}

/* ---- HTML --------------------------------------------------------------------- */

static const char CSS[] =
    ":root{color-scheme:light;--fg:#1d1d1f;--muted:#5c5c66;--line:#d9d9e0;--bg:#fbfbfd;--card:#fff;"
    "--blue:" C_BLUE ";--orange:" C_ORANGE ";--red:" C_VERMIL ";--green:" C_GREEN ";}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,'Segoe UI',"
    "Roboto,'DejaVu Sans',sans-serif}\n"
    "main{max-width:1120px;margin:0 auto;padding:28px 28px 60px}\n"
    "header h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}\n"
    "header .sub{color:var(--muted);margin:0;font-size:14px}\n"
    ".pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;"
    "vertical-align:middle;margin-left:8px}\n"
    ".pill.done{background:#e3f1fb;color:#005a8c}.pill.failed{background:#fde7dc;color:#9a3a00}"
    ".pill.running,.pill.suspended{background:#fff3d6;color:#7a5300}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:22px 0}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}\n"
    ".card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}\n"
    ".card .v{font-size:22px;font-weight:650;margin-top:2px;overflow-wrap:anywhere}"
    ".card .v.t{font-size:16px;line-height:1.3;margin-top:5px}\n"
    ".card .d{font-size:12.5px;color:var(--muted);overflow-wrap:anywhere}\n"
    "section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;"
    "margin:18px 0}\n"
    "section h2{font-size:18px;margin:0 0 10px}\n"
    "section h3{font-size:15px;margin:16px 0 6px}\n"
    "p.note,.caption{color:var(--muted);font-size:13.5px;margin:6px 0}\n"
    "ul.say{margin:0;padding-left:20px}ul.say li{margin:3px 0}\n"
    "svg{display:block;width:100%;height:auto;font-family:inherit}\n"
    "svg text{fill:#333;font-size:12px}svg .axis line,svg .axis path{stroke:#888}"
    "svg .grid line{stroke:#ececf1}svg .title{font-size:13px;fill:#444}\n"
    "table{border-collapse:collapse;width:100%;font-size:13.5px}\n"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #ececf1;vertical-align:top}\n"
    "th{font-weight:600;color:var(--muted);font-size:12.5px;position:sticky;top:0;background:var(--card)}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tr.best td{background:#eaf4fb}tr.bad td.c{color:#9a3a00}\n"
    "td.key{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12.5px;overflow-wrap:anywhere;min-width:190px}\n"
    ".tablewrap{max-height:640px;overflow:auto;border:1px solid #ececf1;border-radius:8px}\n"
    "dl{display:grid;grid-template-columns:220px 1fr;gap:4px 16px;margin:0}\n"
    "dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}\n"
    "pre{background:#f4f4f8;border-radius:8px;padding:10px 12px;overflow:auto;font-size:12.5px;max-height:420px}\n"
    "pre .add{color:#00704f}pre .del{color:#9a3a00}\n"
    "code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12.5px}\n"
    "nav{font-size:13px;color:var(--muted);margin-top:8px}nav a{color:var(--blue);text-decoration:none;"
    "margin-right:14px}\n"
    "footer{color:var(--muted);font-size:12.5px;margin-top:26px}\n";

typedef spak_svg_out out;
#define RAW spak_svg_raw
#define PF spak_svg_printf
#define TXT spak_svg_text

/* Chart (a)'s frame: the plot area, its scales, the lane under it where
 * failed evaluations go, and the size of a mark. */
typedef struct progress_frame {
    double W, H, L, R, T, B, pw, ph;
    double n;               /* evaluations (at least 1) */
    double lane;            /* y of the failed-evaluation lane */
    double rad;             /* radius of a mark */
    spak_svg_scale xs, ys;
    double ticks[16];
    size_t nt;
} progress_frame;

/* The y range holds every correct metric and the baseline. */
static void progress_frame_init(progress_frame *f, const rep *r)
{
    f->W = 1040, f->H = 360, f->L = 74, f->R = 24, f->T = 34, f->B = 74;
    f->pw = f->W - f->L - f->R, f->ph = f->H - f->T - f->B;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < r->n; i++)
        if (r->r[i].ok) {
            lo = fmin(lo, r->r[i].e->metric);
            hi = fmax(hi, r->r[i].e->metric);
            if (isfinite(r->r[i].m_lo) && isfinite(r->r[i].m_hi)) {
                lo = fmin(lo, r->r[i].m_lo);
                hi = fmax(hi, r->r[i].m_hi);
            }
        }
    if (isfinite(r->baseline)) {
        lo = fmin(lo, r->baseline);
        hi = fmax(hi, r->baseline);
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (lo >= 0 && lo < 0.5 * hi)
        lo = 0; /* rates read best from zero when the data spans most of it */
    double y0, y1;
    f->nt = spak_svg_ticks(lo, hi, 6, f->ticks, SPAK_ARRAY_LEN(f->ticks), &y0, &y1);
    f->ys = (spak_svg_scale){y0, y1, f->T + f->ph, f->T, false};
    f->n = (double)(r->n ? r->n : 1);
    f->xs = (spak_svg_scale){0.5, f->n + 0.5, f->L, f->L + f->pw, false};
    f->lane = f->T + f->ph + 22; /* failed evaluations are drawn in a lane under the plot */
    f->rad = fmax(2.2, fmin(5.5, f->pw / f->n / 3));
}

/* Grid, axes, ticks and the axis titles. */
static void progress_axes(out *o, const rep *r, const progress_frame *f)
{
    const double L = f->L, T = f->T, pw = f->pw, ph = f->ph, lane = f->lane;
    RAW(o, "<g class=\"grid\">");
    for (size_t i = 0; i < f->nt; i++)
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L + pw, spak_svg_map(&f->ys, f->ticks[i]),
           spak_svg_map(&f->ys, f->ticks[i]));
    RAW(o, "</g>\n<g class=\"axis\">");
    PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L, T, T + ph);
    PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L + pw, lane + 14, lane + 14);
    for (size_t i = 0; i < f->nt; i++) {
        char lab[32];
        spak_svg_num(lab, sizeof lab, f->ticks[i], 4);
        PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>", L - 8,
           spak_svg_map(&f->ys, f->ticks[i]), lab);
    }
    double xt[32], xa, xb;
    size_t nx = spak_svg_ticks(1, f->n, 10, xt, SPAK_ARRAY_LEN(xt), &xa, &xb);
    for (size_t i = 0; i < nx; i++) {
        if (xt[i] < 1 || xt[i] > f->n || xt[i] != floor(xt[i]))
            continue;
        double x = spak_svg_map(&f->xs, xt[i]);
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>",
           x, x, lane + 14, lane + 19, x, lane + 30, xt[i]);
    }
    RAW(o, "</g>\n");
    PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"title\">evaluation</text>", L + pw / 2, f->H - 4);
    PF(o, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" class=\"title\">", T + ph / 2);
    TXT(o, r->metric);
    RAW(o, r->maximize ? " (higher is better)" : " (lower is better)");
    RAW(o, "</text>\n");
    if (r->n_failed || r->n_unfinished)
        PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\" fill=\"" C_VERMIL
              "\" style=\"fill:" C_VERMIL "\">failed</text>",
           L - 8, lane);
}

/* The baseline (dashed, labelled) and the best so far (a step line). */
static void progress_lines(out *o, const rep *r, const progress_frame *f)
{
    if (isfinite(r->baseline)) {
        double y = spak_svg_map(&f->ys, r->baseline);
        char lab[32];
        spak_svg_num(lab, sizeof lab, r->baseline, 4);
        PF(o, "<line class=\"baseline\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GREY
              "\" stroke-width=\"1.6\" stroke-dasharray=\"7 5\"/>",
           f->L, f->L + f->pw, y, y);
        PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" style=\"fill:" C_GREY "\">baseline", f->L + f->pw - 4,
           y - 6);
        if (r->baseline_name) {
            RAW(o, " (");
            TXT(o, r->baseline_name);
            RAW(o, ")");
        }
        PF(o, " %s%s</text>\n", lab, r->baseline_explicit ? "" : ", implied by the ratio");
    }
    spak_svg_out path;
    spak_svg_out_init(&path, 0);
    bool started = false;
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        if (!isfinite(v->best_so_far))
            continue;
        double x = spak_svg_map(&f->xs, (double)(i + 1)), y = spak_svg_map(&f->ys, v->best_so_far);
        if (!started)
            spak_svg_printf(&path, "M%.1f %.1f", x, y);
        else
            spak_svg_printf(&path, "H%.1f V%.1f", x, y);
        started = true;
    }
    if (started) {
        spak_svg_printf(&path, "H%.1f", f->L + f->pw);
        if (path.st == SPAK_OK)
            PF(o, "<path class=\"bestline\" d=\"%s\" fill=\"none\" stroke=\"" C_GREEN "\" stroke-width=\"2.2\"/>\n",
               path.b.data);
    }
    if (path.st != SPAK_OK && o->st == SPAK_OK)
        o->st = path.st;
    spak_svg_out_free(&path);
}

/* One mark per evaluation: a circle at its metric when correct, a cross
 * (failed) or a square (unfinished) in the lane, each with a tooltip. */
static void progress_marks(out *o, const rep *r, const progress_frame *f)
{
    const double rad = f->rad, lane = f->lane;
    RAW(o, "<g class=\"marks\">\n");
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        double x = spak_svg_map(&f->xs, (double)(i + 1));
        char m[32];
        spak_svg_num(m, sizeof m, v->e->metric, 5);
        if (v->ok && isfinite(v->m_lo) && isfinite(v->m_hi)) {
            /* the spread behind the point (docs/reports.md: spreads) */
            char a[32], b[32];
            spak_svg_num(a, sizeof a, v->m_lo, 4);
            spak_svg_num(b, sizeof b, v->m_hi, 4);
            double ya = spak_svg_map(&f->ys, v->m_lo), yb = spak_svg_map(&f->ys, v->m_hi), c = fmin(rad, 4);
            PF(o, "<path class=\"spread\" data-eval=\"%lld\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" "
                  "stroke=\"" C_BLUE "\" stroke-opacity=\"0.55\" stroke-width=\"1.4\"><title>",
               (long long)v->e->eval_id, x, ya, yb, x - c, ya, x + c, x - c, yb, x + c);
            PF(o, "evaluation %lld: spread (p20-p80 of its timings) %s to %s</title></path>\n", (long long)v->e->eval_id, a,
               b);
        }
        if (v->ok) {
            double y = spak_svg_map(&f->ys, v->e->metric);
            PF(o, "<circle class=\"mark eval ok%s\" data-eval=\"%lld\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"" C_BLUE
                  "\" fill-opacity=\"0.85\" stroke=\"#fff\" stroke-width=\"1\"><title>",
               (long)i == r->best ? " best" : "", (long long)v->e->eval_id, x, y, rad);
            PF(o, "evaluation %lld: ", (long long)v->e->eval_id);
            TXT(o, v->e->cand_key);
            RAW(o, " \xE2\x80\x94 ");
            TXT(o, r->metric);
            PF(o, " %s", m);
            if (isfinite(v->e->ratio))
                PF(o, ", %.3fx baseline", v->e->ratio);
            RAW(o, "</title></circle>\n");
        } else {
            const char *cls = strcmp(v->e->status, SPAK_EVAL_STOPPED) == 0 ? "stopped" : v->final ? "failed" : "unfinished";
            double s = fmax(2.5, rad * 0.8);
            if (v->final)
                PF(o, "<path class=\"mark eval %s\" data-eval=\"%lld\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" "
                      "stroke=\"" C_VERMIL "\" stroke-width=\"2.2\" stroke-linecap=\"round\"><title>",
                   cls, (long long)v->e->eval_id, x - s, lane - s, x + s, lane + s, x - s, lane + s, x + s, lane - s);
            else
                PF(o, "<rect class=\"mark eval %s\" data-eval=\"%lld\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"none\" stroke=\"" C_GREY "\" stroke-width=\"1.6\"><title>",
                   cls, (long long)v->e->eval_id, x - s, lane - s, 2 * s, 2 * s);
            PF(o, "evaluation %lld: ", (long long)v->e->eval_id);
            TXT(o, v->e->cand_key);
            RAW(o, " \xE2\x80\x94 ");
            spak_svg_text_n(o, why_not(v), TITLE_MAX);
            RAW(o, v->final ? "</title></path>\n" : "</title></rect>\n");
        }
    }
    RAW(o, "</g>\n");
}

/* The best ringed and labelled, and the legend. */
static void progress_best_legend(out *o, const rep *r, const progress_frame *f)
{
    const double L = f->L, T = f->T, pw = f->pw, rad = f->rad;
    if (r->best >= 0) {
        const rev *bv = &r->r[r->best];
        double x = spak_svg_map(&f->xs, (double)(r->best + 1)), y = spak_svg_map(&f->ys, bv->e->metric);
        PF(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" stroke=\"" C_GREEN "\" stroke-width=\"2\"/>", x, y,
           rad + 3.5);
        char m[32];
        spak_svg_num(m, sizeof m, bv->e->metric, 4);
        bool right = x < L + pw * 0.7;
        PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" style=\"font-weight:600\">best: #%lld, %s</text>\n",
           right ? x + rad + 8 : x - rad - 8, y - rad - 6 < T + 10 ? y + rad + 16 : y - rad - 6,
           right ? "start" : "end", (long long)bv->e->eval_id, m);
    }
    double lx = L + 4, ly = 14;
    PF(o, "<g class=\"legend\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"" C_BLUE "\"/><text x=\"%.1f\" y=\"%.1f\" "
          "dominant-baseline=\"middle\">correct evaluation</text>",
       lx, ly, lx + 10, ly);
    lx += 150;
    PF(o, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"" C_VERMIL "\" stroke-width=\"2.2\"/>"
          "<text x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\">failed (drawn below the axis)</text>",
       lx - 4, ly - 4, lx + 4, ly + 4, lx - 4, ly + 4, lx + 4, ly - 4, lx + 10, ly);
    lx += 210;
    PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GREEN "\" stroke-width=\"2.2\"/>"
          "<text x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\">best so far</text>",
       lx - 6, lx + 14, ly, ly, lx + 20, ly);
    lx += 110;
    if (isfinite(r->baseline))
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GREY "\" stroke-width=\"1.6\" "
              "stroke-dasharray=\"7 5\"/><text x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\">baseline</text>",
           lx - 6, lx + 20, ly, ly, lx + 26, ly);
    RAW(o, "</g>\n");
}

/* Chart (a): the metric of each evaluation, the best so far, the baseline. */
static void chart_progress(out *o, const rep *r)
{
    progress_frame f;
    progress_frame_init(&f, r);
    PF(o, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s per evaluation\" class=\"chart progress\">\n", f.W,
       f.H, "metric");
    progress_axes(o, r, &f);
    progress_lines(o, r, &f);
    progress_marks(o, r, &f);
    progress_best_legend(o, r, &f);
    RAW(o, "</svg>\n");
}

/* Marker shapes for bottleneck classes: shape and colour both differ. */
static void roof_mark(out *o, const rev *v, double x, double y, const char *extra)
{
    const char *b = v->e->bottleneck ? v->e->bottleneck : "";
    if (strcmp(b, "memory") == 0)
        PF(o, "<rect class=\"mark roof%s\" data-eval=\"%lld\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"" C_ORANGE
              "\" stroke=\"#fff\">",
           extra, (long long)v->e->eval_id, x - 5, y - 5);
    else if (strcmp(b, "latency") == 0)
        PF(o, "<path class=\"mark roof%s\" data-eval=\"%lld\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"" C_PURPLE
              "\" stroke=\"#fff\">",
           extra, (long long)v->e->eval_id, x, y - 6.5, x + 6, y + 4.5, x - 6, y + 4.5);
    else if (strcmp(b, "compute") == 0)
        PF(o, "<circle class=\"mark roof%s\" data-eval=\"%lld\" cx=\"%.1f\" cy=\"%.1f\" r=\"5.5\" fill=\"" C_BLUE
              "\" stroke=\"#fff\">",
           extra, (long long)v->e->eval_id, x, y);
    else
        PF(o, "<path class=\"mark roof%s\" data-eval=\"%lld\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"" C_GREY
              "\" stroke=\"#fff\">",
           extra, (long long)v->e->eval_id, x, y - 6, x + 6, y, x, y + 6, x - 6, y);
}

static const char *roof_close(const rev *v)
{
    const char *b = v->e->bottleneck ? v->e->bottleneck : "";
    if (strcmp(b, "memory") == 0)
        return "</rect>\n";
    if (strcmp(b, "compute") == 0)
        return "</circle>\n";
    return "</path>\n";
}

/* Chart (b): the roofline of the device, every correct evaluation on it. */
static void chart_roofline(out *o, const rep *r)
{
    const double W = 1040, H = 430, L = 84, R = 24, T = 34, B = 56;
    const double pw = W - L - R, ph = H - T - B;
    unit u = rate_unit(r);
    double ridge = r->peak / r->bw;
    double xlo = ridge, xhi = ridge, ylo = r->peak, yhi = r->peak;
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        if (!(v->ok && v->ai > 0 && v->rate > 0))
            continue;
        xlo = fmin(xlo, v->ai);
        xhi = fmax(xhi, v->ai);
        ylo = fmin(ylo, v->rate);
        yhi = fmax(yhi, v->rate);
    }
    xlo = pow(10, floor(log10(xlo / 2)));
    xhi = pow(10, ceil(log10(xhi * 2)));
    ylo = pow(10, floor(log10(fmin(ylo, r->bw * xlo) / 1.5)));
    yhi = pow(10, ceil(log10(yhi * 1.5)));
    if (ylo < yhi / 1e6)
        ylo = yhi / 1e6;
    spak_svg_scale xs = {xlo, xhi, L, L + pw, true}, ys = {ylo, yhi, T + ph, T, true};
    PF(o, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"roofline\" class=\"chart roofline\">\n", W, H);
    double t[48];
    size_t nx = spak_svg_log_ticks(xlo, xhi, t, SPAK_ARRAY_LEN(t));
    RAW(o, "<g class=\"grid\">");
    for (size_t i = 0; i < nx; i++)
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", spak_svg_map(&xs, t[i]), spak_svg_map(&xs, t[i]), T,
           T + ph);
    double ty[48];
    size_t ny = spak_svg_log_ticks(ylo, yhi, ty, SPAK_ARRAY_LEN(ty));
    for (size_t i = 0; i < ny; i++)
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L + pw, spak_svg_map(&ys, ty[i]),
           spak_svg_map(&ys, ty[i]));
    RAW(o, "</g>\n<g class=\"axis\">");
    PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L,
       T, T + ph, L, L + pw, T + ph, T + ph);
    for (size_t i = 0; i < nx; i++) {
        char lab[32];
        spak_svg_num(lab, sizeof lab, t[i], 3);
        double x = spak_svg_map(&xs, t[i]);
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x,
           x, T + ph, T + ph + 5, x, T + ph + 19, lab);
    }
    for (size_t i = 0; i < ny; i++) {
        char lab[32];
        spak_svg_num(lab, sizeof lab, ty[i] / u.div, 3);
        double y = spak_svg_map(&ys, ty[i]);
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>",
           L - 5, L, y, y, L - 8, y, lab);
    }
    RAW(o, "</g>\n");
    PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"title\">arithmetic intensity (flop/byte, log scale)</text>",
       L + pw / 2, H - 10);
    PF(o, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" class=\"title\">achieved %s (log scale)</text>\n",
       T + ph / 2, u.rate);
    /* the roof */
    double x0 = spak_svg_map(&xs, xlo), y0 = spak_svg_map(&ys, r->bw * xlo);
    double xr = spak_svg_map(&xs, ridge), yr = spak_svg_map(&ys, r->peak), x1 = spak_svg_map(&xs, xhi);
    PF(o, "<path class=\"roof\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1f\" fill=\"none\" stroke=\"#333\" stroke-width=\"2.4\"/>\n", x0,
       y0, xr, yr, x1, yr);
    PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"3 4\"/>", xr, xr, yr,
       T + ph);
    char a[32], b[32];
    spak_svg_num(a, sizeof a, r->peak / u.div, 4);
    PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" style=\"font-weight:600\">compute peak %s %s</text>", x1 - 6,
       yr - 8, a, u.rate);
    spak_svg_num(a, sizeof a, r->bw, 4);
    double ang = atan2(yr - y0, xr - x0) * 180 / M_PI;
    double mx = x0 + (xr - x0) * 0.35, my = y0 + (yr - y0) * 0.35;
    PF(o, "<text transform=\"translate(%.1f %.1f) rotate(%.1f)\" text-anchor=\"middle\" dy=\"-8\" style=\"font-weight:600\">memory %s %s</text>",
       mx, my, ang, a, u.bw);
    spak_svg_num(b, sizeof b, ridge, 3);
    PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"start\" style=\"fill:#777\">ridge %s flop/B</text>\n", xr + 5, T + ph - 6,
       b);
    RAW(o, "<g class=\"marks\">\n");
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        if (!(v->ok && v->ai > 0 && v->rate > 0))
            continue;
        double x = spak_svg_map(&xs, v->ai), y = spak_svg_map(&ys, v->rate);
        roof_mark(o, v, x, y, (long)i == r->best ? " best" : "");
        char ra[32], ai[32];
        spak_svg_num(ra, sizeof ra, v->rate / u.div, 4);
        spak_svg_num(ai, sizeof ai, v->ai, 4);
        PF(o, "<title>evaluation %lld: ", (long long)v->e->eval_id);
        TXT(o, v->e->cand_key);
        PF(o, " \xE2\x80\x94 %s %s at %s flop/B", ra, u.rate, ai);
        if (isfinite(v->roof_frac))
            PF(o, " (%.0f%% of the roof)", v->roof_frac * 100);
        if (v->e->bottleneck) {
            RAW(o, ", ");
            TXT(o, v->e->bottleneck);
        }
        RAW(o, "</title>");
        RAW(o, roof_close(v));
    }
    RAW(o, "</g>\n");
    if (r->best >= 0 && r->r[r->best].ai > 0 && r->r[r->best].rate > 0) {
        const rev *bv = &r->r[r->best];
        double x = spak_svg_map(&xs, bv->ai), y = spak_svg_map(&ys, bv->rate);
        PF(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"10\" fill=\"none\" stroke=\"" C_GREEN "\" stroke-width=\"2\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" style=\"font-weight:600\">best #%lld</text>\n",
           x, y, x + 13, y + 4, (long long)bv->e->eval_id);
    }
    /* legend */
    static const struct { const char *name, *mark; } lg[] = {
        {"compute-bound", "<circle cx=\"0\" cy=\"0\" r=\"5.5\" fill=\"" C_BLUE "\"/>"},
        {"memory-bound", "<rect x=\"-5\" y=\"-5\" width=\"10\" height=\"10\" fill=\"" C_ORANGE "\"/>"},
        {"latency / overhead", "<path d=\"M0 -6.5L6 4.5L-6 4.5Z\" fill=\"" C_PURPLE "\"/>"},
        {"unclassified", "<path d=\"M0 -6L6 0L0 6L-6 0Z\" fill=\"" C_GREY "\"/>"},
    };
    bool present[SPAK_ARRAY_LEN(lg)] = {false};
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        if (!(v->ok && v->ai > 0 && v->rate > 0))
            continue;
        const char *bk = v->e->bottleneck ? v->e->bottleneck : "";
        present[strcmp(bk, "compute") == 0 ? 0 : strcmp(bk, "memory") == 0 ? 1 : strcmp(bk, "latency") == 0 ? 2 : 3] = true;
    }
    double lx = L + 10;
    RAW(o, "<g class=\"legend\">");
    for (size_t i = 0; i < SPAK_ARRAY_LEN(lg); i++) {
        if (!present[i])
            continue;
        PF(o, "<g transform=\"translate(%.1f 14)\">%s<text x=\"10\" y=\"0\" dominant-baseline=\"middle\">%s</text></g>", lx,
           lg[i].mark, lg[i].name);
        lx += 40 + 8.0 * (double)strlen(lg[i].name);
    }
    RAW(o, "</g>\n</svg>\n");
}

/* Chart (c): effect of each parameter value, diverging bars around zero. */
/* The half-width of the effects axis in axis units (log2 factors or
 * percent) over the positions pos[0..n): the largest, unless it is more
 * than three times the next (one outlier, e.g. +6476% beside +-30%): then
 * 1.25 times the next, and the outlier's bar is cut at the axis end with
 * its value written beside it, so that one effect does not squeeze every
 * other bar to a sliver. Sorts pos. */
static double effects_extent(double *pos, size_t n, bool *clipped)
{
    qsort(pos, n, sizeof *pos, cmp_double);
    *clipped = n >= 2 && pos[n - 1] > 3 * pos[n - 2] && pos[n - 2] > 0;
    return n == 0 ? 0 : *clipped ? 1.25 * pos[n - 2] : pos[n - 1];
}

/* The effects axis: log2 factors or percent (*lg), its half-width (the
 * return value), its ticks and whether an outlier bar is cut (*clipped). */
static double effects_axis(const effects *x, bool *lg_out, bool *clipped, double *ticks, size_t cap, size_t *nt)
{
    double maxabs = 1, minpct = 0;
    for (size_t i = 0; i < x->n; i++)
        if (isfinite(x->it[i].pct)) {
            maxabs = fmax(maxabs, fabs(x->it[i].pct));
            minpct = fmin(minpct, x->it[i].pct);
        }
    /* large effects are factors: a log2 axis (x0.5 and x2 equally far from
     * x1); small ones read better as percentages on a linear axis */
    const bool lg = maxabs > 50 && minpct > -99;
    *lg_out = lg;
    *clipped = false;
#define EPOS(pct) (lg ? log2(1 + (pct) / 100) : (pct))
    /* the observed bars set the axis (the tested marks only where no bar
     * has a value); a tested mark or whisker beyond it stops at its end */
    double *pos = malloc((x->n + 1) * sizeof *pos);
    size_t np = 0;
    for (size_t i = 0; pos && i < x->n; i++)
        if (isfinite(x->it[i].pct))
            pos[np++] = fabs(EPOS(x->it[i].pct));
    for (size_t i = 0; pos && np == 0 && i < x->n; i++)
        if (x->it[i].tested && isfinite(x->it[i].t_pct))
            pos[np++] = fabs(EPOS(x->it[i].t_pct));
#undef EPOS
    double ext = pos ? effects_extent(pos, np, clipped) : maxabs, a, b, m;
    free(pos);
    if (lg) {
        m = fmax(1, ceil(ext));
        *nt = 0;
        for (double t = -m; t <= m && *nt < cap; t++)
            ticks[(*nt)++] = t;
    } else {
        *nt = spak_svg_ticks(-fmax(ext, 1), fmax(ext, 1), 6, ticks, cap, &a, &b);
        m = fmax(fabs(a), fabs(b));
    }
    return m;
}

static void chart_effects(out *o, const rep *r)
{
    const effects *x = &r->eff;
    const double W = 1040, L = 190, R = 320, row = 24, gap = 30;
    size_t groups = 0;
    for (size_t i = 0; i < x->n; i++)
        if (i == 0 || strcmp(x->it[i].param, x->it[i - 1].param) != 0)
            groups++;
    bool lg, clipped;
    double ticks[16];
    size_t nt;
    const double m = effects_axis(x, &lg, &clipped, ticks, SPAK_ARRAY_LEN(ticks), &nt);
#define EPOS(pct) (lg ? log2(1 + (pct) / 100) : (pct))
    /* the header rows: worse/better, the tested legend, the clipping note */
    const double legend_y = 40, clip_y = legend_y + (x->n_tested ? 20 : 0), T = clip_y + (clipped ? 20 : 0);
    double H = T + (double)x->n * row + (double)groups * gap + 52;
    spak_svg_scale xs = {-m, m, L, W - R, false};
    PF(o, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"effects\" class=\"chart effects\">\n", W, H);
    RAW(o, "<g class=\"grid\">");
    for (size_t i = 0; i < nt; i++)
        PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", spak_svg_map(&xs, ticks[i]),
           spak_svg_map(&xs, ticks[i]), T - 6, H - 42);
    RAW(o, "</g><g class=\"axis\">");
    for (size_t i = 0; i < nt; i++) {
        double px = spak_svg_map(&xs, ticks[i]);
        if (lg)
            PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">\xC3\x97%g</text>", px, H - 28, pow(2, ticks[i]));
        else
            PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%+g%%</text>", px, H - 28, ticks[i]);
    }
    double zx = spak_svg_map(&xs, 0);
    PF(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>", zx, zx, T - 6, H - 38);
    RAW(o, "</g>\n");
    PF(o, "<text x=\"%.1f\" y=\"18\" text-anchor=\"end\" style=\"fill:" C_ORANGE ";font-weight:600\">\xE2\x97\x80 worse</text>", zx - 8);
    PF(o, "<text x=\"%.1f\" y=\"18\" style=\"fill:" C_BLUE ";font-weight:600\">better \xE2\x96\xB6</text>", zx + 8);
    PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"title\">%s</text>\n", zx, H - 6,
       lg ? "median of the evaluations with the value / the median of all (factor, log scale)"
          : "median of the evaluations with the value vs. the median of all (%)");
    if (x->n_tested)
        PF(o, "<g class=\"legend\" transform=\"translate(%.1f %.1f)\"><path d=\"M0 -5L5 0L0 5L-5 0Z\" fill=\"#222\"/>"
              "<text x=\"9\" y=\"0\" dominant-baseline=\"middle\">tested effect (knowledge step), whisker = "
              "uncertainty</text></g>\n",
           L + 5, legend_y);
    if (clipped) {
        PF(o, "<text class=\"clipnote\" x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\" style=\"fill:#444\">", L,
           clip_y);
        if (lg)
            PF(o, "\xE2\x96\xB8 a bar beyond \xC3\x97%g or \xC3\x97%g is cut at the axis end; its value is on the "
                  "right</text>\n", pow(2, m), pow(2, -m));
        else
            PF(o, "\xE2\x96\xB8 a bar beyond \xC2\xB1%g%% is cut at the axis end; its value is on the right</text>\n",
               m);
    }
    double y = T;
    for (size_t i = 0; i < x->n; i++) {
        const effect *f = &x->it[i];
        if (i == 0 || strcmp(f->param, x->it[i - 1].param) != 0) {
            y += gap;
            const char *orig = param_origin(r, f->param);
            PF(o, "<text x=\"8\" y=\"%.1f\" style=\"font-weight:650;font-size:13px\">", y - 8);
            TXT(o, f->param);
            if (orig)
                PF(o, "<tspan style=\"fill:#777;font-weight:400\"> \xC2\xB7 %s</tspan>", orig);
            RAW(o, "</text>\n");
        }
        PF(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">", L - 10, y + row / 2);
        spak_svg_text_n(o, f->value, 24);
        RAW(o, "</text>");
        if (isfinite(f->pct)) {
            double e = EPOS(f->pct), px = spak_svg_map(&xs, fmax(-m, fmin(m, e)));
            double x0 = fmin(px, zx), w = fmax(fabs(px - zx), 1.5);
            bool cut = fabs(e) > m;
            PF(o, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\" fill=\"%s\"><title>",
               cut ? " cut" : "", x0, y + 4, w, row - 8, f->pct >= 0 ? C_BLUE : C_ORANGE);
            TXT(o, f->param);
            RAW(o, "=");
            TXT(o, f->value);
            PF(o, ": %+.1f%%%s</title></rect>", f->pct, cut ? " (cut at the axis end)" : "");
            if (cut) /* a white chevron at the cut end */
                PF(o, "<path d=\"M%.1f %.1fl%.1f %.1fl%.1f %.1f\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2\"/>",
                   px - (e > 0 ? 9 : -9), y + 7, e > 0 ? 5.0 : -5.0, (row - 14) / 2, e > 0 ? -5.0 : 5.0, (row - 14) / 2);
        }
        if (f->tested && isfinite(f->t_pct)) {
            /* a mark beyond the axis stops inside its end, clear of the value labels */
#define EMAP(e) fmax(L + 7, fmin(W - R - 7, spak_svg_map(&xs, (e))))
            double tx = EMAP(EPOS(f->t_pct)), cy = y + row / 2;
            if (isfinite(f->t_unc)) {
                /* the uncertainty is relative: [effect / (1+u), effect * (1+u)] */
                double fa = (1 + f->t_pct / 100) / (1 + f->t_unc / 100), fb = (1 + f->t_pct / 100) * (1 + f->t_unc / 100);
                double wa = EMAP(EPOS((fa - 1) * 100)), wb = EMAP(EPOS((fb - 1) * 100));
#undef EMAP
                PF(o, "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" stroke=\"#222\" stroke-width=\"1.3\"/>", wa, cy,
                   wb, wa, cy - 4, cy + 4, wb, cy - 4, cy + 4);
            }
            PF(o, "<path class=\"tested\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"#222\" stroke=\"#fff\"><title>",
               tx, cy - 6, tx + 6, cy, tx, cy + 6, tx - 6, cy);
            spak_svg_text_n(o, f->t_text ? f->t_text : "tested effect", TITLE_MAX);
            RAW(o, "</title></path>");
        }
        char med[32];
        spak_svg_num(med, sizeof med, f->median, 4);
        PF(o, "<text x=\"%.1f\" y=\"%.1f\" dominant-baseline=\"middle\" style=\"fill:#444\">", W - R + 10, y + row / 2);
        if (isfinite(f->pct) && fabs(EPOS(f->pct)) > m)
            RAW(o, "\xE2\x96\xB8 ");
        if (isfinite(f->pct) && lg)
            PF(o, "\xC3\x97%.3g", 1 + f->pct / 100);
        else if (isfinite(f->pct))
            PF(o, "%+.1f%%", f->pct);
        else
            RAW(o, "n/a");
        if (f->n)
            PF(o, " \xC2\xB7 n=%zu", f->n);
        if (isfinite(f->median))
            PF(o, " \xC2\xB7 median %s", med);
        if (f->tested && lg)
            PF(o, " \xC2\xB7 tested \xC3\x97%.3g", 1 + f->t_pct / 100);
        else if (f->tested)
            PF(o, " \xC2\xB7 tested %+.0f%%", f->t_pct);
        else if (x->learned)
            RAW(o, " \xC2\xB7 not significant");
        RAW(o, "</text>\n");
        y += row;
    }
    RAW(o, "</svg>\n");
}
#undef EPOS

static void html_say(out *o, const rep *r)
{
    RAW(o, "<ul class=\"say\">\n");
    for (size_t i = 0; i < r->n_say; i++) {
        RAW(o, "<li>");
        TXT(o, r->say[i]);
        RAW(o, "</li>\n");
    }
    RAW(o, "</ul>\n");
}

static void card(out *o, const char *k, const char *v, const char *d)
{
    RAW(o, "<div class=\"card\"><div class=\"k\">");
    TXT(o, k);
    /* a number reads large; a phrase (a stop reason) smaller */
    RAW(o, strlen(v) > 12 && strchr(v, ' ') ? "</div><div class=\"v t\">" : "</div><div class=\"v\">");
    TXT(o, v);
    RAW(o, "</div>");
    if (d) {
        RAW(o, "<div class=\"d\">");
        TXT(o, d);
        RAW(o, "</div>");
    }
    RAW(o, "</div>\n");
}

static void html_cards(out *o, const rep *r)
{
    char v[160], d[400], a[32];
    RAW(o, "<div class=\"cards\">\n");
    if (r->best >= 0) {
        const rev *bv = &r->r[r->best];
        num(a, sizeof a, bv->e->metric);
        spak_snprintf(v, sizeof v, "%s", a);
        spak_snprintf(d, sizeof d, "%s, evaluation %lld: %s", r->metric, (long long)bv->e->eval_id,
                      bv->e->cand_key ? bv->e->cand_key : "?");
        card(o, "best", v, d);
        if (isfinite(bv->e->ratio)) {
            spak_snprintf(v, sizeof v, "%.2fx", bv->e->ratio);
            spak_snprintf(d, sizeof d, "the best against %s", r->baseline_name ? r->baseline_name : "the baseline");
            card(o, "vs. baseline", v, d);
        } else {
            card(o, "vs. baseline", "-", "no ratio was recorded");
        }
    } else {
        card(o, "best", "none", "no evaluation was correct and measured");
    }
    spak_snprintf(v, sizeof v, "%zu", r->n);
    spak_snprintf(d, sizeof d, "%zu correct, %zu failed%s", r->n_ok, r->n_failed, r->n_unfinished ? ", some unfinished" : "");
    card(o, "evaluations", v, d);
    const char *sr = r->run.stop_reason ? r->run.stop_reason : r->run.status;
    card(o, strcmp(r->run.status, SPAK_RUN_FAILED) == 0 ? "failed" : "stopped", sr, r->run.status);
    if (jstr(r->summary, "decision"))  /* on intervals; the re-time's when it named the winner */
        card(o, "decision", jstr(r->summary, "decision"),
             jstr(r->summary, "decided_by") ? "decided on the re-time side by side" : "decided on the intervals");
    if (isfinite(r->elapsed_s)) {
        spak_svg_num(a, sizeof a, r->elapsed_s, 3);
        spak_snprintf(v, sizeof v, "%s s", a);
        card(o, "elapsed", v, "wall time of the loop");
    }
    RAW(o, "</div>\n");
}

/* The candidate table, in both formats: which optional columns it has. */
typedef struct cand_cols {
    unit u;
    bool has_time, has_rate, has_spread, has_ci;
} cand_cols;

static cand_cols candidate_columns(const rep *r)
{
    cand_cols c = {rate_unit(r), false, false, false, false};
    for (size_t i = 0; i < r->n; i++) {
        c.has_time |= isfinite(r->r[i].time_ms);
        c.has_spread |= isfinite(r->r[i].t_p20) && isfinite(r->r[i].t_p80);
        c.has_ci |= isfinite(r->r[i].ci_lo);
        c.has_rate |= r->r[i].ok && r->r[i].rate > 0;
    }
    return c;
}

/* One row's numbers as text: metric, ratio, time, rate. */
typedef struct cand_cells {
    char m[32], ra[80], t[100], rate[32];
} cand_cells;

/* "a [lo, hi]" (the spread or interval in brackets when known) */
static void with_spread(char *buf, size_t n, const char *a, double lo, double hi, int digits)
{
    char l[32], h[32];
    spak_svg_num(l, sizeof l, lo, digits);
    spak_svg_num(h, sizeof h, hi, digits);
    if (isfinite(lo) && isfinite(hi))
        spak_snprintf(buf, n, "%s [%s, %s]", a, l, h);
    else
        spak_snprintf(buf, n, "%s", a);
}

static void candidate_cells(const rev *v, const cand_cols *c, cand_cells *x)
{
    char a[40];
    spak_svg_num(x->m, sizeof x->m, v->e->metric, 5);
    spak_snprintf(a, sizeof a, isfinite(v->e->ratio) ? "%.3f" : "-", v->e->ratio);
    with_spread(x->ra, sizeof x->ra, a, isfinite(v->e->ratio) ? v->ci_lo : NAN, v->ci_hi, 4);
    spak_svg_num(a, sizeof a, v->time_ms, 4);
    with_spread(x->t, sizeof x->t, a, isfinite(v->time_ms) ? v->t_p20 : NAN, v->t_p80, 4);
    spak_svg_num(x->rate, sizeof x->rate, v->ok ? v->rate / c->u.div : NAN, 4);
}

/* the headers of the ratio and time columns, naming their brackets */
static const char *ratio_head(const cand_cols *c)
{
    return c->has_ci ? "ratio [interval]" : "ratio";
}

static const char *time_head(const cand_cols *c)
{
    return c->has_spread ? "time (ms) [p20, p80]" : "time (ms)";
}

static void html_table(out *o, const rep *r)
{
    cand_cols c = candidate_columns(r);
    RAW(o, "<div class=\"tablewrap\"><table>\n<thead><tr><th>#</th><th>candidate</th><th>correct</th><th>");
    TXT(o, r->metric);
    PF(o, "</th><th>%s</th>", ratio_head(&c));
    if (c.has_time)
        PF(o, "<th>%s</th>", time_head(&c));
    if (c.has_rate)
        PF(o, "<th>%s</th>", c.u.rate);
    RAW(o, "<th>bottleneck</th><th>why / why not</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        cand_cells x;
        candidate_cells(v, &c, &x);
        PF(o, "<tr class=\"%s\"><td class=\"n\">%lld</td><td class=\"key\">", (long)i == r->best ? "best" : v->ok ? "ok" : "bad",
           (long long)v->e->eval_id);
        spak_svg_text_n(o, v->e->cand_key, 400);
        RAW(o, "</td><td class=\"c\">");
        TXT(o, correct_word(v));
        PF(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>", x.m, x.ra);
        if (c.has_time)
            PF(o, "<td class=\"n\">%s</td>", x.t);
        if (c.has_rate)
            PF(o, "<td class=\"n\">%s</td>", x.rate);
        RAW(o, "<td>");
        TXT(o, v->e->bottleneck ? v->e->bottleneck : "-");
        RAW(o, "</td><td");
        const char *note = v->ok ? v->why : why_not(v);
        if (note && strlen(note) > CELL_MAX) {
            RAW(o, " title=\"");
            spak_svg_text_n(o, note, TITLE_MAX);
            RAW(o, "\"");
        }
        RAW(o, ">");
        if (v->flagged)
            RAW(o, "<strong>FLAGGED: faster than the roofline allows.</strong> ");
        if (v->untrusted)
            RAW(o, "<strong>untrusted</strong> ");
        spak_svg_text_n(o, note ? note : "", CELL_MAX);
        if (v->n_bad_recs)
            PF(o, " (%zu record%s did not fit the schema)", v->n_bad_recs, v->n_bad_recs == 1 ? "" : "s");
        RAW(o, "</td></tr>\n");
    }
    RAW(o, "</tbody></table></div>\n");
}

static void html_knowledge(out *o, const rep *r)
{
    RAW(o, "<h3>Facts evaluated at each knowledge step</h3>\n");
    if (json_object_size(r->facts)) {
        RAW(o, "<table><thead><tr><th>fact</th><th>true</th><th>false</th><th>error</th><th>first true at</th></tr></thead><tbody>\n");
        const char *k;
        json_t *t;
        json_object_foreach(r->facts, k, t) {
            RAW(o, "<tr><td class=\"key\">");
            TXT(o, k);
            PF(o, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">",
               (long long)json_integer_value(json_object_get(t, "true")),
               (long long)json_integer_value(json_object_get(t, "false")),
               (long long)json_integer_value(json_object_get(t, "error")));
            if (json_object_get(t, "first_true"))
                PF(o, "evaluation %lld", (long long)json_integer_value(json_object_get(t, "first_true")));
            else
                RAW(o, "-");
            RAW(o, "</td></tr>\n");
        }
        RAW(o, "</tbody></table>\n");
    } else {
        size_t nf = 0;
        for (size_t i = 0; r->m && i < r->m->n_facts; i++)
            nf += r->m->facts[i].predicate;
        PF(o, "<p class=\"note\">No fact was evaluated at the knowledge steps of this run (the spec declares %zu predicate fact%s).</p>\n",
           nf, nf == 1 ? "" : "s");
    }
    if (json_object_size(r->fired)) {
        RAW(o, "<h3>Rules that fired</h3><ul>");
        const char *k;
        json_t *c;
        json_object_foreach(r->fired, k, c) {
            RAW(o, "<li>");
            TXT(o, k);
            PF(o, ": %lld time%s</li>", (long long)json_integer_value(c), json_integer_value(c) == 1 ? "" : "s");
        }
        RAW(o, "</ul>\n");
    }
    RAW(o, "<h3>Knowledge diff v(n) \xE2\x86\x92 v(n+1)</h3>\n");
    if (r->knowledge_diff) {
        RAW(o, "<p class=\"note\">The spec this run used against the one crystallization wrote from its lessons (");
        TXT(o, r->next_spec);
        RAW(o, ").</p>\n<pre>");
        const char *p = r->knowledge_diff;
        while (*p) {
            size_t l = strcspn(p, "\n");
            char line[4096];
            spak_snprintf(line, sizeof line, "%.*s", (int)(l < 4095 ? l : 4095), p);
            const char *cls = line[0] == '+' ? "add" : line[0] == '-' ? "del" : NULL;
            if (cls)
                PF(o, "<span class=\"%s\">", cls);
            TXT(o, line);
            RAW(o, cls ? "</span>\n" : "\n");
            p += l + (p[l] == '\n');
        }
        RAW(o, "</pre>\n");
    } else {
        RAW(o, "<p>No knowledge update was recorded for this run");
        if (r->knowledge_note) {
            RAW(o, ": ");
            TXT(o, r->knowledge_note);
        } else {
            RAW(o, ": the store names no spec v(n+1) for it (crystallization did not run)");
        }
        RAW(o, ".</p>\n");
    }
    if (r->nles) {
        PF(o, "<h3>Lessons recorded by this run (%zu)</h3><table><thead><tr><th>kind</th><th>subject</th><th>effect</th><th>confidence</th><th>text</th></tr></thead><tbody>\n",
           r->nles);
        for (size_t i = 0; i < r->nles; i++) {
            const spak_lesson *l = &r->les[i];
            char e[32], c[32];
            spak_svg_num(e, sizeof e, l->effect, 4);
            spak_svg_num(c, sizeof c, l->confidence, 3);
            RAW(o, "<tr><td>");
            TXT(o, l->kind);
            RAW(o, "</td><td class=\"key\">");
            TXT(o, l->subject);
            PF(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>", e, c);
            spak_svg_text_n(o, l->text, 600);
            RAW(o, "</td></tr>\n");
        }
        RAW(o, "</tbody></table>\n");
    }
    RAW(o, "<h3>Predictions against outcomes</h3>\n");
    if (json_array_size(r->predictions)) {
        RAW(o, "<table><thead><tr><th>#</th><th>candidate</th><th>predicted</th><th>measured</th><th>error</th><th>rationale</th></tr></thead><tbody>\n");
        size_t i;
        json_t *p;
        json_array_foreach(r->predictions, i, p) {
            double pr = jnum(p, "predicted"), me = jnum(p, "measured");
            char a[32], b[32];
            spak_svg_num(a, sizeof a, pr, 4);
            spak_svg_num(b, sizeof b, me, 4);
            PF(o, "<tr><td class=\"n\">%lld</td><td class=\"key\">", (long long)json_integer_value(json_object_get(p, "eval")));
            TXT(o, jstr(p, "candidate"));
            PF(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">", a, b);
            if (isfinite(pr) && isfinite(me) && me != 0)
                PF(o, "%+.1f%%", (pr - me) / fabs(me) * 100);
            else
                RAW(o, "-");
            RAW(o, "</td><td>");
            spak_svg_text_n(o, jstr(p, "rationale"), 400);
            RAW(o, "</td></tr>\n");
        }
        RAW(o, "</tbody></table>\n");
    } else {
        RAW(o, "<p>");
        if (strcmp(strategy_name(r), "llm") == 0)
            RAW(o, "The run names the LLM driver, but its journal records no prediction to compare with the outcomes.");
        else {
            RAW(o, "No LLM drove this run (the strategy was '");
            TXT(o, strategy_name(r));
            RAW(o, "'), so there are no predictions to compare with the outcomes.");
        }
        RAW(o, "</p>\n");
    }
}

static void dl_item(out *o, const char *k, const char *v)
{
    RAW(o, "<dt>");
    TXT(o, k);
    RAW(o, "</dt><dd>");
    TXT(o, v && *v ? v : "-");
    RAW(o, "</dd>\n");
}

/* Provenance as (label, value) pairs, shared by both formats. */
typedef void (*kv_fn)(out *o, const char *k, const char *v);

static void provenance(out *o, const rep *r, kv_fn item)
{
    char buf[2048], a[64], b[64];
    if (json_is_object(r->device)) {
        const char *k;
        json_t *v;
        json_object_foreach(r->device, k, v) {
            char label[200], *t = NULL;
            spak_snprintf(label, sizeof label, "device: %s", k);
            if (!json_is_string(v))
                t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            item(o, label, json_is_string(v) ? json_string_value(v) : t);
            free(t);
        }
    } else {
        item(o, "device", "the run recorded no device");
    }
    item(o, "target", r->target);
    spak_snprintf(buf, sizeof buf, "%s%s%s%s%s", r->family ? r->family : "-", r->precision ? ", " : "",
                  r->precision ? r->precision : "", r->baseline_name ? ", baseline " : "",
                  r->baseline_name ? r->baseline_name : "");
    item(o, "problem", buf);
    item(o, "spec", r->run.spec_path);
    item(o, "spec hash (FNV-1a 64)", r->run.spec_hash);
    spak_snprintf(buf, sizeof buf, "%s / %s", r->system ? r->system : "?", r->loop_name);
    item(o, "system / loop", buf);
    spak_snprintf(buf, sizeof buf, "%s, seed %lld", strategy_name(r), (long long)r->run.seed);
    item(o, "strategy", buf);
    char *bj = r->budget ? json_dumps(r->budget, JSON_COMPACT) : NULL;
    item(o, "budget", bj ? bj : "none recorded");
    free(bj);
    seeds(r, buf, sizeof buf);
    item(o, "input seeds (harness)", buf[0] ? buf : "no record carries a seed");
    compilers(r, buf, sizeof buf);
    item(o, "compilers (build logs)", buf[0] ? buf : "no candidate was compiled by spak in this run");
    double lo, hi;
    size_t cnt;
    static const struct { const char *field, *label, *unit; } clocks[] = {
        {SPAK_FIELD_SM_CLOCK_MHZ, "SM clock", "MHz"},
        {SPAK_FIELD_MEM_CLOCK_MHZ, "memory clock", "MHz"},
        {SPAK_FIELD_POWER_W, "power", "W"}};
    bool any = false;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(clocks); i++)
        if (field_range(r, clocks[i].field, &lo, &hi, &cnt)) {
            spak_svg_num(a, sizeof a, lo, 4);
            spak_svg_num(b, sizeof b, hi, 4);
            spak_snprintf(buf, sizeof buf, "%s to %s %s (%zu records)", a, b, clocks[i].unit, cnt);
            item(o, clocks[i].label, buf);
            any = true;
        }
    field_strings(r, SPAK_FIELD_THROTTLE_REASONS, buf, sizeof buf, 8);
    if (buf[0]) {
        item(o, "throttle reasons", buf);
        any = true;
    }
    if (!any)
        item(o, "clocks / power", "no record carries sm_clock_mhz, mem_clock_mhz or power_w");
    field_strings(r, SPAK_FIELD_ISA, buf, sizeof buf, 4);
    if (buf[0])
        item(o, "ISA (harness)", buf);
    field_strings(r, SPAK_FIELD_OPENBLAS_CORE, buf, sizeof buf, 4);
    if (buf[0])
        item(o, "OpenBLAS core", buf);
    if (r->peak > 0 && r->bw > 0) {
        unit u = rate_unit(r);
        spak_svg_num(a, sizeof a, r->peak / u.div, 4);
        spak_svg_num(b, sizeof b, r->bw, 4);
        spak_snprintf(buf, sizeof buf, "%s %s, %s %s (from the Analysis records%s)", a, u.rate, b, u.bw,
                      r->ceilings_vary ? "; they vary between evaluations, the median is shown" : "");
        item(o, "ceilings", buf);
    }
    spak_snprintf(buf, sizeof buf, "%s", r->model ? r->model : "none (no LLM drove this run)");
    item(o, "LLM model", buf);
    const char *sv = jstr(r->summary, "spak_version");
    if (!sv)
        sv = jstr(r->device, "spak_version");
    spak_snprintf(buf, sizeof buf, "%s%s; this report by spak %s", sv ? "run by spak " : "", sv ? sv : "the run did not record its spak version",
                  SPAK_VERSION);
    item(o, "spak version", buf);
    char t0[64], t1[64];
    spak_format_utc(r->run.created_at, t0, sizeof t0);
    spak_format_utc(r->run.updated_at, t1, sizeof t1);
    spak_snprintf(buf, sizeof buf, "created %s, last change %s", t0, t1);
    item(o, "time (UTC)", buf);
    item(o, "store", spak_store_path(r->st));
}

static void render_html(out *o, const rep *r)
{
    RAW(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
           "<title>spak report ");
    TXT(o, r->run.id);
    RAW(o, "</title>\n<style>\n");
    RAW(o, CSS);
    RAW(o, "</style></head>\n<body><main>\n<header><h1>");
    TXT(o, r->system ? r->system : "spak run");
    RAW(o, " <span style=\"font-weight:400;color:#5c5c66\">\xC2\xB7 run ");
    TXT(o, r->run.id);
    PF(o, "</span><span class=\"pill %s\">", strcmp(r->run.status, SPAK_RUN_DONE) == 0 ? "done"
                                                : strcmp(r->run.status, SPAK_RUN_FAILED) == 0 ? "failed"
                                                                                              : "running");
    TXT(o, r->run.status);
    RAW(o, "</span></h1>\n<p class=\"sub\">loop ");
    TXT(o, r->loop_name);
    RAW(o, " \xC2\xB7 metric ");
    TXT(o, r->metric);
    RAW(o, r->maximize ? " (maximize)" : " (minimize)");
    RAW(o, " \xC2\xB7 strategy ");
    TXT(o, strategy_name(r));
    RAW(o, " \xC2\xB7 target ");
    TXT(o, r->target);
    RAW(o, " \xC2\xB7 spec ");
    TXT(o, r->run.spec_path);
    RAW(o, "</p>\n<nav><a href=\"#progress\">progress</a><a href=\"#roofline\">roofline</a><a href=\"#effects\">effects</a>"
           "<a href=\"#candidates\">candidates</a><a href=\"#knowledge\">knowledge</a><a href=\"#provenance\">provenance</a></nav>\n"
           "</header>\n");
    html_cards(o, r);
    RAW(o, "<section id=\"summary\"><h2>What happened</h2>\n");
    html_say(o, r);
    RAW(o, "</section>\n");

    RAW(o, "<section id=\"progress\"><h2>");
    TXT(o, r->metric);
    RAW(o, " per evaluation</h2>\n");
    chart_progress(o, r);
    PF(o, "<p class=\"caption\">One mark per evaluation (%zu). A dot is a correct, measured evaluation at its ", r->n);
    TXT(o, r->metric);
    RAW(o, " (the geometric mean over the measured shapes); a cross under the axis is an evaluation that failed. "
           "The green step line is the best so far");
    if (isfinite(r->baseline))
        RAW(o, "; the dashed line is the baseline (median over the evaluations)");
    RAW(o, ". Hover a mark for its candidate.</p>\n</section>\n");

    RAW(o, "<section id=\"roofline\"><h2>Roofline</h2>\n");
    if (r->n_roof && r->peak > 0 && r->bw > 0) {
        chart_roofline(o, r);
        PF(o, "<p class=\"caption\">The device's ceilings as the harness measured them; one mark per correct evaluation that has an "
              "Analysis record (%zu), at the arithmetic intensity of its first analysed shape and the rate it achieved there. "
              "Shape and colour give the bottleneck class the harness assigned.</p>\n",
           r->n_roof);
        if (r->best >= 0 && r->r[r->best].why) {
            RAW(o, "<p class=\"note\"><strong>Why the best is where it is</strong> (the harness): ");
            spak_svg_text_n(o, r->r[r->best].why, 1500);
            RAW(o, "</p>\n");
        }
    } else {
        RAW(o, "<p>No roofline: ");
        if (!r->n_ok)
            RAW(o, "no evaluation was correct and measured.");
        else if (!(r->peak > 0 && r->bw > 0))
            RAW(o, "no Analysis record of this run carries the device's peak compute and bandwidth (peak_gflops or peak_tflops, and peak_gbps).");
        else
            RAW(o, "no correct evaluation has an Analysis record with an arithmetic intensity and an achieved rate.");
        RAW(o, "</p>\n");
    }
    RAW(o, "</section>\n");

    RAW(o, "<section id=\"effects\"><h2>Effect of each design choice and tuning value</h2>\n");
    if (r->eff.n) {
        chart_effects(o, r);
        char med[32];
        spak_svg_num(med, sizeof med, r->eff.overall, 4);
        RAW(o, "<p class=\"caption\">Bars are observed, not tested: for each value, the median ");
        TXT(o, r->metric);
        PF(o, " of the correct evaluations that had it, against the median of all %zu correct evaluations (%s); a bar to "
              "the right of the centre line means better for the objective. Other parameters vary at the same time, so a bar shows an association, not a "
              "controlled effect.", r->eff.n_used, med);
        if (r->eff.n_tested)
            PF(o, " A black diamond is the effect the knowledge step tested and recorded as a lesson (%zu of them): the ratio "
                  "of geometric means with and without the value, with its uncertainty as the whisker.", r->eff.n_tested);
        else if (r->eff.learned)
            RAW(o, " The knowledge step ran on this run and found no effect that passed its significance test.");
        else
            RAW(o, " The knowledge step has not recorded tested effects for this run.");
        if (r->eff.single[0]) {
            RAW(o, " Parameters with one value among the correct evaluations (no contrast): ");
            TXT(o, r->eff.single);
            RAW(o, ".");
        }
        RAW(o, "</p>\n");
    } else if (r->n_ok < 2) {
        PF(o, "<p>No effects: %s.</p>\n", r->n_ok ? "only one evaluation was correct, so there is nothing to compare"
                                                  : "no evaluation was correct and measured");
    } else {
        RAW(o, "<p>No effects: no parameter took two different values among the correct evaluations");
        if (r->eff.single[0]) {
            RAW(o, " (");
            TXT(o, r->eff.single);
            RAW(o, ")");
        }
        RAW(o, ".</p>\n");
    }
    RAW(o, "</section>\n");

    RAW(o, "<section id=\"candidates\"><h2>Candidates</h2>\n");
    if (r->n)
        html_table(o, r);
    else
        RAW(o, "<p>The run has no evaluation yet.</p>\n");
    RAW(o, "</section>\n");

    RAW(o, "<section id=\"knowledge\"><h2>Knowledge</h2>\n");
    html_knowledge(o, r);
    RAW(o, "</section>\n");

    RAW(o, "<section id=\"provenance\"><h2>Provenance</h2>\n<dl>\n");
    provenance(o, r, dl_item);
    RAW(o, "</dl>\n</section>\n<footer>Written by <code>spak report</code> from the run's store; every number and sentence on this "
           "page is computed from it (docs/reports.md says how).</footer>\n</main></body></html>\n");
}

/* ---- Markdown --------------------------------------------------------------- */

#define MD spak_svg_md

static void md_item(out *o, const char *k, const char *v)
{
    RAW(o, "- **");
    MD(o, k);
    RAW(o, "**: ");
    spak_svg_md_n(o, v && *v ? v : "-", 2000);
    RAW(o, "\n");
}

/* Title line and the summary sentences. */
static void md_head(out *o, const rep *r)
{
    RAW(o, "# ");
    MD(o, r->system ? r->system : "spak run");
    RAW(o, ": run ");
    MD(o, r->run.id);
    RAW(o, "\n\nLoop ");
    MD(o, r->loop_name);
    RAW(o, ", metric ");
    MD(o, r->metric);
    RAW(o, r->maximize ? " (maximize)" : " (minimize)");
    RAW(o, ", strategy ");
    MD(o, strategy_name(r));
    RAW(o, ", status ");
    MD(o, r->run.status);
    RAW(o, ". The charts are in report.html next to this file.\n\n## What happened\n\n");
    for (size_t i = 0; i < r->n_say; i++) {
        RAW(o, "- ");
        MD(o, r->say[i]);
        RAW(o, "\n");
    }
}

static void md_candidates(out *o, const rep *r)
{
    RAW(o, "\n## Candidates\n\n");
    if (!r->n) {
        RAW(o, "The run has no evaluation yet.\n");
        return;
    }
    cand_cols c = candidate_columns(r);
    RAW(o, "| # | candidate | correct | ");
    MD(o, r->metric);
    PF(o, " | %s | ", ratio_head(&c));
    if (c.has_time)
        PF(o, "%s | ", time_head(&c));
    if (c.has_rate)
        PF(o, "%s | ", c.u.rate);
    PF(o, "bottleneck | why / why not |\n|---:|---|---|---:|---:|%s%s---|---|\n", c.has_time ? "---:|" : "",
       c.has_rate ? "---:|" : "");
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        cand_cells x;
        candidate_cells(v, &c, &x);
        PF(o, "| %lld%s | ", (long long)v->e->eval_id, (long)i == r->best ? " (best)" : "");
        spak_svg_md_n(o, v->e->cand_key, 400);
        RAW(o, " | ");
        MD(o, correct_word(v));
        PF(o, " | %s | %s | ", x.m, x.ra);
        if (c.has_time)
            PF(o, "%s | ", x.t);
        if (c.has_rate)
            PF(o, "%s | ", x.rate);
        MD(o, v->e->bottleneck ? v->e->bottleneck : "-");
        RAW(o, " | ");
        if (v->flagged)
            RAW(o, "**FLAGGED: faster than the roofline allows.** ");
        if (v->untrusted)
            RAW(o, "**untrusted** ");
        spak_svg_md_n(o, v->ok ? v->why : why_not(v), 300);
        RAW(o, " |\n");
    }
}

static void md_roofline(out *o, const rep *r)
{
    unit u = rate_unit(r);
    RAW(o, "\n## Roofline\n\n");
    if (!(r->n_roof && r->peak > 0 && r->bw > 0)) {
        RAW(o, "No roofline: no correct evaluation has an Analysis record with the device's ceilings, an arithmetic intensity and an achieved rate.\n");
        return;
    }
    char a[32], b[32], c[32];
    spak_svg_num(a, sizeof a, r->peak / u.div, 4);
    spak_svg_num(b, sizeof b, r->bw, 4);
    spak_svg_num(c, sizeof c, r->peak / r->bw, 3);
    PF(o, "Ceilings: compute %s %s, memory %s %s, ridge %s flop/B.\n\n| # | AI (flop/B) | %s | of the roof | bottleneck |\n|---:|---:|---:|---:|---|\n",
       a, u.rate, b, u.bw, c, u.rate);
    for (size_t i = 0; i < r->n; i++) {
        const rev *v = &r->r[i];
        if (!(v->ok && v->ai > 0 && v->rate > 0))
            continue;
        spak_svg_num(a, sizeof a, v->ai, 4);
        spak_svg_num(b, sizeof b, v->rate / u.div, 4);
        PF(o, "| %lld | %s | %s | ", (long long)v->e->eval_id, a, b);
        if (isfinite(v->roof_frac))
            PF(o, "%.0f%%", v->roof_frac * 100);
        else
            RAW(o, "-");
        RAW(o, " | ");
        MD(o, v->e->bottleneck ? v->e->bottleneck : "-");
        RAW(o, " |\n");
    }
}

static void md_effects(out *o, const rep *r)
{
    RAW(o, "\n## Effect of each design choice and tuning value\n\n");
    if (!r->eff.n) {
        PF(o, "No effects: %s.\n", r->n_ok < 2 ? "fewer than two evaluations were correct"
                                               : "no parameter took two different values among the correct evaluations");
        return;
    }
    char med[32];
    spak_svg_num(med, sizeof med, r->eff.overall, 4);
    PF(o, "Observed, not tested: median of the correct evaluations with each value against the median of all %zu correct "
          "evaluations (%s); positive is better for the objective. Other parameters vary at the same time. The column "
          "'tested' is the knowledge step's lesson for the value, %s.\n\n",
       r->eff.n_used, med, r->eff.n_tested ? "where one passed its significance test"
                          : r->eff.learned ? "none of which passed its significance test" : "not recorded for this run");
    RAW(o, "| parameter | kind | value | observed | n | median | tested |\n|---|---|---|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < r->eff.n; i++) {
        const effect *f = &r->eff.it[i];
        char fm[32];
        spak_svg_num(fm, sizeof fm, f->median, 4);
        RAW(o, "| ");
        MD(o, f->param);
        RAW(o, " | ");
        MD(o, param_origin(r, f->param) ? param_origin(r, f->param) : "-");
        RAW(o, " | ");
        MD(o, f->value);
        if (isfinite(f->pct))
            PF(o, " | %+.1f%% | %zu | %s | ", f->pct, f->n, fm);
        else
            PF(o, " | - | %zu | %s | ", f->n, fm);
        if (f->tested && isfinite(f->t_unc))
            PF(o, "%+.1f%% \xC2\xB1%.0f |\n", f->t_pct, f->t_unc);
        else if (f->tested)
            PF(o, "%+.1f%% |\n", f->t_pct);
        else
            RAW(o, "- |\n");
    }
}

/* Facts at the knowledge steps, and the knowledge diff v(n) -> v(n+1). */
static void md_knowledge(out *o, const rep *r)
{
    RAW(o, "\n## Knowledge\n\n");
    if (json_object_size(r->facts)) {
        RAW(o, "| fact | true | false | error | first true at |\n|---|---:|---:|---:|---|\n");
        const char *k;
        json_t *t;
        json_object_foreach(r->facts, k, t) {
            RAW(o, "| ");
            MD(o, k);
            PF(o, " | %lld | %lld | %lld | ", (long long)json_integer_value(json_object_get(t, "true")),
               (long long)json_integer_value(json_object_get(t, "false")),
               (long long)json_integer_value(json_object_get(t, "error")));
            if (json_object_get(t, "first_true"))
                PF(o, "evaluation %lld |\n", (long long)json_integer_value(json_object_get(t, "first_true")));
            else
                RAW(o, "- |\n");
        }
        RAW(o, "\n");
    } else {
        RAW(o, "No fact was evaluated at the knowledge steps of this run.\n\n");
    }
    if (r->knowledge_diff) {
        RAW(o, "Knowledge diff v(n) -> v(n+1), against ");
        MD(o, r->next_spec);
        RAW(o, ":\n\n~~~diff\n");
        /* a fence of ~~~ cannot be closed by the diff unless a line starts with it */
        const char *p = r->knowledge_diff;
        while (*p) {
            size_t l = strcspn(p, "\n");
            if (strncmp(p, "~~~", 3) == 0)
                RAW(o, " ");
            spak_svg_printf(o, "%.*s\n", (int)l, p);
            p += l + (p[l] == '\n');
        }
        RAW(o, "~~~\n\n");
    } else {
        RAW(o, "No knowledge update was recorded for this run");
        if (r->knowledge_note) {
            RAW(o, ": ");
            MD(o, r->knowledge_note);
        } else {
            RAW(o, ": the store names no spec v(n+1) for it (crystallization did not run)");
        }
        RAW(o, ".\n\n");
    }
}

/* The LLM's predictions against the measured outcomes. */
static void md_predictions(out *o, const rep *r)
{
    if (json_array_size(r->predictions)) {
        RAW(o, "| # | candidate | predicted | measured |\n|---:|---|---:|---:|\n");
        size_t i;
        json_t *p;
        json_array_foreach(r->predictions, i, p) {
            char a[32], b[32];
            spak_svg_num(a, sizeof a, jnum(p, "predicted"), 4);
            spak_svg_num(b, sizeof b, jnum(p, "measured"), 4);
            PF(o, "| %lld | ", (long long)json_integer_value(json_object_get(p, "eval")));
            MD(o, jstr(p, "candidate"));
            PF(o, " | %s | %s |\n", a, b);
        }
    } else if (strcmp(strategy_name(r), "llm") == 0) {
        RAW(o, "The run names the LLM driver, but its journal records no prediction.\n");
    } else {
        RAW(o, "No LLM drove this run (strategy '");
        MD(o, strategy_name(r));
        RAW(o, "'), so there are no predictions to compare with the outcomes.\n");
    }
}

static void render_md(out *o, const rep *r)
{
    md_head(o, r);
    md_candidates(o, r);
    md_roofline(o, r);
    md_effects(o, r);
    md_knowledge(o, r);
    md_predictions(o, r);
    RAW(o, "\n## Provenance\n\n");
    provenance(o, r, md_item);
}

/* ---- the entry point -------------------------------------------------------- */

static spak_status write_one(const char *dir, const char *name, out *o, char *path, size_t pn, spak_err *err)
{
    if (o->st != SPAK_OK)
        return spak_errf(err, o->st, "%s: the report is larger than %zu bytes", name, SPAK_REPORT_MAX_BYTES);
    if (!spak_snprintf(path, pn, "%s/%s", dir, name))
        return spak_errf(err, SPAK_ERR_ARG, "output path too long");
    return spak_write_file_atomic(path, o->b.data ? o->b.data : "", o->b.len, err);
}

spak_status spak_report_write(spak_store *st, const char *run_id, const char *out_dir, spak_report_paths *paths,
                              spak_err *err)
{
    if (!st || !run_id || !out_dir)
        return spak_errf(err, SPAK_ERR_ARG, "spak_report_write: store, run id and output directory are required");
    rep r;
    memset(&r, 0, sizeof r);
    r.st = st;
    out html, md;
    spak_svg_out_init(&html, SPAK_REPORT_MAX_BYTES);
    spak_svg_out_init(&md, SPAK_REPORT_MAX_BYTES);
    spak_report_paths p;
    memset(&p, 0, sizeof p);
    spak_status s = load(&r, run_id, err);
    if (s == SPAK_OK)
        s = derive(&r, err);
    if (s != SPAK_OK)
        goto out;
    render_html(&html, &r);
    render_md(&md, &r);
    if ((s = spak_mkdirs(out_dir, err)) != SPAK_OK)
        goto out;
    if ((s = write_one(out_dir, "report.md", &md, p.md, sizeof p.md, err)) != SPAK_OK ||
        (s = write_one(out_dir, "report.html", &html, p.html, sizeof p.html, err)) != SPAK_OK)
        goto out;
    p.evaluations = (long)r.n;
    p.correct = (long)r.n_ok;
    if (paths)
        *paths = p;
out:
    spak_svg_out_free(&html);
    spak_svg_out_free(&md);
    rep_free(&r);
    return s;
}
