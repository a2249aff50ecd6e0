/* engine.c - the state machine of engine.h. */
#include "engine.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze/device.h"
#include "analyze/evaluate.h"
#include "analyze/trace.h"
#include "build/candidate.h"
#include "knowledge/knowledge.h"
#include "knowledge/learn.h"
#include "knowledge/transfer.h"
#include "program/strategy.h"
#include "spec/expr.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "store/owner.h"

#define S_SPECIFY "specify"
#define S_PROGRAM "program"
#define S_BUILD "build"
#define S_ANALYZE "analyze"
#define S_KNOWLEDGE "knowledge"
#define S_DECIDE "decide"
#define S_DONE "done"
#define S_SUSPENDED "suspended"
/* the evaluation budget of an LLM run that was given no budget at all */
#define SPAK_LLM_DEFAULT_EVALUATIONS 50
/* exit_desc of an evaluation that stands for an LLM step that gave no candidate */
#define NO_CANDIDATE "not run: no candidate"

const char *spak_engine_describe(void)
{
    return "spak's loop is one state machine; every arrow is journaled in the store before it is taken.\n"
           "\n"
           "  SPECIFY    parse + check the spec, create the run, record the device\n"
           "     |\n"
           "     v\n"
           "  DECIDE  <------------------------------------------------------+\n"
           "     |  budget spent (evaluations, wall time, device seconds,       |\n"
           "     |  LLM tokens or cost) / stop condition / fraction of the      |\n"
           "     |  roofline / plateau / space exhausted                        |\n"
           "     |        --> DONE: crystallization (lessons, spec v(n+1))      |\n"
           "     v                                                             |\n"
           "  PROGRAM    grid | random | default | rules | llm proposes the     |\n"
           "     |       next candidate (llm: parameters or a new source;       |\n"
           "     |       the manual backend SUSPENDS until its reply file)      |\n"
           "     v                                                             |\n"
           "  BUILD      source + parameters as -D defines -> .so (cached by    |\n"
           "     |       content; the llm-code gate can SUSPEND before it)      |\n"
           "     v                                                             |\n"
           "  ANALYZE    measure cmd in the sandbox: the trusted harness        |\n"
           "     |       checks, times (against the baseline, in the same       |\n"
           "     |       process) and classifies; trace records validated       |\n"
           "     v                                                             |\n"
           "  KNOWLEDGE  predicate facts evaluated on the new records ----------+\n"
           "\n"
           "SUSPENDED waits for a person (a reply file, spak approve / spak reject); spak resume\n"
           "goes on. Resume keeps every finished evaluation; one cut off mid-way is marked\n"
           "'interrupted' and proposed again; the strategies are pure functions of the seed and\n"
           "the finished evaluations, so a resumed run continues where it stopped.\n";
}

typedef struct engine {
    const spak_engine_opts *o;
    spak_store *store;
    spak_spec *spec;
    const spak_model *m;
    const spak_loop_def *loop;
    spak_space space;
    spak_cand_site site;  /* where candidates are built: spec_dir, home, run_id */
    const spak_strategy *strat;  /* PROGRAM (strategy.h) */
    void *strat_self;             /* its state */
    const char *strat_name;
    const char *spec_path;
    uint64_t seed;
    long max_evals;
    double max_wall;
    char run_id[SPAK_STORE_ID_MAX];
    char state[32];
    char spec_dir[PATH_MAX];
    char home[PATH_MAX];
    const char *target;
    const char *baseline;
    spak_space_eval *done;
    size_t n_done, alloc_done;
    long n_evals;
    long since_best;
    double best_score;
    double best_metric, best_ratio;
    int64_t best_eval_id;
    uint64_t best_index;
    char best_key[2048];
    spak_transfer lessons;  /* transfer: the store's lessons as rules */
    const char *code_source;  /* the source of a code candidate being evaluated, or NULL */
    unsigned gates;           /* SPAK_GATE_* */
    double device_s;          /* seconds the measure commands ran */
    json_t *latest;   /* array of the newest evaluation's valid records */
    json_t *best;     /* array of the best evaluation's valid records */
    double elapsed_before, t0;
    uint64_t next_index;  /* the point of the newest candidate */
} engine;

static double elapsed(const engine *e)
{
    return e->elapsed_before + (spak_now_monotonic() - e->t0);
}

static void emit(engine *e, spak_engine_event *ev)
{
    ev->run_id = e->run_id;
    ev->elapsed_s = elapsed(e);
    if (e->o->on_event)
        e->o->on_event(e->o->ud, ev);
}

/* Journal the transition, then take it. */
static spak_status go(engine *e, const char *to, json_t *detail, spak_err *err)
{
    char *d = NULL;
    if (detail) {
        json_object_set_new(detail, "elapsed_s", json_real(elapsed(e)));
        d = json_dumps(detail, JSON_COMPACT);
        json_decref(detail);
    }
    spak_transition t = {e->state, to, NULL, NULL, NULL, d};
    spak_status st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    free(d);
    if (st != SPAK_OK)
        return st;
    spak_snprintf(e->state, sizeof e->state, "%s", to);
    spak_engine_event ev = {.kind = SPAK_EV_PHASE, .phase = to, .eval_no = e->n_evals, .budget = e->max_evals,
                            .total = e->space.total, .metric_name = e->loop->metric, .best_metric = e->best_metric,
                            .best_ratio = e->best_ratio, .baseline = e->baseline};
    emit(e, &ev);
    return SPAK_OK;
}

/* ---- the record views that expressions read ---- */

/* The last record of a case (any case when NULL) among those that count
 * (spak_trace_counts_heldout: held-out ones never steer the loop). */
static const json_t *find_case(const json_t *arr, const char *case_name)
{
    const bool heldout = spak_trace_counts_heldout(arr, case_name);
    const json_t *found = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        if (spak_trace_record_counts(r, case_name, heldout))
            found = r;
    }
    return found;
}

static const json_t *cb_latest(void *ud, const char *case_name)
{
    engine *e = ud;
    return e->latest ? find_case(e->latest, case_name) : NULL;
}

static const json_t *cb_best(void *ud, const char *case_name)
{
    engine *e = ud;
    return e->best ? find_case(e->best, case_name) : NULL;
}

