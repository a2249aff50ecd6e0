/*
 * export.c - the export document, its CSV and its T4 forms (export.h).
 */
#include "report/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/evaluate.h"
#include "analyze/records.h"
#include "analyze/trace.h"
#include "analyze/views.h"

/* a number, or null for NAN (the store's "unknown") */
static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* the JSON text s parsed, or null when there is none or it does not parse */
static json_t *parsed_or_null(const char *s)
{
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    return j ? j : json_null();
}

/* The fields of a Performance record a measurement carries (the ones
 * records.h names for times, spread, repetitions and the ratio) with the
 * type each must have: a record may carry a field its schema does not
 * declare, of any type, and the document promises these types (a value of
 * another type is exported as null; the record itself is in "records"). */
typedef enum { F_NUM, F_STR, F_BOOL, F_NUMS, F_PAIR } ftype;
static const struct {
    const char *name;
    ftype type;
} measurement_fields[] = {
    {SPAK_FIELD_SHAPE, F_STR},         {SPAK_FIELD_TIME_MS, F_NUM},        {SPAK_FIELD_TIME_MS_P20, F_NUM},
    {SPAK_FIELD_TIME_MS_P80, F_NUM},   {SPAK_FIELD_REPS, F_NUM},           {SPAK_FIELD_SAMPLES_MS, F_NUMS},
    {"baseline_samples_ms", F_NUMS},   {SPAK_FIELD_RATIO, F_NUM},          {SPAK_FIELD_RATIO_CI, F_PAIR},
    {SPAK_FIELD_RATIO_CI_LEVEL, F_NUM}, {SPAK_FIELD_PRECISION_REACHED, F_BOOL},
};

/* whether v is an array of numbers (of n of them, when n > 0) */
static bool numbers(const json_t *v, size_t n)
{
    if (!json_is_array(v) || (n && json_array_size(v) != n))
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_number(x)) return false;
    return true;
}

static bool of_type(const json_t *v, ftype t)
{
    switch (t) {
    case F_NUM: return json_is_number(v);
    case F_STR: return json_is_string(v);
    case F_BOOL: return json_is_boolean(v);
    case F_NUMS: return numbers(v, 0);
    case F_PAIR: return numbers(v, 2);
    }
    return false;
}

/* One measurement of a Performance record: the fields above (null where
 * the record has none of the right type), and the metric's value as
 * "metric". */
static json_t *measurement_of(const json_t *rec, const char *metric)
{
    json_t *m = json_object();
    for (size_t k = 0; m && k < sizeof measurement_fields / sizeof measurement_fields[0]; k++) {
        json_t *v = json_object_get(rec, measurement_fields[k].name);
        json_object_set(m, measurement_fields[k].name, of_type(v, measurement_fields[k].type) ? v : json_null());
    }
    json_t *mv = metric ? json_object_get(rec, metric) : NULL;
    if (m)
        json_object_set(m, "metric", json_is_number(mv) ? mv : json_null());
    return m;
}

/* The records of an evaluation that count (held-out ones never: they are
 * a check, their numbers must steer and summarise nothing) and, one per
 * Performance record among them, the measurements. */
static void records_and_measurements(spak_store *st, const char *run_id, int64_t eval_id, const char *metric,
                                     json_t *e)
{
    json_t *all = spak_eval_records(st, run_id, eval_id);
    json_t *recs = json_array(), *ms = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) {
        if (!spak_trace_counts(r, NULL))
            continue;
        json_array_append(recs, r);
        if (spak_trace_counts(r, SPAK_REC_PERFORMANCE))
            json_array_append_new(ms, measurement_of(r, metric));
    }
    double lo, hi;
    if (spak_views_ratio_ci(recs, &lo, &hi, NULL))
        json_object_set_new(e, "ratio_ci", json_pack("[f,f]", lo, hi));
    else
        json_object_set_new(e, "ratio_ci", json_null());
    json_object_set_new(e, "measurements", ms);
    json_object_set_new(e, "records", recs);
    json_decref(all);
}

