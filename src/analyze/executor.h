/*
 * executor.h - where a measurement runs. The engine starts an evaluation
 * (argv, workdir, sandbox limits) and is told when it has finished (its
 * sandbox result). Today's executor, "local", runs it here and now,
 * synchronously, in the sandbox; a remote or parallel one is one new file
 * (executor_NAME.c) and one line in the table of executor.c.
 */
#ifndef SPAK_EXECUTOR_H
#define SPAK_EXECUTOR_H

#include <stdbool.h>
#include "analyze/sandbox.h"
#include "util.h"

typedef struct spak_exec_job spak_exec_job;  /* an evaluation in flight, the executor's */

typedef struct spak_executor {
    const char *name;
    /* Start argv in workdir under lim (all borrowed until start returns).
     * *job is the executor's until finish. */
    spak_status (*start)(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                         spak_exec_job **job, spak_err *err);
    /* Wait for job to end and hand over its result (the caller frees it
     * with spak_sandbox_result_free); job is gone afterwards. */
    spak_status (*finish)(spak_exec_job *job, spak_sandbox_result *out, spak_err *err);
    /* The measurement runs on this machine: the caller holds the device's
     * measurement lock around it. false (the default of a new executor):
     * it runs elsewhere and the executor locks there. */
    bool measures_here;
} spak_executor;

/* The executor called name (NULL = "local"), or NULL when there is none. Static. */
const spak_executor *spak_executor_find(const char *name);

/* start + finish: run one evaluation to its end. */
spak_status spak_executor_run(const spak_executor *x, const char *const *argv, const char *workdir,
                              const spak_sandbox_limits *lim, spak_sandbox_result *out, spak_err *err);

#endif
