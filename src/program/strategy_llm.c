/* strategy_llm.c - the llm strategy: an LLM proposes parameters or a new
 * source (driver_llm.h), from the prompt's context (llm_context.h). Every
 * step (prompt, reply, model, timing, tokens, cost) is kept in the store
 * under llm:RUN; the manual backend suspends the run until its reply file
 * exists. Its state: the llm block's settings, what the steps used (read
 * back from the store on resume), the steps in a row that gave no candidate
 * (re-derived by observing the finished evaluations). */
#include "program/strategy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "program/driver_llm.h"
#include "program/llm_context.h"
#include "store/scopes.h"

/* the evaluation budget of an LLM run that was given no budget at all */
#define LLM_DEFAULT_EVALUATIONS 50

typedef struct llm_state {
    spak_llm_settings llm;
    long steps;
    long tokens;
    double cost;
    bool cost_unknown;
    long failed_in_a_row;  /* Programming steps in a row that gave no candidate */
} llm_state;

static spak_status llm_open(const spak_strategy_run *run, void **self, spak_err *err)
{
    llm_state *s = calloc(1, sizeof *s);
    if (!s)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    *self = s;
    const spak_model *m = run->m;
    const spak_block *lb = NULL;
    for (size_t i = 0; m->system && i < m->system->n; i++)
        if (spak_entry_word_is(m->system->items[i], 0, "llm") && m->system->items[i]->body)
            lb = m->system->items[i]->body;
    const spak_engine_opts *o = run->o;
    spak_status st = spak_llm_settings_read(lb, run->spec_path, o->llm_backend, o->llm_endpoint, o->llm_model, &s->llm,
                                            err);
    if (st != SPAK_OK)
        return st;
    spak_llm_settings_override(&s->llm, o->llm_temperature, o->llm_max_tokens, o->llm_timeout_s);
    if ((s->llm.budget_usd > 0 || run->loop->max_cost_usd > 0) && !s->llm.cfg.backend->unpriced &&
        (s->llm.cfg.price_in < 0 || s->llm.cfg.price_out < 0))
        return spak_errf(err, SPAK_ERR_ARG,
                         "a cost budget needs prices: set price_in and price_out (USD per million tokens) in "
                         "the llm block, or a price_table with an entry for model '%s'",
                         s->llm.cfg.model ? s->llm.cfg.model : "(none)");
    return SPAK_OK;
}

/* An LLM run has no end of its own (written sources are not points of a
 * finite space): with no budget of any kind it gets one. */
static long llm_default_budget(void *self)
{
    llm_state *s = self;
    return s->llm.budget_tokens <= 0 && s->llm.budget_usd <= 0 ? LLM_DEFAULT_EVALUATIONS : 0;
}

static spak_status llm_resumed(void *self, const spak_strategy_run *run, spak_err *err)
{
    llm_state *s = self;
    (void)err;
    spak_run_llm_usage u = spak_engine_llm_usage(run->store, run->run_id, false);
    s->steps = u.steps;
    s->tokens = u.tokens;
    s->cost = u.cost_usd;
    s->cost_unknown = u.cost_unknown;
    return SPAK_OK;
}

static const char *llm_stop(void *self, const spak_strategy_run *run)
{
    llm_state *s = self;
    long max_tok = run->loop->max_tokens > 0 ? run->loop->max_tokens : s->llm.budget_tokens;
    double max_usd = run->loop->max_cost_usd > 0 ? run->loop->max_cost_usd : s->llm.budget_usd;
    if (max_tok > 0 && s->tokens >= max_tok)
        return "budget: llm tokens";
    if (max_usd > 0 && s->cost >= max_usd)
        return "budget: llm cost";
    if (s->llm.max_failed_steps > 0 && s->failed_in_a_row >= s->llm.max_failed_steps)
        return "llm: steps in a row without a candidate";
    return NULL;
}

static void llm_observe(void *self, const spak_strategy_obs *ob)
{
    llm_state *s = self;
    s->failed_in_a_row = ob->no_candidate ? s->failed_in_a_row + 1 : 0;
}

