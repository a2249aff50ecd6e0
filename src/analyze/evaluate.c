/* evaluate.c - the ANALYZE step of one evaluation (evaluate.h). */
#include "analyze/evaluate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/exec_files.h"
#include "analyze/executor.h"
#include "analyze/records.h"
#include "analyze/views.h"
#include "spec/space.h"

void spak_outcome_init(spak_outcome *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->metric = oc->ratio = oc->ratio_lo = oc->ratio_hi = NAN;
    oc->cost_build_s = oc->cost_measure_s = oc->cost_read_s = NAN;
    oc->correct = -1;
    oc->node_euid = -1;
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
    /* the evaluation's reason: the first failure the candidate is blamed for
     * (a wrong value, a forbidden act of its runner, an impossible speed)
     * before the first that a judge put on the machine ("busy",
     * "interference"): a candidate that exhausted its byte budget on a loaded
     * machine is failed for the budget, not for the load */
    char fail_reason[400] = "";
    bool reason_machine = false;
    json_array_foreach(oc->valid, i, r) {
        const char *verdict = json_string_value(json_object_get(r, SPAK_FIELD_VERDICT));
        json_t *p = json_object_get(r, SPAK_FIELD_PASSED);
        if (json_is_boolean(p)) {
            if (json_is_true(p)) {
                if (correct == -1)
                    correct = 1;
            } else {
                bool machine = verdict && (strcmp(verdict, SPAK_VERDICT_BUSY) == 0 ||
                                           strcmp(verdict, SPAK_VERDICT_INTERFERENCE) == 0);
                if (correct != 0 || (reason_machine && !machine)) {
                    const char *reason = json_string_value(json_object_get(r, SPAK_FIELD_REASON));
                    const char *shape = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
                    spak_snprintf(fail_reason, sizeof fail_reason, "wrong%s%s%s%s", shape ? " at " : "",
                                  shape ? shape : "", reason ? ": " : "", reason ? reason : "");
                    reason_machine = machine;
                }
                correct = 0;
            }
        }
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
    if (!target || !spak_measure_is_judge(argv0, bin_dir, target))
        return false;
    if (strcmp(target, "cpu") == 0)
        return true;
    /* CUDA: the GEMM and FMHA judges take --stop-slower-than; the declared kernels' does not yet */
    char exe[PATH_MAX];
    if (strcmp(target, "cuda") != 0 || !realpath(argv0, exe))
        return false;
    const char *base = strrchr(exe, '/') + 1;  /* an absolute path */
    return
           (strcmp(base, "spak-harness-cuda") == 0 || strcmp(base, "spak-harness-cuda-fmha") == 0);
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

void spak_measure_base(spak_measure_job *mj, const spak_model *m, const spak_loop_def *l, const spak_engine_opts *o,
                       const char *home, const char *target, spak_store *store, const char *run_id)
{
    *mj = (spak_measure_job){.home = home, .target = target, .timeout_s = o->eval_timeout_s, .schema = &m->schema,
                             .metric = l->metric, .bin_dir = o->bin_dir, .model = m, .cmd_template = l->cmd,
                             .allow_weak_isolation = o->allow_weak_isolation, .store = store, .run_id = run_id,
                             .cuda_device = -1};
    mj->executor = o->executor ? o->executor : l->executor;
    const char *const *cli[4] = {&o->slurm.partition, &o->slurm.time, &o->slurm.account, &o->slurm.gpus};
    const char *const *spec[4] = {&l->slurm.partition, &l->slurm.time, &l->slurm.account, &l->slurm.gpus};
    const char **out[4] = {&mj->slurm.partition, &mj->slurm.time, &mj->slurm.account, &mj->slurm.gpus};
    for (int i = 0; i < 4; i++)
        *out[i] = *cli[i] ? *cli[i] : *spec[i];
}

/* The executor's site for job (a remote executor's job folder and
 * options), with the job journaled through job_submitted; oc: what the
 * BUILD step gave, kept with the job (keep_build). */
typedef struct submit_ctx {
    const spak_measure_job *job;
    bool judge;
    const char *executor;
    const spak_outcome *oc;
} submit_ctx;

/* The file of a remote job's folder that keeps what only the submitting
 * process knew: the build log, the parameters that cannot act, the
 * proposal's note. A resumed run re-attaching to the job reads it back,
 * so that the evaluation it stores is the one an uninterrupted run stores. */
#define KEEP_FILE "eval.json"
#define KEEP_LOG "build.log"  /* the build log as it is: a compiler's bytes need not be UTF-8 (JSON's) */
#define KEEP_MAX_BYTES (8u << 20)

static spak_status keep_build(const char *job_dir, const spak_measure_job *job, const spak_outcome *oc, spak_err *err)
{
    char path[PATH_MAX + 16];
    spak_status st = SPAK_OK;
    if (oc && oc->build_log) {
        spak_snprintf(path, sizeof path, "%s/" KEEP_LOG, job_dir);
        st = spak_write_file_atomic(path, oc->build_log, strlen(oc->build_log), err);
    }
    if (st != SPAK_OK)
        return st;
    json_t *k = json_object();
    if (oc && oc->reach_checked)
        json_object_set_new(k, "unreached", json_string(oc->unreached));
    if (job->note && job->note_key) {
        json_object_set_new(k, "note", json_deep_copy(job->note));
        json_object_set_new(k, "note_key", json_string(job->note_key));
    }
    char *text = json_dumps(k, JSON_COMPACT);
    json_decref(k);
    if (!text)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_snprintf(path, sizeof path, "%s/" KEEP_FILE, job_dir);
    st = spak_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return st;
}

/* The note keys a proposal may carry (strategy.h: static strings): a kept
 * one is read back as the static it was. */
static const char *note_key_static(const char *k)
{
    static const char *const keys[] = {"llm", "external"};
    for (size_t i = 0; k && i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i]) == 0)
            return keys[i];
    return NULL;
}

