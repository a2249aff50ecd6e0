/*
 * scopes.h - the key/value scopes of the store (kv table, store.h), declared
 * once: a constant per scope, what its key and value are, and typed
 * accessors, so that the writer and the reader of a scope cannot drift apart.
 * docs/store.md lists the same scopes.
 *
 * Every scope but llm:<run id> is keyed by run id. Values are JSON text,
 * stored as given. Ownership as in store.h: a *_get fills *json_out with a
 * malloc'd copy the caller frees, or NULL when absent (still SPAK_OK).
 */
#ifndef SPAK_SCOPES_H
#define SPAK_SCOPES_H

#include "store/store.h"

/* crystallization at the end of a run (learn.h): {"crystallized": path of
 * spec v(n+1), "lessons": n, "insights": path} or {"crystallize_error": why} */
#define SPAK_KV_RUN "run"
/* the options given to `spak run` (--llm, --endpoint, --model, --approve ...),
 * reapplied on resume */
#define SPAK_KV_RUN_OPTIONS "run-options"
/* the pending approval gate of a suspended run: {"gate", "what", "payload"},
 * then the supervisor's "decision"; deleted once the run has taken it */
#define SPAK_KV_APPROVAL "approval"
/* present (the value true) once `spak learn` recorded the run's lessons in
 * the lessons table, so that they are recorded once */
#define SPAK_KV_LEARNED "learned"
/* the state of an agent_loop run: {"k": steps done, "vars", "tainted", "branches"} */
#define SPAK_KV_AGENT "agent"
/* the proposals of strategy "external" waiting to be judged: a JSON array of
 * candidate keys, oldest first (program/strategy_external.h) */
#define SPAK_KV_EXTERNAL "external"
/* the re-time of a run's leading candidates, side by side in one session of
 * its judge (analyze/retime.h): {"status", "session", "candidates" (ranked),
 * "decision", "winner", "tied_with", "records"}; written once, so that a
 * resumed run does not time them again */
#define SPAK_KV_RETIME "retime"
/* scope "llm:<run id>", key "step-NNNN" (from step-0001): one LLM step each,
 * prompt, reply, model, parameters, tokens, cost and outcome */
#define SPAK_KV_LLM_PREFIX "llm:"
#define SPAK_KV_LLM_STEP_FMT "step-%04ld"

#define SPAK_KV_SCOPE_MAX (sizeof SPAK_KV_LLM_PREFIX + SPAK_STORE_ID_MAX) /* room for llm:<run id> */
#define SPAK_KV_STEP_KEY_MAX 32

/* Crystallization summary of a run (SPAK_KV_RUN). */
spak_status spak_store_run_summary_put(spak_store *st, const char *run_id, const char *json, spak_err *err);
spak_status spak_store_run_summary_get(spak_store *st, const char *run_id, char **json_out, spak_err *err);

/* Options of `spak run` kept for resume (SPAK_KV_RUN_OPTIONS). */
spak_status spak_store_run_options_put(spak_store *st, const char *run_id, const char *json, spak_err *err);
spak_status spak_store_run_options_get(spak_store *st, const char *run_id, char **json_out, spak_err *err);

/* The pending gate of a run (SPAK_KV_APPROVAL); delete of an absent one is SPAK_OK. */
spak_status spak_store_approval_put(spak_store *st, const char *run_id, const char *json, spak_err *err);
spak_status spak_store_approval_get(spak_store *st, const char *run_id, char **json_out, spak_err *err);
spak_status spak_store_approval_delete(spak_store *st, const char *run_id, spak_err *err);

/* Mark the run's lessons as recorded; *learned_out tells whether they are. */
spak_status spak_store_learned_put(spak_store *st, const char *run_id, spak_err *err);
spak_status spak_store_learned_get(spak_store *st, const char *run_id, bool *learned_out, spak_err *err);

/* The re-time of a run (SPAK_KV_RETIME). */
spak_status spak_store_retime_put(spak_store *st, const char *run_id, const char *json, spak_err *err);
spak_status spak_store_retime_get(spak_store *st, const char *run_id, char **json_out, spak_err *err);

/* The saved state of an agent_loop run (SPAK_KV_AGENT). */
spak_status spak_store_agent_put(spak_store *st, const char *run_id, const char *json, spak_err *err);
spak_status spak_store_agent_get(spak_store *st, const char *run_id, char **json_out, spak_err *err);

/* The queue of outside proposals of a run (SPAK_KV_EXTERNAL). */
spak_status spak_store_external_put(spak_store *st, const char *run_id, const char *json, spak_err *err);
spak_status spak_store_external_get(spak_store *st, const char *run_id, char **json_out, spak_err *err);

/* The key of LLM step n (from 1): "step-0001"; the engine names the step's
 * files and its failed-step candidate with it too. */
void spak_store_llm_step_key(long n, char key[SPAK_KV_STEP_KEY_MAX]);
/* Step n of the run's LLM transcript (scope llm:<run id>). */
spak_status spak_store_llm_step_put(spak_store *st, const char *run_id, long n, const char *json, spak_err *err);
spak_status spak_store_llm_step_get(spak_store *st, const char *run_id, long n, char **json_out, spak_err *err);

#endif
