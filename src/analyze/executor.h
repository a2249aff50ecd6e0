/*
 * executor.h - where a measurement runs. The engine starts an evaluation
 * (argv, workdir, sandbox limits) and is told when it has finished (its
 * sandbox result). "local" runs it here and now, synchronously, in the
 * sandbox; "slurm" (executor_slurm.c) submits it as a batch job whose
 * script runs the same sandbox on a compute node, and reads the result back
 * from the job's files on the shared file system. A new executor is one
 * file (executor_NAME.c) and one line in the table of executor.c.
 */
#ifndef SPAK_EXECUTOR_H
#define SPAK_EXECUTOR_H

#include <stdbool.h>
#include "analyze/executor_names.h"
#include "analyze/sandbox.h"
#include "util.h"

typedef struct spak_exec_job spak_exec_job;  /* an evaluation in flight, the executor's */

/* What a Slurm job asks for (sbatch's options); NULL: the cluster's
 * default. From the spec's `slurm { ... }` block or the command line. */
typedef struct spak_slurm_opts {
    const char *partition;  /* --partition */
    const char *time;       /* --time: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]] */
    const char *account;    /* --account */
    const char *gpus;       /* --gpus: a count, or TYPE:COUNT */
} spak_slurm_opts;

#define SPAK_EXEC_ID_MAX 64
#define SPAK_EXEC_STATE_MAX 48

/* Where and how an evaluation runs beyond argv and the limits; the local
 * executor ignores it. Borrowed until start (or attach) returns, except
 * the out fields, which the executor writes until finish returns. */
typedef struct spak_exec_site {
    const char *job_dir;        /* a folder of the job's own (made by start), on a file
                                   system the compute nodes share */
    const char *helper;         /* the program that runs the sandbox on the node (spak-exec-job) */
    const char *lock_device;    /* the device whose measurement lock the job takes on its node
                                   (measure_lock.h; "cpu", "cuda-0"), NULL: none */
    spak_slurm_opts slurm;
    /* Called by start once the job exists and before it returns, so that
     * the caller journals it (a resumed run re-attaches, a stopped one
     * cancels): an error here cancels the job and fails start. */
    spak_status (*submitted)(void *ud, const char *job_id, const char *job_dir, spak_err *err);
    void *ud;
    /* out: the job's id and how it ended (Slurm's state: COMPLETED,
     * CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL, OUT_OF_MEMORY, FAILED, ...;
     * "" while unknown), the node's host name and the uid the sandbox was
     * started as there (-1: unknown) */
    char job_id[SPAK_EXEC_ID_MAX];
    char state[SPAK_EXEC_STATE_MAX];
    char node[64];
    long node_euid;
    bool node_userns;  /* out: the sandbox ran as root of a user namespace there (userns.h) */
    /* out: the wall clock on the node from its measurement lock taken to
     * the run's end, and the seconds it waited for the lock (0: unknown) */
    double measured_from, measured_to, lock_wait_s;
} spak_exec_site;

typedef struct spak_executor {
    const char *name;
    /* Start argv in workdir under lim (all borrowed until start returns).
     * *job is the executor's until finish. */
    spak_status (*start)(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                         spak_exec_site *site, spak_exec_job **job, spak_err *err);
    /* Wait for job to end and hand over its result (the caller frees it
     * with spak_sandbox_result_free); job is gone afterwards. A job the
     * cluster ended (cancelled, preempted, out of time) is a result that
     * failed, its state in site->state; an error means no result could be
     * had. SPAK_ERR_STATE when spak_executor_interrupt was called while it
     * waited: the job was cancelled. */
    spak_status (*finish)(spak_exec_job *job, spak_sandbox_result *out, spak_err *err);
    /* Take over a job an earlier process started (site->job_id, site->job_dir),
     * for finish to wait for; NULL for an executor whose jobs die with it. */
    spak_status (*attach)(spak_exec_site *site, spak_exec_job **job, spak_err *err);
    /* Cancel a job by id without waiting for it; NULL: nothing to cancel. */
    spak_status (*cancel)(const char *job_id, spak_err *err);
    /* The measurement runs on this machine: the caller holds the device's
     * measurement lock around it. false (the default of a new executor):
     * it runs elsewhere and the executor locks there. */
    bool measures_here;
} spak_executor;


/* The executor called name (NULL = "local"), or NULL when there is none. Static. */
const spak_executor *spak_executor_find(const char *name);


/* start + finish: run one evaluation to its end. */
spak_status spak_executor_run(const spak_executor *x, const char *const *argv, const char *workdir,
                              const spak_sandbox_limits *lim, spak_exec_site *site, spak_sandbox_result *out,
                              spak_err *err);

/* Ask every executor that waits for a job to stop waiting, cancel the job
 * and fail with SPAK_ERR_STATE. Async-signal-safe (a lock-free atomic
 * flag): the CLI calls it from its SIGINT and SIGTERM handlers. Returns
 * whether a job of an executor was in flight (submitted, or being
 * submitted, and not yet finished): when none was, nothing will read the
 * flag and the caller ends the process its own way. */
bool spak_executor_interrupt(void);
bool spak_executor_interrupted(void);
/* An executor's job enters (+1) or leaves (-1) flight. */
void spak_executor_in_flight(int delta);

#endif
