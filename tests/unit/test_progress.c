/* tests/unit/test_progress.c - how a run ranks its evaluations
 * (src/analyze/progress.c, views.c): on the paired ratio when both have one
 * to the same named baseline, on the metric otherwise; the baseline a
 * record set names; the undecided count and the tie set on the same rule;
 * a minimised metric ranked on the ratio as a maximised one is. */
#include <math.h>
#include <string.h>

#include "tap.h"
#include "analyze/progress.h"
#include "analyze/views.h"

/* one Performance record: metric, ratio (<= 0: none), its interval (lo <= 0:
 * none), baseline (NULL: none) */
static json_t *perf(const char *metric, double m, double r, double lo, double hi, const char *baseline)
{
    json_t *rec = json_pack("{s:s,s:f}", "type", "Performance", metric, m);
    if (r > 0)
        json_object_set_new(rec, "ratio", json_real(r));
    if (lo > 0)
        json_object_set_new(rec, "ratio_ci", json_pack("[f,f]", lo, hi));
    json_object_set_new(rec, "precision_reached", json_true());
    if (baseline)
        json_object_set_new(rec, "baseline", json_string(baseline));
    return rec;
}

/* note one evaluation whose records are the one record rec (taken) */
static void note(spak_progress *p, spak_objective obj, int64_t id, double m, double r, json_t *rec)
{
    json_t *recs = json_array();
    json_array_append_new(recs, rec);
    char key[16];
    snprintf(key, sizeof key, "e%lld", (long long)id);
    (void)spak_progress_note(p, obj, (uint64_t)id, id, key, m, r, recs);
    json_decref(recs);
}

static void test_baseline(void)
{
    char b[16];
    json_t *a = json_array();
    TAP_OK(!spak_views_baseline(a, b, sizeof b) && b[0] == 0, "no record: no baseline");
    json_array_append_new(a, perf("gflops", 10, 1.2, 0, 0, "openblas"));
    json_array_append_new(a, perf("gflops", 12, 1.1, 0, 0, "openblas"));
    TAP_OK(spak_views_baseline(a, b, sizeof b) && strcmp(b, "openblas") == 0, "every record to openblas: openblas");
    json_t *h = perf("gflops", 99, 9.0, 0, 0, "mkl");
    json_object_set_new(h, "heldout", json_true());
    json_array_append_new(a, h);
    json_array_append_new(a, perf("gflops", 5, 0, 0, 0, "mkl"));
    TAP_OK(spak_views_baseline(a, b, sizeof b) && strcmp(b, "openblas") == 0,
           "a held-out record and one without a ratio name nothing");
    json_array_append_new(a, perf("gflops", 12, 1.1, 0, 0, "mkl"));
    TAP_OK(!spak_views_baseline(a, b, sizeof b) && b[0] == 0, "ratios to two baselines: none to compare on");
    json_decref(a);
    a = json_array();
    json_array_append_new(a, perf("gflops", 12, 1.1, 0, 0, NULL));
    json_array_append_new(a, perf("gflops", 12, 1.1, 0, 0, "openblas"));
    TAP_OK(!spak_views_baseline(a, b, sizeof b), "a ratio whose baseline is not named: none");
    json_decref(a);
    a = json_array();
    json_array_append_new(a, perf("gflops", 12, 1.1, 0, 0, "a-baseline-name-too-long"));
    TAP_OK(!spak_views_baseline(a, b, sizeof b) && b[0] == 0, "a name longer than the buffer: none, never a cut one");
    json_decref(a);
}

