/* engine.c - the state machine of engine.h. */
#include "engine.h"
#include "engine_priv.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/device.h"
#include "analyze/evaluate.h"
#include "analyze/progress.h"
#include "analyze/retime.h"
#include "analyze/sandbox.h"
#include "analyze/trace.h"
#include "analyze/views.h"
#include "build/candidate.h"
#include "knowledge/crystallize.h"
#include "knowledge/facts.h"
#include "knowledge/transfer.h"
#include "program/strategies.h"
#include "program/strategy.h"
#include "spec/expr.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "store/approval.h"
#include "store/owner.h"

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
           "     |        --> RETIME: the best, the runner-up and those tied    |\n"
           "     |            with it timed again side by side in one           |\n"
           "     |            session of the judge: winner, tied, inconclusive  |\n"
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

double eng_elapsed(const engine *e)
{
    return e->elapsed_before + (spak_now_monotonic() - e->t0);
}

void eng_emit(engine *e, spak_engine_event *ev)
{
    ev->run_id = e->run_id;
    ev->elapsed_s = eng_elapsed(e);
    ev->max_wall_s = e->max_wall;
    ev->best_ratio_lo = e->pr.best_ratio_lo, ev->best_ratio_hi = e->pr.best_ratio_hi;
    if (e->o->on_event)
        e->o->on_event(e->o->ud, ev);
}

/* Journal a transition (detail: JSON text or NULL; status, reason and
 * summary: the run's new ones, or NULL), then take it. */
static spak_status journal(engine *e, const char *to, const char *status, const char *reason, const char *summary,
                           const char *detail, spak_err *err)
{
    spak_transition t = {e->state, to, status, reason, summary, detail};
    spak_status st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    if (st == SPAK_OK && to != e->state)
        spak_snprintf(e->state, sizeof e->state, "%s", to);
    return st;
}

/* Journal the transition, then take it (and say so). */
spak_status eng_go(engine *e, const char *to, json_t *detail, spak_err *err)
{
    char *d = NULL;
    if (detail) {
        json_object_set_new(detail, "elapsed_s", json_real(eng_elapsed(e)));
        d = json_dumps(detail, JSON_COMPACT);
        json_decref(detail);
    }
    spak_status st = journal(e, to, NULL, NULL, NULL, d, err);
    free(d);
    if (st != SPAK_OK)
        return st;
    spak_engine_event ev = {.kind = SPAK_EV_PHASE, .phase = to, .eval_no = e->pr.n_evals, .budget = e->max_evals,
                            .key = !strcmp(to, S_BUILD) || !strcmp(to, S_ANALYZE) ? e->pr.current_key : NULL,
                            .total = e->space.points, .metric_name = e->loop->metric, .best_metric = e->pr.best_metric,
                            .best_ratio = e->pr.best_ratio, .baseline = e->baseline};
    eng_emit(e, &ev);
    return SPAK_OK;
}

/* ---- what conditions read: records (views.h), the best point's parameters ---- */

static bool cb_param(void *ud, const char *name, spak_value *out)
{
    engine *e = ud;
    return !isnan(e->pr.best_score) && spak_cand_param_value(&e->space, e->pr.best_index, name, out);
}

spak_eval_env eng_eval_env(engine *e)
{
    e->pr.views.m = e->m;
    e->pr.views.param = cb_param;
    e->pr.views.param_ud = e;
    return spak_views_env(&e->pr.views);
}

/* ---- the strategy's view of the run ---- */

/* Journal PROGRAM for a strategy that enters it before slow work. */
static spak_status enter_program(void *ud, json_t *detail, spak_err *err)
{
    engine *e = ud;
    if (strcmp(e->state, S_PROGRAM) == 0) {
        json_decref(detail);
        return SPAK_OK;
    }
    return eng_go(e, S_PROGRAM, detail, err);
}