/* The points in flight, named for the prompt ("x=1,y=0; x=2,y=0"), or NULL. */
static char *in_flight_text(const spak_space *sp, const uint64_t *pending, size_t n_pending)
{
    if (n_pending == 0)
        return NULL;
    spak_buf b;
    spak_buf_init(&b, 1 << 16);  /* up to 256 keys in flight; past the cap the list stops */
    for (size_t i = 0; i < n_pending; i++) {
        char key[2048];
        if (spak_space_key(sp, pending[i], key, sizeof key))
            (void)spak_buf_printf(&b, "%s%s", b.len ? "; " : "", key);
    }
    return b.data;  /* NULL when out of memory: the prompt then names none */
}

/* One LLM Programming step: up to max proposals (the caller owns each
 * prop[i].step), *n_prop of them; the points in flight count as tried. */
static spak_status step(llm_state *s, const spak_strategy_run *run, uint64_t next, const uint64_t *pending,
                        size_t n_pending, size_t max, spak_llm_proposal *prop, size_t *n_prop, char *tag, size_t tag_n,
                        spak_err *err)
{
    spak_llm_texts t;
    spak_llm_context c;
    spak_llm_context_build(run, &t, &c);
    char *flight = in_flight_text(run->space, pending, n_pending);
    c.in_flight = flight;
    const long n = s->steps + 1;
    char key[SPAK_KV_STEP_KEY_MAX];
    spak_store_llm_step_key(n, key);
    spak_snprintf(tag, tag_n, "%s", key);
    const spak_space *sp = run->space;
    unsigned char *tried = calloc((size_t)(sp->total + 7) / 8, 1);
    if (!tried) {
        spak_llm_texts_free(&t);
        free(flight);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < run->n_done; i++)
        if (run->done[i].index < sp->total)
            tried[run->done[i].index / 8] |= (unsigned char)(1u << (run->done[i].index % 8));
    for (size_t i = 0; i < n_pending; i++)  /* in flight: measured soon, never twice */
        if (pending[i] < sp->total)
            tried[pending[i] / 8] |= (unsigned char)(1u << (pending[i] % 8));
    bool code = s->llm.mode == SPAK_LLM_MODE_CODE || (s->llm.mode == SPAK_LLM_MODE_ALTERNATE && s->steps % 2 == 1);
    char dir[PATH_MAX + 64];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s/llm", run->site->home, run->run_id);
    uint64_t base = run->best_eval_id && run->best_index < sp->total ? run->best_index : next;
    spak_status st = spak_llm_propose(&s->llm, &c, sp, tried, base, code, dir, tag, max, prop, n_prop, err);
    free(tried);
    free(flight);
    spak_llm_texts_free(&t);
    if (st != SPAK_OK)
        return st;
    if (prop->kind != SPAK_PROPOSE_SUSPENDED) {
        s->steps++;
        s->tokens += prop->tokens;
        if (isnan(prop->cost))
            s->cost_unknown = true;
        else
            s->cost += prop->cost;
    }
    /* every prompt and reply is kept, with model, parameters and timing */
    char *sj = json_dumps(prop->step, JSON_COMPACT);
    if (sj)
        (void)spak_store_llm_step_put(run->store, run->run_id, n, sj, NULL);  /* for people; the step goes on */
    free(sj);
    return SPAK_OK;
}

/* A code candidate that waited at the llm-code gate, as it was proposed. */
static void from_gated(const json_t *pay, spak_llm_proposal *prop, char *tag, size_t tag_n)
{
    memset(prop, 0, sizeof *prop);
    prop->kind = SPAK_PROPOSE_CODE;
    prop->index = (uint64_t)json_integer_value(json_object_get(pay, "index"));
    spak_snprintf(prop->code_path, sizeof prop->code_path, "%s", json_string_value(json_object_get(pay, "code_path")));
    spak_snprintf(tag, tag_n, "%s", json_string_value(json_object_get(pay, "tag")));
    prop->predicted = json_is_number(json_object_get(pay, "predicted"))
                          ? json_number_value(json_object_get(pay, "predicted"))
                          : NAN;
    prop->step = json_deep_copy(json_object_get(pay, "step"));
    prop->cost = NAN;
}

