/* progress.c - a run's finished evaluations and its best (progress.h). */
#include "analyze/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/stats.h"
#include "util.h"

void spak_progress_init(spak_progress *p)
{
    memset(p, 0, sizeof *p);
    p->best_score = NAN;
    p->best_metric = NAN;
    p->best_ratio = NAN;
    p->best_lo = p->best_hi = p->best_ratio_lo = p->best_ratio_hi = NAN;
}

void spak_progress_free(spak_progress *p)
{
    json_decref(p->views.latest);
    json_decref(p->views.best);
    free(p->done);
    free(p->ci);
    p->done = NULL;
    p->ci = NULL;
    p->views.latest = p->views.best = NULL;
}

/* the score's interval from the ratio's relative bounds (lo, hi: the
 * ratio's interval; the score moves with the candidate's speed, as the
 * ratio does: a rate is maximised, a time minimised) */
static void score_interval(spak_objective objective, double metric, double ratio, double rlo, double rhi, double *lo,
                           double *hi)
{
    double score = objective == SPAK_OBJ_MAXIMIZE ? metric : -metric;
    *lo = *hi = score;
    if (!(ratio > 0) || !(rlo > 0) || !(rhi >= rlo) || isnan(score))
        return;
    double fl = rlo / ratio, fh = rhi / ratio;
    if (objective == SPAK_OBJ_MAXIMIZE) {
        *lo = metric * fl;
        *hi = metric * fh;
    } else {
        *lo = -metric / fl;
        *hi = -metric / fh;
    }
}

double spak_progress_note(spak_progress *p, spak_objective objective, uint64_t index, int64_t eval_id,
                          const char *key, double metric, double ratio, json_t *records)
{
    double score = isnan(metric) ? NAN : (objective == SPAK_OBJ_MAXIMIZE ? metric : -metric);
    spak_space_eval *q = spak_grow(p->done, &p->alloc_done, p->n_done, sizeof *q);
    spak_progress_ci *c = spak_grow(p->ci, &p->alloc_ci, p->n_done, sizeof *c);
    if (c)
        p->ci = c;
    if (!q || !c)
        return score;
    p->done = q;
    double rlo = NAN, rhi = NAN, lo, hi;
    bool precise = false;
    if (records && !isnan(score))
        spak_views_ratio_ci(records, &rlo, &rhi, &precise);
    score_interval(objective, metric, ratio, rlo, rhi, &lo, &hi);
    p->done[p->n_done].index = index;
    p->done[p->n_done].score = score;
    p->ci[p->n_done] = (spak_progress_ci){eval_id, score, lo, hi};
    p->n_done++;
    p->n_evals++;
    if (records) {
        json_decref(p->views.latest);
        p->views.latest = json_incref(records);
    }
    if (!isnan(score) && (isnan(p->best_score) || spak_stats_order(lo, hi, p->best_lo, p->best_hi) > 0)) {
        p->best_score = score;
        p->best_lo = lo;
        p->best_hi = hi;
        p->best_metric = metric;
        p->best_ratio = ratio;
        p->best_ratio_lo = rlo;
        p->best_ratio_hi = rhi;
        p->best_precise = precise;
        p->best_eval_id = eval_id;
        p->best_index = index;
        spak_snprintf(p->best_key, sizeof p->best_key, "%s", key);
        if (records) {
            json_decref(p->views.best);
            p->views.best = json_incref(records);
        }
        p->since_best = 0;
    } else {
        p->undecided += !isnan(score) && score > p->best_score;
        p->since_best++;
    }
    return score;
}

const char *spak_progress_decision(const spak_progress *p, json_t **tied)
{
    if (tied)
        *tied = json_array();
    if (!p->best_eval_id)
        return "none";
    size_t n = 0;
    for (size_t i = 0; i < p->n_done; i++) {
        const spak_progress_ci *c = &p->ci[i];
        if (c->eval_id == p->best_eval_id || isnan(c->score) ||
            spak_stats_order(c->lo, c->hi, p->best_lo, p->best_hi) != 0)
            continue;
        n++;
        if (tied)
            json_array_append_new(*tied, json_integer(c->eval_id));
    }
    return n == 0 ? "winner" : p->best_precise ? "tied" : "inconclusive";
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
        if (!isnan(p->best_ratio_lo))
            json_object_set_new(b, "ratio_ci", json_pack("[f,f]", p->best_ratio_lo, p->best_ratio_hi));
        json_object_set_new(o, "best", b);
    } else {
        json_object_set_new(o, "best", json_null());
    }
    if (!isnan(p->best_ratio_lo)) { /* decided on intervals (docs/language.md, "Intervals") */
        json_t *tied;
        json_object_set_new(o, "ratio_ci", json_pack("[f,f]", p->best_ratio_lo, p->best_ratio_hi));
        json_object_set_new(o, "decision", json_string(spak_progress_decision(p, &tied)));
        json_object_set_new(o, "tied_with", tied);
        json_object_set_new(o, "undecided", json_integer(p->undecided));
    }
    json_object_set_new(o, "elapsed_s", json_real(s->elapsed_s));
    if (p->untrusted) /* records a spec's own command printed: it could print any number */
        json_object_set_new(o, "untrusted_evaluations", json_integer(p->untrusted));
    return o;
}