/* One evaluation of the document; cands (n of them) give its parameters. */
static json_t *evaluation_json(spak_store *st, const char *run_id, const spak_eval *ev, const spak_candidate *cands,
                               size_t n, const char *metric)
{
    const spak_candidate *c = NULL;
    for (size_t i = 0; i < n && !c; i++)
        if (cands[i].cand_id == ev->cand_id)
            c = &cands[i];
    json_t *e = json_pack("{s:I,s:s?,s:o,s:s?,s:s,s:s?,s:s?,s:s?}", "eval_id", (json_int_t)ev->eval_id, "candidate",
                          ev->cand_key, "params", parsed_or_null(c ? c->params_json : NULL), "source_hash",
                          c ? c->source_hash : NULL, "status", ev->status, "exit", ev->exit_desc, "error", ev->error,
                          "bottleneck", ev->bottleneck);
    if (!e)
        return NULL;
    json_object_set_new(e, "correct", ev->correct < 0 ? json_null() : json_boolean(ev->correct));
    json_object_set_new(e, "metric", num_or_null(ev->metric));
    json_object_set_new(e, "ratio", num_or_null(ev->ratio));
    json_object_set_new(e, "started_at", json_real(ev->started_at));
    json_object_set_new(e, "finished_at", ev->finished_at > 0 ? json_real(ev->finished_at) : json_null());
    json_object_set_new(e, "seconds", json_real(ev->finished_at > 0 ? ev->finished_at - ev->started_at : 0));
    json_object_set_new(e, "trusted", json_boolean(!spak_result_untrusted(ev->result_json)));
    records_and_measurements(st, run_id, ev->eval_id, metric, e);
    return e;
}

/* The run object of the document. */
static json_t *run_object(const spak_run *r)
{
    json_t *sum = parsed_or_null(r->summary_json);
    json_t *o = json_pack("{s:s,s:s?,s:s?,s:s,s:s,s:s?,s:s?,s:I,s:f,s:f,s:o,s:o,s:o}", "run_id", r->id, "spec",
                          r->spec_path, "spec_hash", r->spec_hash, "status", r->status, "state", r->state,
                          "stop_reason", r->stop_reason, "strategy", r->strategy, "seed", (json_int_t)r->seed,
                          "created_at", r->created_at, "updated_at", r->updated_at, "device",
                          parsed_or_null(r->device_json), "budget", parsed_or_null(r->budget_json), "summary", sum);
    if (!o)
        return NULL;
    json_t *metric = json_object_get(sum, "metric"), *objective = json_object_get(sum, "objective");
    json_object_set(o, "metric", json_is_string(metric) ? metric : json_null());
    json_object_set(o, "objective", json_is_string(objective) ? objective : json_null());
    return o;
}

spak_status spak_export_run(spak_store *st, const char *run_id, json_t **out, spak_err *err)
{
    *out = NULL;
    spak_run r = {0};
    spak_eval *ev = NULL;
    spak_candidate *cands = NULL;
    size_t n_ev = 0, n_c = 0;
    json_t *doc = NULL, *evals = NULL;
    spak_status s = spak_store_run_get(st, run_id, &r, err);
    if (s == SPAK_OK)
        s = spak_store_eval_list(st, run_id, &ev, &n_ev, err);
    if (s == SPAK_OK)
        s = spak_store_candidate_list(st, run_id, &cands, &n_c, err);
    if (s != SPAK_OK)
        goto out;
    json_t *run = run_object(&r);
    doc = run ? json_pack("{s:s,s:s,s:o,s:[]}", "format", SPAK_EXPORT_FORMAT, "version", SPAK_EXPORT_VERSION, "run",
                          run, "evaluations")
              : NULL;
    evals = json_object_get(doc, "evaluations");
    if (!evals) {
        s = spak_errf(err, SPAK_ERR_NOMEM, "out of memory exporting run %s", run_id);
        goto out;
    }
    const char *metric = json_string_value(json_object_get(run, "metric"));
    for (size_t i = 0; i < n_ev; i++) {
        json_t *e = evaluation_json(st, run_id, &ev[i], cands, n_c, metric);
        if (!e || json_array_append_new(evals, e) != 0) {
            s = spak_errf(err, SPAK_ERR_NOMEM, "out of memory exporting run %s", run_id);
            goto out;
        }
    }
    *out = doc;
    doc = NULL;
out:
    json_decref(doc);
    spak_store_run_free(&r);
    spak_store_evals_free(ev, n_ev);
    spak_store_candidates_free(cands, n_c);
    return s;
}

