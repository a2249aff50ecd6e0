/* strategy_external.c - proposals from outside the process (strategy_external.h).
 * The queue is a JSON array of keys in the store (kv scope SPAK_KV_EXTERNAL,
 * one per run), so it survives the process, and a resume finds it. */
#include "program/strategy_external.h"

#include <stdlib.h>
#include <string.h>

#include "program/strategy.h"
#include "store/scopes.h"

#define KEY_MAX 2048

/* The run's queue (an array; the caller owns it). */
static json_t *queue_get(spak_store *st, const char *run_id)
{
    char *v = NULL;
    (void)spak_store_external_get(st, run_id, &v, NULL);  /* none and unreadable: an empty queue */
    json_t *q = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    if (!json_is_array(q)) {
        json_decref(q);
        q = json_array();
    }
    return q;
}

static spak_status queue_put(spak_store *st, const char *run_id, json_t *q, spak_err *err)
{
    char *t = json_dumps(q, JSON_COMPACT);
    if (!t)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_status s = spak_store_external_put(st, run_id, t, err);
    free(t);
    return s;
}

spak_status spak_external_submit(const spak_engine_opts *o, const char *run_id, const char *key, spak_err *err)
{
    if (!key || !*key || strlen(key) >= KEY_MAX)
        return spak_errf(err, SPAK_ERR_ARG, "a proposal is a candidate key 'name=value,...' (at most %d bytes)",
                         KEY_MAX - 1);
    spak_store *st = NULL;
    spak_status s = spak_engine_open_store(o, &st, err);
    if (s != SPAK_OK)
        return s;
    spak_run run = {0};
    s = spak_store_run_get(st, run_id, &run, err);
    if (s == SPAK_OK && spak_strategy_find(run.strategy) != &spak_strategy_external)
        s = spak_errf(err, SPAK_ERR_STATE, "run %s does not take outside proposals (its strategy is %s)", run_id,
                      run.strategy ? run.strategy : "none");
    if (s == SPAK_OK) {
        json_t *q = queue_get(st, run_id);
        if (json_array_size(q) >= SPAK_EXTERNAL_MAX_QUEUED)
            s = spak_errf(err, SPAK_ERR_LIMIT, "run %s has %d proposals waiting already", run_id,
                          SPAK_EXTERNAL_MAX_QUEUED);
        else if (json_array_append_new(q, json_string(key)) == 0)
            s = queue_put(st, run_id, q, err);
        json_decref(q);
    }
    spak_store_run_free(&run);
    spak_store_close(st);
    return s;
}

/* The oldest queued proposal, taken off the queue. */
static spak_status external_propose(void *self, const spak_strategy_run *run, const uint64_t *pending,
                                    size_t n_pending, spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    (void)self;
    (void)pending;
    (void)n_pending;  /* whoever proposes from outside decides what to run twice */
    *n_out = 0;
    if (max == 0)
        return SPAK_OK;
    json_t *q = queue_get(run->store, run->run_id);
    *n_out = 1;
    if (json_array_size(q) == 0) {
        json_decref(q);
        out->kind = SPAK_PROPOSAL_SUSPEND;
        out->note = json_pack("{s:s}", "waiting", "an outside proposal");
        spak_snprintf(out->why, sizeof out->why,
                      "waiting for an outside proposal; submit one for run %s, then 'spak resume %s'", run->run_id,
                      run->run_id);
        return SPAK_OK;
    }
    char key[KEY_MAX];
    spak_snprintf(key, sizeof key, "%s", json_string_value(json_array_get(q, 0)));
    json_array_remove(q, 0);
    spak_status st = queue_put(run->store, run->run_id, q, err);
    json_decref(q);
    if (st != SPAK_OK)
        return st;
    if (spak_space_find(run->space, key, &out->index)) {
        out->kind = SPAK_PROPOSAL_POINT;
        return SPAK_OK;
    }
    out->kind = SPAK_PROPOSAL_FAILED;
    spak_snprintf(out->key, sizeof out->key, "external:%ld", (long)run->n_done + 1);
    spak_snprintf(out->why, sizeof out->why, "the outside proposal '%.900s' is not a point of the space", key);
    out->note = json_pack("{s:s}", "proposal", key);
    return SPAK_OK;
}

const spak_strategy spak_strategy_external = {
    .propose = external_propose,
};
