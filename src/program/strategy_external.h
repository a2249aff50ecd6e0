/*
 * strategy_external.h - a run whose candidates come from outside the
 * process (a person, a script, the MCP server of tool/cmd_mcp.c): they are
 * queued in the store, and the engine judges and journals them like any
 * other. With nothing queued the run suspends ("waiting for an outside
 * proposal") and writes the engineer's context (the same text as the llm
 * strategy's prompt) into HOME/runs/RUN/external/context.md (and its parts
 * into context.json); `spak resume
 * RUN` goes on with what was queued.
 *
 * A queued item is a JSON object (docs/mcp.md, "Proposals"):
 *   {"proposal": ID, "item": I, "of": N,          given by spak_external_queue
 *    "point": "name=value,..."                    a point of the space, or
 *    "values": {"name": value, ...}               the same as an object, or
 *    "code_path": "/abs/file.c",                  a whole source (a code candidate),
 *      built with the defines of "point"/"values" when given, else of the
 *      best point, else of the space's first point
 *    "prediction": {"metric": x, "ratio": r, "why": "..."},
 *    "tunables": {"NAME": value, ...},            the defines this item's source carries
 *    "sweep": {"tunables": {"NAME": [values]},    or: a sweep of the source's own tunables
 *              "conditions", "strategy",            (program/sweep.h), kept at the head
 *              "max_points", "plateau", "goal"}}    while it gives one point at a time
 * A bare string is a point (the first form of the queue). Each item is one
 * evaluation of the budget; its note (the evaluation's result, key
 * "external") keeps proposal, item, of, prediction and tunables.
 */
#ifndef SPAK_STRATEGY_EXTERNAL_H
#define SPAK_STRATEGY_EXTERNAL_H

#include <jansson.h>
#include "run_opts.h"

#define SPAK_EXTERNAL_MAX_QUEUED 1024

/* Queue a proposal for run_id in the store under o->home: key is a point of
 * the run's space as "name=value,..." (spak_space_key's text; checked when
 * the run takes it: one that is not a point is a failed step). At most
 * SPAK_EXTERNAL_MAX_QUEUED wait at once. */
spak_status spak_external_submit(const spak_engine_opts *o, const char *run_id, const char *key, spak_err *err);

/* Queue the items (a non-empty array of objects, borrowed; the shapes
 * above) as one proposal: each gets "proposal" (a new id, counted per run
 * from 1), "item" and "of". *proposal_id gets the id. Fails, queueing
 * nothing, when the run does not exist, its strategy is not external, or
 * the queue would exceed SPAK_EXTERNAL_MAX_QUEUED. */
spak_status spak_external_queue(const spak_engine_opts *o, const char *run_id, const json_t *items,
                                long *proposal_id, spak_err *err);

/* How many items of proposal_id (0: of any proposal) still wait in the
 * queue, into *n. */
spak_status spak_external_queued(const spak_engine_opts *o, const char *run_id, long proposal_id, size_t *n,
                                 spak_err *err);

/* Take the items of proposal_id (0: every item) off the queue before the
 * run takes them; *n_removed how many. Items already taken are not
 * touched: their evaluations run to the end; with 0, one that a kill cuts
 * off is not queued again when the run resumes (a stop). */
spak_status spak_external_withdraw(const spak_engine_opts *o, const char *run_id, long proposal_id,
                                   size_t *n_removed, spak_err *err);

/* How the sweeps of run_id's proposals ended (sweep.h), into *out (owned):
 * {"PROPOSAL": {"strategy", "points", "ended"}}, and in *going the
 * proposals whose sweep is still queued, {"PROPOSAL": {"strategy", "points"
 * (taken so far)}} (either may be NULL). */
spak_status spak_external_sweeps(const spak_engine_opts *o, const char *run_id, json_t **out, json_t **going,
                                 spak_err *err);

#endif
