/*
 * engine.h - the loop itself: one explicit state machine
 *
 *   SPECIFY -> PROGRAM -> BUILD -> ANALYZE -> KNOWLEDGE -> DECIDE -> (PROGRAM | DONE)
 *
 *   SPECIFY    the spec is loaded and checked; the run is created in the store
 *   PROGRAM    the strategy proposes the next candidate (program/strategy.h:
 *              a point of the space, an LLM's source, a failed step, or a
 *              suspension: the manual LLM backend and the external strategy
 *              SUSPEND the run until their answer exists; `spak resume` goes on)
 *   BUILD      the candidate source + its parameters as defines -> a .so,
 *              cached (build/candidate.h)
 *   ANALYZE    the measure command runs in the sandbox, through an executor,
 *              against the trusted harness; its trace records are validated
 *              against trace_schema and stored; correctness, metric, ratio
 *              and bottleneck are read (analyze/evaluate.h)
 *   KNOWLEDGE  predicate facts are evaluated on the new records and recorded
 *              (knowledge/facts.h)
 *   DECIDE     budget spent / stop condition / plateau / space exhausted ->
 *              DONE, else PROGRAM
 *   DONE       crystallization (knowledge/crystallize.h): lessons into the
 *              store, and spec v(n+1) with an insights log in the run's directory
 *
 * Every transition is journaled in the SQLite store before the work of the
 * next state starts (spak_store_transition commits with synchronous=FULL),
 * so a run killed at any point (kill -9 included) is resumed by
 * spak_engine_resume: evaluations that finished are kept and not redone,
 * the one that was cut off is marked interrupted and proposed again.
 * `spak explain` prints this machine.
 */
#ifndef SPAK_ENGINE_H
#define SPAK_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include "run_opts.h"
#include "store/store.h"

/* Start a new run of the spec at spec_path. run_id receives its id as soon
 * as it exists (also when the run later fails). */
spak_status spak_engine_run(const spak_engine_opts *o, const char *spec_path, char run_id[SPAK_STORE_ID_MAX],
                            spak_err *err);
/* Continue a run of an engineering loop that was stopped or killed (an
 * agent_loop's run is the agent's: agent.h; the CLI picks by the run's kind). */
spak_status spak_engine_resume(const spak_engine_opts *o, const char *run_id, bool force, spak_err *err);
/* Build every candidate of the spec's loop into the build cache (so that a
 * machine without a compiler, or with little time, finds them built).
 * on_event gets one SPAK_EV_EVAL_DONE per candidate (why = the artifact). */
spak_status spak_engine_build_all(const spak_engine_opts *o, const char *spec_path, size_t *built, size_t *failed,
                                  spak_err *err);
/* spak_engine_answer and spak_engine_pending: run_opts.h */
/* The state machine as text (for `spak explain`). Static storage. */
const char *spak_engine_describe(void);
#endif
