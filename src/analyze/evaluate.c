/* evaluate.c - the ANALYZE step of one evaluation (evaluate.h). */
#include "analyze/evaluate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/executor.h"
#include "analyze/records.h"

void spak_outcome_init(spak_outcome *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->metric = oc->ratio = NAN;
    oc->correct = -1;
    spak_trace_list_init(&oc->traces);
    oc->valid = json_array();
}

void spak_outcome_free(spak_outcome *oc)
{
    free(oc->build_log);
    if (oc->ran)
        spak_sandbox_result_free(&oc->sr);
    spak_trace_list_free(&oc->traces);
    json_decref(oc->valid);
}

/* A record's positive number field, unless the record is held out: held-out
 * shapes are for checking, a harness may time them but they never steer the
 * search. */
static bool field_counts(const json_t *r, const char *field, double *x)
{
    json_t *v = json_object_get(r, field);
    if (!json_is_number(v) || json_number_value(v) <= 0 || json_is_true(json_object_get(r, SPAK_FIELD_HELDOUT)))
        return false;
    *x = json_number_value(v);
    return true;
}

static double geomean_field(const json_t *recs, const char *field, size_t *n_out)
{
    double s = 0, x = 0, first = NAN;
    size_t n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (field_counts(r, field, &x)) {
            if (n == 0)
                first = x;
            s += log(x);
            n++;
        }
    }
    if (n_out)
        *n_out = n;
    if (n == 1)
        return first;  /* exact, not exp(log(x)) */
    return n ? exp(s / (double)n) : NAN;
}

/* Correctness, metric, ratio and bottleneck from oc->valid. */
static void read_outcome(const char *metric, spak_outcome *oc)
{
    /* correctness: every record carrying a boolean "passed" must say true */
    size_t i;
    json_t *r;
    int correct = -1;
    char fail_reason[400] = "";
    json_array_foreach(oc->valid, i, r) {
        json_t *p = json_object_get(r, SPAK_FIELD_PASSED);
        if (json_is_boolean(p)) {
            if (json_is_true(p)) {
                if (correct == -1)
                    correct = 1;
            } else {
                if (correct != 0) {
                    const char *reason = json_string_value(json_object_get(r, SPAK_FIELD_REASON));
                    const char *shape = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
                    spak_snprintf(fail_reason, sizeof fail_reason, "wrong%s%s%s%s", shape ? " at " : "",
                                  shape ? shape : "", reason ? ": " : "", reason ? reason : "");
                }
                correct = 0;
            }
        }
        json_t *b = json_object_get(r, SPAK_FIELD_BOTTLENECK);
        if (json_is_string(b))
            spak_snprintf(oc->bottleneck, sizeof oc->bottleneck, "%s", json_string_value(b));
    }
    oc->correct = correct;
    size_t nm = 0;
    oc->metric = geomean_field(oc->valid, metric, &nm);
    oc->ratio = geomean_field(oc->valid, SPAK_FIELD_RATIO, NULL);
    if (correct == 0) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "%s", fail_reason);
        oc->metric = NAN;
        oc->ratio = NAN;
    } else if (nm == 0) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "no valid record with metric '%s'%s", metric,
                      oc->traces.n_errors ? " (some trace records did not fit the schema)" : "");
    } else {
        oc->ok = true;
    }
}

