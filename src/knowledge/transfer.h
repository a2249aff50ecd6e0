/*
 * transfer.h - lessons of earlier runs as rules of this one.
 *
 * The store's lessons for this device (the GPU for a CUDA problem, else the
 * CPU) and kernel family become rules of the rules strategy: prefer what
 * helped, exclude what hurt badly, start from the best configuration found
 * before. Shape classes: the best configurations come from the nearest class
 * that has one (the same class when it has); effects from every class, the
 * nearest first (at most SPAK_TRANSFER_MAX_RULES).
 */
#ifndef SPAK_TRANSFER_H
#define SPAK_TRANSFER_H

#include <jansson.h>
#include "spec/spec.h"
#include "store/store.h"

#define SPAK_TRANSFER_MAX_RULES 64

/* The rules made of lessons. Everything is owned by the transfer (free it
 * with spak_transfer_free); rules[i] stays valid until then. */
typedef struct spak_transfer {
    spak_rule_def *rules;
    size_t n_rules;
    spak_rule_action *owned[SPAK_TRANSFER_MAX_RULES];
    size_t n_owned;
    json_t *text;   /* the rules' texts (titles, actions) */
} spak_transfer;

/* Load the lessons of the store that fit model m (target "cuda" or "cpu")
 * into t (zeroed by the caller). */
spak_status spak_transfer_load(spak_transfer *t, spak_store *st, const spak_model *m, const char *target,
                               spak_err *err);
void spak_transfer_free(spak_transfer *t);

#endif
