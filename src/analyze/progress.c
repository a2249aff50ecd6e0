/* progress.c - a run's finished evaluations and its best (progress.h). */
#include "analyze/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void spak_progress_init(spak_progress *p)
{
    memset(p, 0, sizeof *p);
    p->best_score = NAN;
    p->best_metric = NAN;
    p->best_ratio = NAN;
}

void spak_progress_free(spak_progress *p)
{
    json_decref(p->views.latest);
    json_decref(p->views.best);
    free(p->done);
    p->done = NULL;
    p->views.latest = p->views.best = NULL;
}

double spak_progress_note(spak_progress *p, spak_objective objective, uint64_t index, int64_t eval_id,
                          const char *key, double metric, double ratio, json_t *records)
{
    double score = isnan(metric) ? NAN : (objective == SPAK_OBJ_MAXIMIZE ? metric : -metric);
    spak_space_eval *q = spak_grow(p->done, &p->alloc_done, p->n_done, sizeof *q);
    if (!q)
        return score;
    p->done = q;
    p->done[p->n_done].index = index;
    p->done[p->n_done].score = score;
    p->n_done++;
    p->n_evals++;
    if (records) {
        json_decref(p->views.latest);
        p->views.latest = json_incref(records);
    }
    if (!isnan(score) && (isnan(p->best_score) || score > p->best_score)) {
        p->best_score = score;
        p->best_metric = metric;
        p->best_ratio = ratio;
        p->best_eval_id = eval_id;
        p->best_index = index;
        spak_snprintf(p->best_key, sizeof p->best_key, "%s", key);
        if (records) {
            json_decref(p->views.best);
            p->views.best = json_incref(records);
        }
        p->since_best = 0;
    } else {
        p->since_best++;
    }
    return score;
}
