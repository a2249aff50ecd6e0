/* evaluate.c - the ANALYZE step of one evaluation (evaluate.h). */
#include "analyze/evaluate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/executor.h"
#include "analyze/records.h"
#include "analyze/views.h"
#include "spec/space.h"

void spak_outcome_init(spak_outcome *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->metric = oc->ratio = oc->ratio_lo = oc->ratio_hi = NAN;
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

/* A record's positive number field, when the record counts
 * (spak_trace_counts: held-out shapes are for checking; a harness may time
 * them, but their numbers never steer the search). */
static bool field_counts(const json_t *r, const char *field, double *x)
{
    json_t *v = json_object_get(r, field);
    if (!json_is_number(v) || json_number_value(v) <= 0 || !spak_trace_counts(r, NULL))
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
        const char *verdict = json_string_value(json_object_get(r, SPAK_FIELD_VERDICT));
        if (verdict && strcmp(verdict, SPAK_VERDICT_STOPPED) == 0) {
            /* the Performance record says how slow it was: its reason first */
            const char *reason = json_string_value(json_object_get(r, SPAK_FIELD_REASON));
            const char *type = json_string_value(json_object_get(r, SPAK_REC_TYPE));
            bool perf = type && strcmp(type, SPAK_REC_PERFORMANCE) == 0;
            if (!oc->stopped || perf)
                spak_snprintf(oc->why, sizeof oc->why, "%s", reason ? reason : "stopped early");
            oc->stopped = true;
        }
        json_t *b = json_object_get(r, SPAK_FIELD_BOTTLENECK);
        if (json_is_string(b) && spak_trace_counts(r, NULL))
            spak_snprintf(oc->bottleneck, sizeof oc->bottleneck, "%s", json_string_value(b));
    }
    oc->correct = correct;
    size_t nm = 0;
    oc->metric = geomean_field(oc->valid, metric, &nm);
    oc->ratio = geomean_field(oc->valid, SPAK_FIELD_RATIO, NULL);
    spak_views_ratio_ci(oc->valid, &oc->ratio_lo, &oc->ratio_hi, NULL);
    if (correct == 0) {
        oc->ok = oc->stopped = false;
        spak_snprintf(oc->why, sizeof oc->why, "%s", fail_reason);
        oc->metric = oc->ratio = oc->ratio_lo = oc->ratio_hi = NAN;
    } else if (oc->stopped) { /* censored: no metric, no ratio, not a failure */
        oc->ok = false;
        oc->metric = oc->ratio = oc->ratio_lo = oc->ratio_hi = NAN;
    } else if (nm == 0) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "no valid record with metric '%s'%s", metric,
                      oc->traces.n_errors ? " (some trace records did not fit the schema)" : "");
    } else {
        oc->ok = true;
    }
}

bool spak_measure_is_judge(const char *argv0, const char *bin_dir, const char *target)
{
    if (!argv0 || !strchr(argv0, '/') || !bin_dir || !target || !target[0] || strchr(target, '/'))
        return false;
    char exe[PATH_MAX], bin[PATH_MAX], runner[PATH_MAX + 64];
    if (!realpath(argv0, exe) || !realpath(bin_dir, bin) || access(exe, X_OK) != 0)
        return false;
    char *slash = strrchr(exe, '/');
    if (!slash || slash == exe ||
        (strncmp(slash + 1, "spak-harness-", 13) != 0 && strncmp(slash + 1, "spak-judge-", 11) != 0))
        return false;
    *slash = '\0';
    if (strcmp(exe, bin) != 0)
        return false;
    return spak_snprintf(runner, sizeof runner, "%s/spak-runner-%s", bin, target) && access(runner, X_OK) == 0;
}

bool spak_measure_judge_stops_early(const char *argv0, const char *bin_dir, const char *target)
{
    return target && strcmp(target, "cpu") == 0 && spak_measure_is_judge(argv0, bin_dir, target);
}

/* The sandbox of one measurement. Both profiles: a PID namespace (the
 * judge and every runner it started end together on a timeout), no
 * network, the wall timeout, capped output. The judge profile runs as the
 * invoking user (it starts its runners as the unprivileged uid itself and
 * writes the device ceilings cache), without Landlock or the read-only
 * mounts (it makes namespaces, mounts its runners' /proc and their freezer
 * cgroups) and without the syscall filter (it calls unshare and mount for
 * them), and without a byte budget of its own (its runners have theirs).
 * The candidate profile is the sandbox's default (the syscall filter and
 * the byte budget included), and no write access to the ceilings cache. */