/* Parameters in conditions read the values of the best candidate so far. */
static bool cb_param(void *ud, const char *name, spak_value *out)
{
    engine *e = ud;
    if (isnan(e->best_score) || e->best_index >= e->space.total)
        return false;
    size_t d[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(&e->space, e->best_index, d);
    for (size_t i = 0; i < e->space.n; i++) {
        if (strcmp(e->space.params[i].name, name) != 0)
            continue;
        const spak_expr *v = e->space.params[i].values[d[i]];
        memset(out, 0, sizeof *out);
        if (v->kind == SPAK_EX_NUMBER) {
            out->kind = SPAK_VAL_NUM;
            out->num = v->num;
        } else if (v->kind == SPAK_EX_UNARY) {
            out->kind = SPAK_VAL_NUM;
            out->num = -v->lhs->num;
        } else if (v->kind == SPAK_EX_BOOL) {
            out->kind = SPAK_VAL_BOOL;
            out->b = v->boolean;
        } else {
            out->kind = SPAK_VAL_STR;
            out->str = spak_value_text(v);
        }
        return true;
    }
    return false;
}

static const json_t *cb_latest_all(void *ud)
{
    return ((engine *)ud)->latest;
}

static const json_t *cb_best_all(void *ud)
{
    return ((engine *)ud)->best;
}

static spak_eval_env eval_env(engine *e)
{
    spak_eval_env env = {.model = e->m, .latest = cb_latest, .best = cb_best, .param = cb_param, .ud = e,
                         .latest_all = cb_latest_all, .best_all = cb_best_all};
    return env;
}

/* ---- the strategy's view of the run ---- */

/* Journal PROGRAM for a strategy that enters it before slow work. */
static spak_status go(engine *e, const char *to, json_t *detail, spak_err *err);
static spak_status enter_program(void *ud, json_t *detail, spak_err *err)
{
    engine *e = ud;
    if (strcmp(e->state, S_PROGRAM) == 0) {
        json_decref(detail);
        return SPAK_OK;
    }
    return go(e, S_PROGRAM, detail, err);
}

/* env is the caller's: the view points at it. */
static spak_strategy_run run_view(engine *e, spak_eval_env *env)
{
    *env = eval_env(e);
    spak_strategy_run r = {.m = e->m, .loop = e->loop, .space = &e->space, .site = &e->site, .o = e->o,
                           .spec_path = e->spec_path, .target = e->target, .seed = e->seed, .store = e->store,
                           .run_id = e->run_id, .lessons = &e->lessons, .done = e->done, .n_done = e->n_done,
                           .best_eval_id = e->best_eval_id, .best_index = e->best_index, .best_key = e->best_key,
                           .best_metric = e->best_metric, .best_ratio = e->best_ratio, .last_index = e->next_index,
                           .env = env, .enter_program = enter_program, .ud = e};
    return r;
}

/* ---- setup ---- */

static spak_status load_spec(engine *e, const char *path, const char *text, spak_err *err)
{
    spak_status st = text ? spak_spec_load_mem(path, text, strlen(text), &e->spec, err)
                          : spak_spec_load(path, &e->spec, err);
    if (st != SPAK_OK) {
        if (e->spec) {
            spak_buf b;
            spak_buf_init(&b, 8192);
            spak_diags_format(spak_spec_diags(e->spec), &b);
            spak_errf(err, st, "%s is not a valid spec:\n%s", path, b.data ? b.data : "");
            spak_buf_free(&b);
        }
        return st;
    }
    e->m = spak_spec_model(e->spec);
    if (e->m->n_loops == 0)
        return spak_errf(err, SPAK_ERR_CHECK, "%s has no engineering_loop to run", path);
    e->loop = &e->m->loops[0];
    if (e->o->loop_name) {
        e->loop = spak_model_loop(e->m, e->o->loop_name);
        if (!e->loop)
            return spak_errf(err, SPAK_ERR_ARG, "%s has no engineering_loop named '%s'", path, e->o->loop_name);
    }
    if (!e->loop->has_measure)
        return spak_errf(err, SPAK_ERR_CHECK, "engineering_loop %s has no measure block", e->loop->name);
    char tmp[PATH_MAX];
    spak_snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash)
        *slash = '\0';
    else
        spak_snprintf(tmp, sizeof tmp, ".");
    if (!realpath(tmp, e->spec_dir))
        spak_snprintf(e->spec_dir, sizeof e->spec_dir, "%s", tmp);
    e->target = e->m->problem ? spak_block_string(e->m->problem, "target") : NULL;
    if (!e->target)
        e->target = "cpu";
    e->baseline = e->m->problem ? spak_block_string(e->m->problem, "baseline") : NULL;
    st = spak_space_init(&e->space, e->loop->params, e->loop->n_params, err);
    if (st != SPAK_OK)
        return st;
    e->site = (spak_cand_site){e->m, &e->space, e->spec_dir, e->home, e->run_id};
    const char *sn = e->o->strategy ? e->o->strategy : e->loop->strategy;
    e->strat = spak_strategy_find(sn);
    if (!e->strat)
        return spak_errf(err, SPAK_ERR_ARG,
                         "strategy '%s' is not available in this version (use default, grid, random, rules or llm)", sn);
    e->strat_name = sn;
    e->spec_path = path;
    if (e->strat->open) {
        spak_eval_env env;
        spak_strategy_run r = run_view(e, &env);
        st = e->strat->open(&r, &e->strat_self, err);
        if (st != SPAK_OK)
            return st;
    }
    e->gates = e->loop->approve | e->o->approve;
    e->max_evals = e->o->max_evaluations > 0 ? e->o->max_evaluations : e->loop->max_evaluations;
    e->max_wall = e->o->max_wall_s > 0 ? e->o->max_wall_s : e->loop->max_wall_s;
    /* a strategy with no end of its own (the LLM's written sources are not
     * points of a finite space) gets a budget when the run has none of any
     * kind, shown in the start line and kept with the run */
    long db = e->strat->default_budget ? e->strat->default_budget(e->strat_self) : 0;
    if (db > 0 && e->max_evals <= 0 && e->max_wall <= 0 && e->loop->max_device_s <= 0 && e->loop->max_tokens <= 0 &&
        e->loop->max_cost_usd <= 0)
        e->max_evals = db;
    return SPAK_OK;
}

static spak_status setup_home(engine *e, spak_err *err)
{
    const char *home = e->o->home ? e->o->home : ".spak";
    spak_status st = spak_mkdirs(home, err);
    if (st != SPAK_OK)
        return st;
    if (!realpath(home, e->home))
        return spak_errf(err, SPAK_ERR_IO, "%s: %s", home, strerror(errno));
    char dev[PATH_MAX + 32];
    spak_snprintf(dev, sizeof dev, "%s/cache/device", e->home);
    st = spak_mkdirs(dev, err);
    if (st != SPAK_OK)
        return st;
    /* the harness measures device ceilings once and caches them here; it
     * runs as an unprivileged user in the sandbox, hence the sticky 1777 */
    chmod(dev, 01777);
    return SPAK_OK;
}