/* env is the caller's: the view points at it. */
static spak_strategy_run run_view(engine *e, spak_eval_env *env)
{
    *env = eng_eval_env(e);
    spak_strategy_run r = {.m = e->m, .loop = e->loop, .space = &e->space, .site = &e->site, .o = e->o,
                           .spec_path = e->spec_path, .target = e->target, .seed = e->seed, .store = e->store,
                           .run_id = e->run_id, .lessons = &e->lessons, .done = e->pr.done, .n_done = e->pr.n_done,
                           .best_eval_id = e->pr.best_eval_id, .best_index = e->pr.best_index, .best_key = e->pr.best_key,
                           .best_metric = e->pr.best_metric, .best_ratio = e->pr.best_ratio,
                           .env = env, .enter_program = enter_program, .ud = e};
    return r;
}

/* ---- setup ---- */

static spak_status load_spec(engine *e, const char *path, const char *text, spak_err *err)
{
    spak_status st = text ? spak_spec_load_mem(path, text, strlen(text), &e->spec, err)
                          : spak_spec_load_sets(path, e->o->t1_sets, e->o->n_t1_sets, &e->spec, err);
    if (st == SPAK_OK && !text)  /* a new run: every source its space can produce, before it starts (spec.h) */
        st = spak_spec_check_sources(e->spec);
    if (st != SPAK_OK) {
        if (e->spec) {
            spak_buf b;
            spak_buf_init(&b, 8192);
            (void)spak_diags_format(spak_spec_diags(e->spec), &b);  /* a cut list still says what is wrong */
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
    spak_spec_base_dir(spak_spec_file(e->spec)->front_matter, path, e->spec_dir, sizeof e->spec_dir);
    e->target = e->m->problem ? spak_block_string(e->m->problem, "target") : NULL;
    if (!e->target)
        e->target = "cpu";
    e->baseline = e->m->problem ? spak_block_string(e->m->problem, "baseline") : NULL;
    st = spak_space_init_loop(&e->space, e->loop, err);
    if (st != SPAK_OK)
        return st;
    e->site = (spak_cand_site){e->m, &e->space, e->spec_dir, e->home, e->run_id, path};
    const char *sn = e->o->strategy ? e->o->strategy : e->loop->strategy;
    e->strat = spak_strategy_find(sn);
    if (!e->strat) {
        char names[256];
        spak_strategy_names(names, sizeof names, ", ", " or ");
        return spak_errf(err, SPAK_ERR_ARG, "strategy '%s' is not available in this version (use %s)", sn, names);
    }
    e->strat_name = sn;
    e->spec_path = path;
    if (e->strat->open) {
        spak_eval_env env;
        spak_strategy_run r = run_view(e, &env);
        st = e->strat->open(&r, &e->strat_self, err);
        if (st != SPAK_OK)
            return st;
    } else {
        e->strat_self = (void *)e->strat->arg;
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

/* Builds and candidates run as the sandbox's unprivileged uid when we are
 * root: it must be able to enter the spec's folder (the sources), spak's
 * own (the harnesses and runners) and the home. A checkout under /root
 * (mode 0700) is the usual way to miss that; said here, before any
 * evaluation, rather than as a build failure in each. */
static spak_status check_sandbox_reach(const engine *e, bool home, spak_err *err)
{
    const char *need[3][2] = {{e->spec_dir, "the spec's folder"}, {e->o->bin_dir, "spak's programs"},
                              {home ? e->home : NULL, "the spak home"}};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(need); i++) {
        char blocked[PATH_MAX];
        if (need[i][0] && !spak_sandbox_uid_reaches(need[i][0], blocked, sizeof blocked))
            return spak_errf(err, SPAK_ERR_ARG,
                             "the sandbox runs builds and candidates as an unprivileged user (uid 65534), which "
                             "cannot enter %s, on the way to %s (%s): put spak and the spec under a folder every "
                             "user can enter (e.g. /opt or /srv), or let it in: chmod o+x %s (docs/sandbox.md)",
                             blocked, need[i][1], need[i][0], blocked);
    }
    return SPAK_OK;
}

static spak_status setup_home(engine *e, spak_err *err)
{
    spak_measure_base(&e->mbase, e->m, e->loop, e->o, e->home, e->target, e->store, e->run_id);
    /* the spec's folder and spak's before a new home is made (nothing left
     * behind by a refusal), the home once it exists */
    spak_status st = check_sandbox_reach(e, false, err);
    if (st == SPAK_OK)
        st = spak_home_prepare(e->o, e->home, sizeof e->home, err);
    if (st == SPAK_OK)
        st = check_sandbox_reach(e, true, err);
    if (st == SPAK_OK)  /* each run (or resume) starts on freshly measured ceilings */
        spak_cand_ceilings_expire(e->home, e->target);
    int devs[256];
    if (st == SPAK_OK && e->o->devices && eng_devices(e->o->devices, devs, 256) < 0)
        st = spak_errf(err, SPAK_ERR_ARG, "--devices '%s': expected CUDA device indices, e.g. 0,1", e->o->devices);
    e->jobs = e->o->jobs > 0 ? e->o->jobs : e->loop->jobs > 0 ? e->loop->jobs : 1;
    eng_place_serial(e, &e->place);
    return st;
}

/* ---- bookkeeping of finished evaluations ---- */

static void eng_note_eval(engine *e, uint64_t index, int64_t eval_id, const char *key, double metric, double ratio,
                      json_t *records, bool no_candidate)
{
    double score = spak_progress_note(&e->pr, e->loop->objective, index, eval_id, key, metric, ratio, records);
    if (e->strat->observe) {
        spak_strategy_obs ob = {index, key, score, records, no_candidate};
        e->strat->observe(e->strat_self, &ob);
    }
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
        if (strcmp(ev[i].status, SPAK_EVAL_DONE) != 0 && strcmp(ev[i].status, SPAK_EVAL_FAILED) != 0 &&
            strcmp(ev[i].status, SPAK_EVAL_STOPPED) != 0)
            continue;
        uint64_t idx;
        if (!ev[i].cand_key)
            continue;
        if (!spak_space_find(&e->space, ev[i].cand_key, &idx))
            idx = UINT64_MAX;  /* an LLM-written source or a failed LLM step */
        double metric = (ev[i].correct != 0 && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0) ? ev[i].metric : NAN;
        json_t *recs = isnan(metric) ? NULL : spak_eval_records(e->store, e->run_id, ev[i].eval_id);  /* its intervals */
        eng_note_eval(e, idx, ev[i].eval_id, ev[i].cand_key, metric, ev[i].ratio, recs,
                  ev[i].exit_desc && strcmp(ev[i].exit_desc, NO_CANDIDATE) == 0);
        json_decref(recs);
        json_t *rj = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        if (json_is_number(json_object_get(rj, "wall_s")))
            e->device_s += json_number_value(json_object_get(rj, "wall_s"));
        e->pr.untrusted += json_is_false(json_object_get(rj, "trusted"));
        json_decref(rj);
        latest_id = ev[i].eval_id;
    }
    spak_store_evals_free(ev, n);
    if (latest_id) {
        json_decref(e->pr.views.latest);
        e->pr.views.latest = spak_eval_records(e->store, e->run_id, latest_id);
    }
    if (e->pr.best_eval_id) {
        json_decref(e->pr.views.best);
        e->pr.views.best = spak_eval_records(e->store, e->run_id, e->pr.best_eval_id);
    }
    return SPAK_OK;
}

/* ---- DECIDE ---- */

static json_t *summary(engine *e, const char *stop_reason)
{
    spak_summary_of s = {e->run_id, stop_reason, e->space.points, e->strat_name, e->loop->metric,
                         e->loop->objective, e->baseline, eng_elapsed(e)};
    return spak_progress_summary(&e->pr, &s);
}

/* Why the run should stop now, or NULL to go on. */
const char *eng_decide(engine *e)
{
    if (e->max_evals > 0 && e->pr.n_evals + e->in_flight >= e->max_evals)
        return "budget: evaluations";
    if (e->max_wall > 0 && eng_elapsed(e) >= e->max_wall)
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
    if (e->loop->stop_roofline > 0 && e->pr.views.best && spak_views_roofline(e->pr.views.best) >= e->loop->stop_roofline)
        return "stop: fraction of the roofline";
    if (e->loop->stop_when && e->pr.views.latest) {
        spak_eval_env env = eng_eval_env(e);
        bool yes = false;
        spak_err ee;
        if (spak_eval_bool(e->loop->stop_when, &env, &yes, &ee) == SPAK_OK && yes) {
            /* not on a measurement under load (views.h), the latest's or the
             * best's (the condition reads either): the run goes on */
            double load = fmax(spak_views_foreign_load(e->pr.views.latest),
                               e->pr.views.best ? spak_views_foreign_load(e->pr.views.best) : 0);
            if (!(load > SPAK_FOREIGN_LOAD_MAX))
                return "stop condition";
            e->pr.stops_under_load++;
        }
    }
    if (e->loop->plateau > 0 && e->pr.best_eval_id && e->pr.since_best >= e->loop->plateau)
        return "plateau";
    return NULL;
}

/* ---- the loop ---- */

/* A Programming step that gave no candidate is an evaluation that failed:
 * recorded, counted against the budget, and shown to the next prompt. */
static spak_status eng_record_failed_step(engine *e, const char *key, const char *why, json_t *summary, spak_err *err)
{
    int64_t cand_id, eval_id;
    spak_status st = spak_store_candidate_upsert(e->store, e->run_id, key, "{}", NULL, NULL, &cand_id, NULL, err);
    if (st == SPAK_OK)
        st = spak_store_eval_begin(e->store, e->run_id, cand_id, SPAK_EVAL_BUILDING, &eval_id, err);
    if (st != SPAK_OK)
        return st;
    st = eng_go(e, S_BUILD, json_pack("{s:I,s:s,s:b}", "eval_id", (json_int_t)eval_id, "candidate", key, "skipped", 1), err);
    if (st == SPAK_OK)
        st = eng_go(e, S_ANALYZE, json_pack("{s:I,s:b}", "eval_id", (json_int_t)eval_id, "skipped", 1), err);
    if (st != SPAK_OK)
        return st;
    char *rj = json_dumps(summary, JSON_COMPACT);
    spak_eval_result r = {.status = SPAK_EVAL_FAILED, .exit_desc = NO_CANDIDATE, .correct = -1,
                          .metric = NAN, .ratio = NAN, .result_json = rj, .error = why};
    st = spak_store_eval_finish(e->store, e->run_id, eval_id, &r, err);
    free(rj);
    if (st != SPAK_OK)
        return st;
    eng_note_eval(e, UINT64_MAX, eval_id, key, NAN, NAN, NULL, true);
    spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = e->pr.n_evals, .budget = e->max_evals,
                            .total = e->space.points, .key = key, .ok = false, .why = why,
                            .metric_name = e->loop->metric, .metric = NAN, .ratio = NAN, .baseline = e->baseline,
                            .best_metric = e->pr.best_metric, .best_ratio = e->pr.best_ratio};
    eng_emit(e, &ev);
    st = eng_go(e, S_KNOWLEDGE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st == SPAK_OK)
        st = eng_go(e, S_DECIDE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    return st;
}

/* ---- approval gates ---- */

/* Pass a gate: 1 approved, 0 rejected, -1 the run is now suspended waiting
 * for `spak approve` / `spak reject`. payload (borrowed) is kept with the
 * pending approval so that a resumed run continues with it. */
static int gate(engine *e, const char *name, const char *what, json_t *payload, spak_status *st, spak_err *err)
{
    *st = SPAK_OK;
    int answer = spak_approval_decision(e->store, e->run_id, name);
    if (answer < 0 && e->o->on_approve)
        answer = e->o->on_approve(e->o->ud, name, what);
    if (answer >= 0) {
        spak_approval_clear(e->store, e->run_id);
        json_t *d = json_pack("{s:s,s:s,s:s}", "gate", name, "decision", answer ? "approve" : "reject", "what", what);
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        /* the decision is journaled (a transition of the state to itself) */
        *st = journal(e, e->state, NULL, NULL, NULL, dj, err);
        free(dj);
        return answer;
    }
    char *pj = NULL;
    *st = spak_approval_ask(e->store, e->run_id, name, what, payload, &pj, err);
    if (*st == SPAK_OK)
        *st = journal(e, S_SUSPENDED, SPAK_RUN_SUSPENDED, NULL, NULL, pj, err);
    free(pj);
    if (*st != SPAK_OK)
        return -1;
    char why[1200];
    spak_snprintf(why, sizeof why, "approval needed (%s): %s; answer with 'spak approve %s' or 'spak reject %s'", name,
                  what, e->run_id, e->run_id);
    spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .why = why, .eval_no = e->pr.n_evals};
    eng_emit(e, &ev);
    return -1;
}

static spak_status enter_retime(void *ud, json_t *detail, spak_err *err)
{
    return eng_go(ud, S_RETIME, detail, err);
}

/* RETIME (analyze/retime.h), then DONE: the knowledge gate, the run's
 * summary, crystallization. */
spak_status eng_finish_run(engine *e, const char *reason, spak_err *err)
{
    json_t *rt = NULL;
    spak_retime_job rj = {&e->site, e->m, e->loop->cmd, e->loop->metric, e->loop->objective, e->o->bin_dir, e->target,
                          e->home, e->seed, e->o->eval_timeout_s, e->o->allow_weak_isolation, e->store, e->run_id,
                          &e->pr, enter_retime, e, e->o->lock_dir, e->place.cuda_device, &e->mbase};
    spak_status st = spak_retime_final(&rj, &rt, err);
    bool learn = !e->o->no_learn;
    if (learn && (e->gates & SPAK_GATE_KNOWLEDGE)) {
        char what[600];
        spak_snprintf(what, sizeof what,
                      "crystallize run %s (%s): lessons into the store, spec v(n+1) and insights into %s/runs/%s",
                      e->run_id, reason, e->home, e->run_id);
        int a = st == SPAK_OK ? gate(e, "knowledge", what, NULL, &st, err) : -1;
        if (st != SPAK_OK || a < 0)
            return json_decref(rt), st;
        learn = a == 1;
    }
    if (st != SPAK_OK)
        return st;
    json_t *s = summary(e, reason);
    spak_retime_apply(s, rt, e->loop->metric, &e->pr);  /* the winner named side by side */
    json_decref(rt);
    char *sj = json_dumps(s, JSON_COMPACT);
    json_t *d = json_pack("{s:s}", "stop_reason", reason);
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    st = journal(e, S_DONE, SPAK_RUN_DONE, reason, sj, dj, err);
    free(dj);
    if (st == SPAK_OK && learn)
        spak_crystallize(e->store, e->home, e->run_id);
    if (st == SPAK_OK) {
        spak_engine_event ev = {.kind = SPAK_EV_RUN_DONE, .stop_reason = reason, .summary_json = sj,
                                .eval_no = e->pr.n_evals, .best_metric = e->pr.best_metric, .best_ratio = e->pr.best_ratio,
                                .metric_name = e->loop->metric, .baseline = e->baseline, .untrusted = e->pr.untrusted > 0,
                                .decision = json_string_value(json_object_get(s, "decision"))};
        eng_emit(e, &ev);
    }
    json_decref(s);
    free(sj);
    return st;
}

/* PROGRAM: the strategy's next proposal. A code candidate that waited at
 * the llm-code gate comes back from the store, for the strategy to go on
 * with. */
spak_status eng_propose(engine *e, const uint64_t *pending, size_t n_pending, spak_proposal *p, size_t max,
                        size_t *n, spak_err *err)
{
    char *pv = spak_engine_pending(e->store, e->run_id);
    json_t *pend = pv ? json_loads(pv, 0, NULL) : NULL;
    free(pv);
    const char *g = json_string_value(json_object_get(pend, "gate"));
    spak_eval_env env;
    spak_strategy_run r = run_view(e, &env);
    r.gated = g && strcmp(g, "llm-code") == 0 ? json_object_get(pend, "payload") : NULL;
    *n = 0;
    spak_status st = e->strat->propose(e->strat_self, &r, pending, n_pending, p, max, n, err);
    json_decref(pend);
    if (st == SPAK_OK && *n == 1 && p->kind == SPAK_PROPOSAL_NONE)
        *n = 0;
    return st;
}

/* The run waits for something outside it (the strategy says what). */
static spak_status suspend(engine *e, const spak_proposal *p, spak_err *err)
{
    char *dj = p->note ? json_dumps(p->note, JSON_COMPACT) : NULL;
    spak_status st = journal(e, S_SUSPENDED, SPAK_RUN_SUSPENDED, NULL, NULL, dj, err);
    free(dj);
    if (st != SPAK_OK)
        return st;
    spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .why = p->why, .eval_no = e->pr.n_evals};
    eng_emit(e, &ev);
    return SPAK_OK;
}

