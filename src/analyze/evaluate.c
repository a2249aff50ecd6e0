/* evaluate.c - the ANALYZE step of one evaluation (evaluate.h). */
#include "analyze/evaluate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/executor.h"

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
    if (!json_is_number(v) || json_number_value(v) <= 0 || json_is_true(json_object_get(r, "heldout")))
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
        json_t *p = json_object_get(r, "passed");
        if (json_is_boolean(p)) {
            if (json_is_true(p)) {
                if (correct == -1)
                    correct = 1;
            } else {
                if (correct != 0) {
                    const char *reason = json_string_value(json_object_get(r, "reason"));
                    const char *shape = json_string_value(json_object_get(r, "shape"));
                    spak_snprintf(fail_reason, sizeof fail_reason, "wrong%s%s%s%s", shape ? " at " : "",
                                  shape ? shape : "", reason ? ": " : "", reason ? reason : "");
                }
                correct = 0;
            }
        }
        json_t *b = json_object_get(r, "bottleneck");
        if (json_is_string(b))
            spak_snprintf(oc->bottleneck, sizeof oc->bottleneck, "%s", json_string_value(b));
    }
    oc->correct = correct;
    size_t nm = 0;
    oc->metric = geomean_field(oc->valid, metric, &nm);
    oc->ratio = geomean_field(oc->valid, "ratio", NULL);
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