/* ---- one evaluation: BUILD (candidate.h), then ANALYZE (evaluate.h) ---- */

static spak_status evaluate(engine *e, uint64_t index, int64_t eval_id, spak_outcome *oc, spak_err *err)
{
    spak_outcome_init(oc);
    spak_cand_vars *v = malloc(sizeof *v);
    if (!v)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_cand_vars_init(v, &e->site, index);
    spak_cand_job job = {.index = index, .eval_id = eval_id, .seed = e->seed, .bin_dir = e->o->bin_dir,
                         .target = e->target, .code_source = e->code_source};
    bool built = false;
    spak_cand_argv av = {0};
    spak_status st = spak_cand_prepare(v, &job, &oc->build_log, &built, oc->why, sizeof oc->why, err);
    if (st != SPAK_OK || !built)
        goto out;
    st = go(e, S_ANALYZE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st != SPAK_OK)
        goto out;
    spak_store_eval_set_status(e->store, e->run_id, eval_id, SPAK_EVAL_RUNNING, NULL);
    st = spak_cand_argv_make(v, e->loop->cmd, &av, err);
    if (st != SPAK_OK)
        goto out;
    spak_measure_job mj = {.argv = (const char *const *)av.argv, .workdir = v->workdir, .home = e->home,
                           .target = e->target, .timeout_s = e->o->eval_timeout_s, .schema = &e->m->schema,
                           .metric = e->loop->metric};
    st = spak_measure(&mj, oc, err);
out:
    spak_cand_argv_free(&av);
    free(v);
    return st;
}

/* ---- bookkeeping of finished evaluations ---- */

static void note_eval(engine *e, uint64_t index, int64_t eval_id, const char *key, double metric, double ratio,
                      json_t *records, bool no_candidate)
{
    if (e->n_done == e->alloc_done) {
        size_t na = e->alloc_done ? 2 * e->alloc_done : 64;
        spak_space_eval *q = realloc(e->done, na * sizeof *q);
        if (!q)
            return;
        e->done = q;
        e->alloc_done = na;
    }
    double score = isnan(metric) ? NAN : (e->loop->objective == SPAK_OBJ_MAXIMIZE ? metric : -metric);
    e->done[e->n_done].index = index;
    e->done[e->n_done].score = score;
    e->n_done++;
    e->n_evals++;
    if (records) {
        json_decref(e->latest);
        e->latest = json_incref(records);
    }
    if (!isnan(score) && (isnan(e->best_score) || score > e->best_score)) {
        e->best_score = score;
        e->best_metric = metric;
        e->best_ratio = ratio;
        e->best_eval_id = eval_id;
        e->best_index = index;
        spak_snprintf(e->best_key, sizeof e->best_key, "%s", key);
        if (records) {
            json_decref(e->best);
            e->best = json_incref(records);
        }
        e->since_best = 0;
    } else {
        e->since_best++;
    }
    if (e->strat->observe) {
        spak_strategy_obs ob = {index, key, score, records, no_candidate};
        e->strat->observe(e->strat_self, &ob);
    }
}

static json_t *records_of_eval(engine *e, int64_t eval_id)
{
    spak_trace_row *rows = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (spak_store_trace_list(e->store, e->run_id, eval_id, &rows, &n, NULL) != SPAK_OK)
        return arr;
    for (size_t i = 0; i < n; i++)
        if (rows[i].valid && rows[i].record_json) {
            json_t *j = json_loads(rows[i].record_json, 0, NULL);
            if (j)
                json_array_append_new(arr, j);
        }
    spak_store_trace_rows_free(rows, n);
    return arr;
}

/* Rebuild the in-memory view from the store (a resumed run). */
static spak_status replay(engine *e, spak_err *err)
{
    spak_eval *ev = NULL;
    size_t n = 0;
    spak_status st = spak_store_eval_list(e->store, e->run_id, &ev, &n, err);
    if (st != SPAK_OK)
        return st;
    int64_t latest_id = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].status, SPAK_EVAL_DONE) != 0 && strcmp(ev[i].status, SPAK_EVAL_FAILED) != 0)
            continue;
        uint64_t idx;
        if (!ev[i].cand_key)
            continue;
        if (!spak_space_find(&e->space, ev[i].cand_key, &idx))
            idx = UINT64_MAX;  /* an LLM-written source or a failed LLM step */
        double metric = (ev[i].correct != 0 && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0) ? ev[i].metric : NAN;
        note_eval(e, idx, ev[i].eval_id, ev[i].cand_key, metric, ev[i].ratio, NULL,
                  ev[i].exit_desc && strcmp(ev[i].exit_desc, NO_CANDIDATE) == 0);
        json_t *rj = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        if (json_is_number(json_object_get(rj, "wall_s")))
            e->device_s += json_number_value(json_object_get(rj, "wall_s"));
        json_decref(rj);
        latest_id = ev[i].eval_id;
    }
    spak_store_evals_free(ev, n);
    if (latest_id) {
        json_decref(e->latest);
        e->latest = records_of_eval(e, latest_id);
    }
    if (e->best_eval_id) {
        json_decref(e->best);
        e->best = records_of_eval(e, e->best_eval_id);
    }
    return SPAK_OK;
}

/* ---- DECIDE ---- */

static json_t *summary(engine *e, const char *stop_reason)
{
    json_t *s = json_object();
    json_object_set_new(s, "run_id", json_string(e->run_id));
    json_object_set_new(s, "stop_reason", json_string(stop_reason ? stop_reason : ""));
    json_object_set_new(s, "evaluations", json_integer(e->n_evals));
    json_object_set_new(s, "space_size", json_integer((json_int_t)e->space.total));
    json_object_set_new(s, "strategy", json_string(e->strat_name));
    json_object_set_new(s, "metric", json_string(e->loop->metric));
    json_object_set_new(s, "objective", json_string(e->loop->objective == SPAK_OBJ_MAXIMIZE ? "maximize" : "minimize"));
    if (e->baseline)
        json_object_set_new(s, "baseline", json_string(e->baseline));
    json_object_set_new(s, "ratio", isnan(e->best_ratio) ? json_null() : json_real(e->best_ratio));
    if (e->best_eval_id) {
        json_t *b = json_object();
        json_object_set_new(b, "eval_id", json_integer(e->best_eval_id));
        json_object_set_new(b, "candidate", json_string(e->best_key));
        json_object_set_new(b, e->loop->metric, json_real(e->best_metric));
        json_object_set_new(b, "ratio", isnan(e->best_ratio) ? json_null() : json_real(e->best_ratio));
        json_object_set_new(s, "best", b);
    } else {
        json_object_set_new(s, "best", json_null());
    }
    json_object_set_new(s, "elapsed_s", json_real(elapsed(e)));
    return s;
}