spak_status spak_measure(const spak_measure_job *job, spak_outcome *oc, spak_err *err)
{
    const spak_executor *x = spak_executor_find(job->executor);
    if (!x)
        return spak_errf(err, SPAK_ERR_ARG, "no executor named '%s'", job->executor);
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = job->timeout_s > 0 ? job->timeout_s : 600;
    /* CPU time is the wall limit times the threads a harness may run on
     * (RLIMIT_CPU counts every thread); the wall clock is the real bound */
    lim.cpu_s = lim.wall_timeout_s * 64;
    lim.result_marker = SPAK_TRACE_MARKER;
    /* the harness caches the device's measured ceilings here */
    char devdir[PATH_MAX + 32];
    spak_snprintf(devdir, sizeof devdir, "%s/cache/device", job->home);
    const char *rwv[2] = {devdir, NULL};
    lim.rw_dirs = rwv;
    if (strcmp(job->target, "cuda") == 0)
        lim.address_space_bytes = 0;  /* the CUDA runtime maps far more than it uses */
#if defined(__SANITIZE_ADDRESS__)
    /* a sanitizer build's harness is an ASan binary too: its shadow memory is
     * a reservation of terabytes, which no address-space limit admits */
    lim.address_space_bytes = 0;
#endif
    spak_status st = spak_executor_run(x, job->argv, job->workdir, &lim, &oc->sr, err);
    if (st != SPAK_OK)
        return st;
    oc->ran = true;
    st = spak_trace_scan(oc->sr.out, oc->sr.out_len, NULL, &oc->traces, err);
    if (st != SPAK_OK)
        return st;
    st = spak_trace_validate_all(&oc->traces, job->schema, err);
    if (st != SPAK_OK)
        return st;
    for (size_t i = 0; i < oc->traces.n; i++)
        if (oc->traces.items[i].valid && oc->traces.items[i].json)
            json_array_append(oc->valid, oc->traces.items[i].json);
    read_outcome(job->metric, oc);
    if (!oc->sr.ok) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "%s", oc->sr.why_text);
        oc->metric = oc->ratio = NAN;
    }
    return SPAK_OK;
}

spak_status spak_outcome_store(spak_store *st, const char *run_id, int64_t eval_id, const spak_outcome *oc,
                               const json_t *note, const char *note_key, spak_err *err)
{
    char exit_desc[300];
    if (oc->ran)
        spak_snprintf(exit_desc, sizeof exit_desc, "%s: %s", spak_sandbox_why_name(oc->sr.why), oc->sr.why_text);
    else
        spak_snprintf(exit_desc, sizeof exit_desc, "not run");
    json_t *res = json_object();
    if (oc->ran) {
        json_object_set_new(res, "wall_s", json_real(oc->sr.wall_s));
        json_object_set_new(res, "cpu_s", json_real(oc->sr.cpu_s));
        json_object_set_new(res, "peak_rss_kb", json_integer(oc->sr.peak_rss_kb));
        if (oc->sr.warnings[0])
            json_object_set_new(res, "sandbox_warnings", json_string(oc->sr.warnings));
        json_object_set_new(res, "trace_errors", json_integer((json_int_t)oc->traces.n_errors));
    }
    if (note && note_key) {
        /* how it was proposed (an LLM's prediction) against what was measured */
        json_t *l = json_deep_copy(note);
        json_object_set_new(l, "measured_metric", oc->ok ? json_real(oc->metric) : json_null());
        json_object_set_new(res, note_key, l);
    }
    char *rj = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    spak_eval_result r = {
        .status = oc->ok ? SPAK_EVAL_DONE : SPAK_EVAL_FAILED,
        .build_log = oc->build_log,
        .stdout_tail = oc->ran ? oc->sr.out : NULL,
        .stdout_tail_len = oc->ran ? oc->sr.out_len : 0,
        .stderr_tail = oc->ran ? oc->sr.err : NULL,
        .stderr_tail_len = oc->ran ? oc->sr.err_len : 0,
        .exit_desc = exit_desc,
        .correct = oc->correct,
        .metric = oc->ok ? oc->metric : NAN,
        .ratio = oc->ok ? oc->ratio : NAN,
        .bottleneck = oc->bottleneck[0] ? oc->bottleneck : NULL,
        .result_json = rj,
        .error = oc->ok ? NULL : oc->why,
        .traces = oc->ran ? &oc->traces : NULL,
    };
    spak_status s = spak_store_eval_finish(st, run_id, eval_id, &r, err);
    free(rj);
    return s;
}

json_t *spak_eval_records(spak_store *st, const char *run_id, int64_t eval_id)
{
    spak_trace_row *rows = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (spak_store_trace_list(st, run_id, eval_id, &rows, &n, NULL) != SPAK_OK)
        return arr;
    for (size_t i = 0; i < n; i++)
        if (rows[i].valid && rows[i].record_json) {
            json_t *j = json_loads(rows[i].record_json, 0, NULL);
            if (j)
                json_array_append_new(arr, j);
        }
    spak_store_trace_rows_free(rows, n);
    return arr;
}