/* PROGRAM ends with a candidate: journaled (unless the strategy entered
 * PROGRAM itself), stored, and its evaluation begun in BUILD. */
spak_status eng_begin_candidate(engine *e, const spak_proposal *p, char *key, size_t key_n, int64_t *eval_id,
                                   spak_err *err)
{
    if (!spak_space_key(&e->space, p->index, key, key_n))
        return spak_errf(err, SPAK_ERR_LIMIT, "candidate key too long");
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
        if ((st = eng_go(e, S_PROGRAM, pd, err)) != SPAK_OK)
            return st;
    }
    char *pj = spak_cand_params_json(&e->space, p->index);
    int64_t cand_id;
    st = spak_store_candidate_upsert(e->store, e->run_id, key, pj, e->code_source, NULL, &cand_id, NULL, err);
    free(pj);
    if (st != SPAK_OK)
        return st;
    st = spak_store_eval_begin(e->store, e->run_id, cand_id, SPAK_EVAL_BUILDING, eval_id, err);
    if (st != SPAK_OK)
        return st;
    spak_snprintf(e->pr.current_key, sizeof e->pr.current_key, "%s", key);
    json_t *bd = json_pack("{s:I,s:s}", "eval_id", (json_int_t)*eval_id, "candidate", key);
    if (p->build_detail)
        json_object_update(bd, p->build_detail);
    return eng_go(e, S_BUILD, bd, err);
}

