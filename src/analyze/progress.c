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

json_t *spak_progress_summary(const spak_progress *p, const spak_summary_of *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_string(s->run_id));
    json_object_set_new(o, "stop_reason", json_string(s->stop_reason ? s->stop_reason : ""));
    json_object_set_new(o, "evaluations", json_integer(p->n_evals));
    json_object_set_new(o, "space_size", json_integer((json_int_t)s->space_size));
    json_object_set_new(o, "strategy", json_string(s->strategy));
    json_object_set_new(o, "metric", json_string(s->metric));
    json_object_set_new(o, "objective", json_string(s->objective == SPAK_OBJ_MAXIMIZE ? "maximize" : "minimize"));
    if (s->baseline)
        json_object_set_new(o, "baseline", json_string(s->baseline));
    json_object_set_new(o, "ratio", isnan(p->best_ratio) ? json_null() : json_real(p->best_ratio));
    if (p->best_eval_id) {
        json_t *b = json_object();
        json_object_set_new(b, "eval_id", json_integer(p->best_eval_id));
        json_object_set_new(b, "candidate", json_string(p->best_key));
        json_object_set_new(b, s->metric, json_real(p->best_metric));
        json_object_set_new(b, "ratio", isnan(p->best_ratio) ? json_null() : json_real(p->best_ratio));
        json_object_set_new(o, "best", b);
    } else {
        json_object_set_new(o, "best", json_null());
    }
    json_object_set_new(o, "elapsed_s", json_real(s->elapsed_s));
    if (p->untrusted) /* records a spec's own command printed: it could print any number */
        json_object_set_new(o, "untrusted_evaluations", json_integer(p->untrusted));
    return o;
}