/* keep_build's file back into oc and *note / *note_key; a job submitted
 * before spak kept it has none (nothing is read, no error). */
static void keep_read(const char *job_dir, spak_outcome *oc, json_t **note, const char **note_key)
{
    char path[PATH_MAX + 16], *text = NULL;
    size_t len = 0;
    spak_snprintf(path, sizeof path, "%s/" KEEP_LOG, job_dir);
    if (spak_read_file(path, KEEP_MAX_BYTES, &text, &len, NULL) == SPAK_OK)
        oc->build_log = text;  /* the outcome's now */
    text = NULL;
    spak_snprintf(path, sizeof path, "%s/" KEEP_FILE, job_dir);
    if (spak_read_file(path, KEEP_MAX_BYTES, &text, &len, NULL) != SPAK_OK)
        return;
    json_t *k = json_loadb(text, len, 0, NULL);
    free(text);
    const char *unr = json_string_value(json_object_get(k, "unreached"));
    if (unr) {
        oc->reach_checked = true;
        spak_snprintf(oc->unreached, sizeof oc->unreached, "%s", unr);
    }
    const char *nk = note_key_static(json_string_value(json_object_get(k, "note_key")));
    if (nk && json_is_object(json_object_get(k, "note"))) {
        *note = json_incref(json_object_get(k, "note"));
        *note_key = nk;
    }
    json_decref(k);
}

/* A jobs row written (put) or closed (state): from the thread that
 * measures, a worker of engine_sched.c when several evaluations are in
 * flight, while the engine's thread uses the run's store handle (one
 * thread at a time): through a connection of its own to the same file
 * (WAL and the busy timeout order the two). */