static void profile_limits(const spak_measure_job *job, bool judge, const char **rwv, spak_sandbox_limits *lim)
{
    spak_sandbox_limits_default(lim);
    lim->wall_timeout_s = job->timeout_s > 0 ? job->timeout_s : 600;
    /* CPU time is the wall limit times the threads a harness may run on
     * (RLIMIT_CPU counts every thread); the wall clock is the real bound */
    lim->cpu_s = lim->wall_timeout_s * 64;
    lim->result_marker = SPAK_TRACE_MARKER;
    if (judge) {
        lim->run_as_uid = lim->run_as_gid = -1;
        lim->isolation_off |= SPAK_SANDBOX_NO_LANDLOCK | SPAK_SANDBOX_NO_MOUNTNS | SPAK_SANDBOX_NO_SECCOMP;
        lim->max_processes = 0; /* its runners are bounded by their own limits */
        lim->rw_dirs = rwv;     /* the harness caches the device's measured ceilings there */
        lim->workdir_bytes = 0; /* trusted: its runners have budgets of their own */
    }
    if (strcmp(job->target, "cuda") == 0)
        lim->address_space_bytes = 0;  /* the CUDA runtime maps far more than it uses */
#if defined(__SANITIZE_ADDRESS__)
    /* a sanitizer build's harness is an ASan binary too: its shadow memory is
     * a reservation of terabytes, which no address-space limit admits; and
     * LeakSanitizer stops the world with ptrace, which the syscall filter of
     * the candidate profile denies (the harnesses' leaks are checked outside
     * the sandbox, by tests/suites/cpu_harness.sh) */
    lim->address_space_bytes = 0;
    static const char *const asan_env[] = {"ASAN_OPTIONS=detect_leaks=0", NULL};
    lim->env_extra = asan_env;
#endif
}

static void add_missing(char *missing, size_t n, const char *what)
{
    size_t len = strlen(missing);
    spak_snprintf(missing + len, n - len, "%s%s", len ? "; " : "", what);
}

/* Whether the measurement's isolation met the minimum; missing[n] lists
 * what it lacked. The candidate profile: the sandbox's documented minimum
 * (spak_sandbox_isolation_ok: PID and network namespaces, filesystem rules,
 * the uid drop when spak is root, the syscall filter, rlimits). The judge
 * profile: the PID and network namespaces (its runners' isolation is the
 * judge's to check: it refuses to time a runner below the minimum). */
static bool isolation_meets_minimum(const spak_sandbox_result *r, bool judge, char *missing, size_t n)
{
    if (!judge)
        return spak_sandbox_isolation_ok(r, missing, n);
    missing[0] = '\0';
    if (!r->iso_pidns)
        add_missing(missing, n, "PID namespace");
    if (!r->iso_netns && !r->iso_landlock_net)
        add_missing(missing, n, "network namespace");
    return missing[0] == '\0';
}

/* The layers that were in effect, as names (spak_sandbox_isolation_names). */
static json_t *isolation_layers(const spak_sandbox_result *r)
{
    char names[SPAK_SANDBOX_ISOLATION_NAMES_MAX];
    if (!spak_sandbox_isolation_names(r, names, sizeof names))
        return json_array();
    json_t *a = json_loads(names, 0, NULL);
    return a ? a : json_array();
}

static void fail_outcome(spak_outcome *oc, const char *fmt, const char *a)
{
    oc->ok = oc->stopped = false;
    oc->metric = oc->ratio = oc->ratio_lo = oc->ratio_hi = NAN;
    spak_snprintf(oc->why, sizeof oc->why, fmt, a);
}

/* Every shape the problem declares needs a passing Correctness record: a
 * shape whose check crashed, or never ran, leaves the evaluation failed
 * (a held-out shape's child may die without a word). A candidate stopped
 * early was not checked to the end (its records say so): censored, it is
 * neither passed nor failed. */
static void require_checked_shapes(const char *const *shapes, spak_outcome *oc)
{
    for (const char *const *s = shapes; oc->ok && s && *s; s++) {
        bool found = false;
        size_t i;
        json_t *r;
        json_array_foreach(oc->valid, i, r) {
            const char *t = json_string_value(json_object_get(r, SPAK_REC_TYPE));
            const char *sh = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
            if (t && strcmp(t, SPAK_REC_CORRECTNESS) == 0 && sh && strcmp(sh, *s) == 0 &&
                json_is_true(json_object_get(r, SPAK_FIELD_PASSED)))
                found = true;
        }
        if (!found) {
            oc->correct = 0;
            fail_outcome(oc, "no passing check for shape %s", *s);
        }
    }
}

/* Whether the command template cmd names {{name}} (blanks allowed inside
 * the braces, as the expander allows them). */
static bool cmd_names(const char *cmd, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(cmd, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *q = p + 2;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, name, nl) != 0)
            continue;
        q += nl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, "}}", 2) == 0)
            return true;
    }
    return false;
}

void spak_measure_shapes(const spak_model *m, const char *cmd, const char *out[SPAK_MEASURE_MAX_SHAPES + 1])
{
    size_t n = 0;
    const char *lists[] = {"shapes", "heldout"};
    for (size_t k = 0; k < 2 && m->problem; k++) {
        /* a declared kernel's judge takes every shape from {{decl}} */
        if (!cmd_names(cmd, lists[k]) && !(m->kernel && cmd_names(cmd, "decl")))
            continue;
        const spak_entry *x = spak_block_find(m->problem, lists[k]);
        if (!x || !x->value || x->value->kind != SPAK_EX_LIST)
            continue;
        for (size_t i = 0; i < x->value->n_items && n < SPAK_MEASURE_MAX_SHAPES; i++) {
            const char *t = spak_value_text(x->value->items[i]);
            if (t && t[0])
                out[n++] = t;
        }
    }
    out[n] = NULL;
}