/* BUILD, ANALYZE, KNOWLEDGE of one candidate, then back to DECIDE. */
static spak_status run_candidate(engine *e, const spak_proposal *p, spak_err *err)
{
    char key[2048];
    int64_t eval_id = 0;
    spak_outcome oc;
    spak_status st = eng_begin_candidate(e, p, key, sizeof key, &eval_id, err);
    if (st != SPAK_OK)
        return st;
    st = eng_evaluate(e, p, eval_id, &oc, err);
    if (st != SPAK_OK) {
        spak_outcome_free(&oc);
        return st;
    }
    return eng_complete(e, p, key, eval_id, &oc, strcmp(e->state, S_BUILD) != 0, err);
}

spak_status eng_complete(engine *e, const spak_proposal *p, const char *key, int64_t eval_id, spak_outcome *oc,
                         bool analyzed, spak_err *err)
{
    spak_status st = SPAK_OK;
    if (!analyzed)  /* build failed: analysis skipped */
        st = eng_go(e, S_ANALYZE, json_pack("{s:I,s:b}", "eval_id", (json_int_t)eval_id, "skipped", 1), err);
    if (st == SPAK_OK && oc->ran)
        e->device_s += oc->sr.wall_s;
    e->pr.untrusted += st == SPAK_OK && oc->ran && !oc->trusted;
    if (st == SPAK_OK)
        st = spak_outcome_store(e->store, e->run_id, eval_id, oc, p->note, p->note_key, err);
    if (st != SPAK_OK) {
        spak_outcome_free(oc);
        return st;
    }
    /* a code candidate is not a point of the space: the strategies do not
     * count it as tried */
    eng_note_eval(e, e->code_source ? UINT64_MAX : p->index, eval_id, key, oc->ok ? oc->metric : NAN,
                  oc->ok ? oc->ratio : NAN, oc->ran ? oc->valid : NULL, false);
    free((char *)e->code_source);
    e->code_source = NULL;
    spak_snprintf(e->pr.current_key, sizeof e->pr.current_key, "%s", key);
    spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = e->pr.n_evals, .budget = e->max_evals,
                            .total = e->space.points, .key = key, .ok = oc->ok, .stopped = oc->stopped, .why = oc->why,
                            .metric_name = e->loop->metric, .metric = oc->ok ? oc->metric : NAN,
                            .ratio = oc->ok ? oc->ratio : NAN, .ratio_lo = oc->ratio_lo, .ratio_hi = oc->ratio_hi,
                            .baseline = e->baseline, .bottleneck = oc->bottleneck[0] ? oc->bottleneck : NULL,
                            .best_metric = e->pr.best_metric, .best_ratio = e->pr.best_ratio,
                            .untrusted = oc->ran && !oc->trusted};
    eng_emit(e, &ev);
    spak_outcome_free(oc);
    st = eng_go(e, S_KNOWLEDGE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st != SPAK_OK)
        return st;
    spak_eval_env env = eng_eval_env(e);
    json_t *facts = spak_facts_eval(e->m, &env);
    return eng_go(e, S_DECIDE, json_pack("{s:I,s:o}", "eval_id", (json_int_t)eval_id, "facts", facts), err);
}

