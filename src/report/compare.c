/*
 * compare.c - one run against another, candidate by candidate (compare.h).
 */
#include "report/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/records.h"
#include "analyze/stats.h"
#include "store/store.h"
#include "util.h"

/* The newest done evaluation of each candidate key of doc, as an object
 * key -> evaluation (borrowed references into doc), and every key's newest
 * status in *last (key -> status string). */
static json_t *done_by_key(const json_t *doc, json_t **last)
{
    json_t *by = json_object();
    *last = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "evaluations"), i, e) {
        const char *key = json_string_value(json_object_get(e, "candidate"));
        const char *status = json_string_value(json_object_get(e, "status"));
        if (!key || !status)
            continue;
        json_object_set(*last, key, json_object_get(e, "status"));
        if (strcmp(status, SPAK_EVAL_DONE) == 0)
            json_object_set(by, key, e);
    }
    return by;
}

/* the measurement of e for shape (a string, or NULL for one without) */
static const json_t *measurement_for(const json_t *e, const json_t *shape)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(e, "measurements"), i, m) {
        const json_t *s = json_object_get(m, SPAK_FIELD_SHAPE);
        bool none = !s || json_is_null(s);
        if ((!shape && none) || (shape && json_is_string(s) && strcmp(json_string_value(s), json_string_value(shape)) == 0))
            return m;
    }
    return NULL;
}

/* the numbers of a samples array into a new array (*n of them); NULL when
 * there are none */
static double *samples_of(const json_t *m, size_t *n)
{
    const json_t *arr = json_object_get(m, SPAK_FIELD_SAMPLES_MS);
    *n = json_array_size(arr);
    double *x = *n ? malloc(*n * sizeof *x) : NULL;
    if (!x) {
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++)
        x[i] = json_number_value(json_array_get(arr, i));
    return x;
}

/* one row: candidate key, shape, A's and B's measurement */
static json_t *row_of(const char *key, const json_t *shape, const json_t *ea, const json_t *ma, const json_t *eb,
                      const json_t *mb, double level)
{
    size_t na, nb;
    double *xa = samples_of(ma, &na), *xb = samples_of(mb, &nb);
    spak_interval iv;
    bool have = spak_stats_ratio_ci_unpaired(xb, nb, xa, na, level, &iv);
    free(xa);
    free(xb);
    double ta = json_number_value(json_object_get(ma, SPAK_FIELD_TIME_MS));
    double tb = json_number_value(json_object_get(mb, SPAK_FIELD_TIME_MS));
    double point = have ? iv.point : (ta > 0 && tb > 0 ? tb / ta : NAN);
    const char *verdict = "unknown";
    if (have)
        verdict = iv.hi < 1 ? "faster" : iv.lo > 1 ? "slower" : "same";
    json_t *r = json_pack("{s:s,s:O,s:O,s:O,s:I,s:I,s:s}", "candidate", key, "shape", shape ? shape : json_null(),
                          "a_eval_id", json_object_get(ea, "eval_id"), "b_eval_id", json_object_get(eb, "eval_id"),
                          "a_reps", (json_int_t)na, "b_reps", (json_int_t)nb, "verdict", verdict);
    if (!r)
        return NULL;
    json_object_set_new(r, "a_time_ms", ta > 0 ? json_real(ta) : json_null());
    json_object_set_new(r, "b_time_ms", tb > 0 ? json_real(tb) : json_null());
    json_object_set_new(r, "ratio", isfinite(point) ? json_real(point) : json_null());
    json_object_set_new(r, "ratio_ci", have ? json_pack("[f,f]", iv.lo, iv.hi) : json_null());
    return r;
}

/* the rows of one candidate done in both runs: one per shape of A's
 * measurements that B measured too; a candidate with no shape in common
 * (or no measurements) gets one row without numbers, verdict unknown, so
 * that every candidate done in both runs is in the rows */
