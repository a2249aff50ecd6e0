/* executor.c - the table of executors and running one evaluation through
 * one (executor.h). */
#include "analyze/executor.h"

#include <stdatomic.h>
#include <string.h>

/* The executors, one file each. Adding one: its file (executor_NAME.c)
 * defining spak_executor_NAME, and its line in both lists here. */
extern const spak_executor spak_executor_local;
extern const spak_executor spak_executor_slurm;
static const spak_executor *const executors[] = {&spak_executor_local, &spak_executor_slurm};

/* set from a signal handler, read by the executors' wait loops (lock-free
 * atomics: safe in a handler and across threads) */
static atomic_int interrupted, in_flight;

const spak_executor *spak_executor_find(const char *name)
{
    if (!name)
        return &spak_executor_local;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(executors); i++)
        if (strcmp(executors[i]->name, name) == 0)
            return executors[i];
    return NULL;
}

spak_status spak_executor_run(const spak_executor *x, const char *const *argv, const char *workdir,
                              const spak_sandbox_limits *lim, spak_exec_site *site, spak_sandbox_result *out,
                              spak_err *err)
{
    spak_exec_job *job = NULL;
    spak_status st = x->start(argv, workdir, lim, site, &job, err);
    if (st != SPAK_OK)
        return st;
    return x->finish(job, out, err);
}

bool spak_executor_interrupt(void)
{
    atomic_store(&interrupted, 1);
    return atomic_load(&in_flight) > 0;
}

bool spak_executor_interrupted(void)
{
    return atomic_load(&interrupted) != 0;
}

void spak_executor_in_flight(int delta)
{
    atomic_fetch_add(&in_flight, delta);
}