/* The step's summary: journaled, and kept with the evaluation it proposed,
 * with the best so far when it was proposed (the prompt scores the
 * prediction's direction against it). */
static json_t *summary(const spak_strategy_run *run, const spak_llm_proposal *prop, const char *tag)
{
    json_t *summ = json_pack("{s:s,s:O?,s:O?,s:O?,s:O?,s:O?,s:I}", "llm_step", tag, "outcome",
                             json_object_get(prop->step, "outcome"), "verdict", json_object_get(prop->step, "verdict"),
                             "model", json_object_get(prop->step, "model"), "predicted_metric",
                             json_object_get(prop->step, "predicted_metric"), "prediction_why",
                             json_object_get(prop->step, "prediction_why"), "tokens", (json_int_t)prop->tokens);
    json_object_set_new(summ, "cost_usd", isnan(prop->cost) ? json_null() : json_real(prop->cost));
    json_t *pr = json_object_get(prop->step, "predicted_ratio");
    if (json_is_number(pr))
        json_object_set(summ, "predicted_ratio", pr);
    if (run->best_eval_id && !isnan(run->best_metric)) {
        json_object_set_new(summ, "best_metric_before", json_real(run->best_metric));
        json_object_set_new(summ, "best_ratio_before", isnan(run->best_ratio) ? json_null() : json_real(run->best_ratio));
    }
    return summ;
}

/* The driver's proposal as a strategy's. */
static void convert(const spak_strategy_run *run, const spak_llm_proposal *prop, const char *tag, spak_proposal *p)
{
    json_t *summ = summary(run, prop, tag);
    spak_snprintf(p->tag, sizeof p->tag, "%s", tag);
    spak_snprintf(p->key, sizeof p->key, "llm:%s", tag);
    p->index = prop->index;
    p->predicted = prop->predicted;
    const char *oc_name = json_string_value(json_object_get(prop->step, "outcome"));
    if (prop->kind == SPAK_PROPOSE_SUSPENDED) {
        json_object_set_new(summ, "waiting", json_string(prop->why));
        p->kind = SPAK_PROPOSAL_SUSPEND;
        spak_snprintf(p->why, sizeof p->why, "%s; write it, then 'spak resume %s'", prop->why, run->run_id);
    } else if (prop->kind == SPAK_PROPOSE_FAILED && oc_name &&
               (strcmp(oc_name, "config") == 0 || strcmp(oc_name, "auth") == 0)) {
        /* a setup problem, not a proposal: stop (resumable) rather than burn the budget */
        p->kind = SPAK_PROPOSAL_ERROR;
        spak_snprintf(p->why, sizeof p->why, "%s (fix the llm settings, then 'spak resume %s')", prop->why,
                      run->run_id);
    } else if (prop->kind == SPAK_PROPOSE_FAILED) {
        p->kind = SPAK_PROPOSAL_FAILED;
        spak_snprintf(p->why, sizeof p->why, "%s", prop->why);
    } else {
        p->kind = prop->kind == SPAK_PROPOSE_CODE ? SPAK_PROPOSAL_CODE : SPAK_PROPOSAL_POINT;
        spak_snprintf(p->code_path, sizeof p->code_path, "%s", prop->code_path);
        /* what the LLM proposed and predicted, journaled as PROGRAM ends */
        p->build_detail = json_pack("{s:O,s:O}", "llm_step", json_object_get(summ, "llm_step"), "model",
                                    json_object_get(summ, "model"));
        if (!isnan(prop->predicted) || json_is_number(json_object_get(summ, "predicted_ratio"))) {
            json_t *pr = json_object();
            if (!isnan(prop->predicted))
                json_object_set_new(pr, "metric", json_real(prop->predicted));
            if (json_is_number(json_object_get(summ, "predicted_ratio")))
                json_object_set(pr, "ratio", json_object_get(summ, "predicted_ratio"));
            json_object_set(pr, "why", json_object_get(summ, "prediction_why"));
            json_object_set_new(p->build_detail, "prediction", pr);
        }
    }
    if (p->kind == SPAK_PROPOSAL_CODE) {
        p->gate_payload = json_pack("{s:s,s:s,s:I,s:O?}", "tag", tag, "code_path", prop->code_path, "index",
                                    (json_int_t)prop->index, "step", prop->step);
        if (!isnan(prop->predicted))
            json_object_set_new(p->gate_payload, "predicted", json_real(prop->predicted));
    }
    p->note = summ;
    p->note_key = "llm";
}

