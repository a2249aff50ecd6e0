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
    p->best_ci = (spak_progress_ci){.score = NAN, .lo = NAN, .hi = NAN, .ratio = NAN, .ratio_lo = NAN, .ratio_hi = NAN};
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

/* Whether a and b rank on their ratios: both have one, to the same named
 * baseline. The ratio is "> 1: faster than the baseline" whatever the
 * objective (records.h, SPAK_FIELD_RATIO: the judges write baseline time /
 * candidate time, for a rate and a time alike), so no sign to turn. */
static bool by_ratio(const spak_progress_ci *a, const spak_progress_ci *b)
{
    return a->baseline[0] && a->ratio > 0 && b->ratio > 0 && strcmp(a->baseline, b->baseline) == 0;
}

int spak_progress_order(const spak_progress_ci *a, const spak_progress_ci *b, spak_rank_rule *rule)
{
    bool r = by_ratio(a, b);
    if (rule)
        *rule = r ? SPAK_RANK_RATIO : SPAK_RANK_METRIC;
    if (isnan(a->score) || isnan(b->score))
        return 0;
    return r ? spak_stats_order(a->ratio_lo, a->ratio_hi, b->ratio_lo, b->ratio_hi)
             : spak_stats_order(a->lo, a->hi, b->lo, b->hi);
}

bool spak_progress_above(const spak_progress_ci *a, const spak_progress_ci *b)
{
    if (isnan(a->score) || isnan(b->score))
        return !isnan(a->score) && isnan(b->score);
    return by_ratio(a, b) ? a->ratio > b->ratio : a->score > b->score;
}

/* e's ratio, its interval (lo = hi = ratio without one) and its baseline
 * from its records (may be NULL) */
static void note_ratio(spak_progress_ci *e, double ratio, double rlo, double rhi, const json_t *records)
{
    e->ratio = ratio > 0 ? ratio : NAN;
    bool ci = e->ratio > 0 && rlo > 0 && rhi >= rlo;
    e->ratio_lo = ci ? rlo : e->ratio;
    e->ratio_hi = ci ? rhi : e->ratio;
    e->baseline[0] = 0;
    if (records && e->ratio > 0)
        (void)spak_views_baseline(records, e->baseline, sizeof e->baseline);
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
    spak_progress_ci e = {eval_id, score, lo, hi, NAN, NAN, NAN, "", 0};
    if (records && !isnan(score))
        e.foreign_load = spak_views_foreign_load(records);
    if (!isnan(score))
        note_ratio(&e, ratio, rlo, rhi, records);
    p->done[p->n_done].index = index;
    p->done[p->n_done].score = score;
    p->ci[p->n_done] = e;
    p->n_done++;
    p->n_evals++;
    if (records) {
        json_decref(p->views.latest);
        p->views.latest = json_incref(records);
    }
    if (!isnan(score) && (isnan(p->best_score) || spak_progress_order(&e, &p->best_ci, NULL) > 0)) {
        p->best_score = score;
        p->best_lo = lo;
        p->best_hi = hi;
        p->best_ci = e;
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
        p->undecided += !isnan(score) && spak_progress_above(&e, &p->best_ci);
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
        if (c->eval_id == p->best_eval_id || isnan(c->score) || spak_progress_order(c, &p->best_ci, NULL) != 0)
            continue;
        n++;
        if (tied)
            json_array_append_new(*tied, json_integer(c->eval_id));
    }
    /* a measurement under load holds on another machine than the others
     * (views.h, SPAK_FOREIGN_LOAD_MAX): nothing is decided that compares it */
    if (spak_progress_under_load(p, NULL) > 0)
        return "inconclusive";
    return n == 0 ? "winner" : p->best_precise ? "tied" : "inconclusive";
}

long spak_progress_under_load(const spak_progress *p, double *most)
{
    long n = 0;
    double m = 0;
    for (size_t i = 0; i < p->n_done; i++) {
        const spak_progress_ci *c = &p->ci[i];
        if (isnan(c->score) || !(c->foreign_load > SPAK_FOREIGN_LOAD_MAX))
            continue;
        n++;
        m = fmax(m, c->foreign_load);
    }
    if (most)
        *most = m;
    return n;
}

/* "ratio", "metric" or "ratio and metric": how the best compares with the
 * other correct evaluations (progress.h, spak_progress_summary) */
static const char *ranked_on(const spak_progress *p)
{
    long nr = 0, nm = 0;
    for (size_t i = 0; i < p->n_done; i++) {
        spak_rank_rule rule;
        if (p->ci[i].eval_id == p->best_eval_id || isnan(p->ci[i].score))
            continue;
        (void)spak_progress_order(&p->ci[i], &p->best_ci, &rule);
        nr += rule == SPAK_RANK_RATIO;
        nm += rule == SPAK_RANK_METRIC;
    }
    if (nr + nm == 0)
        return by_ratio(&p->best_ci, &p->best_ci) ? "ratio" : "metric";
    return nm == 0 ? "ratio" : nr == 0 ? "metric" : "ratio and metric";
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
        json_object_set_new(o, "ranked_on", json_string(ranked_on(p)));
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
    double most;
    long loaded = spak_progress_under_load(p, &most);
    if (loaded > 0 || p->stops_under_load > 0) /* the decision is inconclusive, and this is why */
        json_object_set_new(o, "measured_under_load",
                            json_pack("{s:I,s:f,s:f,s:I}", "evaluations", (json_int_t)loaded, "foreign_load_max", most,
                                      "limit", SPAK_FOREIGN_LOAD_MAX, "stops_not_taken", (json_int_t)p->stops_under_load));
    json_object_set_new(o, "elapsed_s", json_real(s->elapsed_s));
    if (p->untrusted) /* records a spec's own command printed: it could print any number */
        json_object_set_new(o, "untrusted_evaluations", json_integer(p->untrusted));
    return o;
}