static spak_status job_row(const spak_measure_job *job, const spak_job *put, const char *state, spak_err *err)
{
    if (!job->store || !job->run_id)
        return SPAK_OK;
    spak_store *st = NULL;
    spak_status s = spak_store_open(spak_store_path(job->store), &st, err);
    if (s == SPAK_OK)
        s = put ? spak_store_job_put(st, job->run_id, put, err)
                : spak_store_job_end(st, job->run_id, job->eval_id, state, err);
    if (st)
        spak_store_close(st);
    return s;
}

static spak_status job_submitted(void *ud, const char *job_id, const char *job_dir, spak_err *err)
{
    const submit_ctx *c = ud;
    spak_job j = {.eval_id = c->job->eval_id, .executor = (char *)c->executor, .job_id = (char *)job_id,
                  .job_dir = (char *)job_dir, .trusted = c->judge};
    spak_status st = keep_build(job_dir, c->job, c->oc, err);  /* before the row: a job re-attached has it */
    return st == SPAK_OK ? job_row(c->job, &j, NULL, err) : st;
}

/* Where and as whom the outcome ran, from the executor's site (a cluster's
 * job) or this process (the local executor). */
static void note_site(spak_outcome *oc, const char *executor, const spak_exec_site *site, bool remote)
{
    spak_snprintf(oc->executor, sizeof oc->executor, "%s", executor);
    if (!remote) {
        oc->node_euid = (long)geteuid();
        return;
    }
    spak_snprintf(oc->job_id, sizeof oc->job_id, "%s", site->job_id);
    spak_snprintf(oc->job_state, sizeof oc->job_state, "%s", site->state);
    spak_snprintf(oc->node, sizeof oc->node, "%s", site->node);
    oc->node_euid = site->node_euid;
    oc->node_userns = site->node_userns;
}

/* The outcome of a finished command: its records scanned, validated and
 * read; the shapes and the isolation checked. */
static spak_status measure_read(const spak_measure_job *job, bool judge, spak_outcome *oc, spak_err *err)
{
    oc->ran = true;
    oc->trusted = judge;
    oc->profile = judge ? "judge" : "candidate";
    spak_status st = spak_trace_scan(oc->sr.out, oc->sr.out_len, NULL, &oc->traces, err);
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
    if (!oc->ok && !oc->stopped && strcmp(job->target, "cuda") == 0) {  /* which device failed, of several */
        size_t len = strlen(oc->why);
        spak_snprintf(oc->why + len, sizeof oc->why - len, " (on %s)", oc->device);
    }
    return SPAK_OK;
}

/* The executor's finish, and the job closed in the store with how it ended
 * (cancelled when the wait was interrupted: the evaluation stays
 * unfinished, and a resume proposes it again). */
static spak_status finish_job(const spak_executor *x, const spak_measure_job *job, spak_exec_job *ej,
                              spak_exec_site *site, spak_sandbox_result *out, spak_err *err)
{
    spak_status st = x->finish(ej, out, err);
    if (x->attach && (st == SPAK_OK || spak_executor_interrupted()))
        (void)job_row(job, NULL, site->state, NULL);  /* left open: a resume re-attaches */
    return st;
}

/* The device, the environment and the uid of one measurement: on the
 * CUDA target the command sees only its device (CUDA_VISIBLE_DEVICES); the
 * slot's uid is the candidate profile's own, and a judge is told it for
 * its runners (SPAK_SANDBOX_UID). envv (room for 8) is lim's env_extra
 * now, the sanitizer's kept. */