/* Why the run should stop now, or NULL to go on. */
static const char *decide(engine *e)
{
    if (e->max_evals > 0 && e->n_evals >= e->max_evals)
        return "budget: evaluations";
    if (e->max_wall > 0 && elapsed(e) >= e->max_wall)
        return "budget: wall time";
    if (e->loop->max_device_s > 0 && e->device_s >= e->loop->max_device_s)
        return "budget: device seconds";
    if (e->strat->stop) {  /* the strategy's own budgets (LLM tokens, cost, failed steps) */
        spak_eval_env env;
        spak_strategy_run r = run_view(e, &env);
        const char *why = e->strat->stop(e->strat_self, &r);
        if (why)
            return why;
    }
    if (e->loop->stop_roofline > 0 && e->best) {
        /* the best candidate's position under the roofline, averaged over its shapes */
        static const char *const fields[] = {"roofline_frac", "frac_peak_flops", "frac_peak"};
        double sum = 0;
        int n = 0;
        size_t i;
        json_t *r;
        json_array_foreach(e->best, i, r) {
            if (json_is_true(json_object_get(r, "heldout")))
                continue;
            for (size_t k = 0; k < SPAK_ARRAY_LEN(fields); k++) {
                json_t *v = json_object_get(r, fields[k]);
                if (json_is_number(v)) {
                    sum += json_number_value(v);
                    n++;
                    break;
                }
            }
        }
        if (n && sum / n >= e->loop->stop_roofline)
            return "stop: fraction of the roofline";
    }
    if (e->loop->stop_when && e->latest) {
        spak_eval_env env = eval_env(e);
        bool yes = false;
        spak_err ee;
        if (spak_eval_bool(e->loop->stop_when, &env, &yes, &ee) == SPAK_OK && yes)
            return "stop condition";
    }
    if (e->loop->plateau > 0 && e->best_eval_id && e->since_best >= e->loop->plateau)
        return "plateau";
    return NULL;
}

/* ---- KNOWLEDGE ---- */

static json_t *knowledge(engine *e)
{
    json_t *facts = json_object();
    spak_eval_env env = eval_env(e);
    for (size_t i = 0; i < e->m->n_facts; i++) {
        const spak_fact_def *f = &e->m->facts[i];
        if (!f->predicate || !f->body)
            continue;
        if (!cb_latest(e, f->tcase ? f->tcase->name : NULL))
            continue;
        spak_value v;
        spak_err ee;
        if (spak_eval_fact(f, NULL, &env, &v, &ee) == SPAK_OK)
            json_object_set_new(facts, f->name, json_boolean(v.b));
        else
            json_object_set_new(facts, f->name, json_pack("{s:s}", "error", ee.msg));
    }
    return facts;
}

/* ---- the loop ---- */

static spak_status finish_eval(engine *e, int64_t eval_id, spak_outcome *oc, const spak_proposal *p, spak_err *err)
{
    char exit_desc[300];
    if (oc->ran)
        spak_snprintf(exit_desc, sizeof exit_desc, "%s: %s", spak_sandbox_why_name(oc->sr.why), oc->sr.why_text);
    else
        spak_snprintf(exit_desc, sizeof exit_desc, "not run");
    json_t *res = json_object();
    if (oc->ran) {
        json_object_set_new(res, "wall_s", json_real(oc->sr.wall_s));
        json_object_set_new(res, "cpu_s", json_real(oc->sr.cpu_s));
        json_object_set_new(res, "peak_rss_kb", json_integer(oc->sr.peak_rss_kb));
        if (oc->sr.warnings[0])
            json_object_set_new(res, "sandbox_warnings", json_string(oc->sr.warnings));
        json_object_set_new(res, "trace_errors", json_integer((json_int_t)oc->traces.n_errors));
    }
    if (p->note && p->note_key) {
        /* how it was proposed (an LLM's prediction) against what was measured */
        json_t *l = json_deep_copy(p->note);
        json_object_set_new(l, "measured_metric", oc->ok ? json_real(oc->metric) : json_null());
        json_object_set_new(res, p->note_key, l);
    }
    char *rj = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    spak_eval_result r = {
        .status = oc->ok ? SPAK_EVAL_DONE : SPAK_EVAL_FAILED,
        .build_log = oc->build_log,
        .stdout_tail = oc->ran ? oc->sr.out : NULL,
        .stdout_tail_len = oc->ran ? oc->sr.out_len : 0,
        .stderr_tail = oc->ran ? oc->sr.err : NULL,
        .stderr_tail_len = oc->ran ? oc->sr.err_len : 0,
        .exit_desc = exit_desc,
        .correct = oc->correct,
        .metric = oc->ok ? oc->metric : NAN,
        .ratio = oc->ok ? oc->ratio : NAN,
        .bottleneck = oc->bottleneck[0] ? oc->bottleneck : NULL,
        .result_json = rj,
        .error = oc->ok ? NULL : oc->why,
        .traces = oc->ran ? &oc->traces : NULL,
    };
    spak_status st = spak_store_eval_finish(e->store, e->run_id, eval_id, &r, err);
    free(rj);
    return st;
}

/* A Programming step that gave no candidate is an evaluation that failed:
 * recorded, counted against the budget, and shown to the next prompt. */
static spak_status record_failed_step(engine *e, const char *key, const char *why, json_t *summary, spak_err *err)
{
    int64_t cand_id, eval_id;
    spak_status st = spak_store_candidate_upsert(e->store, e->run_id, key, "{}", NULL, NULL, &cand_id, NULL, err);
    if (st == SPAK_OK)
        st = spak_store_eval_begin(e->store, e->run_id, cand_id, SPAK_EVAL_BUILDING, &eval_id, err);
    if (st != SPAK_OK)
        return st;
    st = go(e, S_BUILD, json_pack("{s:I,s:s,s:b}", "eval_id", (json_int_t)eval_id, "candidate", key, "skipped", 1), err);
    if (st == SPAK_OK)
        st = go(e, S_ANALYZE, json_pack("{s:I,s:b}", "eval_id", (json_int_t)eval_id, "skipped", 1), err);
    if (st != SPAK_OK)
        return st;
    char *rj = json_dumps(summary, JSON_COMPACT);
    spak_eval_result r = {.status = SPAK_EVAL_FAILED, .exit_desc = NO_CANDIDATE, .correct = -1,
                          .metric = NAN, .ratio = NAN, .result_json = rj, .error = why};
    st = spak_store_eval_finish(e->store, e->run_id, eval_id, &r, err);
    free(rj);
    if (st != SPAK_OK)
        return st;
    note_eval(e, UINT64_MAX, eval_id, key, NAN, NAN, NULL, true);
    spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = e->n_evals, .budget = e->max_evals,
                            .total = e->space.total, .key = key, .ok = false, .why = why,
                            .metric_name = e->loop->metric, .metric = NAN, .ratio = NAN, .baseline = e->baseline,
                            .best_metric = e->best_metric, .best_ratio = e->best_ratio};
    emit(e, &ev);
    st = go(e, S_KNOWLEDGE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st == SPAK_OK)
        st = go(e, S_DECIDE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    return st;
}

