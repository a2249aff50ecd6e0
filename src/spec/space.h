/*
 * space.h - the search space of an engineering loop (the product of its
 * parameters' value lists) and the strategies that walk it.
 *
 * A point is an index in [0, total); its digits (mixed radix, first
 * parameter most significant) pick one value per parameter. Its key is the
 * canonical text "name=value,name=value" used to recognise a candidate that
 * was already evaluated (also across a resume).
 *
 * Conditions (`tile_k: [128, 256] { when: rung == "packed" }`, model.h): a
 * parameter whose condition fails at a point does not exist there. Of the
 * indices that differ only in such parameters one exists, the one whose
 * absent parameters have digit 0 (the canonical index); the others are never
 * proposed, evaluated or counted. An absent parameter has no place in the
 * key, so "rung=naive,threads=1" names the one naive point per thread count.
 * `points` counts the points that exist (= total without conditions).
 *
 * Restrictions (`tuning_space { ... restrict: [bx * by >= 64] }`,
 * spak_loop_def.restricts): boolean expressions every point must satisfy,
 * as Kernel Tuner's restrictions and T1's Conditions. A point where one is
 * false does not exist (never proposed, evaluated, counted or found by its
 * key); one that reads a parameter absent at the point (its `when` is
 * false) says nothing there; one whose evaluation fails excludes the point.
 *
 * Strategies are pure functions of (space, seed, the evaluations so far), so
 * a resumed run proposes exactly what the killed one would have:
 *   grid     index order
 *   random   a seeded permutation
 *   default  a few seeded random points, then hill climbing: the untried
 *            neighbour of the best point that is closest to it (one
 *            parameter changed, nearest value first); every fourth proposal
 *            and whenever the best has no untried neighbour, the next point
 *            of the random permutation (so it keeps exploring like random)
 *   rules    the knowledge is the engineer: see knowledge.h (spak_rules_next)
 *   llm      an LLM proposes (driver_llm.h)
 * Each is a file of program/ behind program/strategy.h.
 */
#ifndef SPAK_SPACE_H
#define SPAK_SPACE_H

#include <stdbool.h>
#include <stdint.h>
#include "spec/expr.h"
#include "spec/model.h"

#define SPAK_SPACE_MAX_POINTS 1000000
#define SPAK_SPACE_MAX_PARAMS 32

typedef struct spak_space {
    const spak_param_def *params;
    size_t n;
    uint64_t total;       /* the index range: the product of the value counts */
    uint64_t points;      /* the points that exist (their conditions hold) */
    bool conditional;     /* some parameter has a condition */
    const spak_expr *const *restricts;  /* every point satisfies each (NULL: none) */
    size_t n_restricts;
} spak_space;

/* How spak_space_next walks the space (the strategies of program/strategy.h
 * that are walks: grid, random, default). */
typedef enum { SPAK_STRAT_DEFAULT, SPAK_STRAT_GRID, SPAK_STRAT_RANDOM } spak_strategy_kind;

/* One finished evaluation as the strategies see it. */
typedef struct spak_space_eval {
    uint64_t index;
    double score;   /* larger is better (the objective already applied); NAN = failed */
} spak_space_eval;

/* The space of these parameters, without restrictions. */
spak_status spak_space_init(spak_space *s, const spak_param_def *params, size_t n, spak_err *err);
/* The space a loop searches: its parameters and its restrictions (points
 * counts only the points that satisfy them). Every caller that proposes,
 * counts or looks up a loop's points uses this one. */
spak_status spak_space_init_loop(spak_space *s, const spak_loop_def *loop, spak_err *err);
void spak_space_digits(const spak_space *s, uint64_t index, size_t digits[SPAK_SPACE_MAX_PARAMS]);
/* Which parameters exist at the point with these digits (act[i]): each
 * condition is evaluated over the parameters before it, in order; one that
 * cannot be evaluated (it reads an absent parameter) counts as false. */
void spak_space_active(const spak_space *s, const size_t *digits, bool act[SPAK_SPACE_MAX_PARAMS]);
/* The index with the digits of absent parameters set to 0. */
uint64_t spak_space_canonical(const spak_space *s, uint64_t index);
/* Whether index names a point that exists (it is its canonical index and
 * satisfies every restriction). */
bool spak_space_exists(const spak_space *s, uint64_t index);
/* A parameter value as an expression value (numbers, booleans, strings). */
void spak_space_value(const spak_expr *v, spak_value *out);
/* The canonical text of a value ("64", "packed", "true"). Static or tree storage. */
const char *spak_value_text(const spak_expr *v);
/* "name=value,..." of the parameters that exist there into buf; false when
 * it does not fit. */
bool spak_space_key(const spak_space *s, uint64_t index, char *buf, size_t n);
/* The index of a key, or false (also for a key that names an absent
 * parameter, or leaves out one that exists there, or a point a restriction
 * excludes). */
bool spak_space_find(const spak_space *s, const char *key, uint64_t *index);

/* Propose the next point. *found is false when every point has been tried. */
spak_status spak_space_next(const spak_space *s, spak_strategy_kind kind, uint64_t seed, const spak_space_eval *done,
                            size_t n_done, uint64_t *next, bool *found, spak_err *err);

uint64_t spak_splitmix64(uint64_t *state);

#endif