static void measure_env(const spak_measure_job *job, bool judge, spak_sandbox_limits *lim, char env[3][64],
                        const char **envv, spak_outcome *oc)
{
    size_t k = 0;
    for (const char *const *p = lim->env_extra; p && *p && k < 4; p++)
        envv[k++] = *p;
    bool cuda = strcmp(job->target, "cuda") == 0;
    if (job->device)
        spak_snprintf(oc->device, sizeof oc->device, "%s", job->device);
    else if (cuda)
        spak_snprintf(oc->device, sizeof oc->device, "cuda-%d", job->cuda_device > 0 ? job->cuda_device : 0);
    else
        spak_snprintf(oc->device, sizeof oc->device, "cpu");
    if (cuda && job->cuda_device >= 0) {
        spak_snprintf(env[0], sizeof env[0], "CUDA_VISIBLE_DEVICES=%d", job->cuda_device);
        envv[k++] = env[0];
    }
    if (job->sandbox_uid > 0 && geteuid() == 0) {
        oc->sandbox_uid = job->sandbox_uid;
        if (judge) {
            spak_snprintf(env[1], sizeof env[1], "SPAK_SANDBOX_UID=%ld", job->sandbox_uid);
            envv[k++] = env[1];
        } else {
            lim->run_as_uid = lim->run_as_gid = job->sandbox_uid;
        }
    }
    envv[k] = NULL;
    lim->env_extra = k ? envv : NULL;
}

/* The command through the executor, with the device's measurement lock
 * held around it when it runs here (measure_lock.h). */
static spak_status locked_run(const spak_executor *x, const spak_measure_job *job, const spak_sandbox_limits *lim,
                              spak_exec_site *site, spak_outcome *oc, spak_err *err)
{
    spak_mlock l = {.fd = -1};
    if (x->measures_here) {
        spak_status st = spak_mlock_take(job->lock_dir, oc->device, true, job->lock_who, job->on_lock_wait,
                                         job->lock_ud, &l, err);
        if (st != SPAK_OK)
            return st;
        oc->lock_wait_s = l.waited_s;
    } else {  /* it measures elsewhere: the job takes the lock where it runs */
        site->lock_device = oc->device;
    }
    oc->measured_from = spak_now_wall();
    spak_exec_job *ej = NULL;
    spak_status st = x->start(job->argv, job->workdir, lim, site, &ej, err);
    if (st == SPAK_OK)
        st = finish_job(x, job, ej, site, &oc->sr, err);
    oc->measured_to = spak_now_wall();
    if (!x->measures_here && site->measured_to > 0) {  /* the node's lock, not the queue */
        oc->measured_from = site->measured_from, oc->measured_to = site->measured_to;
        oc->lock_wait_s = site->lock_wait_s;
    }
    spak_mlock_release(&l);
    return st;
}

spak_status spak_measure(const spak_measure_job *job, spak_outcome *oc, spak_err *err)
{
    const char *name = job->executor ? job->executor : "local";
    const spak_executor *x = spak_executor_find(name);
    if (!x)
        return spak_errf(err, SPAK_ERR_ARG, "no executor named '%s'", name);
    bool judge = spak_measure_is_judge(job->argv ? job->argv[0] : NULL, job->bin_dir, job->target);
    char devdir[PATH_MAX + 32], job_dir[PATH_MAX + 8], helper[PATH_MAX + 32];
    spak_snprintf(devdir, sizeof devdir, "%s/cache/device", job->home);
    spak_snprintf(job_dir, sizeof job_dir, "%s.job", job->workdir);
    spak_snprintf(helper, sizeof helper, "%s/spak-exec-job", job->bin_dir ? job->bin_dir : ".");
    const char *rwv[2] = {devdir, NULL};
    spak_sandbox_limits lim;
    profile_limits(job, judge, rwv, &lim);
    char env[3][64];
    const char *envv[8] = {NULL};
    measure_env(job, judge, &lim, env, envv, oc);
    if (!x->measures_here && !judge && lim.run_as_uid < 0)  /* the node's sandbox drops to it where it can */
        lim.run_as_uid = lim.run_as_gid = 65534;
    submit_ctx sc = {job, judge, name, oc};
    spak_exec_site site = {.job_dir = job_dir, .helper = helper, .submitted = job_submitted, .ud = &sc};
    site.slurm = job->slurm;
    double t0 = spak_now_monotonic();
    spak_status st = locked_run(x, job, &lim, &site, oc, err);
    if (st != SPAK_OK)
        return st;
    note_site(oc, name, &site, x->attach != NULL);
    double t1 = spak_now_monotonic();
    st = measure_read(job, judge, oc, err);
    oc->cost_read_s = spak_now_monotonic() - t1;
    oc->cost_measure_s = spak_now_monotonic() - t0;
    return st;
}