static spak_status llm_propose(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                               spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    llm_state *s = self;
    *n_out = 0;
    if (max == 0)
        return SPAK_OK;
    /* with evaluations in flight (--jobs), nothing until the starting point
     * is measured: every later step starts from it (none now is not the
     * end: the scheduler asks again when a slot frees) */
    if (n_pending > 0 && run->n_done == 0 && !run->best_eval_id) {
        out[0].kind = SPAK_PROPOSAL_NONE;
        *n_out = 1;
        return SPAK_OK;
    }
    /* the default strategy's next point: the LLM's starting point before
     * there is a best; none left means the space is exhausted for the LLM too */
    uint64_t next = 0;
    bool found = false;
    spak_status st = spak_space_next(run->space, SPAK_STRAT_DEFAULT, run->seed, run->done, run->n_done, &next, &found,
                                     err);
    *n_out = 1;
    bool code_only = s->llm.mode == SPAK_LLM_MODE_CODE;
    if (st != SPAK_OK || (!found && !code_only)) {
        out[0].kind = SPAK_PROPOSAL_NONE;
        return st;
    }
    /* code mode writes new sources: a space whose points are all measured
     * is no end for it (its code is built with the best point's defines) */
    if (!found)
        next = run->best_eval_id && run->best_index < run->space->total ? run->best_index : 0;
    /* code mode measures the starting point first, without asking the
     * model: the first prompt then shows its source and its measurement
     * (the model improves on something it has seen judged) */
    if (s->llm.mode == SPAK_LLM_MODE_CODE && run->n_done == 0 && !run->best_eval_id && !run->gated) {
        out[0].kind = SPAK_PROPOSAL_POINT;
        out[0].index = next;
        return SPAK_OK;
    }
    /* with several slots free (--jobs N), one step asks for a choice for
     * each: the workers do not idle while one proposal is measured */
    size_t want = max < SPAK_REPLY_MAX_CHOICES ? max : SPAK_REPLY_MAX_CHOICES, np = 1;
    spak_llm_proposal *prop = calloc(want, sizeof *prop);
    if (!prop)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    char tag[32] = "";
    st = run->enter_program(run->ud, json_pack("{s:s}", "strategy", "llm"), err);
    if (st == SPAK_OK && run->gated)
        from_gated(run->gated, &prop[0], tag, sizeof tag);
    else if (st == SPAK_OK)
        st = step(s, run, next, pending, n_pending, want, prop, &np, tag, sizeof tag, err);
    for (size_t k = 0; st == SPAK_OK && k < np; k++)
        convert(run, &prop[k], tag, &out[k]);
    /* what a reply of several choices dropped (a duplicate, a point tried), journaled once with the first */
    json_t *ch = st == SPAK_OK ? json_object_get(prop[0].step, "choices") : NULL;
    if (ch && out[0].build_detail)
        json_object_set(out[0].build_detail, "choices", ch);
    if (ch && out[0].note)
        json_object_set(out[0].note, "choices", ch);
    for (size_t k = 0; k < np; k++)
        json_decref(prop[k].step);
    free(prop);
    *n_out = st == SPAK_OK ? np : 0;
    return st;
}

static void llm_close(void *self)
{
    free(self);
}

const spak_strategy spak_strategy_llm = {
    .open = llm_open,
    .default_budget = llm_default_budget,
    .resumed = llm_resumed,
    .stop = llm_stop,
    .propose = llm_propose,
    .observe = llm_observe,
    .close = llm_close,
};
