/*
 * evaluate.h - the ANALYZE step of one evaluation: the measure command runs
 * in the sandbox (through an executor, executor.h); its trace records are
 * scanned, validated against the spec's trace_schema, and read: correctness
 * (every boolean "passed" true, and a passing Correctness record for every
 * shape the problem declares), the metric and the ratio (geometric means
 * over the shapes that count, never the held-out ones), the bottleneck.
 *
 * Trust: a measure command that is one of spak's own judges (a
 * spak-harness-* or spak-judge-* (the generic CUDA judge of declared
 * kernels) in spak's bin dir that has its runner, spak-runner-TARGET,
 * beside it: it runs candidates in sandboxed runners, never in its own
 * process) runs with the judge profile and its records are trusted. Any
 * other command runs with the candidate profile, and its records are
 * untrusted: stored and shown as such; so is an evaluation one of whose
 * records says "trusted": false (a declared kernel judged without a
 * reference). An evaluation whose isolation is
 * below the minimum fails, unless the run allows weak isolation.
 */
#ifndef SPAK_EVALUATE_H
#define SPAK_EVALUATE_H

#include <jansson.h>
#include <stdbool.h>
#include "analyze/executor.h"
#include "analyze/measure_lock.h"
#include "analyze/sandbox.h"
#include "analyze/trace.h"
#include "run_opts.h"
#include "spec/spec.h"
#include "store/store.h"

/* What one evaluation gave. Owns build_log, sr, traces and valid: free
 * with spak_outcome_free. */
typedef struct spak_outcome {
    bool ok;              /* correct and measured */
    bool stopped;         /* correct, stopped early as hopeless (a "stopped" verdict): why says so */
    int correct;          /* -1 unknown */
    double metric, ratio; /* NAN when unknown */
    double ratio_lo, ratio_hi; /* the ratio's interval (spak_views_ratio_ci), NAN without one */
    char why[512];        /* why not ok */
    char bottleneck[64];
    char *build_log;
    spak_sandbox_result sr;
    bool ran;             /* the measure command ran: sr and traces are set */
    spak_trace_list traces;
    json_t *valid;        /* array of the valid records */
    bool trusted;         /* the records came from one of spak's judges */
    const char *profile;  /* "judge" or "candidate" (static), once ran */
    char isolation_missing[256]; /* layers below the minimum, "" when none */
    bool reach_checked;   /* the BUILD step compared the parameters' preprocessed texts (build/reach.h) */
    char unreached[512];  /* then: the parameters that cannot act on this candidate, comma-separated */
    char counters[256];   /* whether the judge's hardware counters were asked for, and why
                             (analyze/counters.h); "" when the command asks for none */
    /* where it ran (executor.h): the executor's name, and for a cluster's
     * job its id, how it ended (Slurm's state), the node and the uid the
     * sandbox started as there; "" and -1 when not known */
    char executor[16];
    char job_id[SPAK_EXEC_ID_MAX], job_state[SPAK_EXEC_STATE_MAX], node[64];
    long node_euid;
    bool node_userns;     /* the sandbox ran as root of a user namespace of the user's (userns.h) */
    /* where and when it was measured (stored as the result's "measurement"):
     * the device ("cpu", "cuda-1"), the wall clock (seconds since the
     * epoch) from the measurement lock taken to the command's end, and the
     * seconds spent waiting for the lock; from 0 when nothing ran */
    char device[40];
    double measured_from, measured_to, lock_wait_s;
    long sandbox_uid;     /* the candidates' uid it was given, 0: the default */
    /* where the evaluation's wall time went (stored as the result's
     * "cost"): the BUILD step (a cache hit too: then well under a second), the
     * measurement from the executor's start to its records read, of it the
     * reading; NAN: the step did not run. The command's own seconds are
     * sr.wall_s, the lock's lock_wait_s; the judges' Cost records say where
     * the command's went. */
    double cost_build_s, cost_measure_s, cost_read_s;
    bool cost_reattached; /* measured by a job re-attached to: measure_s counts from the re-attach */
} spak_outcome;

void spak_outcome_init(spak_outcome *oc);
void spak_outcome_free(spak_outcome *oc);

/* One measurement. */
typedef struct spak_measure_job {
    const char *const *argv;   /* the measure command, expanded (candidate.h) */
    const char *workdir;
    const char *home;          /* the state directory: the harness caches ceilings in cache/device */
    const char *target;        /* "cuda" lifts the address-space limit */
    double timeout_s;          /* wall limit; <= 0: 600 */
    const spak_trace_schema *schema;
    const char *metric;        /* the loop's metric field */
    const char *executor;      /* executor.h name; NULL = "local" */
    const char *bin_dir;       /* spak's own: where its judges are (NULL: none is trusted) */
    /* The spec and the command's template (may be NULL): each shape the
     * command was given (spak_measure_shapes) needs a Correctness record
     * with that "shape" and passed true, else the evaluation fails. */
    const spak_model *model;
    const char *cmd_template;
    bool allow_weak_isolation; /* isolation below the minimum is recorded, not failed */
    /* A remote executor (slurm): what its jobs ask for, and where each job
     * is journaled (the store's jobs table, eval_id of run_id) as soon as
     * it exists. Its files go to WORKDIR.job/ (workdir is under the home,
     * which the cluster's nodes must share). */
    spak_slurm_opts slurm;
    spak_store *store;
    const char *run_id;
    int64_t eval_id;
    /* How the evaluation was proposed (strategy.h: its note and note_key;
     * NULL: none): a remote job keeps it, with the outcome's build log and
     * unreached parameters, for a resumed run that re-attaches to it. */
    const json_t *note;
    const char *note_key;
    /* The measurement lock (measure_lock.h), held around the command when
     * the executor measures here: device NULL = "cpu" ("cuda-0" on the CUDA
     * target), dir NULL = SPAK_MLOCK_DIR; who is written into the lock file;
     * on_lock_wait (may be NULL) is told when it must wait. */
    const char *lock_dir, *device, *lock_who;
    spak_mlock_wait_fn on_lock_wait;
    void *lock_ud;
    /* A CUDA device index (>= 0): the command sees only it
     * (CUDA_VISIBLE_DEVICES). -1: the environment says nothing. */
    int cuda_device;
    /* The uid candidates run as (when spak is root): the candidate
     * profile's own, the judge's runners' (SPAK_SANDBOX_UID). 0: the
     * sandbox's default. */
    long sandbox_uid;
} spak_measure_job;