spak_status spak_measure_attach(const spak_measure_job *base, const spak_job *j, spak_outcome *oc, json_t **note,
                                const char **note_key, spak_err *err)
{
    const spak_executor *x = spak_executor_find(j->executor);
    if (!x || !x->attach)
        return spak_errf(err, SPAK_ERR_ARG, "job %s of evaluation %lld: no executor '%s' to re-attach with",
                         j->job_id, (long long)j->eval_id, j->executor);
    spak_measure_job job = *base;
    job.eval_id = j->eval_id;
    spak_exec_site site = {.job_dir = j->job_dir};
    spak_snprintf(site.job_id, sizeof site.job_id, "%s", j->job_id);
    double t0 = spak_now_monotonic();
    keep_read(j->job_dir, oc, note, note_key);  /* the BUILD step's, as the killed process knew it */
    spak_exec_job *ej = NULL;
    spak_status st = x->attach(&site, &ej, err);
    if (st == SPAK_OK)
        st = finish_job(x, &job, ej, &site, &oc->sr, err);
    spak_exec_request rq;  /* the device it measured, as the request named it */
    if (st == SPAK_OK && site.measured_to > 0 && spak_exec_request_read(j->job_dir, &rq, NULL) == SPAK_OK) {
        spak_snprintf(oc->device, sizeof oc->device, "%s", rq.lock_device ? rq.lock_device : "");
        oc->measured_from = site.measured_from, oc->measured_to = site.measured_to;
        oc->lock_wait_s = site.lock_wait_s;
        spak_exec_request_free(&rq);
    }
    if (st != SPAK_OK)
        return st;
    note_site(oc, j->executor, &site, true);
    double t1 = spak_now_monotonic();
    st = measure_read(&job, j->trusted, oc, err);
    oc->cost_read_s = spak_now_monotonic() - t1;
    oc->cost_measure_s = spak_now_monotonic() - t0;
    oc->cost_reattached = true;  /* its build and its time before were the killed process's */
    return st;
}

spak_status spak_measure_open_jobs(const spak_measure_job *job, spak_job **out, size_t *n, spak_err *err)
{
    spak_job *jobs = NULL;
    size_t nj = 0, k = 0;
    *out = NULL;
    *n = 0;
    spak_status st = spak_store_job_list(job->store, job->run_id, true, &jobs, &nj, err);
    for (size_t i = 0; st == SPAK_OK && i < nj; i++) {
        spak_eval ev;
        st = spak_store_eval_get(job->store, job->run_id, jobs[i].eval_id, &ev, err);
        if (st != SPAK_OK)
            break;
        bool open = strcmp(ev.status, SPAK_EVAL_RUNNING) == 0;
        spak_store_eval_free(&ev);
        if (open) {  /* kept, in eval_id order */
            spak_job t = jobs[k];
            jobs[k++] = jobs[i];
            jobs[i] = t;
            continue;
        }
        /* finished (or given up) by the process that submitted it */
        (void)spak_store_job_end(job->store, job->run_id, jobs[i].eval_id, "UNKNOWN", NULL);
    }
    if (st != SPAK_OK) {
        spak_store_jobs_free(jobs, nj);
        return st;
    }
    for (size_t i = k; i < nj; i++) {  /* the closed ones' strings; the array keeps the first k */
        spak_job one = jobs[i];
        free(one.executor), free(one.job_id), free(one.job_dir), free(one.state);
    }
    *out = jobs;
    *n = k;
    return SPAK_OK;
}