/* ---- reading a document back ---- */

/* Whether arr is absent, null or an array of numbers. */
static bool numbers_or_absent(const json_t *arr)
{
    return !arr || json_is_null(arr) || numbers(arr, 0);
}

/* The first thing in evaluation e (index i) that the readers of a document
 * could not rely on, said into err; SPAK_OK when there is none. */
static spak_status check_evaluation(const json_t *e, size_t i, spak_err *err)
{
    if (!json_is_object(e) || !json_is_integer(json_object_get(e, "eval_id")) ||
        !json_is_string(json_object_get(e, "candidate")) || !json_is_string(json_object_get(e, "status")))
        return spak_errf(err, SPAK_ERR_ARG,
                         "evaluations[%zu] is not an object with an integer eval_id, a string candidate and a string "
                         "status",
                         i);
    json_t *ms = json_object_get(e, "measurements");
    if (ms && !json_is_array(ms))
        return spak_errf(err, SPAK_ERR_ARG, "evaluations[%zu].measurements is not an array", i);
    size_t k;
    json_t *m;
    json_array_foreach(ms, k, m) {
        if (!json_is_object(m) || !numbers_or_absent(json_object_get(m, SPAK_FIELD_SAMPLES_MS)))
            return spak_errf(err, SPAK_ERR_ARG,
                             "evaluations[%zu].measurements[%zu] is not an object whose samples_ms are numbers", i,
                             k);
    }
    json_t *p = json_object_get(e, "params");
    if (p && !json_is_object(p) && !json_is_null(p))
        return spak_errf(err, SPAK_ERR_ARG, "evaluations[%zu].params is not an object", i);
    return SPAK_OK;
}

spak_status spak_export_read(const char *text, size_t len, json_t **out, spak_err *err)
{
    *out = NULL;
    if (len > SPAK_EXPORT_MAX_BYTES)
        return spak_errf(err, SPAK_ERR_LIMIT, "export document of %zu bytes is over the cap of %zu", len,
                         SPAK_EXPORT_MAX_BYTES);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return spak_errf(err, SPAK_ERR_ARG, "%d:%d: not JSON: %s", je.line, je.column, je.text);
    spak_status s = SPAK_OK;
    const char *fmt = json_string_value(json_object_get(doc, "format"));
    const char *ver = json_string_value(json_object_get(doc, "version"));
    json_t *run = json_object_get(doc, "run"), *evals = json_object_get(doc, "evaluations");
    if (!fmt || strcmp(fmt, SPAK_EXPORT_FORMAT) != 0)
        s = spak_errf(err, SPAK_ERR_ARG, "not a spak export document (format is not \"%s\")", SPAK_EXPORT_FORMAT);
    else if (!ver || strncmp(ver, SPAK_EXPORT_VERSION, 2) != 0)
        s = spak_errf(err, SPAK_ERR_ARG, "export document version '%s' is not %c.x (this spak reads %s)",
                      ver ? ver : "(none)", SPAK_EXPORT_VERSION[0], SPAK_EXPORT_VERSION);
    else if (!json_is_object(run) || !json_is_string(json_object_get(run, "run_id")))
        s = spak_errf(err, SPAK_ERR_ARG, "the document's run is not an object with a string run_id");
    else if (!json_is_array(evals))
        s = spak_errf(err, SPAK_ERR_ARG, "the document's evaluations are not an array");
    for (size_t i = 0; s == SPAK_OK && i < json_array_size(evals); i++)
        s = check_evaluation(json_array_get(evals, i), i, err);
    if (s != SPAK_OK) {
        json_decref(doc);
        return s;
    }
    *out = doc;
    return SPAK_OK;
}