/* What every measurement of loop l shares, into *mj (argv, workdir and
 * eval_id are each evaluation's): o's limits, and the executor and its
 * Slurm options, field by field the command line's (o->executor,
 * o->slurm) over the spec's (`executor:`, `slurm { ... }`). Borrows every
 * pointer given. */
void spak_measure_base(spak_measure_job *mj, const spak_model *m, const spak_loop_def *l, const spak_engine_opts *o,
                       const char *home, const char *target, spak_store *store, const char *run_id);

/* Whether argv0 (a measure command's expanded first word) is one of spak's
 * judges for target: its real path is a spak-harness-* or spak-judge-* file directly in
 * bin_dir's real path, and bin_dir holds spak-runner-TARGET beside it (a
 * harness without its runner loads candidates into its own process, so
 * its records cannot be trusted). */
bool spak_measure_is_judge(const char *argv0, const char *bin_dir, const char *target);

/* Whether a judge takes --stop-slower-than (the early stop of a hopeless
 * candidate): the CPU judge (kernels/cpu/common/judge.c) and the GEMM and
 * FMHA judges (kernels/cuda/common/session_device.cuh); not yet the declared
 * kernels' judge. */
bool spak_measure_judge_stops_early(const char *argv0, const char *bin_dir, const char *target);

#define SPAK_MEASURE_MAX_SHAPES 64
/* The shapes a measure command template cmd is given, {{shapes}} and
 * {{heldout}} of m's problem, into out (NULL-terminated, m's strings; at
 * most SPAK_MEASURE_MAX_SHAPES): the job's shapes; both lists when m
 * declares a kernel and cmd names {{decl}} (its judge reads them there).
 * None when cmd names neither (a user command that takes no shapes is not
 * held to them). */
void spak_measure_shapes(const spak_model *m, const char *cmd, const char *out[SPAK_MEASURE_MAX_SHAPES + 1]);

/* Run the job and read its outcome into oc (initialized by the caller).
 * A command that fails or records nothing usable is oc->ok false with
 * oc->why, and SPAK_OK; an error means the measurement could not be made. */
spak_status spak_measure(const spak_measure_job *job, spak_outcome *oc, spak_err *err);

/* The jobs of job->run_id that a remote executor submitted and no process
 * has seen end, whose evaluation is still running (a resumed run
 * re-attaches to them, engine_sched.c): into *out (eval_id order; free
 * with spak_store_jobs_free(*out, *n)). A job whose evaluation is no
 * longer unfinished is closed in the store and left out. */
spak_status spak_measure_open_jobs(const spak_measure_job *job, spak_job **out, size_t *n, spak_err *err);

/* Re-attach to one open job j (spak_measure_open_jobs): wait for it and read
 * its outcome into oc (initialized by the caller) as spak_measure does,
 * with what the submitting process kept in the job's folder: the build
 * log, the parameters that cannot act (oc), the proposal's note (*note, the
 * caller's, and *note_key; left alone when none was kept). base gives what
 * spak_measure needs but argv, workdir and eval_id. Safe off the engine's
 * thread: the jobs row is closed through a store connection of its own.
 * SPAK_ERR_STATE when spak_executor_interrupt stopped the wait (the job is
 * cancelled). */
spak_status spak_measure_attach(const spak_measure_job *base, const spak_job *j, spak_outcome *oc, json_t **note,
                                const char **note_key, spak_err *err);

/* Record the finished evaluation eval_id in the store: its status, logs,
 * exit, correctness, metric, records, and a result JSON (resources; trust:
 * "trusted" true or false and "isolation" {profile, layers, missing,
 * as_root: whether the sandbox started as root}; "executor" {name, and for
 * a cluster's job: job_id, state, node};
 * "unreached": [names] when oc->reach_checked; note,
 * when given, a copy under note_key with the measured metric added). */
spak_status spak_outcome_store(spak_store *st, const char *run_id, int64_t eval_id, const spak_outcome *oc,
                               const json_t *note, const char *note_key, spak_err *err);

/* The valid records of an evaluation, as a JSON array (the caller's; empty
 * when there are none or the store fails). */
json_t *spak_eval_records(spak_store *st, const char *run_id, int64_t eval_id);

/* Whether a stored evaluation's result JSON says its records are untrusted
 * ("trusted": false). NULL, unparsable or without the field (an evaluation
 * stored before spak labelled trust): false. */
bool spak_result_untrusted(const char *result_json);

/* The parameters a stored evaluation's result JSON lists as "unreached"
 * (they exist at its point but cannot act on its candidate: build/reach.h)
 * as bits by sp's order (bit p: sp->params[p]). 0 without the field. */
struct spak_space;
uint64_t spak_result_unreached(const char *result_json, const struct spak_space *sp);

#endif