static void candidate_rows(json_t *rows, const char *key, const json_t *ea, const json_t *eb, double level)
{
    size_t before = json_array_size(rows), i;
    json_t *m;
    json_array_foreach(json_object_get(ea, "measurements"), i, m) {
        const json_t *shape = json_object_get(m, SPAK_FIELD_SHAPE);
        if (shape && !json_is_string(shape))
            shape = NULL;
        const json_t *mb = measurement_for(eb, shape);
        if (mb)
            json_array_append_new(rows, row_of(key, shape, ea, m, eb, mb, level));
    }
    if (json_array_size(rows) == before)
        json_array_append_new(rows, row_of(key, NULL, ea, NULL, eb, NULL, level));
}

/* the candidates done in `in` and not in `other` (whose newest statuses
 * are other_last): {candidate, in_other} with in_other the other run's
 * newest status of it, or "absent" */
static json_t *only_in(const json_t *in, const json_t *other, const json_t *other_last)
{
    json_t *arr = json_array();
    const char *key;
    json_t *e;
    json_object_foreach((json_t *)in, key, e) {
        if (json_object_get(other, key))
            continue;
        const char *st = json_string_value(json_object_get(other_last, key));
        json_array_append_new(arr, json_pack("{s:s,s:s}", "candidate", key, "in_other", st ? st : "absent"));
    }
    return arr;
}

/* counts of the verdicts and the geometric mean of the rows' ratios */
static void add_counts(json_t *out, const json_t *rows)
{
    long c[4] = {0};
    static const char *const names[4] = {"faster", "slower", "same", "unknown"};
    double lsum = 0;
    long nr = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *v = json_string_value(json_object_get(r, "verdict"));
        for (int k = 0; k < 4; k++)
            if (v && strcmp(v, names[k]) == 0)
                c[k]++;
        double x = json_number_value(json_object_get(r, "ratio"));
        if (x > 0) {
            lsum += log(x);
            nr++;
        }
    }
    json_t *counts = json_pack("{s:I}", "compared", (json_int_t)json_array_size(rows));
    for (int k = 0; k < 4; k++)
        json_object_set_new(counts, names[k], json_integer(c[k]));
    json_object_set_new(out, "counts", counts);
    json_object_set_new(out, "geomean_ratio", nr ? json_real(exp(lsum / (double)nr)) : json_null());
}

/* what the comparison says of one run */
static json_t *side_of(const json_t *doc)
{
    const json_t *run = json_object_get(doc, "run");
    json_t *s = json_object();
    static const char *const keep[] = {"run_id", "spec", "spec_hash", "status", "created_at", "device", "metric"};
    for (size_t k = 0; s && k < sizeof keep / sizeof keep[0]; k++) {
        json_t *v = json_object_get(run, keep[k]);
        json_object_set(s, keep[k], v ? v : json_null());
    }
    return s;
}

spak_status spak_compare_runs(const json_t *a, const json_t *b, double level, json_t **out, spak_err *err)
{
    *out = NULL;
    if (!(level > 0 && level < 1))
        return spak_errf(err, SPAK_ERR_ARG, "level %g is not between 0 and 1", level);
    json_t *last_a, *last_b;
    json_t *da = done_by_key(a, &last_a), *db = done_by_key(b, &last_b);
    json_t *rows = json_array();
    const char *key;
    json_t *ea;
    json_object_foreach(da, key, ea) {
        json_t *eb = json_object_get(db, key);
        if (eb)
            candidate_rows(rows, key, ea, eb, level);
    }
    json_t *o = json_pack("{s:o,s:o,s:f,s:s,s:o,s:o,s:o}", "a", side_of(a), "b", side_of(b), "level", level,
                          "ratio", "b_time_over_a_time", "rows", rows, "only_in_a", only_in(da, db, last_b),
                          "only_in_b", only_in(db, da, last_a));
    json_decref(da);
    json_decref(db);
    json_decref(last_a);
    json_decref(last_b);
    if (!o)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory comparing runs");
    add_counts(o, json_object_get(o, "rows"));
    *out = o;
    return SPAK_OK;
}
