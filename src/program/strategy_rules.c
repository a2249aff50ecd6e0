/* strategy_rules.c - the rules strategy: the knowledge is the engineer
 * (knowledge.h, spak_rules_next). The rules that fire now (and the lessons
 * of earlier runs, transfer.h) constrain and order the untried points; the
 * PROGRAM transition records which fired. A pure function of the seed and
 * the finished evaluations (the conditions read their records). */
#include "program/strategy.h"

#include "knowledge/knowledge.h"

typedef struct rules_next {
    const spak_strategy_run *run;
    const spak_firing *firings;
    size_t n_firings;
    bool by_rules;   /* the first point came from the rules, not from exploring */
    bool first;
} rules_next;

static spak_status next_point(void *ud, const spak_space_eval *done, size_t n, uint64_t *next, bool *found,
                              spak_err *err)
{
    rules_next *r = ud;
    bool by_rules = false;
    spak_status st = spak_rules_next(r->run->space, r->run->seed, done, n, r->firings, r->n_firings, next, found,
                                     &by_rules, err);
    if (r->first)
        r->by_rules = by_rules;
    r->first = false;
    return st;
}

/* The spec's rules whose condition holds now, then the lessons as rules. */
static size_t fire(const spak_strategy_run *run, spak_firing *firings, size_t max)
{
    size_t nf = spak_rules_fire(run->m, run->space, run->env, firings, max);
    for (size_t i = 0; run->lessons && i < run->lessons->n_rules && nf < max; i++) {
        spak_firing *f = &firings[nf++];
        f->rule = &run->lessons->rules[i];
        f->n_actions = 0;
        for (size_t k = 0; k < f->rule->n_actions && f->n_actions < SPAK_ARRAY_LEN(f->actions); k++)
            if (spak_action_parse(f->rule->actions[k].text, "recommend", run->space, &f->actions[f->n_actions],
                                  NULL, 0))
                f->n_actions++;
    }
    return nf;
}

static spak_status rules_propose(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                                 spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    (void)self;
    spak_firing firings[64];
    size_t nf = fire(run, firings, SPAK_ARRAY_LEN(firings));
    rules_next r = {run, firings, nf, false, true};
    spak_status st = spak_strategy_collect(next_point, &r, run, pending, n_pending, out, max, n_out, err);
    if (st != SPAK_OK || *n_out == 0 || out[0].kind != SPAK_PROPOSAL_POINT)
        return st;
    json_t *fired = json_array();
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_pack("{s:s,s:s?,s:I}", "rule", firings[i].rule->title, "when", firings[i].rule->when_text,
                              "machine_actions", (json_int_t)firings[i].n_actions);
        if (run->best_eval_id)
            json_object_set_new(f, "evidence_eval_id", json_integer(run->best_eval_id));
        json_array_append_new(fired, f);
    }
    if (!r.by_rules)
        json_array_append_new(fired, json_pack("{s:s}", "note", "no rule constrains the rest: exploring"));
    out[0].detail = json_pack("{s:o}", "fired", fired);
    return SPAK_OK;
}

const spak_strategy spak_strategy_rules = {
    .propose = rules_propose,
};
