/*
 * facts.h - the KNOWLEDGE step: the spec's predicate facts evaluated on
 * the newest evaluation's records (a fact whose case has no record there
 * is left out), journaled with the transition to DECIDE.
 */
#ifndef SPAK_FACTS_H
#define SPAK_FACTS_H

#include <jansson.h>
#include "spec/expr.h"

/* {"fact": true|false|{"error": why}} (the caller owns it). */
json_t *spak_facts_eval(const spak_model *m, const spak_eval_env *env);

#endif
