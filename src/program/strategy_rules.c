/* strategy_rules.c - the rules strategy: the knowledge is the engineer
 * (knowledge.h, spak_rules_next). The rules that fire now (and the lessons
 * of earlier runs, transfer.h) constrain and order the untried points; the
 * PROGRAM transition records which fired. A pure function of the seed and
 * the finished evaluations (the conditions read their records). A point
 * that differs from an evaluated one only in parameters that did not reach
 * that candidate (build/reach.h) is the same program: it counts as tried,
 * with its twin's score, so that no rule sends the run back to it. */
#include "program/strategy.h"

#include <stdlib.h>
#include <string.h>

#include "analyze/evaluate.h"
#include "knowledge/knowledge.h"

#define TWIN_MAX_POINTS ((uint64_t)1 << 20)  /* larger spaces: no twins looked for */

/* An evaluated point and the parameters that did not reach its candidate. */
typedef struct reach_bits {
    uint64_t index, bits;
} reach_bits;

typedef struct rules_next {
    const spak_strategy_run *run;
    const spak_firing *firings;
    size_t n_firings;
    bool by_rules;   /* the first point came from the rules, not from exploring */
    bool first;
    reach_bits *rb;  /* the run's evaluations with unreached parameters */
    size_t n_rb;
} rules_next;

/* The run's evaluated points whose records list unreached parameters. */
static void read_reach(const spak_strategy_run *run, rules_next *r)
{
    spak_eval *ev = NULL;
    size_t n = 0;
    r->rb = NULL;
    r->n_rb = 0;
    if (!run->store || spak_store_eval_list(run->store, run->run_id, &ev, &n, NULL) != SPAK_OK)
        return;
    r->rb = calloc(n ? n : 1, sizeof *r->rb);
    for (size_t i = 0; r->rb && i < n; i++) {
        uint64_t idx, bits = spak_result_unreached(ev[i].result_json, run->space);
        if (bits && ev[i].cand_key && spak_space_find(run->space, ev[i].cand_key, &idx))
            r->rb[r->n_rb++] = (reach_bits){idx, bits};
    }
    spak_store_evals_free(ev, n);
}

/* Whether b is a twin of a: every parameter outside bits has a's digit. */
static bool twin(const spak_space *s, const size_t *da, uint64_t b, uint64_t bits)
{
    size_t db[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, b, db);
    for (size_t q = 0; q < s->n; q++)
        if (!(bits >> q & 1) && da[q] != db[q])
            return false;
    return true;
}

/* done, then every untried point that is a twin of an evaluated one (it
 * differs only in parameters that do not reach that candidate: the same
 * program), as tried with its twin's score. NULL: no twin (use done). */
static spak_space_eval *with_twins(const rules_next *r, const spak_space_eval *done, size_t n, size_t *n_out)
{
    const spak_space *s = r->run->space;
    if (!r->n_rb || s->total > TWIN_MAX_POINTS)
        return NULL;
    unsigned char *tried = calloc((size_t)(s->total + 7) / 8, 1);
    spak_space_eval *d = malloc((n + (size_t)s->total + 1) * sizeof *d);
    if (!tried || !d) {
        free(tried);
        free(d);
        return NULL;
    }
    memcpy(d, done, n * sizeof *d);
    *n_out = n;
    for (size_t i = 0; i < n; i++)
        if (done[i].index < s->total)
            tried[done[i].index / 8] |= (unsigned char)(1u << (done[i].index % 8));
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = 0;
        for (size_t k = 0; k < r->n_rb && !bits; k++)
            bits = r->rb[k].index == done[i].index ? r->rb[k].bits : 0;
        if (!bits)
            continue;
        size_t da[SPAK_SPACE_MAX_PARAMS];
        spak_space_digits(s, done[i].index, da);
        for (uint64_t x = 0; x < s->total; x++)
            if (!(tried[x / 8] & (1u << (x % 8))) && spak_space_exists(s, x) && twin(s, da, x, bits)) {
                tried[x / 8] |= (unsigned char)(1u << (x % 8));
                d[(*n_out)++] = (spak_space_eval){x, done[i].score};
            }
    }
    free(tried);
    return d;
}

static spak_status next_point(void *ud, const spak_space_eval *done, size_t n, uint64_t *next, bool *found,
                              spak_err *err)
{
    rules_next *r = ud;
    bool by_rules = false;
    size_t nt = 0;
    spak_space_eval *tw = with_twins(r, done, n, &nt);
    spak_status st = spak_rules_next(r->run->space, r->run->seed, tw ? tw : done, tw ? nt : n, r->firings,
                                     r->n_firings, next, found, &by_rules, err);
    free(tw);
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
    rules_next r = {run, firings, nf, false, true, NULL, 0};
    read_reach(run, &r);
    spak_status st = spak_strategy_collect(next_point, &r, run, pending, n_pending, out, max, n_out, err);
    free(r.rb);
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