/* ---- approval gates ---- */

#define KV_APPROVAL "approval"

/* Pass a gate: 1 approved, 0 rejected, -1 the run is now suspended waiting
 * for `spak approve` / `spak reject`. payload (borrowed) is kept with the
 * pending approval so that a resumed run continues with it. */
static int gate(engine *e, const char *name, const char *what, json_t *payload, spak_status *st, spak_err *err)
{
    *st = SPAK_OK;
    char *v = NULL;
    spak_store_kv_get(e->store, KV_APPROVAL, e->run_id, &v, NULL);
    json_t *p = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    const char *g = json_string_value(json_object_get(p, "gate"));
    const char *dec = json_string_value(json_object_get(p, "decision"));
    int answer = -1;
    if (g && strcmp(g, name) == 0 && dec)
        answer = strcmp(dec, "approve") == 0;
    else if (e->o->on_approve)
        answer = e->o->on_approve(e->o->ud, name, what);
    json_decref(p);
    if (answer >= 0) {
        spak_store_kv_delete(e->store, KV_APPROVAL, e->run_id, NULL);
        json_t *d = json_pack("{s:s,s:s,s:s}", "gate", name, "decision", answer ? "approve" : "reject", "what", what);
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        /* the decision is journaled (a transition of the state to itself) */
        spak_transition t = {e->state, e->state, NULL, NULL, NULL, dj};
        *st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
        free(dj);
        return answer;
    }
    json_t *pend = json_pack("{s:s,s:s,s:O?}", "gate", name, "what", what, "payload", payload);
    char *pj = json_dumps(pend, JSON_COMPACT);
    json_decref(pend);
    *st = spak_store_kv_put(e->store, KV_APPROVAL, e->run_id, pj ? pj : "{}", err);
    if (*st == SPAK_OK) {
        spak_transition t = {e->state, S_SUSPENDED, SPAK_RUN_SUSPENDED, NULL, NULL, pj};
        *st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    }
    free(pj);
    if (*st != SPAK_OK)
        return -1;
    spak_snprintf(e->state, sizeof e->state, "%s", S_SUSPENDED);
    char why[1200];
    spak_snprintf(why, sizeof why, "approval needed (%s): %s; answer with 'spak approve %s' or 'spak reject %s'", name,
                  what, e->run_id, e->run_id);
    spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .why = why, .eval_no = e->n_evals};
    emit(e, &ev);
    return -1;
}

char *spak_engine_pending(spak_store *st, const char *run_id)
{
    char *v = NULL;
    spak_store_kv_get(st, KV_APPROVAL, run_id, &v, NULL);
    return v;
}

spak_status spak_engine_answer(const spak_engine_opts *o, const char *run_id, bool approve, char *what, size_t what_n,
                               spak_err *err)
{
    spak_store *st = NULL;
    spak_status s = spak_engine_open_store(o, &st, err);
    if (s != SPAK_OK)
        return s;
    char *v = spak_engine_pending(st, run_id);
    json_t *p = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    if (!p || json_object_get(p, "decision")) {
        s = spak_errf(err, SPAK_ERR_STATE, "run %s has no pending approval", run_id);
    } else {
        spak_snprintf(what, what_n, "%s: %s", json_string_value(json_object_get(p, "gate")),
                      json_string_value(json_object_get(p, "what")));
        json_object_set_new(p, "decision", json_string(approve ? "approve" : "reject"));
        char *pj = json_dumps(p, JSON_COMPACT);
        s = spak_store_kv_put(st, KV_APPROVAL, run_id, pj ? pj : "{}", err);
        free(pj);
    }
    json_decref(p);
    spak_store_close(st);
    return s;
}

/* End of run: lessons into the store; v(n+1) and the insights log into the
 * run's directory (`spak learn RUN` writes v(n+1) next to the original). A
 * failure here is journaled, not fatal: the measurements are already safe. */
static void crystallize(engine *e)
{
    char dir[PATH_MAX + 64], out[PATH_MAX + 128], ins[PATH_MAX + 128];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s", e->home, e->run_id);
    spak_mkdirs(dir, NULL);
    spak_snprintf(out, sizeof out, "%s/spec.next.spak", dir);
    spak_snprintf(ins, sizeof ins, "%s/insights.jsonl", dir);
    spak_learn_opts lo = {.out_path = out, .write_spec = true, .record = true, .insights_path = ins};
    spak_learn_result r;
    spak_err err = {0};
    spak_status st = spak_learn(e->store, e->run_id, &lo, &r, &err);
    json_t *d = st == SPAK_OK ? json_pack("{s:s,s:I,s:s}", "crystallized", out, "lessons", (json_int_t)r.n,
                                          "insights", ins)
                              : json_pack("{s:s}", "crystallize_error", err.msg);
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    spak_store_kv_put(e->store, "run", e->run_id, dj ? dj : "{}", NULL);
    free(dj);
    spak_learn_result_free(&r);
}

/* DONE: the knowledge gate, the run's summary, crystallization. */
static spak_status finish_run(engine *e, const char *reason, spak_err *err)
{
    spak_status st = SPAK_OK;
    bool learn = !e->o->no_learn;
    if (learn && (e->gates & SPAK_GATE_KNOWLEDGE)) {
        char what[600];
        spak_snprintf(what, sizeof what,
                      "crystallize run %s (%s): lessons into the store, spec v(n+1) and insights into %s/runs/%s",
                      e->run_id, reason, e->home, e->run_id);
        int a = gate(e, "knowledge", what, NULL, &st, err);
        if (st != SPAK_OK || a < 0)
            return st;
        learn = a == 1;
    }
    json_t *s = summary(e, reason);
    char *sj = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    json_t *d = json_pack("{s:s}", "stop_reason", reason);
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    spak_transition t = {e->state, S_DONE, SPAK_RUN_DONE, reason, sj, dj};
    st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    free(dj);
    if (st == SPAK_OK && learn)
        crystallize(e);
    if (st == SPAK_OK) {
        spak_snprintf(e->state, sizeof e->state, "%s", S_DONE);
        spak_engine_event ev = {.kind = SPAK_EV_RUN_DONE, .stop_reason = reason, .summary_json = sj,
                                .eval_no = e->n_evals, .best_metric = e->best_metric, .best_ratio = e->best_ratio,
                                .metric_name = e->loop->metric, .baseline = e->baseline};
        emit(e, &ev);
    }
    free(sj);
    return st;
}

