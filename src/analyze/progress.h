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

typedef struct spak_progress {
    spak_space_eval *done;   /* in the order they finished */
    size_t n_done, alloc_done;
    long n_evals;
    long since_best;         /* evaluations since the best was found */
    double best_score;       /* NAN: none yet */
    double best_metric, best_ratio;
    int64_t best_eval_id;    /* 0: none yet */
    uint64_t best_index;
    char best_key[2048];
    long untrusted;          /* evaluations whose records came from a command not one of spak's judges */
    spak_views views;        /* owns views.latest and views.best */
} spak_progress;

void spak_progress_init(spak_progress *p);
void spak_progress_free(spak_progress *p);

/* Note a finished evaluation (metric NAN: it failed; records, borrowed, may
 * be NULL when they are not at hand). Returns its score: larger is better
 * under the objective, NAN when failed. */
double spak_progress_note(spak_progress *p, spak_objective objective, uint64_t index, int64_t eval_id,
                          const char *key, double metric, double ratio, json_t *records);

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
