/* executor_local.c - the local, synchronous executor, and the table of
 * executors (executor.h). */
#include "analyze/executor.h"

#include <stdlib.h>
#include <string.h>

struct spak_exec_job {
    spak_status st;
    spak_err err;
    spak_sandbox_result r;
};

/* Runs at once: start does the work, finish hands it over. */
static spak_status local_start(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                               spak_exec_job **job, spak_err *err)
{
    spak_exec_job *j = calloc(1, sizeof *j);
    if (!j)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    j->st = spak_sandbox_run(argv, workdir, lim, &j->r, &j->err);
    *job = j;
    return SPAK_OK;
}

static spak_status local_finish(spak_exec_job *j, spak_sandbox_result *out, spak_err *err)
{
    spak_status st = j->st;
    if (st == SPAK_OK)
        *out = j->r;
    else if (err)
        *err = j->err;
    free(j);
    return st;
}

static const spak_executor local = {"local", local_start, local_finish};

/* Adding an executor: its file, and one line here. */
static const spak_executor *const executors[] = {&local};

const spak_executor *spak_executor_find(const char *name)
{
    if (!name)
        return &local;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(executors); i++)
        if (strcmp(executors[i]->name, name) == 0)
            return executors[i];
    return NULL;
}

spak_status spak_executor_run(const spak_executor *x, const char *const *argv, const char *workdir,
                              const spak_sandbox_limits *lim, spak_sandbox_result *out, spak_err *err)
{
    spak_exec_job *job = NULL;
    spak_status st = x->start(argv, workdir, lim, &job, err);
    if (st != SPAK_OK)
        return st;
    return x->finish(job, out, err);
}