/* PROGRAM: the strategy's next proposal. A code candidate that waited at
 * the llm-code gate comes back from the store, for the strategy to go on
 * with. */
static spak_status propose(engine *e, spak_proposal *p, spak_err *err)
{
    char *pv = spak_engine_pending(e->store, e->run_id);
    json_t *pend = pv ? json_loads(pv, 0, NULL) : NULL;
    free(pv);
    const char *g = json_string_value(json_object_get(pend, "gate"));
    spak_eval_env env;
    spak_strategy_run r = run_view(e, &env);
    r.gated = g && strcmp(g, "llm-code") == 0 ? json_object_get(pend, "payload") : NULL;
    size_t n = 0;
    spak_status st = e->strat->propose(e->strat_self, &r, NULL, 0, p, 1, &n, err);
    json_decref(pend);
    if (st == SPAK_OK && n == 0)
        p->kind = SPAK_PROPOSAL_NONE;
    return st;
}

/* The run waits for something outside it (the strategy says what). */
static spak_status suspend(engine *e, const spak_proposal *p, spak_err *err)
{
    char *dj = p->note ? json_dumps(p->note, JSON_COMPACT) : NULL;
    spak_transition t = {e->state, S_SUSPENDED, SPAK_RUN_SUSPENDED, NULL, NULL, dj};
    spak_status st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    free(dj);
    if (st != SPAK_OK)
        return st;
    spak_snprintf(e->state, sizeof e->state, "%s", S_SUSPENDED);
    spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .why = p->why, .eval_no = e->n_evals};
    emit(e, &ev);
    return SPAK_OK;
}

/* The candidate's parameters as JSON text (malloc'd). */
static char *params_json(engine *e, uint64_t index)
{
    json_t *params = json_object();
    size_t digits[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(&e->space, index, digits);
    for (size_t i = 0; i < e->space.n; i++) {
        const spak_expr *v = e->space.params[i].values[digits[i]];
        json_t *jv;
        if (v->kind == SPAK_EX_NUMBER)
            jv = v->is_int ? json_integer((json_int_t)v->num) : json_real(v->num);
        else if (v->kind == SPAK_EX_UNARY)
            jv = json_real(-v->lhs->num);
        else if (v->kind == SPAK_EX_BOOL)
            jv = json_boolean(v->boolean);
        else
            jv = json_string(spak_value_text(v));
        json_object_set_new(params, e->space.params[i].name, jv);
    }
    char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(params);
    return pj;
}

/* PROGRAM ends with a candidate: journaled (unless the strategy entered
 * PROGRAM itself), stored, and its evaluation begun in BUILD. */
static spak_status begin_candidate(engine *e, const spak_proposal *p, char *key, size_t key_n, int64_t *eval_id,
                                   spak_err *err)
{
    if (!spak_space_key(&e->space, p->index, key, key_n))
        return spak_errf(err, SPAK_ERR_LIMIT, "candidate key too long");
    e->next_index = p->index;
    spak_status st;
    if (p->kind == SPAK_PROPOSAL_CODE) {
        char code_key[2200];
        spak_snprintf(code_key, sizeof code_key, "code:%s|%s", p->tag, key);
        spak_snprintf(key, key_n, "%s", code_key);
        e->code_source = strdup(p->code_path);
    }
    if (strcmp(e->state, S_PROGRAM) != 0) {
        json_t *pd = json_pack("{s:s,s:s}", "candidate", key, "strategy", e->strat_name);
        if (p->detail)
            json_object_update(pd, p->detail);
        if ((st = go(e, S_PROGRAM, pd, err)) != SPAK_OK)
            return st;
    }
    char *pj = params_json(e, p->index);
    int64_t cand_id;
    st = spak_store_candidate_upsert(e->store, e->run_id, key, pj, e->code_source, NULL, &cand_id, NULL, err);
    free(pj);
    if (st != SPAK_OK)
        return st;
    st = spak_store_eval_begin(e->store, e->run_id, cand_id, SPAK_EVAL_BUILDING, eval_id, err);
    if (st != SPAK_OK)
        return st;
    json_t *bd = json_pack("{s:I,s:s}", "eval_id", (json_int_t)*eval_id, "candidate", key);
    if (p->build_detail)
        json_object_update(bd, p->build_detail);
    return go(e, S_BUILD, bd, err);
}

/* BUILD, ANALYZE, KNOWLEDGE of one candidate, then back to DECIDE. */
static spak_status run_candidate(engine *e, const spak_proposal *p, spak_err *err)
{
    char key[2048];
    int64_t eval_id = 0;
    spak_outcome oc;
    spak_status st = begin_candidate(e, p, key, sizeof key, &eval_id, err);
    if (st != SPAK_OK)
        return st;
    st = evaluate(e, p->index, eval_id, &oc, err);
    if (st == SPAK_OK && strcmp(e->state, S_BUILD) == 0)  /* build failed: analysis skipped */
        st = go(e, S_ANALYZE, json_pack("{s:I,s:b}", "eval_id", (json_int_t)eval_id, "skipped", 1), err);
    if (st == SPAK_OK && oc.ran)
        e->device_s += oc.sr.wall_s;
    if (st == SPAK_OK)
        st = finish_eval(e, eval_id, &oc, p, err);
    if (st != SPAK_OK) {
        spak_outcome_free(&oc);
        return st;
    }
    /* a code candidate is not a point of the space: the strategies do not
     * count it as tried */
    note_eval(e, e->code_source ? UINT64_MAX : p->index, eval_id, key, oc.ok ? oc.metric : NAN,
              oc.ok ? oc.ratio : NAN, oc.ran ? oc.valid : NULL, false);
    free((char *)e->code_source);
    e->code_source = NULL;
    spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = e->n_evals, .budget = e->max_evals,
                            .total = e->space.total, .key = key, .ok = oc.ok, .why = oc.why,
                            .metric_name = e->loop->metric, .metric = oc.ok ? oc.metric : NAN,
                            .ratio = oc.ok ? oc.ratio : NAN, .baseline = e->baseline,
                            .bottleneck = oc.bottleneck[0] ? oc.bottleneck : NULL,
                            .best_metric = e->best_metric, .best_ratio = e->best_ratio};
    emit(e, &ev);
    spak_outcome_free(&oc);
    st = go(e, S_KNOWLEDGE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st != SPAK_OK)
        return st;
    json_t *facts = knowledge(e);
    return go(e, S_DECIDE, json_pack("{s:I,s:o}", "eval_id", (json_int_t)eval_id, "facts", facts), err);
}

