/* sweep.c - a proposal's tunables swept by a strategy of the run (sweep.h). */
#include "program/sweep.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/evaluate.h"
#include "analyze/progress.h"
#include "knowledge/knowledge.h"
#include "spec/parse.h"

#define SWEEP_SOURCE_MAX (1u << 20)

/* A tunable's value as the text of its define (a number or an identifier). */
static bool define_text(const json_t *v, char *out, size_t n)
{
    if (json_is_integer(v))
        return spak_snprintf(out, n, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return isfinite(json_real_value(v)) && spak_snprintf(out, n, "%.17g", json_real_value(v));
    const char *s = json_string_value(v);
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return spak_snprintf(out, n, "%s", s);
}

/* The sweep's space: one parameter per tunable, its values as expressions
 * (numbers, identifiers as strings), in the tunables' order. */
typedef struct sweep_space {
    spak_arena a;
    spak_param_def params[SPAK_SWEEP_MAX_TUNABLES];
    spak_space sp;
    const json_t *tun;
    spak_expr *conds[SPAK_SWEEP_MAX_CONDITIONS];
    size_t n_conds;
} sweep_space;

static bool build_space(sweep_space *s, const json_t *tun, const json_t *conds, char *why, size_t wn)
{
    spak_arena_init(&s->a);
    s->tun = tun;
    s->n_conds = 0;
    size_t n = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(tun) || json_object_size(tun) == 0 || json_object_size(tun) > SPAK_SWEEP_MAX_TUNABLES)
        return spak_snprintf(why, wn, "the sweep's tunables are not 1 to %d NAME: [values]", SPAK_SWEEP_MAX_TUNABLES),
               false;
    json_object_foreach((json_t *)tun, k, v) {
        spak_param_def *p = &s->params[n++];
        memset(p, 0, sizeof *p);
        p->name = spak_arena_strdup(&s->a, k);
        p->origin = "tunable";
        p->n_values = json_array_size(v);
        p->values = spak_arena_alloc(&s->a, (p->n_values ? p->n_values : 1) * sizeof *p->values);
        if (!p->name || !p->values || p->n_values == 0)
            return spak_snprintf(why, wn, "tunable '%.80s' has no values", k), false;
        for (size_t i = 0; i < p->n_values; i++) {
            char txt[128], lit[140];
            const json_t *x = json_array_get(v, i);
            if (!define_text(x, txt, sizeof txt))
                return spak_snprintf(why, wn, "tunable '%.80s', value %zu: not a number or an identifier", k, i + 1),
                       false;
            spak_snprintf(lit, sizeof lit, json_is_string(x) ? "\"%s\"" : "%s", txt);
            p->values[i] = spak_parse_expr_text(lit, (spak_pos){1, 1}, &s->a, NULL, true);
            if (!p->values[i])
                return spak_snprintf(why, wn, "tunable '%.80s', value %zu: '%s' is not a value", k, i + 1, txt), false;
        }
    }
    spak_err err = {0};
    if (spak_space_init(&s->sp, s->params, n, &err) != SPAK_OK || s->sp.total > SPAK_SWEEP_MAX_GRID)
        return spak_snprintf(why, wn, "the sweep's space: %s", err.msg[0] ? err.msg : "over the grid limit"), false;
    for (size_t i = 0; i < json_array_size(conds) && i < SPAK_SWEEP_MAX_CONDITIONS; i++) {
        const char *t = json_string_value(json_array_get(conds, i));
        s->conds[s->n_conds] = t ? spak_parse_expr_text(t, (spak_pos){1, 1}, &s->a, NULL, true) : NULL;
        if (!s->conds[s->n_conds])
            return spak_snprintf(why, wn, "condition %zu is not an expression", i + 1), false;
        s->n_conds++;
    }
    return true;
}

/* A point of the space with its conditions' names bound to its values. */
typedef struct at_point {
    const sweep_space *s;
    size_t digits[SPAK_SPACE_MAX_PARAMS];
} at_point;

static bool point_param(void *ud, const char *name, spak_value *out)
{
    const at_point *p = ud;
    for (size_t i = 0; i < p->s->sp.n; i++)
        if (strcmp(p->s->params[i].name, name) == 0) {
            spak_space_value(p->s->params[i].values[p->digits[i]], out);
            return true;
        }
    return false;
}

/* Whether every condition holds at index (one that cannot be evaluated:
 * no). */
static bool allowed(const sweep_space *s, uint64_t index)
{
    at_point p = {s, {0}};
    spak_space_digits(&s->sp, index, p.digits);
    spak_eval_env env = {.param = point_param, .ud = &p};
    for (size_t c = 0; c < s->n_conds; c++) {
        bool yes = false;
        spak_err err = {0};
        if (spak_eval_bool(s->conds[c], &env, &yes, &err) != SPAK_OK || !yes)
            return false;
    }
    return true;
}