/* The result's "cost" (docs/scale-out.md, "What is journaled"): the
 * engine's steps in seconds, and the judge's Cost records as they came (a
 * re-attached job has those alone); NULL when there is neither. The
 * sandbox's share is what the measurement took beyond the lock, the
 * command and the reading. */
/* seconds to 0.1 ms: never a real below 1e-4, which JSON writers print in
 * exponent forms that differ (jansson 1e-5, Python 1e-05) */
static json_t *cost_secs(double s)
{
    return json_real(round(s * 1e4) / 1e4);
}

static json_t *outcome_cost(const spak_outcome *oc)
{
    json_t *c = json_object();
    if (!isnan(oc->cost_build_s)) {
        json_object_set_new(c, "build_s", cost_secs(oc->cost_build_s));
    }
    if (!isnan(oc->cost_measure_s)) {
        double cmd = oc->ran ? oc->sr.wall_s : 0, read = isnan(oc->cost_read_s) ? 0 : oc->cost_read_s;
        json_object_set_new(c, "measure_s", cost_secs(oc->cost_measure_s));
        json_object_set_new(c, "lock_wait_s", cost_secs(oc->lock_wait_s));
        json_object_set_new(c, "command_s", cost_secs(cmd));
        json_object_set_new(c, "read_s", cost_secs(read));
        json_object_set_new(c, "sandbox_s", cost_secs(fmax(0, oc->cost_measure_s - oc->lock_wait_s - cmd - read)));
        if (oc->cost_reattached)
            json_object_set_new(c, "reattached", json_true());
    }
    json_t *judge = json_array();
    for (size_t i = 0; i < oc->traces.n; i++) {
        const json_t *r = oc->traces.items[i].json;
        const char *t = r ? json_string_value(json_object_get(r, SPAK_REC_TYPE)) : NULL;
        if (oc->traces.items[i].valid && t && strcmp(t, SPAK_REC_COST) == 0)
            json_array_append(judge, (json_t *)r);
    }
    if (json_array_size(judge))
        json_object_set_new(c, "judge", judge);
    else
        json_decref(judge);
    if (json_object_size(c) == 0) {
        json_decref(c);
        return NULL;
    }
    return c;
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
        /* spak as a cluster's user is not root: which layers hold then (docs/scale-out.md) */
        if (oc->node_euid >= 0)
            json_object_set_new(json_object_get(res, "isolation"), "as_root", json_boolean(oc->node_euid == 0));
        if (oc->job_id[0])  /* a user namespace of the user's made the layers root's (userns.h) */
            json_object_set_new(json_object_get(res, "isolation"), "userns", json_boolean(oc->node_userns));
    }
    if (oc->executor[0]) {
        json_t *x = json_pack("{s:s}", "name", oc->executor);
        if (oc->job_id[0])
            json_object_set_new(x, "job_id", json_string(oc->job_id));
        if (oc->job_state[0])
            json_object_set_new(x, "state", json_string(oc->job_state));
        if (oc->node[0])
            json_object_set_new(x, "node", json_string(oc->node));
        json_object_set_new(res, "executor", x);
    }
    if (oc->device[0]) {  /* where and when: two measurements of one device never overlap (measure_lock.h) */
        json_t *m = json_pack("{s:s,s:f,s:f,s:f}", "device", oc->device, "from", oc->measured_from, "to",
                              oc->measured_to, "lock_wait_s", oc->lock_wait_s);
        if (oc->sandbox_uid > 0)
            json_object_set_new(m, "sandbox_uid", json_integer(oc->sandbox_uid));
        json_object_set_new(res, "measurement", m);
    }
    json_t *cost = outcome_cost(oc);
    if (cost)
        json_object_set_new(res, "cost", cost);
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
    if (oc->counters[0])
        json_object_set_new(res, "counters", json_string(oc->counters));
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