/* What the machine does with a proposal. *more: the loop goes on. */
static spak_status program(engine *e, spak_proposal *p, bool *more, spak_err *err)
{
    spak_status st = SPAK_OK;
    *more = false;
    if (p->kind == SPAK_PROPOSAL_CODE && (e->gates & SPAK_GATE_LLM_CODE)) {
        char what[4300];
        spak_snprintf(what, sizeof what, "build and run the LLM's kernel %s", p->code_path);
        int a = gate(e, "llm-code", what, p->gate_payload, &st, err);
        if (st != SPAK_OK || a < 0)
            return st;
        if (a == 0) {
            p->kind = SPAK_PROPOSAL_FAILED;
            spak_snprintf(p->why, sizeof p->why, "the supervisor rejected the LLM's kernel %s", p->code_path);
        }
    }
    switch (p->kind) {
    case SPAK_PROPOSAL_SUSPEND:
        return suspend(e, p, err);
    case SPAK_PROPOSAL_ERROR:
        return spak_errf(err, SPAK_ERR_ARG, "%s", p->why);
    case SPAK_PROPOSAL_FAILED:
        st = record_failed_step(e, p->key, p->why, p->note, err);
        break;
    default:
        st = run_candidate(e, p, err);
        break;
    }
    *more = st == SPAK_OK;
    return st;
}

static spak_status loop(engine *e, spak_err *err)
{
    for (;;) {
        spak_status st = SPAK_OK;
        spak_proposal p;
        spak_proposal_init(&p);
        const char *reason = decide(e);
        if (!reason) {
            st = propose(e, &p, err);
            if (st == SPAK_OK && p.kind == SPAK_PROPOSAL_NONE)
                reason = "search space exhausted";
        }
        bool more = false;
        if (st == SPAK_OK && reason)
            st = finish_run(e, reason, err);
        else if (st == SPAK_OK)
            st = program(e, &p, &more, err);
        spak_proposal_free(&p);
        if (st != SPAK_OK || !more)
            return st;
    }
}

static void engine_init(engine *e, const spak_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    e->best_score = NAN;
    e->best_metric = NAN;
    e->best_ratio = NAN;
    e->t0 = spak_now_monotonic();
}

static void engine_free(engine *e)
{
    json_decref(e->latest);
    json_decref(e->best);
    spak_transfer_free(&e->lessons);
    if (e->strat && e->strat->close)
        e->strat->close(e->strat_self);
    free((char *)e->code_source);
    free(e->done);
    spak_spec_free(e->spec);
    if (e->store) {
        if (e->run_id[0])
            spak_store_run_claim(e->store, e->run_id, NULL, true, NULL);
        spak_store_close(e->store);
    }
}

spak_status spak_engine_run(const spak_engine_opts *o, const char *spec_path, char run_id[SPAK_STORE_ID_MAX],
                            spak_err *err)
{
    engine e;
    engine_init(&e, o);
    run_id[0] = '\0';
    spak_status st = load_spec(&e, spec_path, NULL, err);
    if (st == SPAK_OK)
        st = setup_home(&e, err);
    if (st == SPAK_OK)
        st = spak_engine_open_store(o, &e.store, err);
    if (st != SPAK_OK)
        goto out;
    e.seed = (uint64_t)(o->seed >= 0 ? o->seed : e.loop->seed);
    if (o->use_lessons && (st = spak_transfer_load(&e.lessons, e.store, e.m, e.target, err)) != SPAK_OK)
        goto out;
    json_t *budget = json_pack("{s:I,s:f}", "evaluations", (json_int_t)e.max_evals, "wall_time_s", e.max_wall);
    json_t *dev = spak_device_cpu_json();
    if (strcmp(e.target, "cuda") == 0) {
        json_t *g = spak_device_gpu_json();
        if (g)
            json_object_update(dev, g);
        else
            json_object_set_new(dev, "gpu", json_null());
        json_decref(g);
    }
    json_object_set_new(dev, "spak_version", json_string(SPAK_VERSION));
    char *bj = json_dumps(budget, JSON_COMPACT), *dj = json_dumps(dev, JSON_COMPACT);
    json_decref(budget);
    json_decref(dev);
    size_t len;
    const char *text = spak_spec_source(e.spec, &len);
    char abs_spec[PATH_MAX];
    if (!realpath(spec_path, abs_spec))
        spak_snprintf(abs_spec, sizeof abs_spec, "%s", spec_path);
    json_t *detail = json_pack("{s:s,s:s,s:I}", "loop", e.loop->name, "target", e.target, "space_size",
                               (json_int_t)e.space.total);
    char *det = json_dumps(detail, JSON_COMPACT);
    json_decref(detail);
    spak_run_new nw = {abs_spec, text, e.strat_name, (int64_t)e.seed, bj, dj, S_SPECIFY, det};
    st = spak_store_run_create(e.store, &nw, e.run_id, err);
    free(bj);
    free(dj);
    free(det);
    if (st != SPAK_OK)
        goto out;
    spak_snprintf(run_id, SPAK_STORE_ID_MAX, "%s", e.run_id);
    spak_engine_save_options(e.store, e.run_id, o);
    char owner[200];
    spak_owner_id(owner, sizeof owner);
    spak_store_run_claim(e.store, e.run_id, owner, false, NULL);
    spak_snprintf(e.state, sizeof e.state, "%s", S_SPECIFY);
    spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .total = e.space.total, .budget = e.max_evals,
                            .metric_name = e.loop->metric, .baseline = e.baseline};
    emit(&e, &ev);
    st = go(&e, S_DECIDE, json_pack("{s:s}", "note", "specified"), err);
    if (st == SPAK_OK)
        st = loop(&e, err);
out:
    if (st != SPAK_OK && e.store && e.run_id[0] && st != SPAK_ERR_STORE) {
        /* keep the run resumable: its state stays where it was; say why it stopped */
        spak_transition t = {NULL, e.state[0] ? e.state : S_SPECIFY, SPAK_RUN_FAILED, "error", NULL, NULL};
        json_t *d = json_pack("{s:s}", "error", err ? err->msg : "");
        char *ej = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        t.detail_json = ej;
        spak_store_transition(e.store, e.run_id, &t, NULL, NULL);
        free(ej);
    }
    engine_free(&e);
    return st;
}