spak_status spak_measure(const spak_measure_job *job, spak_outcome *oc, spak_err *err)
{
    const spak_executor *x = spak_executor_find(job->executor);
    if (!x)
        return spak_errf(err, SPAK_ERR_ARG, "no executor named '%s'", job->executor);
    bool judge = spak_measure_is_judge(job->argv ? job->argv[0] : NULL, job->bin_dir, job->target);
    char devdir[PATH_MAX + 32];
    spak_snprintf(devdir, sizeof devdir, "%s/cache/device", job->home);
    const char *rwv[2] = {devdir, NULL};
    spak_sandbox_limits lim;
    profile_limits(job, judge, rwv, &lim);
    spak_status st = spak_executor_run(x, job->argv, job->workdir, &lim, &oc->sr, err);
    if (st != SPAK_OK)
        return st;
    oc->ran = true;
    oc->trusted = judge;
    oc->profile = judge ? "judge" : "candidate";
    st = spak_trace_scan(oc->sr.out, oc->sr.out_len, NULL, &oc->traces, err);
    if (st != SPAK_OK)
        return st;
    st = spak_trace_validate_all(&oc->traces, job->schema, err);
    if (st != SPAK_OK)
        return st;
    for (size_t i = 0; i < oc->traces.n; i++)
        if (oc->traces.items[i].valid && oc->traces.items[i].json) {
            json_array_append(oc->valid, oc->traces.items[i].json);
            /* a judge's record that says its check was untrusted (a
             * declared kernel without a reference) makes the evaluation so */
            if (json_is_false(json_object_get(oc->traces.items[i].json, "trusted")))
                oc->trusted = false;
        }
    read_outcome(job->metric, oc);
    if (!oc->sr.ok)
        fail_outcome(oc, "%s", oc->sr.why_text);
    const char *shapes[SPAK_MEASURE_MAX_SHAPES + 1] = {NULL};
    if (job->model && job->cmd_template)
        spak_measure_shapes(job->model, job->cmd_template, shapes);
    require_checked_shapes(shapes, oc);
    if (!isolation_meets_minimum(&oc->sr, judge, oc->isolation_missing, sizeof oc->isolation_missing) &&
        !job->allow_weak_isolation && (oc->ok || oc->stopped))
        fail_outcome(oc, "isolation below the minimum: no %s (--allow-weak-isolation accepts it)",
                     oc->isolation_missing);
    return SPAK_OK;
}

spak_status spak_outcome_store(spak_store *st, const char *run_id, int64_t eval_id, const spak_outcome *oc,
                               const json_t *note, const char *note_key, spak_err *err)
{
    char exit_desc[300];
    const char *why = oc->ran ? spak_sandbox_why_name(oc->sr.why) : "";
    if (oc->ran && strncmp(oc->sr.why_text, why, strlen(why)) == 0)
        spak_snprintf(exit_desc, sizeof exit_desc, "%s", oc->sr.why_text);  /* "exited with status 0" says it once */
    else if (oc->ran)
        spak_snprintf(exit_desc, sizeof exit_desc, "%s: %s", why, oc->sr.why_text);
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
        /* whose records these are, and how the command was confined */
        json_object_set_new(res, "trusted", json_boolean(oc->trusted));
        json_object_set_new(res, "isolation",
                            json_pack("{s:s,s:o,s:s}", "profile", oc->profile ? oc->profile : "candidate", "layers",
                                      isolation_layers(&oc->sr), "missing", oc->isolation_missing));
    }
    if (oc->reach_checked) {
        /* the parameters that cannot act on this candidate (build/reach.h) */
        json_t *u = json_array();
        for (const char *q = oc->unreached; *q;) {
            size_t k = strcspn(q, ",");
            json_array_append_new(u, json_stringn(q, k));
            q += k + (q[k] == ',');
        }
        json_object_set_new(res, "unreached", u);
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
        .status = oc->ok ? SPAK_EVAL_DONE : oc->stopped ? SPAK_EVAL_STOPPED : SPAK_EVAL_FAILED,
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

uint64_t spak_result_unreached(const char *result_json, const spak_space *sp)
{
    json_t *j = result_json ? json_loads(result_json, 0, NULL) : NULL;
    uint64_t bits = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "unreached"), i, x)
        for (size_t p = 0; p < sp->n && p < 64 && json_is_string(x); p++)
            if (strcmp(sp->params[p].name, json_string_value(x)) == 0)
                bits |= (uint64_t)1 << p;
    json_decref(j);
    return bits;
}

bool spak_result_untrusted(const char *result_json)
{
    json_t *j = result_json ? json_loads(result_json, 0, NULL) : NULL;
    bool u = json_is_false(json_object_get(j, "trusted"));
    json_decref(j);
    return u;
}