/* ---- CSV ---- */

/* v in the shortest form that reads back to the same double (%.15g is
 * enough for most; %.17g always is) */
static void fmt_shortest(char *buf, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* the CSV being written: the buffer and the first failure of an append */
typedef struct csvw {
    spak_buf *b;
    spak_status st;
} csvw;

static void put(csvw *w, const char *s, size_t n)
{
    if (w->st == SPAK_OK)
        w->st = spak_buf_append(w->b, s, n);
}

static void puts_(csvw *w, const char *s)
{
    put(w, s, strlen(s));
}

/* one CSV field: quoted when it holds a separator, a quote or a line
 * break; text (not a number) that a spreadsheet would read as a formula
 * gets a leading ' */
static void csv_field(csvw *w, const char *s, bool text)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    bool formula = text && s[0] && strchr("=+-@\t\r", s[0]);
    if (quote)
        put(w, "\"", 1);
    if (formula)
        put(w, "'", 1);
    for (const char *p = s; *p; p++) {
        const char *q = strchr(p, '"');
        size_t n = q ? (size_t)(q - p) + 1 : strlen(p);
        put(w, p, n);
        if (q)
            put(w, "\"", 1);
        p += n - 1;
    }
    if (quote)
        put(w, "\"", 1);
}

/* the CSV field of a JSON value: empty for null or absent, numbers in their
 * shortest form, true/false, strings as text, anything else as its JSON */
static void csv_value(csvw *w, const json_t *v)
{
    char num[40];
    if (!v || json_is_null(v))
        return;
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        csv_field(w, num, false);
    } else if (json_is_real(v)) {
        fmt_shortest(num, sizeof num, json_real_value(v));
        csv_field(w, num, false);
    } else if (json_is_boolean(v)) {
        csv_field(w, json_is_true(v) ? "true" : "false", false);
    } else if (json_is_string(v)) {
        csv_field(w, json_string_value(v), true);
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t && w->st == SPAK_OK)
            w->st = SPAK_ERR_NOMEM;
        csv_field(w, t ? t : "", true);
        free(t);
    }
}

/* the numbers of arr separated by spaces, as one field (never quoted) */
static void csv_samples(csvw *w, const json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        char num[40];
        fmt_shortest(num, sizeof num, json_number_value(v));
        if (i)
            put(w, " ", 1);
        puts_(w, num);
    }
}

static const char *const csv_eval_cols[] = {"status", "correct", "metric", "ratio", "ratio_lo", "ratio_hi",
                                            "bottleneck", "seconds"};
static const char *const csv_meas_cols[] = {SPAK_FIELD_SHAPE, SPAK_FIELD_TIME_MS, SPAK_FIELD_TIME_MS_P20,
                                            SPAK_FIELD_TIME_MS_P80, SPAK_FIELD_REPS};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* one row: evaluation e, measurement m (NULL: none), the parameter names */
static void csv_row(csvw *w, const char *run_id, const json_t *e, const json_t *m, const json_t *names)
{
    csv_field(w, run_id, true);
    put(w, ",", 1);
    csv_value(w, json_object_get(e, "eval_id"));
    put(w, ",", 1);
    csv_value(w, json_object_get(e, "candidate"));
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm) {
        put(w, ",", 1);
        csv_value(w, json_object_get(json_object_get(e, "params"), json_string_value(nm)));
    }
    json_t *ci = json_object_get(e, "ratio_ci");
    for (size_t k = 0; k < N_OF(csv_eval_cols); k++) {
        put(w, ",", 1);
        if (strcmp(csv_eval_cols[k], "ratio_lo") == 0)
            csv_value(w, json_array_get(ci, 0));
        else if (strcmp(csv_eval_cols[k], "ratio_hi") == 0)
            csv_value(w, json_array_get(ci, 1));
        else
            csv_value(w, json_object_get(e, csv_eval_cols[k]));
    }
    for (size_t k = 0; k < N_OF(csv_meas_cols); k++) {
        put(w, ",", 1);
        csv_value(w, m ? json_object_get(m, csv_meas_cols[k]) : NULL);
    }
    put(w, ",", 1);
    csv_samples(w, m ? json_object_get(m, SPAK_FIELD_SAMPLES_MS) : NULL);
    put(w, ",", 1);
    csv_value(w, json_object_get(e, "error"));
    puts_(w, "\r\n");
}