/* The point's values {NAME: value} and its defines. */
static json_t *point_values(const sweep_space *s, uint64_t index, spak_buf *defines)
{
    size_t d[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(&s->sp, index, d);
    json_t *vals = json_object();
    for (size_t i = 0; i < s->sp.n; i++) {
        const json_t *x = json_array_get(json_object_get(s->tun, s->params[i].name), d[i]);
        char txt[128] = "";
        (void)define_text(x, txt, sizeof txt);
        spak_buf_printf(defines, "#define %s %s\n", s->params[i].name, txt);
        json_object_set(vals, s->params[i].name, (json_t *)x);
    }
    return vals;
}

const char *spak_sweep_strategy(const spak_strategy_run *run, const json_t *sweep)
{
    static const char *const walks[] = {"default", "grid", "random", "rules"};
    const char *want[2] = {json_string_value(json_object_get(sweep, "strategy")),
                           run->loop ? run->loop->strategy : NULL};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; want[k] && i < SPAK_ARRAY_LEN(walks); i++)
            if (strcmp(want[k], walks[i]) == 0)
                return walks[i];
    return "default";
}

/* The scores of the points proposed so far (in order), from the store:
 * the final evaluation of item k of the proposal is point k's; one without
 * a final evaluation counts as failed. p gets them as the run's progress
 * does (its best decided on intervals, its plateau counter). */
static void scores(const spak_strategy_run *run, long proposal, const json_t *proposed, spak_space_eval *done,
                   spak_progress *p)
{
    size_t np = json_array_size(proposed);
    for (size_t k = 0; k < np; k++)
        done[k] = (spak_space_eval){(uint64_t)json_integer_value(json_array_get(proposed, k)), NAN};
    spak_eval *ev = NULL;
    size_t n = 0;
    if (run->store)
        (void)spak_store_eval_list(run->store, run->run_id, &ev, &n, NULL);
    int64_t *ids = calloc(np ? np : 1, sizeof *ids);
    double *metric = calloc(np ? np : 1, sizeof *metric), *ratio = calloc(np ? np : 1, sizeof *ratio);
    for (size_t i = 0; ids && metric && ratio && i < n; i++) {
        json_t *res = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        const json_t *note = json_object_get(res, "external");
        json_int_t item = json_integer_value(json_object_get(note, "item"));
        bool final = ev[i].status && (strcmp(ev[i].status, SPAK_EVAL_DONE) == 0 ||
                                      strcmp(ev[i].status, SPAK_EVAL_FAILED) == 0 ||
                                      strcmp(ev[i].status, SPAK_EVAL_STOPPED) == 0);
        if (final && json_object_get(note, "swept") && json_integer_value(json_object_get(note, "proposal")) == proposal &&
            item >= 1 && (size_t)item <= np) {
            bool ok = ev[i].correct != 0 && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0;
            ids[item - 1] = ev[i].eval_id;
            metric[item - 1] = ok ? ev[i].metric : NAN;
            ratio[item - 1] = ev[i].ratio;
        }
        json_decref(res);
    }
    spak_store_evals_free(ev, n);
    for (size_t k = 0; ids && metric && ratio && k < np; k++) {
        double m = ids[k] ? metric[k] : NAN;
        json_t *recs = isnan(m) ? NULL : spak_eval_records(run->store, run->run_id, ids[k]);  /* intervals */
        char key[32];
        spak_snprintf(key, sizeof key, "point %zu", k + 1);
        done[k].score = spak_progress_note(p, run->loop->objective, done[k].index, ids[k] ? ids[k] : -(int64_t)k - 1,
                                           key, m, ratio[k], recs);
        json_decref(recs);
    }
    free(ids);
    free(metric);
    free(ratio);
}

/* The next point the strategy walks to, past the points the conditions
 * exclude (counted as tried and failed); *found false when none is left. */
static spak_status walk(const spak_strategy_run *run, const sweep_space *s, const char *strategy, uint64_t seed,
                        spak_space_eval *done, size_t nd, uint64_t *next, bool *found, spak_err *err)
{
    spak_firing firings[64];
    size_t nf = 0;
    bool rules = strcmp(strategy, "rules") == 0;
    if (rules && run->m && run->env)
        nf = spak_rules_fire(run->m, &s->sp, run->env, firings, SPAK_ARRAY_LEN(firings));
    spak_strategy_kind kind = strcmp(strategy, "grid") == 0 ? SPAK_STRAT_GRID
                              : strcmp(strategy, "random") == 0 ? SPAK_STRAT_RANDOM : SPAK_STRAT_DEFAULT;
    spak_status st = SPAK_OK;
    for (uint64_t tries = 0; tries <= s->sp.total; tries++) {
        bool by_rules = false;
        st = rules ? spak_rules_next(&s->sp, seed, done, nd, firings, nf, next, found, &by_rules, err)
                   : spak_space_next(&s->sp, kind, seed, done, nd, next, found, err);
        if (st != SPAK_OK || !*found || allowed(s, *next))
            return st;
        done[nd++] = (spak_space_eval){*next, NAN};  /* excluded: tried, never built */
    }
    *found = false;
    return st;
}

/* Whether the sweep ends now (max_points, its goal, its plateau): why[wn]
 * then says which. */
