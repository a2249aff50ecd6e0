/* strategy.c - the table of strategies and what they share (strategy.h). */
#include "program/strategy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The table, made from the list of strategies.h: NAME is spak_strategy_NAME,
 * so that the names a spec may choose and the strategies found are one list. */
#define ENTRY(n) {#n, &spak_strategy_##n},
static const struct {
    const char *name;
    const spak_strategy *s;
} strategies[] = {SPAK_STRATEGIES(ENTRY)};
#undef ENTRY

const spak_strategy *spak_strategy_find(const char *name)
{
    for (size_t i = 0; name && i < SPAK_ARRAY_LEN(strategies); i++)
        if (strcmp(strategies[i].name, name) == 0)
            return strategies[i].s;
    return NULL;
}

void spak_proposal_init(spak_proposal *p)
{
    memset(p, 0, sizeof *p);
    p->predicted = NAN;
}

void spak_proposal_free(spak_proposal *p)
{
    json_decref(p->detail);
    json_decref(p->build_detail);
    json_decref(p->note);
    json_decref(p->gate_payload);
    p->detail = p->build_detail = p->note = p->gate_payload = NULL;
}

/* The finished evaluations, then the pending points as failed ones (tried,
 * never the best); room for max more. The caller frees it. */
static spak_space_eval *tried_so_far(const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                                     size_t max, size_t *n)
{
    spak_space_eval *d = malloc((run->n_done + n_pending + max + 1) * sizeof *d);
    if (!d)
        return NULL;
    if (run->n_done)
        memcpy(d, run->done, run->n_done * sizeof *d);
    *n = run->n_done;
    for (size_t i = 0; i < n_pending; i++)
        d[(*n)++] = (spak_space_eval){pending[i], NAN};
    return d;
}

spak_status spak_strategy_collect(spak_strategy_next_fn next_fn, void *ud, const spak_strategy_run *run,
                                  const uint64_t *pending, size_t n_pending, spak_proposal *out, size_t max,
                                  size_t *n_out, spak_err *err)
{
    *n_out = 0;
    size_t n = 0;
    spak_space_eval *d = tried_so_far(run, pending, n_pending, max, &n);
    if (!d)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_status st = SPAK_OK;
    while (*n_out < max) {
        bool found = false;
        uint64_t next = 0;
        st = next_fn(ud, d, n, &next, &found, err);
        if (st != SPAK_OK || !found)
            break;
        out[*n_out].kind = SPAK_PROPOSAL_POINT;
        out[(*n_out)++].index = next;
        d[n++] = (spak_space_eval){next, NAN};
    }
    if (st == SPAK_OK && *n_out == 0 && max > 0) {
        out[0].kind = SPAK_PROPOSAL_NONE;
        *n_out = 1;
    }
    free(d);
    return st;
}

typedef struct walk {
    spak_strategy_kind kind;
    const spak_strategy_run *run;
} walk;

static spak_status walk_next(void *ud, const spak_space_eval *done, size_t n, uint64_t *next, bool *found,
                             spak_err *err)
{
    const walk *w = ud;
    return spak_space_next(w->run->space, w->kind, w->run->seed, done, n, next, found, err);
}

spak_status spak_strategy_walk(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                               spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    walk w = {*(const spak_strategy_kind *)self, run};
    return spak_strategy_collect(walk_next, &w, run, pending, n_pending, out, max, n_out, err);
}
