/*
 * progress.h - what a run has measured so far: every finished evaluation
 * as the strategies see it (point, score), how many, the best one (its
 * point, key, metric, ratio, records) and how long ago it was found, and
 * the record views of the newest and the best (views.h).
 */
#ifndef SPAK_PROGRESS_H
#define SPAK_PROGRESS_H

#include <jansson.h>
#include "analyze/views.h"
#include "spec/space.h"

/* one finished evaluation's score with its interval (docs/language.md,
 * "Intervals"): lo = hi = score without one, NAN when it failed */
typedef struct spak_progress_ci {
    int64_t eval_id;
    double score, lo, hi;
} spak_progress_ci;

typedef struct spak_progress {
    spak_space_eval *done;   /* in the order they finished */
    size_t n_done, alloc_done;
    long n_evals;
    long since_best;         /* evaluations since the best was found */
    double best_score;       /* NAN: none yet */
    double best_metric, best_ratio;
    double best_lo, best_hi;           /* the best's score interval */
    double best_ratio_lo, best_ratio_hi; /* its ratio's interval, NAN without one */
    bool best_precise;                 /* its interval is as narrow as its judge was asked */
    spak_progress_ci *ci;              /* every evaluation's, in the order they finished */
    size_t alloc_ci;
    long undecided;                    /* better points whose intervals overlapped the best's */
    int64_t best_eval_id;    /* 0: none yet */
    uint64_t best_index;
    char best_key[2048];
    char current_key[2048];  /* the candidate being built or measured ("" between them) */
    long untrusted;          /* evaluations whose records came from a command not one of spak's judges */
    spak_views views;        /* owns views.latest and views.best */
} spak_progress;

void spak_progress_init(spak_progress *p);
void spak_progress_free(spak_progress *p);

/* Note a finished evaluation (metric NAN: it failed; records, borrowed, may
 * be NULL when they are not at hand). Returns its score: larger is better
 * under the objective, NAN when failed.
 *
 * Decided on intervals: when the records carry the ratio's interval
 * (spak_views_ratio_ci), the score's interval is the score scaled by the
 * ratio's relative bounds; an evaluation becomes the best only when its
 * interval lies wholly above the best's. A better point whose interval
 * overlaps the best's is not an improvement (the best stays, the plateau
 * counter goes on, `undecided` counts it). Without intervals the points
 * decide, as before. */
double spak_progress_note(spak_progress *p, spak_objective objective, uint64_t index, int64_t eval_id,
                          const char *key, double metric, double ratio, json_t *records);

/* The run's decision on its intervals: "winner" (no other evaluation's
 * interval overlaps the best's), "tied" (some do, and the best's interval
 * is as narrow as asked: they are equal within the noise), "inconclusive"
 * (some do, and the best's interval is wider than asked: the noise was too
 * high to decide) or "none" (no correct evaluation). *tied (may be NULL): a
 * new array of the eval ids that overlap the best's interval, the caller's. */
const char *spak_progress_decision(const spak_progress *p, json_t **tied);

/* What a run's summary names besides its progress (all borrowed). */
typedef struct spak_summary_of {
    const char *run_id, *stop_reason;
    uint64_t space_size;
    const char *strategy, *metric;
    spak_objective objective;
    const char *baseline;  /* may be NULL */
    double elapsed_s;
} spak_summary_of;

/* The run's summary (journaled with DONE, printed by `spak run --json`):
 * a new object, the caller's. */
json_t *spak_progress_summary(const spak_progress *p, const spak_summary_of *s);

#endif