static bool ended(const spak_strategy_run *run, const json_t *sw, const spak_progress *p, size_t np, char *why,
                  size_t wn)
{
    long max = (long)json_integer_value(json_object_get(sw, "max_points"));
    long plateau = (long)json_integer_value(json_object_get(sw, "plateau"));
    if (!json_object_get(sw, "plateau") && run->loop)
        plateau = run->loop->plateau;
    const json_t *goal = json_object_get(sw, "goal");
    if (max > 0 && (long)np >= max)
        return spak_snprintf(why, wn, "max_points: %zu points tried", np);
    if (json_is_number(goal) && !isnan(p->best_metric) && p->best_eval_id > 0 &&
        (run->loop->objective == SPAK_OBJ_MAXIMIZE ? p->best_metric >= json_number_value(goal)
                                                   : p->best_metric <= json_number_value(goal)))
        return spak_snprintf(why, wn, "goal: a point reached %g (the goal %g)", p->best_metric,
                             json_number_value(goal));
    if (plateau > 0 && p->best_eval_id && p->since_best >= plateau)
        return spak_snprintf(why, wn, "plateau: the last %ld points did not improve its best", p->since_best);
    return false;
}

/* The point's item: the sweep item without "sweep", with its own source. */
static json_t *point_item(const spak_strategy_run *run, const json_t *it, const sweep_space *s, uint64_t index,
                          size_t k, const char *strategy, char *why, size_t wn)
{
    const char *base = json_string_value(json_object_get(it, "code_path"));
    char *src = NULL, path[PATH_MAX];
    if (!base || spak_read_file(base, SWEEP_SOURCE_MAX, &src, NULL, NULL) != SPAK_OK) {
        spak_snprintf(why, wn, "the sweep's source cannot be read (%.200s)", base ? base : "none given");
        return NULL;
    }
    spak_buf b;
    spak_buf_init(&b, SWEEP_SOURCE_MAX + 8192);
    json_t *vals = point_values(s, index, &b);
    spak_buf_printf(&b, "#line 1\n%s", src);
    free(src);
    long prop = (long)json_integer_value(json_object_get(it, "proposal"));
    spak_err err = {0};
    if (!b.data || !spak_snprintf(path, sizeof path, "%s/runs/%s/external/sweep-%ld-%zu.c", run->site->home,
                                  run->run_id, prop, k) ||
        spak_write_file_atomic(path, b.data, b.len, &err) != SPAK_OK) {
        spak_snprintf(why, wn, "the sweep's point %zu cannot be written: %s", k, err.msg[0] ? err.msg : "too long");
        spak_buf_free(&b);
        json_decref(vals);
        return NULL;
    }
    spak_buf_free(&b);
    json_t *pt = json_deep_copy(it);
    json_object_del(pt, "sweep");
    json_object_set_new(pt, "code_path", json_string(path));
    json_object_set_new(pt, "tunables", vals);
    json_object_set_new(pt, "item", json_integer((json_int_t)k));
    json_object_set_new(pt, "of", json_integer((json_int_t)k));
    json_object_set_new(pt, "swept", json_pack("{s:s,s:I}", "strategy", strategy, "point", (json_int_t)k));
    return pt;
}

spak_status spak_sweep_next(const spak_strategy_run *run, json_t *it, json_t **point, char *why, size_t wn,
                            spak_err *err)
{
    *point = NULL;
    why[0] = 0;
    json_t *sw = json_object_get(it, "sweep");
    json_t *proposed = json_object_get(sw, "proposed");
    if (!json_is_array(proposed)) {
        proposed = json_array();
        json_object_set_new(sw, "proposed", proposed);
    }
    sweep_space s;
    spak_progress p;
    spak_progress_init(&p);
    spak_status st = SPAK_OK;
    size_t np = json_array_size(proposed);
    spak_space_eval *done = NULL;
    if (!build_space(&s, json_object_get(sw, "tunables"), json_object_get(sw, "conditions"), why, wn))
        goto out;
    done = malloc((np + (size_t)s.sp.total + 1) * sizeof *done);
    if (!done) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    scores(run, (long)json_integer_value(json_object_get(it, "proposal")), proposed, done, &p);
    if (ended(run, sw, &p, np, why, wn))
        goto out;
    const char *strategy = spak_sweep_strategy(run, sw);
    uint64_t seed = run->seed ^ ((uint64_t)json_integer_value(json_object_get(it, "proposal")) * 0x9e3779b97f4a7c15ull);
    uint64_t next = 0;
    bool found = false;
    if ((st = walk(run, &s, strategy, seed, done, np, &next, &found, err)) != SPAK_OK)
        goto out;
    if (!found) {
        spak_snprintf(why, wn, "%s found no untried point (%zu tried)", strategy, np);
        goto out;
    }
    *point = point_item(run, it, &s, next, np + 1, strategy, why, wn);
    if (*point)
        json_array_append_new(proposed, json_integer((json_int_t)next));
out:
    free(done);
    spak_progress_free(&p);
    spak_arena_free(&s.a);
    return st;
}
