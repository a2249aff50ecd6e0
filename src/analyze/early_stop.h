/*
 * early_stop.h - a hopeless candidate stopped early (docs/language.md,
 * `stop.early_stop`): the engine tells a judge that can stop early the time
 * a call after which the candidate is not worth timing further, from the
 * best evaluation so far; the judge stops it after its first repetitions
 * and says so in a Performance record with "verdict":"stopped" (records.h).
 * The evaluation then ends "stopped": censored, never a metric, never a
 * lesson's evidence (trace.h: spak_trace_counts).
 */
#ifndef SPAK_EARLY_STOP_H
#define SPAK_EARLY_STOP_H

#include <jansson.h>
#include "build/candidate.h"
#include "run_opts.h"
#include "spec/model.h"

/* The factor in force: the run's option (o->early_stop > 0; < 0: off),
 * else the loop's stop.early_stop, else SPAK_EARLY_STOP_DEFAULT. 0: off. */
double spak_early_stop_factor(const spak_engine_opts *o, const spak_loop_def *loop);

/* The judge's limit as its argument, "SHAPE=MS,...": each timed shape of
 * the best evaluation's records (best, borrowed; those that count) at
 * factor x its time a call. false (out "") when there is none or out is too
 * small. */
bool spak_early_stop_limits(const json_t *best, double factor, char *out, size_t n);

/* Append "--stop-slower-than LIMITS" to the measure argv a when its command
 * is a judge that stops early (evaluate.h: spak_measure_judge_stops_early),
 * factor > 0 and the best has limits; otherwise leave a as it is. *limit_out
 * (may be NULL, n_out bytes) gets the limits given, "" when none. */
spak_status spak_early_stop_args(spak_cand_argv *a, const json_t *best, double factor, const char *bin_dir,
                                 const char *target, char *limit_out, size_t n_out, spak_err *err);

#endif