/* What the machine does with a proposal. *more: the loop goes on. */
spak_status eng_program(engine *e, spak_proposal *p, bool *more, spak_err *err)
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
        st = eng_record_failed_step(e, p->key, p->why, p->note, err);
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
    if (e->jobs > 1 || e->n_attach > 0) {  /* a resume's jobs are collected side by side, as they finish */
        spak_status st = eng_sched_loop(e, err);
        if (st != SPAK_OK || e->jobs > 1)
            return st;
    }
    for (;;) {
        spak_status st = SPAK_OK;
        spak_proposal p;
        spak_proposal_init(&p);
        const char *reason = eng_decide(e);
        if (!reason) {
            size_t n = 0;
            st = eng_propose(e, NULL, 0, &p, 1, &n, err);
            if (st == SPAK_OK && n == 0)
                reason = "search space exhausted";
        }
        bool more = false;
        if (st == SPAK_OK && reason)
            st = eng_finish_run(e, reason, err);
        else if (st == SPAK_OK)
            st = eng_program(e, &p, &more, err);
        spak_proposal_free(&p);
        if (st != SPAK_OK || !more)
            return st;
    }
}

static void engine_init(engine *e, const spak_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    spak_progress_init(&e->pr);
    e->t0 = spak_now_monotonic();
}

