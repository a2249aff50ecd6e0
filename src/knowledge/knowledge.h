/*
 * knowledge.h - the K of SPaK: rules that act on the search, and lessons
 * learned from measurements.
 *
 * Rule actions. A rule's `apply:` / `recommend:` string is machine-readable
 * when it is one of
 *
 *     [set | select] P = V          only V for parameter P      (hard)
 *     prefer P = V                  try V first                  (soft)
 *     exclude P = V  |  avoid P = V never V                      (hard)
 *     restrict P in [V1, V2, ...]   only these values            (hard)
 *     P = V                         `recommend`, `suggestion` -> prefer; otherwise set
 *
 * where P is a parameter of the loop and V one of its values (numbers,
 * 'strings', "strings", true/false or bare words). Anything else is prose,
 * kept as guidance for the LLM driver.
 */
#ifndef SPAK_KNOWLEDGE_H
#define SPAK_KNOWLEDGE_H

#include <stdbool.h>
#include <stdint.h>
#include "spec/expr.h"
#include "spec/space.h"

typedef enum { SPAK_ACT_SET, SPAK_ACT_PREFER, SPAK_ACT_EXCLUDE, SPAK_ACT_RESTRICT } spak_action_kind;

#define SPAK_ACTION_MAX_VALUES 16

typedef struct spak_action {
    spak_action_kind kind;
    size_t param;                             /* index in the space */
    size_t values[SPAK_ACTION_MAX_VALUES];    /* value indices */
    size_t n_values;
} spak_action;

/* Parse one action for the given space. key is the entry's key ("apply",
 * "recommend", ...). Returns false for prose (why, when not NULL, says what
 * did not match: for the checker's warnings). */
bool spak_action_parse(const char *text, const char *key, const spak_space *space, spak_action *out, char *why,
                       size_t why_n);

/* A rule that fired, with its machine-readable actions. */
typedef struct spak_firing {
    const spak_rule_def *rule;
    spak_action actions[8];
    size_t n_actions;
} spak_firing;

/* Evaluate every rule's condition in env (a rule without `when` always
 * fires; a prose condition never does). Fills up to max firings; returns the
 * number of rules that fired. Rules without machine-readable actions still
 * count (they are guidance). */
size_t spak_rules_fire(const spak_model *m, const spak_space *space, const spak_eval_env *env, spak_firing *out,
                       size_t max);

/* The `rules` strategy: among untried points, those allowed by the hard
 * actions of the firings, ranked by how many preferred values they carry,
 * then by closeness to the best point so far, then by a seeded random order.
 * When the rules leave nothing untried, it explores where no rule speaks
 * (the default strategy). */
spak_status spak_rules_next(const spak_space *s, uint64_t seed, const spak_space_eval *done, size_t n_done,
                            const spak_firing *firings, size_t n_firings, uint64_t *next, bool *found,
                            bool *by_rules, spak_err *err);

#endif
