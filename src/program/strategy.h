/*
 * strategy.h - PROGRAM: who proposes the next candidate, behind one
 * interface.
 *
 *   open     its state, from the spec, the space, the seed and the options
 *   propose  up to max proposals at once; it is told which points are still
 *            being evaluated (pending), so a parallel executor may ask for
 *            several
 *   observe  an evaluation finished (its point, key, score, records)
 *   close    its state goes
 *
 * A strategy's state survives a resume: grid, random, default and rules are
 * pure functions of the seed and the finished evaluations (run->done); the
 * llm strategy re-derives its counters by observing every finished
 * evaluation again (the engine replays them) and its usage from the steps
 * kept in the store. A proposal is a point of the space, an LLM's source
 * (a code candidate), a failed step (no candidate: recorded, counted), a
 * suspension (the run waits for something outside it), a setup error (the
 * run stops, resumable), or none (the space is exhausted). Approval gates
 * are the engine's (SUSPENDED states), not the strategy's.
 *
 * Adding a strategy: one file (strategy_NAME.c, defining the
 * spak_strategy_NAME below) and its name in the list of strategies.h, from
 * which the table of strategy.c is made.
 */
#ifndef SPAK_STRATEGY_H
#define SPAK_STRATEGY_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "build/candidate.h"
#include "knowledge/transfer.h"
#include "program/strategies.h"
#include "run_opts.h"
#include "spec/expr.h"
#include "spec/space.h"
#include "store/store.h"

/* The run as a strategy sees it, lent by the engine for the call. */
typedef struct spak_strategy_run {
    const spak_model *m;
    const spak_loop_def *loop;
    const spak_space *space;
    const spak_cand_site *site;
    const spak_engine_opts *o;
    const char *spec_path;
    const char *target;
    uint64_t seed;
    spak_store *store;             /* NULL in open */
    const char *run_id;
    const spak_transfer *lessons;  /* transfer: lessons as rules (n_rules 0 without --use-lessons) */
    /* the run so far */
    const spak_space_eval *done;
    size_t n_done;
    int64_t best_eval_id;          /* 0: none yet */
    uint64_t best_index;
    const char *best_key;
    double best_metric, best_ratio;
    const spak_eval_env *env;      /* the record views of conditions */
    /* the payload of a code candidate that waited at the llm-code gate and
     * was answered (a resumed run goes on with it), or NULL */
    const json_t *gated;
    /* Journal the PROGRAM transition now, before slow work (an LLM call);
     * detail is taken. The engine does it after propose otherwise. */
    spak_status (*enter_program)(void *ud, json_t *detail, spak_err *err);
    void *ud;
} spak_strategy_run;

typedef enum spak_proposal_kind {
    SPAK_PROPOSAL_POINT,    /* index: a point of the space */
    SPAK_PROPOSAL_CODE,     /* code_path: a new source, built with the defines of index */
    SPAK_PROPOSAL_FAILED,   /* no candidate: key and why name the failed step */
    SPAK_PROPOSAL_SUSPEND,  /* why: what the run waits for (shown as is) */
    SPAK_PROPOSAL_ERROR,    /* why: a setup problem; the run stops, resumable */
    SPAK_PROPOSAL_NONE      /* nothing left to propose */
} spak_proposal_kind;

/* One proposal. detail, note and gate_payload are owned by the proposal
 * (spak_proposal_free). */
typedef struct spak_proposal {
    spak_proposal_kind kind;
    uint64_t index;
    char code_path[4096];
    char tag[32];          /* CODE: the key is "code:TAG|point" */
    char key[128];         /* FAILED: the key of the failed step */
    char why[1024];
    double predicted;      /* the metric the proposer expects, NAN when none */
    json_t *detail;        /* extra keys of the PROGRAM transition (rules: fired) */
    json_t *build_detail;  /* extra keys of the BUILD transition (llm: the step, the prediction) */
    json_t *note;          /* how it was proposed (journaled with BUILD, kept in the result under note_key;
                              for FAILED and SUSPEND the detail of their journal row) */
    const char *note_key;  /* static */
    json_t *gate_payload;  /* CODE: what the llm-code gate keeps while the run waits */
} spak_proposal;

void spak_proposal_init(spak_proposal *p);
void spak_proposal_free(spak_proposal *p);

/* A finished evaluation. */
typedef struct spak_strategy_obs {
    uint64_t index;        /* UINT64_MAX: not a point (a code candidate, a failed step) */
    const char *key;
    double score;          /* larger is better; NAN = failed */
    const json_t *records; /* its valid records, or NULL (a replay) */
    bool no_candidate;     /* a failed step: the strategy gave no candidate */
} spak_strategy_obs;

/* A strategy: spak_strategy_NAME, named NAME in strategies.h. */
typedef struct spak_strategy {
    /* Make the strategy's state (*self); run->store is NULL here. NULL = no state. */
    spak_status (*open)(const spak_strategy_run *run, void **self, spak_err *err);
    /* The evaluations a run gets that was given no budget at all; 0: none
     * (it ends when the space is exhausted). NULL = 0. */
    long (*default_budget)(void *self);
    /* A resumed run: after the finished evaluations were observed again. NULL = nothing. */
    spak_status (*resumed)(void *self, const spak_strategy_run *run, spak_err *err);
    /* Its own reason to stop now (its budgets), or NULL. NULL = never. */
    const char *(*stop)(void *self, const spak_strategy_run *run);
    /* Up to max proposals into out[] (initialized by the caller); *n_out how
     * many. pending: points being evaluated now (do not propose them again). */
    spak_status (*propose)(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                           spak_proposal *out, size_t max, size_t *n_out, spak_err *err);
    /* NULL = nothing to learn from it. */
    void (*observe)(void *self, const spak_strategy_obs *ob);
    void (*close)(void *self);  /* NULL = no state */
    const void *arg;            /* without open: self, for a strategy that is configuration only */
} spak_strategy;

/* spak_strategy_NAME for each NAME of strategies.h, defined in strategy_NAME.c. */
#define SPAK_STRATEGY_DECLARE(n) extern const spak_strategy spak_strategy_##n;
SPAK_STRATEGIES(SPAK_STRATEGY_DECLARE)
#undef SPAK_STRATEGY_DECLARE

/* The strategy called name (strategies.h), or NULL. Static. */
const spak_strategy *spak_strategy_find(const char *name);

/* The next untried point given done[n] (the finished evaluations, then the
 * points counted as tried), for spak_strategy_collect. */
typedef spak_status (*spak_strategy_next_fn)(void *ud, const spak_space_eval *done, size_t n, uint64_t *next,
                                             bool *found, spak_err *err);
/* Up to max POINT proposals from next_fn, the pending points and those
 * proposed in this call counting as tried; one NONE when there is none. */
spak_status spak_strategy_collect(spak_strategy_next_fn next_fn, void *ud, const spak_strategy_run *run,
                                  const uint64_t *pending, size_t n_pending, spak_proposal *out, size_t max,
                                  size_t *n_out, spak_err *err);

/* The propose of the walking strategies (grid, random, default): self
 * points at their spak_strategy_kind (their arg); up to max untried points
 * by spak_space_next, the pending ones and those proposed in this call
 * counting as tried. */
spak_status spak_strategy_walk(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                               spak_proposal *out, size_t max, size_t *n_out, spak_err *err);

#endif