spak_status spak_engine_resume(const spak_engine_opts *o, const char *run_id, bool force, spak_err *err)
{
    json_t *roj = NULL;
    engine e;
    engine_init(&e, o);
    spak_run run = {0};
    spak_status st = spak_engine_open_store(o, &e.store, err);
    if (st != SPAK_OK)
        goto out;
    st = spak_store_run_get(e.store, run_id, &run, err);
    if (st != SPAK_OK)
        goto out;
    spak_snprintf(e.run_id, sizeof e.run_id, "%s", run.id);
    if (strcmp(run.status, SPAK_RUN_DONE) == 0) {
        st = spak_errf(err, SPAK_ERR_STATE, "run %s is already done (%s)", run.id,
                       run.stop_reason ? run.stop_reason : "");
        e.run_id[0] = '\0';
        goto out;
    }
    char owner[200];
    spak_owner_id(owner, sizeof owner);
    if (!force && spak_owner_is_dead(run.owner))
        force = true;  /* the process that held it was killed: take over */
    st = spak_store_run_claim(e.store, run.id, owner, force, err);
    if (st != SPAK_OK) {
        e.run_id[0] = '\0';  /* not ours: do not release the claim */
        goto out;
    }
    /* the LLM settings the run was started with, unless overridden now */
    spak_engine_opts o2 = *o;
    roj = spak_engine_load_options(e.store, run.id, &o2);
    e.o = &o2;
    if (run.strategy && !o->strategy)
        o2.strategy = run.strategy;
    st = load_spec(&e, run.spec_path ? run.spec_path : "spec", run.spec_text, err);
    if (st == SPAK_OK)
        st = setup_home(&e, err);
    if (st != SPAK_OK)
        goto out;
    e.seed = (uint64_t)run.seed;
    if (run.budget_json && o->max_evaluations <= 0) {
        json_t *b = json_loads(run.budget_json, 0, NULL);
        if (b) {
            e.max_evals = (long)json_integer_value(json_object_get(b, "evaluations"));
            e.max_wall = json_number_value(json_object_get(b, "wall_time_s"));
            json_decref(b);
        }
    }
    /* time spent before the interruption, from the newest journal row */
    spak_journal_entry *j = NULL;
    size_t nj = 0;
    if (spak_store_journal_list(e.store, run.id, &j, &nj, NULL) == SPAK_OK) {
        for (size_t i = nj; i-- > 0;) {
            json_t *d = j[i].detail_json ? json_loads(j[i].detail_json, 0, NULL) : NULL;
            json_t *el = d ? json_object_get(d, "elapsed_s") : NULL;
            if (json_is_number(el)) {
                e.elapsed_before = json_number_value(el);
                json_decref(d);
                break;
            }
            json_decref(d);
        }
        spak_store_journal_free(j, nj);
    }
    spak_snprintf(e.state, sizeof e.state, "%s", run.state);
    size_t n_int = 0;
    st = spak_store_eval_interrupt_unfinished(e.store, run.id, &n_int, err);
    if (st == SPAK_OK)
        st = replay(&e, err);
    if (st == SPAK_OK && o->use_lessons)
        st = spak_transfer_load(&e.lessons, e.store, e.m, e.target, err);
    if (st != SPAK_OK)
        goto out;
    spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .total = e.space.total, .budget = e.max_evals,
                            .metric_name = e.loop->metric, .baseline = e.baseline, .resumed = true,
                            .eval_no = e.n_evals};
    emit(&e, &ev);
    /* what the strategy keeps in the store (the LLM steps' usage) */
    if (e.strat->resumed) {
        spak_eval_env env;
        spak_strategy_run r = run_view(&e, &env);
        if ((st = e.strat->resumed(e.strat_self, &r, err)) != SPAK_OK)
            goto out;
    }
    {
        json_t *d = json_pack("{s:s,s:I,s:s,s:f}", "note", "resumed", "interrupted", (json_int_t)n_int, "from_state",
                              run.state, "elapsed_s", elapsed(&e));
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        spak_transition t = {e.state, S_DECIDE, SPAK_RUN_RUNNING, NULL, NULL, dj};
        st = spak_store_transition(e.store, e.run_id, &t, NULL, err);
        free(dj);
        if (st == SPAK_OK)
            spak_snprintf(e.state, sizeof e.state, "%s", S_DECIDE);
    }
    if (st == SPAK_OK)
        st = loop(&e, err);
out:
    spak_store_run_free(&run);
    engine_free(&e);
    json_decref(roj);
    return st;
}

spak_status spak_engine_build_all(const spak_engine_opts *o, const char *spec_path, size_t *built, size_t *failed,
                                  spak_err *err)
{
    engine e;
    engine_init(&e, o);
    *built = *failed = 0;
    spak_status st = load_spec(&e, spec_path, NULL, err);
    if (st == SPAK_OK)
        st = setup_home(&e, err);
    const char *src_t = st == SPAK_OK && e.m->problem ? spak_block_string(e.m->problem, "source") : NULL;
    if (st == SPAK_OK && !src_t)
        st = spak_errf(err, SPAK_ERR_ARG, "%s: the problem names no source to build", spec_path);
    for (uint64_t idx = 0; st == SPAK_OK && idx < e.space.total; idx++) {
        spak_cand_vars v;
        spak_cand_vars_init(&v, &e.site, idx);
        char defs[SPAK_BUILD_MAX_DEFINES][SPAK_CAND_DEFINE_MAX], source[PATH_MAX], artifact[PATH_MAX], key[2048];
        const char *dp[SPAK_BUILD_MAX_DEFINES];
        size_t nd = spak_cand_defines(&e.space, v.digits, defs, dp);
        bool ok = false;
        char *log = NULL;
        st = spak_cand_build_source(&v, src_t, NULL, dp, nd, source, sizeof source, artifact, sizeof artifact, &log,
                                    &ok, err);
        if (st != SPAK_OK)
            break;
        spak_space_key(&e.space, idx, key, sizeof key);
        if (ok)
            (*built)++;
        else
            (*failed)++;
        if (o->on_event) {
            spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = (long)idx + 1, .total = e.space.total,
                                    .key = key, .ok = ok, .why = ok ? artifact : "build failed", .metric = NAN,
                                    .ratio = NAN, .best_metric = NAN, .best_ratio = NAN};
            o->on_event(o->ud, &ev);
        }
        free(log);
    }
    engine_free(&e);
    return st;
}
