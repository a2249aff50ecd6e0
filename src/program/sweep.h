/*
 * sweep.h - a proposal's own tunables, swept by a strategy of the run
 * (the external strategy's queue, strategy_external.h; docs/mcp.md,
 * "Proposals").
 *
 * A code proposal may carry tunables {NAME: [values]} that its source reads
 * as defines, with conditions over them. They make a small space of their
 * own (one parameter per tunable, the first name most significant), walked
 * one point at a time by default, random, rules or grid exactly as a run's
 * space is walked (space.h, knowledge.h): each point is one evaluation of
 * the run's budget, and the next point is chosen from the scores of the
 * points before it. A point the conditions exclude is never built: the walk
 * that lands on one counts it as tried and failed, and goes on.
 *
 * The sweep is one item of the queue (its "sweep" object: tunables,
 * conditions, strategy, max_points, plateau, goal, and "proposed", the
 * points taken so far), kept at the queue's head while it goes on, so that
 * it survives a kill and a resume like every queued item. It ends when the
 * strategy finds no untried point, after max_points points, at its plateau
 * (the last `plateau` points did not improve its best, decided on intervals
 * as the run's best is: analyze/progress.h), or when a point reaches its
 * goal (a value of the loop's metric, in the objective's direction).
 */
#ifndef SPAK_SWEEP_H
#define SPAK_SWEEP_H

#include <jansson.h>
#include "program/strategy.h"

#define SPAK_SWEEP_MAX_TUNABLES 16
#define SPAK_SWEEP_MAX_GRID 65536
#define SPAK_SWEEP_MAX_CONDITIONS 16

/* The strategy a sweep walks with: its own "strategy" when given, else the
 * spec loop's when that is a walk or rules (an MCP run's spec strategy is
 * overridden by external), else default. Static text. */
const char *spak_sweep_strategy(const spak_strategy_run *run, const json_t *sweep);

/* The next point of the sweep item it (a queue item with "sweep",
 * borrowed; its "proposed" list gets the point): *point the point's item
 * (owned: the item without "sweep", with "code_path" a file of its own that
 * starts with the point's defines, "tunables" its values, "item" and "of"
 * its number, "swept" {strategy, point}), or NULL when the sweep has ended,
 * why[wn] then saying why. A sweep that cannot go on (its source cannot be
 * read, a condition does not parse) ends with that reason. */
spak_status spak_sweep_next(const spak_strategy_run *run, json_t *it, json_t **point, char *why, size_t wn,
                            spak_err *err);

#endif