int main(void)
{
    test_baseline();

    /* the drift case: the higher metric has the lower paired ratio */
    spak_progress p;
    spak_progress_init(&p);
    note(&p, SPAK_OBJ_MAXIMIZE, 1, 245.7, 1.303, perf("gflops", 245.7, 1.303, 1.281, 1.326, "blocked"));
    note(&p, SPAK_OBJ_MAXIMIZE, 2, 124.6, 1.556, perf("gflops", 124.6, 1.556, 1.527, 1.585, "blocked"));
    TAP_OK(p.best_eval_id == 2 && p.best_metric == 124.6 && p.since_best == 0,
           "the higher ratio is the best; its metric is still the metric");
    note(&p, SPAK_OBJ_MAXIMIZE, 3, 131.0, 1.570, perf("gflops", 131.0, 1.570, 1.540, 1.600, "blocked"));
    TAP_OK(p.best_eval_id == 2 && p.undecided == 1 && p.since_best == 1,
           "a higher ratio whose interval overlaps the best's: undecided, the best stays");
    json_t *tied;
    TAP_STREQ(spak_progress_decision(&p, &tied), "tied", "the decision on the ratio's intervals: tied");
    TAP_OK(json_array_size(tied) == 1 && json_integer_value(json_array_get(tied, 0)) == 3, "tied with evaluation 3");
    json_decref(tied);
    spak_rank_rule rule;
    TAP_OK(spak_progress_order(&p.ci[0], &p.ci[1], &rule) < 0 && rule == SPAK_RANK_RATIO,
           "245.7 GFLOP/s at 1.303x ranks below 124.6 at 1.556x, on the ratio");
    TAP_OK(spak_progress_above(&p.ci[2], &p.ci[1]) && !spak_progress_above(&p.ci[0], &p.ci[1]),
           "points above, on the ratio");
    spak_summary_of so = {.run_id = "r", .stop_reason = "", .strategy = "grid", .metric = "gflops",
                          .objective = SPAK_OBJ_MAXIMIZE};
    json_t *sum = spak_progress_summary(&p, &so);
    TAP_STREQ(json_string_value(json_object_get(sum, "ranked_on")), "ratio", "the summary says: ranked on the ratio");
    json_decref(sum);
    spak_progress_free(&p);

    /* a minimised time: the ratio is "> 1 = faster" already */
    spak_progress_init(&p);
    note(&p, SPAK_OBJ_MINIMIZE, 1, 8.74, 1.303, perf("time_ms", 8.74, 1.303, 1.281, 1.326, "blocked"));
    note(&p, SPAK_OBJ_MINIMIZE, 2, 17.2, 1.556, perf("time_ms", 17.2, 1.556, 1.527, 1.585, "blocked"));
    TAP_OK(p.best_eval_id == 2, "a minimised time ranks on the ratio the same way");
    spak_progress_free(&p);

    /* ratios to different baselines, or none named: the metric, as before */
    spak_progress_init(&p);
    note(&p, SPAK_OBJ_MAXIMIZE, 1, 245.7, 1.303, perf("gflops", 245.7, 1.303, 1.281, 1.326, "blocked"));
    note(&p, SPAK_OBJ_MAXIMIZE, 2, 124.6, 1.556, perf("gflops", 124.6, 1.556, 1.527, 1.585, "openblas"));
    TAP_OK(p.best_eval_id == 1 && spak_progress_order(&p.ci[1], &p.ci[0], &rule) < 0 && rule == SPAK_RANK_METRIC,
           "ratios to two baselines do not compare: the metric decides");
    note(&p, SPAK_OBJ_MAXIMIZE, 3, 300.0, 0, perf("gflops", 300.0, 0, 0, 0, NULL));
    TAP_OK(p.best_eval_id == 3, "an evaluation without a ratio: the metric decides");
    sum = spak_progress_summary(&p, &so);
    TAP_STREQ(json_string_value(json_object_get(sum, "ranked_on")), "metric", "the summary says: on the metric");
    json_decref(sum);
    spak_progress_free(&p);

    spak_progress_init(&p);
    note(&p, SPAK_OBJ_MAXIMIZE, 1, 245.7, 1.303, perf("gflops", 245.7, 1.303, 0, 0, NULL));
    note(&p, SPAK_OBJ_MAXIMIZE, 2, 124.6, 1.556, perf("gflops", 124.6, 1.556, 0, 0, NULL));
    TAP_OK(p.best_eval_id == 1, "ratios that name no baseline: the metric, as before");
    spak_progress_free(&p);

    /* points without intervals, to one baseline: the ratio's points */
    spak_progress_init(&p);
    note(&p, SPAK_OBJ_MAXIMIZE, 1, 64.2, 3.34, perf("gflops", 64.2, 3.34, 0, 0, "openblas"));
    note(&p, SPAK_OBJ_MAXIMIZE, 2, 52.1, 7.11, perf("gflops", 52.1, 7.11, 0, 0, "openblas"));
    TAP_OK(p.best_eval_id == 2 && isnan(p.best_ratio_lo), "ratios without intervals: their points decide");
    spak_progress_free(&p);

    /* measured under load: the foreign work the CPU judge saw decides nothing */
    spak_progress_init(&p);
    note(&p, SPAK_OBJ_MAXIMIZE, 1, 60.0, 0.70, perf("gflops", 60.0, 0.70, 0.66, 0.74, "openblas"));
    note(&p, SPAK_OBJ_MAXIMIZE, 2, 40.0, 0.50, perf("gflops", 40.0, 0.50, 0.47, 0.53, "openblas"));
    TAP_STREQ(spak_progress_decision(&p, NULL), "winner", "quiet measurements, apart: a winner");
    TAP_OK(spak_progress_under_load(&p, NULL) == 0, "none under load");
    json_t *loaded = perf("gflops", 90.0, 1.00, 0.955, 1.05, "openblas");
    json_object_set_new(loaded, "foreign_load", json_real(0.49));
    json_object_set_new(loaded, "baseline_solo_foreign_load", json_real(0.51));
    note(&p, SPAK_OBJ_MAXIMIZE, 3, 90.0, 1.00, loaded);
    double most;
    TAP_OK(p.best_eval_id == 3 && spak_progress_under_load(&p, &most) == 1 && fabs(most - 0.51) < 1e-12,
           "a burner on one of two CPUs: the evaluation is measured, ranked, and counted as under load (51%%)");
    TAP_STREQ(spak_progress_decision(&p, NULL), "inconclusive",
              "a run with a measurement under load decides nothing: inconclusive, not a winner");
    sum = spak_progress_summary(&p, &so);
    json_t *ul = json_object_get(sum, "measured_under_load");
    TAP_OK(json_integer_value(json_object_get(ul, "evaluations")) == 1 &&
               fabs(json_real_value(json_object_get(ul, "foreign_load_max")) - 0.51) < 1e-12 &&
               json_real_value(json_object_get(ul, "limit")) == SPAK_FOREIGN_LOAD_MAX,
           "the summary says how many, how much and the limit");
    json_decref(sum);
    spak_progress_free(&p);
    spak_progress_init(&p);
    json_t *light = perf("gflops", 60.0, 0.70, 0.66, 0.74, "openblas");
    json_object_set_new(light, "foreign_load", json_real(0.007));
    note(&p, SPAK_OBJ_MAXIMIZE, 1, 60.0, 0.70, light);
    json_t *held = perf("gflops", 60.0, 0.70, 0.66, 0.74, "openblas");
    json_object_set_new(held, "heldout", json_true());
    json_object_set_new(held, "foreign_load", json_real(0.9));
    json_t *recs = json_array();
    json_array_append_new(recs, held);
    TAP_OK(spak_views_foreign_load(recs) == 0, "a held-out record's load counts for nothing");
    json_decref(recs);
    TAP_STREQ(spak_progress_decision(&p, NULL), "winner", "0.7%% foreign work (a quiet machine's own): decided");
    sum = spak_progress_summary(&p, &so);
    TAP_OK(!json_object_get(sum, "measured_under_load"), "and the summary says nothing of load");
    json_decref(sum);
    spak_progress_free(&p);
    return tap_done();
}
