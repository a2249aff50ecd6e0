/*
 * strategy_external.h - a run whose candidates come from outside the
 * process (a person, a script, later an MCP server): they are queued in
 * the store with spak_external_submit, and the engine judges and journals
 * them like any other. With nothing queued the run suspends ("waiting for
 * an outside proposal"); `spak resume RUN` goes on with what was queued.
 */
#ifndef SPAK_STRATEGY_EXTERNAL_H
#define SPAK_STRATEGY_EXTERNAL_H

#include "run_opts.h"

#define SPAK_EXTERNAL_MAX_QUEUED 1024

/* Queue a proposal for run_id in the store under o->home: key is a point of
 * the run's space as "name=value,..." (spak_space_key's text; checked when
 * the run takes it: one that is not a point is a failed step). At most
 * SPAK_EXTERNAL_MAX_QUEUED wait at once. */
spak_status spak_external_submit(const spak_engine_opts *o, const char *run_id, const char *key, spak_err *err);

#endif
