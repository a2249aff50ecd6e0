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
 * "Intervals"): lo = hi = score without one, NAN when it failed; and its
 * ratio to the baseline its records name, with the ratio's interval */
typedef struct spak_progress_ci {
    int64_t eval_id;
    double score, lo, hi;
    double ratio, ratio_lo, ratio_hi;  /* NAN without a ratio; lo = hi = ratio without its interval */
    char baseline[64];                 /* what the ratio is to (spak_views_baseline); "": not one named */
    double foreign_load;               /* spak_views_foreign_load of its records (0: none said) */
} spak_progress_ci;

/* How two evaluations are ranked (docs/language.md, "Intervals"):
 * SPAK_RANK_RATIO when both have a ratio to the same named baseline, else
 * SPAK_RANK_METRIC (the score and its interval). */
typedef enum spak_rank_rule { SPAK_RANK_METRIC, SPAK_RANK_RATIO } spak_rank_rule;

typedef struct spak_progress {
    spak_space_eval *done;   /* in the order they finished */
    size_t n_done, alloc_done;
    long n_evals;
    long since_best;         /* evaluations since the best was found */
    double best_score;       /* NAN: none yet */
    double best_metric, best_ratio;
    double best_lo, best_hi;           /* the best's score interval */
    spak_progress_ci best_ci;          /* the best as it is ranked (its ratio, baseline, intervals) */
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
    long stops_under_load;   /* times the stop condition held on a measurement under load, not taken */
    spak_views views;        /* owns views.latest and views.best */
} spak_progress;

void spak_progress_init(spak_progress *p);
void spak_progress_free(spak_progress *p);

/* The correct evaluations measured under load (foreign work above
 * SPAK_FOREIGN_LOAD_MAX of the judge's CPUs, views.h); *most (may be NULL)
 * gets the largest share among them (0 when none). */
long spak_progress_under_load(const spak_progress *p, double *most);

/* Note a finished evaluation (metric NAN: it failed; records, borrowed, may
 * be NULL when they are not at hand). Returns its score: larger is better
 * under the objective, NAN when failed.
 *
 * Ranked on the ratio where it can be: when this evaluation and the best
 * both have a ratio to the same baseline (their records name it,
 * spak_views_baseline), they compare on the ratio and its interval, which
 * the judge paired within one session (candidate and baseline
 * interleaved), so the machine's load between evaluations cancels; their
 * metrics, taken minutes apart, compare the load as much as the kernels.
 * Otherwise (no ratio on one side, no baseline named, different ones) on
 * the score, as before.
 *
 * Decided on intervals: when the records carry the ratio's interval
 * (spak_views_ratio_ci), the score's interval is the score scaled by the
 * ratio's relative bounds; an evaluation becomes the best only when its
 * interval (the ratio's or the score's, by the rule above) lies wholly
 * above the best's. A better point whose interval overlaps the best's is
 * not an improvement (the best stays, the plateau counter goes on,
 * `undecided` counts it). Without intervals the points decide, as before.
 * The returned score stays the metric's: the strategies see the metric. */
double spak_progress_note(spak_progress *p, spak_objective objective, uint64_t index, int64_t eval_id,
                          const char *key, double metric, double ratio, json_t *records);

/* How a and b compare, ranked as spak_progress_note says: 1 when a's
 * interval lies wholly above b's, -1 wholly below, 0 when they overlap (or
 * either failed). *rule (may be NULL): the rule that compared them. */
int spak_progress_order(const spak_progress_ci *a, const spak_progress_ci *b, spak_rank_rule *rule);

/* Whether a's point is above b's under the same rule (a ratio above b's,
 * or a score above b's): how the undecided and the runner-up are told. */
bool spak_progress_above(const spak_progress_ci *a, const spak_progress_ci *b);

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
 * a new object, the caller's. "ranked_on" says how the best compares with
 * the other correct evaluations: "ratio" (all on the ratio to one
 * baseline), "metric" (all on the metric) or "ratio and metric" (some on
 * each: some had no ratio); with no other, how it would. */
json_t *spak_progress_summary(const spak_progress *p, const spak_summary_of *s);

#endif