/* the parameter names of every evaluation, in order of first appearance */
static json_t *param_names(const json_t *evals)
{
    json_t *names = json_array(), *seen = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(evals, i, e) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(e, "params"), k, v) {
            if (!json_object_get(seen, k)) {
                json_object_set_new(seen, k, json_true());
                json_array_append_new(names, json_string(k));
            }
        }
    }
    json_decref(seen);
    return names;
}

spak_status spak_export_csv(const json_t *doc, spak_buf *out, spak_err *err)
{
    csvw w = {out, SPAK_OK};
    json_t *evals = json_object_get(doc, "evaluations");
    const char *run_id = json_string_value(json_object_get(json_object_get(doc, "run"), "run_id"));
    json_t *names = param_names(evals);
    puts_(&w, "run_id,eval_id,candidate");
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        put(&w, ",", 1);
        puts_(&w, "param.");
        csv_field(&w, json_string_value(v), true);
    }
    for (size_t k = 0; k < N_OF(csv_eval_cols); k++) {
        put(&w, ",", 1);
        puts_(&w, csv_eval_cols[k]);
    }
    for (size_t k = 0; k < N_OF(csv_meas_cols); k++) {
        put(&w, ",", 1);
        puts_(&w, csv_meas_cols[k]);
    }
    puts_(&w, ",samples_ms,error\r\n");
    json_array_foreach(evals, i, v) {
        json_t *ms = json_object_get(v, "measurements");
        if (json_array_size(ms) == 0)
            csv_row(&w, run_id ? run_id : "", v, NULL, names);
        size_t k;
        json_t *m;
        json_array_foreach(ms, k, m) csv_row(&w, run_id ? run_id : "", v, m, names);
    }
    json_decref(names);
    if (w.st != SPAK_OK)
        return spak_errf(err, w.st, "cannot write the CSV: %s", spak_status_name(w.st));
    return SPAK_OK;
}

/* ---- T4 ---- */

/* how an evaluation ended, in T4's words */
static const char *t4_invalidity(const json_t *e)
{
    const char *status = json_string_value(json_object_get(e, "status"));
    const char *exit = json_string_value(json_object_get(e, "exit"));
    if (status && strcmp(status, SPAK_EVAL_DONE) == 0)
        return "correct";
    if (json_is_false(json_object_get(e, "correct")))
        return "correctness";
    if (exit && strncmp(exit, "timeout", 7) == 0)
        return "timeout";
    /* a candidate that did not build was never run */
    if (!exit || strcmp(exit, "not run") == 0)
        return "compile";
    return "runtime";
}

/* one T4 measurement {name, value, unit}, when v is a number, a string or
 * an array */
static void t4_measurement(json_t *list, const char *name, const json_t *v, const char *unit)
{
    if (json_is_number(v) || json_is_string(v) || json_is_array(v))
        json_array_append_new(list, json_pack("{s:s,s:O,s:s}", "name", name, "value", v, "unit", unit));
}

/* The declared kernel an evaluation's records name ("kernel"), or NULL. */
static const json_t *t4_kernel(const json_t *e)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(e, "records"), i, r) {
        const json_t *k = json_object_get(r, "kernel");
        if (json_is_string(k))
            return k;
    }
    return NULL;
}

