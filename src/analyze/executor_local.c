/* executor_local.c - the local executor: the evaluation runs here and now,
 * synchronously, in the sandbox (executor.h). */
#include "analyze/executor.h"

#include <stdlib.h>

struct spak_exec_job {
    spak_status st;
    spak_err err;
    spak_sandbox_result r;
};

/* Runs at once: start does the work, finish hands it over. */
static spak_status local_start(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                               spak_exec_site *site, spak_exec_job **job, spak_err *err)
{
    (void)site;  /* here and now: no job id, no job files */
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

const spak_executor spak_executor_local = {"local", local_start, local_finish, NULL, NULL, true};
