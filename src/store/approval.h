/*
 * approval.h - the pending approval of a run, kept in the store (kv scope
 * SPAK_KV_APPROVAL of scopes.h, one per run, through its accessors): which gate ("knowledge", "llm-code"), what would
 * be done, the payload the run goes on with, and, once a person answered,
 * the decision. The gates themselves (the SUSPENDED states) are the
 * engine's; this is where their question and answer live between commands.
 */
#ifndef SPAK_APPROVAL_H
#define SPAK_APPROVAL_H

#include <jansson.h>
#include "store/store.h"

/* The pending approval of a run as JSON text (malloc'd), or NULL. */
char *spak_approval_pending(spak_store *st, const char *run_id);

/* The recorded decision on gate for run_id: 1 approve, 0 reject, -1 none. */
int spak_approval_decision(spak_store *st, const char *run_id, const char *gate);

/* Ask: keep {gate, what, payload (borrowed, may be NULL)} as the pending
 * approval. *text (malloc'd, the caller frees it) gets the JSON kept. */
spak_status spak_approval_ask(spak_store *st, const char *run_id, const char *gate, const char *what,
                              const json_t *payload, char **text, spak_err *err);

/* Forget the run's pending approval (it was answered and acted on). */
void spak_approval_clear(spak_store *st, const char *run_id);

/* Record a person's answer to the pending approval; what[what_n] gets
 * "gate: what". SPAK_ERR_STATE when none is pending. */
spak_status spak_approval_answer(spak_store *st, const char *run_id, bool approve, char *what, size_t what_n,
                                 spak_err *err);

#endif