/* one T4 result of evaluation e and its measurement m (NULL: none) */
static json_t *t4_result(const json_t *e, const json_t *m, const char *metric)
{
    char ts[64] = "";
    double t = json_number_value(json_object_get(e, "started_at"));
    if (isfinite(t) && t > 0)
        spak_format_utc(t, ts, sizeof ts);
    json_t *cfg = json_object_get(e, "params");
    json_t *samples = m ? json_object_get(m, SPAK_FIELD_SAMPLES_MS) : NULL;
    json_t *r = json_pack("{s:s,s:o,s:[s],s:{s:o},s:s,s:i}", "timestamp", ts, "configuration",
                          json_is_object(cfg) ? json_deep_copy(cfg) : json_object(), "objectives",
                          metric ? metric : SPAK_FIELD_TIME_MS, "times", "runtimes",
                          json_is_array(samples) ? json_deep_copy(samples) : json_array(), "invalidity",
                          t4_invalidity(e), "correctness", json_is_true(json_object_get(e, "correct")) ? 1 : 0);
    if (!r)
        return NULL;
    json_t *ms = json_array();
    if (m) {
        t4_measurement(ms, metric ? metric : "metric", json_object_get(m, "metric"), "");
        for (size_t k = 0; k < N_OF(csv_meas_cols); k++)
            t4_measurement(ms, csv_meas_cols[k], json_object_get(m, csv_meas_cols[k]),
                           strncmp(csv_meas_cols[k], "time_ms", 7) == 0 ? "ms" : "");
        t4_measurement(ms, SPAK_FIELD_RATIO, json_object_get(m, SPAK_FIELD_RATIO), "");
        t4_measurement(ms, SPAK_FIELD_RATIO_CI, json_object_get(m, SPAK_FIELD_RATIO_CI), "");
    }
    t4_measurement(ms, SPAK_FIELD_BOTTLENECK, json_object_get(e, "bottleneck"), "");
    /* a declared kernel's results (docs/t1.md): its name, and whether a
     * judge checked them against a reference (T4 has no field for either) */
    t4_measurement(ms, "kernel", t4_kernel(e), "");
    if (json_is_false(json_object_get(e, "trusted"))) {
        json_t *no = json_string("false");
        t4_measurement(ms, "spak_trusted", no, "");
        json_decref(no);
    }
    t4_measurement(ms, "spak_eval_id", json_object_get(e, "eval_id"), "");
    t4_measurement(ms, "spak_candidate", json_object_get(e, "candidate"), "");
    json_object_set_new(r, "measurements", ms);
    return r;
}

spak_status spak_export_t4(const json_t *doc, json_t **out, spak_err *err)
{
    const json_t *run = json_object_get(doc, "run");
    const char *metric = json_string_value(json_object_get(run, "metric"));
    json_t *dev = json_object_get(run, "device");
    json_t *t4 = json_pack("{s:s,s:[],s:{s:s,s:s,s:s?,s:o}}", "schema_version", SPAK_EXPORT_T4_VERSION, "results",
                           "metadata", "timeunit", "milliseconds", "producer", "spak", "spak_run",
                           json_string_value(json_object_get(run, "run_id")), "device",
                           dev ? json_deep_copy(dev) : json_null());
    json_t *results = json_object_get(t4, "results");
    bool ok = results != NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "evaluations"), i, e) {
        const json_t *k = t4_kernel(e);
        if (k && ok) {  /* the run's declared kernel, as Kernel Tuner's metadata names its kernel */
            ok = json_object_set(json_object_get(t4, "metadata"), "kernel", (json_t *)k) == 0;
            break;
        }
    }
    json_array_foreach(json_object_get(doc, "evaluations"), i, e) {
        json_t *ms = json_object_get(e, "measurements");
        if (json_array_size(ms) == 0 && ok)
            ok = json_array_append_new(results, t4_result(e, NULL, metric)) == 0;
        size_t k;
        json_t *m;
        json_array_foreach(ms, k, m) if (ok) ok = json_array_append_new(results, t4_result(e, m, metric)) == 0;
    }
    if (!ok) {
        json_decref(t4);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory writing T4");
    }
    *out = t4;
    return SPAK_OK;
}