static void engine_free(engine *e)
{
    spak_progress_free(&e->pr);
    spak_transfer_free(&e->lessons);
    spak_store_jobs_free(e->attach, e->n_attach);
    if (e->strat && e->strat->close)
        e->strat->close(e->strat_self);
    free((char *)e->code_source);
    spak_spec_free(e->spec);
    if (e->store) {
        if (e->run_id[0])  /* let the run go; a claim left behind is taken over by the next resume */
            (void)spak_store_run_claim(e->store, e->run_id, NULL, true, NULL);
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
    json_t *dev = spak_device_json(e.target);
    char *bj = json_dumps(budget, JSON_COMPACT), *dj = json_dumps(dev, JSON_COMPACT);
    json_decref(budget);
    json_decref(dev);
    size_t len;
    const char *text = spak_spec_source(e.spec, &len);
    char abs_spec[PATH_MAX];
    if (!realpath(spec_path, abs_spec))
        spak_snprintf(abs_spec, sizeof abs_spec, "%s", spec_path);
    json_t *detail = json_pack("{s:s,s:s,s:I}", "loop", e.loop->name, "target", e.target, "space_size",
                               (json_int_t)e.space.points);
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
    (void)spak_store_run_claim(e.store, e.run_id, owner, false, NULL);  /* a new run: nobody else holds it */
    spak_snprintf(e.state, sizeof e.state, "%s", S_SPECIFY);
    spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .total = e.space.points, .budget = e.max_evals,
                            .metric_name = e.loop->metric, .baseline = e.baseline};
    eng_emit(&e, &ev);
    st = eng_go(&e, S_DECIDE, json_pack("{s:s}", "note", "specified"), err);
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
        (void)spak_store_transition(e.store, e.run_id, &t, NULL, NULL);  /* the error itself is returned */
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
    e.elapsed_before = spak_run_elapsed(e.store, run.id);  /* time spent before the interruption */
    spak_snprintf(e.state, sizeof e.state, "%s", run.state);
    /* a cluster's jobs still running are waited for (the loop re-attaches
     * to them), not submitted again; the other unfinished are interrupted */
    size_t n_int = 0;
    st = spak_measure_open_jobs(&e.mbase, &e.attach, &e.n_attach, err);
    if (st == SPAK_OK)
        st = spak_store_eval_interrupt_unfinished(e.store, run.id, &n_int, err);
    if (st == SPAK_OK)
        st = replay(&e, err);
    if (st == SPAK_OK && o->use_lessons)
        st = spak_transfer_load(&e.lessons, e.store, e.m, e.target, err);
    if (st != SPAK_OK)
        goto out;
    spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .total = e.space.points, .budget = e.max_evals,
                            .metric_name = e.loop->metric, .baseline = e.baseline, .resumed = true,
                            .eval_no = e.pr.n_evals};
    eng_emit(&e, &ev);
    /* what the strategy keeps in the store (the LLM steps' usage) */
    if (e.strat->resumed) {
        spak_eval_env env;
        spak_strategy_run r = run_view(&e, &env);
        if ((st = e.strat->resumed(e.strat_self, &r, err)) != SPAK_OK)
            goto out;
    }
    {
        json_t *d = json_pack("{s:s,s:I,s:I,s:s,s:f}", "note", "resumed", "interrupted", (json_int_t)n_int,
                              "reattached", (json_int_t)e.n_attach, "from_state", run.state, "elapsed_s", eng_elapsed(&e));
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        st = journal(&e, S_DECIDE, SPAK_RUN_RUNNING, NULL, NULL, dj, err);
        free(dj);
    }
    if (st == SPAK_OK)
        st = loop(&e, err);
out:
    spak_store_run_free(&run);
    engine_free(&e);
    json_decref(roj);
    return st;
}

static void on_built(void *ud, uint64_t index, const char *key, bool ok, const char *artifact)
{
    const engine *e = ud;
    if (!e->o->on_event)
        return;
    spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = (long)index + 1, .total = e->space.points,
                            .key = key, .ok = ok, .why = ok ? artifact : "build failed", .metric = NAN, .ratio = NAN,
                            .best_metric = NAN, .best_ratio = NAN};
    e->o->on_event(e->o->ud, &ev);
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
    if (st == SPAK_OK)
        st = spak_cand_build_all(&e.site, on_built, &e, built, failed, err);
    engine_free(&e);
    return st;
}
