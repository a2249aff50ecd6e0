/* strategy_external.c - proposals from outside the process (strategy_external.h).
 * The queue is a JSON document in the store (kv scope SPAK_KV_EXTERNAL, one
 * per run: {"next": the next proposal id, "items": [...]}), so it survives
 * the process, and a resume finds it. Every read-modify-write of it is one
 * store transaction: the MCP server queues while a `spak resume` it
 * supervises takes items off. */
#include "program/strategy_external.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "program/context_sections.h"
#include "program/driver_llm.h"
#include "program/llm_context.h"
#include "program/prompt.h"
#include "program/strategy.h"
#include "program/sweep.h"
#include "store/scopes.h"

#define KEY_MAX 2048

/* The run's queue document (the caller owns it): a first-form array of
 * keys is read as its items. */
static json_t *queue_get(spak_store *st, const char *run_id)
{
    char *v = NULL;
    (void)spak_store_external_get(st, run_id, &v, NULL);  /* none and unreadable: an empty queue */
    json_t *q = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    if (json_is_array(q))
        return json_pack("{s:I,s:o}", "next", (json_int_t)1, "items", q);
    if (!json_is_object(q) || !json_is_array(json_object_get(q, "items"))) {
        json_decref(q);
        q = json_pack("{s:I,s:[]}", "next", (json_int_t)1, "items");
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

/* The store, with the run checked to take outside proposals. */
static spak_status open_run(const spak_engine_opts *o, const char *run_id, spak_store **out, spak_err *err)
{
    spak_status s = spak_engine_open_store(o, out, err);
    if (s != SPAK_OK)
        return s;
    spak_run run = {0};
    s = spak_store_run_get(*out, run_id, &run, err);
    if (s == SPAK_OK && spak_strategy_find(run.strategy) != &spak_strategy_external)
        s = spak_errf(err, SPAK_ERR_STATE, "run %s does not take outside proposals (its strategy is %s)", run_id,
                      run.strategy ? run.strategy : "none");
    spak_store_run_free(&run);
    if (s != SPAK_OK) {
        spak_store_close(*out);
        *out = NULL;
    }
    return s;
}

spak_status spak_external_queue(const spak_engine_opts *o, const char *run_id, const json_t *items,
                                long *proposal_id, spak_err *err)
{
    *proposal_id = 0;
    size_t n = json_array_size(items);
    if (n == 0)
        return spak_errf(err, SPAK_ERR_ARG, "a proposal needs at least one item");
    spak_store *st = NULL;
    spak_status s = open_run(o, run_id, &st, err);
    if (s != SPAK_OK)
        return s;
    if ((s = spak_store_begin(st, err)) != SPAK_OK)
        goto out;
    json_t *q = queue_get(st, run_id);
    json_t *qi = json_object_get(q, "items");
    json_int_t id = json_integer_value(json_object_get(q, "next"));
    if (id < 1)
        id = 1;
    if (json_array_size(qi) + n > SPAK_EXTERNAL_MAX_QUEUED)
        s = spak_errf(err, SPAK_ERR_LIMIT, "run %s has %zu proposals waiting already; at most %d may wait", run_id,
                      json_array_size(qi), SPAK_EXTERNAL_MAX_QUEUED);
    for (size_t i = 0; s == SPAK_OK && i < n; i++) {
        json_t *it = json_deep_copy(json_array_get(items, i));
        if (!json_is_object(it)) {
            json_decref(it);
            s = spak_errf(err, SPAK_ERR_ARG, "item %zu of the proposal is not an object", i + 1);
            break;
        }
        json_object_set_new(it, "proposal", json_integer(id));
        json_object_set_new(it, "item", json_integer((json_int_t)i + 1));
        json_object_set_new(it, "of", json_integer((json_int_t)n));
        json_array_append_new(qi, it);
    }
    json_object_set_new(q, "next", json_integer(id + 1));
    if (s == SPAK_OK)
        s = queue_put(st, run_id, q, err);
    json_decref(q);
    if (s == SPAK_OK && (s = spak_store_commit(st, err)) == SPAK_OK)
        *proposal_id = (long)id;
    else
        (void)spak_store_rollback(st, NULL);
out:
    spak_store_close(st);
    return s;
}

spak_status spak_external_submit(const spak_engine_opts *o, const char *run_id, const char *key, spak_err *err)
{
    if (!key || !*key || strlen(key) >= KEY_MAX)
        return spak_errf(err, SPAK_ERR_ARG, "a proposal is a candidate key 'name=value,...' (at most %d bytes)",
                         KEY_MAX - 1);
    json_t *items = json_pack("[{s:s}]", "point", key);
    long id = 0;
    spak_status s = spak_external_queue(o, run_id, items, &id, err);
    json_decref(items);
    return s;
}

/* The items of proposal id (0: all) in the queue: counted, and removed when remove. */
static spak_status queue_scan(const spak_engine_opts *o, const char *run_id, long id, bool remove, size_t *n,
                              spak_err *err)
{
    *n = 0;
    spak_store *st = NULL;
    spak_status s = open_run(o, run_id, &st, err);
    if (s != SPAK_OK)
        return s;
    if (remove && (s = spak_store_begin(st, err)) != SPAK_OK)
        goto out;
    json_t *q = queue_get(st, run_id);
    json_t *qi = json_object_get(q, "items");
    for (size_t i = json_array_size(qi); i-- > 0;) {
        json_t *it = json_array_get(qi, i);
        long pid = json_is_object(it) ? (long)json_integer_value(json_object_get(it, "proposal")) : 0;
        if (id == 0 || pid == id) {
            (*n)++;
            if (remove)
                json_array_remove(qi, i);
        }
    }
    bool forget = remove && id == 0 && json_object_get(q, "taken");
    if (forget)  /* all withdrawn (a stop): the item under way is not given back on resume either */
        json_object_del(q, "taken");
    if (remove) {
        if (*n > 0 || forget)
            s = queue_put(st, run_id, q, err);
        if (s == SPAK_OK)
            s = spak_store_commit(st, err);
        else
            (void)spak_store_rollback(st, NULL);
    }
    json_decref(q);
out:
    spak_store_close(st);
    return s;
}

spak_status spak_external_queued(const spak_engine_opts *o, const char *run_id, long proposal_id, size_t *n,
                                 spak_err *err)
{
    return queue_scan(o, run_id, proposal_id, false, n, err);
}

spak_status spak_external_withdraw(const spak_engine_opts *o, const char *run_id, long proposal_id,
                                   size_t *n_removed, spak_err *err)
{
    return queue_scan(o, run_id, proposal_id, true, n_removed, err);
}

spak_status spak_external_sweeps(const spak_engine_opts *o, const char *run_id, json_t **out, json_t **going,
                                 spak_err *err)
{
    if (out)
        *out = NULL;
    if (going)
        *going = NULL;
    spak_store *st = NULL;
    spak_status s = open_run(o, run_id, &st, err);
    if (s != SPAK_OK)
        return s;
    json_t *q = queue_get(st, run_id);
    spak_store_close(st);
    json_t *ends = json_object_get(q, "sweeps");
    if (out)
        *out = json_is_object(ends) ? json_incref(ends) : json_object();
    if (going) {
        *going = json_object();
        json_t *qi = json_object_get(q, "items"), *it;
        size_t i;
        json_array_foreach(qi, i, it) {
            json_t *sw = json_object_get(it, "sweep");
            char pid[32];
            if (json_is_object(sw) &&
                spak_snprintf(pid, sizeof pid, "%lld", (long long)json_integer_value(json_object_get(it, "proposal"))))
                json_object_set_new(*going, pid, json_pack("{s:O?,s:I}", "strategy", json_object_get(sw, "strategy"),
                                                           "points",
                                                           (json_int_t)json_array_size(json_object_get(sw, "proposed"))));
        }
    }
    json_decref(q);
    return SPAK_OK;
}

/* ---- the engineer's context, written when the run waits ---- */

/* HOME/runs/RUN/external/NAME into out. */
static bool ext_path(const spak_strategy_run *run, const char *name, char *out, size_t n)
{
    return spak_snprintf(out, n, "%s/runs/%s/external/%s", run->site->home, run->run_id, name);
}

/* The spec's llm { context_tokens: N } (the LLM prompt's budget), 0 when
 * it names none. */
static long spec_context_tokens(const spak_model *m)
{
    for (size_t i = 0; m && m->system && i < m->system->n; i++)
        if (spak_entry_word_is(m->system->items[i], 0, "llm") && m->system->items[i]->body) {
            const spak_entry *e = spak_block_find(m->system->items[i]->body, "context_tokens");
            if (e && e->value && e->value->kind == SPAK_EX_NUMBER && e->value->num > 0)
                return (long)e->value->num;
        }
    return 0;
}

/* context.md (the llm strategy's prompt for a code step, system then user
 * message), context.json (its parts, for a budget chosen later: spak mcp's
 * spak_context max_tokens; with the spec's llm context_tokens), best.c (the base of a diff: the best candidate's source, or the
 * first point's template before there is one) and state.json (where the
 * spec, the ABI header and the best source are, for the MCP resources).
 * For people and the MCP server: a failure here does not stop the run. */
static void write_context(const spak_strategy_run *run)
{
    char dir[PATH_MAX], path[PATH_MAX], src[PATH_MAX] = "";
    if (!ext_path(run, "", dir, sizeof dir) || spak_mkdirs(dir, NULL) != SPAK_OK)
        return;
    spak_llm_texts t;
    spak_llm_context c;
    spak_llm_context_build(run, &t, &c);
    spak_prompt_parts parts;
    spak_llm_prompt_parts(&c, true, &parts);  /* the same sections as the llm strategy's prompt */
    json_t *pj = spak_ctx_parts_json(&parts, spec_context_tokens(run->m));  /* for a budget chosen later */
    char *pt = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
    if (pt && ext_path(run, "context.json", path, sizeof path))
        (void)spak_write_file_atomic(path, pt, strlen(pt), NULL);
    free(pt);
    json_decref(pj);
    spak_prompt pr;
    if (spak_prompt_build(&parts, 0, &pr, NULL) == SPAK_OK) {
        spak_buf b;
        spak_buf_init(&b, 8u << 20);
        if (spak_buf_printf(&b, "%s\n\n%s", pr.system, pr.user) == SPAK_OK && ext_path(run, "context.md", path, sizeof path))
            (void)spak_write_file_atomic(path, b.data, b.len, NULL);
        spak_buf_free(&b);
        spak_prompt_free(&pr);
    }
    uint64_t first = 0;
    while (first < run->space->total && !spak_space_exists(run->space, first))
        first++;
    const char *best = t.best_src;
    char *tmpl = NULL;
    /* the prompt does not repeat a best that is the starting point (its
     * "Not repeated: ..." line): the base of a diff is that point's template */
    uint64_t base = first;
    if (best && strncmp(best, "Not repeated", 12) == 0) {
        best = NULL;
        base = run->best_index;
    }
    if (!best && spak_cand_source_of(run->site, base, src, sizeof src) &&
        spak_read_file(src, 1u << 20, &tmpl, NULL, NULL) == SPAK_OK)
        best = tmpl;
    if (best && ext_path(run, "best.c", path, sizeof path))
        (void)spak_write_file_atomic(path, best, strlen(best), NULL);
    free(tmpl);
    char abi[PATH_MAX] = "";
    if (spak_cand_source_of(run->site, first, abi, sizeof abi)) {
        char *sl = strrchr(abi, '/');
        if (sl)
            spak_snprintf(sl, sizeof abi - (size_t)(sl - abi), "/abi.h");
    }
    json_t *stj = json_pack("{s:s,s:s,s:s,s:s?,s:I}", "spec", run->spec_path ? run->spec_path : "", "abi", abi,
                            "best_source", path, "best_key", run->best_key, "evaluations", (json_int_t)run->n_done);
    char *sj = stj ? json_dumps(stj, JSON_INDENT(2)) : NULL;
    if (sj && ext_path(run, "state.json", path, sizeof path))
        (void)spak_write_file_atomic(path, sj, strlen(sj), NULL);
    free(sj);
    json_decref(stj);
    spak_llm_texts_free(&t);
}

/* ---- taking an item ---- */

/* The item's point as a key in the space's order: "point" as given, or
 * "values" joined name=value in the order of the space. false: why says. */
static bool item_key(const spak_space *sp, const json_t *it, char *key, size_t n, char *why, size_t wn)
{
    const char *pt = json_string_value(json_object_get(it, "point"));
    const json_t *vals = json_object_get(it, "values");
    key[0] = 0;
    if (pt)
        return spak_snprintf(key, n, "%s", pt);
    if (!json_is_object(vals))
        return true;  /* none given */
    size_t used = 0, off = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const json_t *v = json_object_get(vals, sp->params[i].name);
        if (!v)
            continue;
        used++;
        char txt[300];
        if (json_is_string(v))
            spak_snprintf(txt, sizeof txt, "%s", json_string_value(v));
        else if (json_is_integer(v))
            spak_snprintf(txt, sizeof txt, "%lld", (long long)json_integer_value(v));
        else if (json_is_number(v))
            spak_snprintf(txt, sizeof txt, "%.17g", json_number_value(v));
        else
            spak_snprintf(txt, sizeof txt, "%s", json_is_true(v) ? "true" : "false");
        if (!spak_snprintf(key + off, n - off, "%s%s=%s", off ? "," : "", sp->params[i].name, txt))
            return spak_snprintf(why, wn, "the point is too long"), false;
        off = strlen(key);
    }
    if (used != json_object_size(vals)) {
        const char *name;
        const json_t *v;
        json_object_foreach((json_t *)vals, name, v) {
            bool known = false;
            for (size_t i = 0; i < sp->n && !known; i++)
                known = strcmp(sp->params[i].name, name) == 0;
            if (!known)
                return spak_snprintf(why, wn, "'%.200s' is not a parameter of the space", name), false;
        }
    }
    return true;
}

/* The note kept with the item's evaluation. */
static json_t *item_note(const json_t *it)
{
    json_t *note = json_object();
    static const char *const keys[] = {"proposal", "item", "of", "prediction", "tunables", "kind", "swept"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(keys); i++)
        if (json_object_get(it, keys[i]))
            json_object_set(note, keys[i], json_object_get(it, keys[i]));
    /* also under the names of the llm strategy's note, so that one reader
     * scores every engineer's predictions against the outcomes */
    const json_t *pr = json_object_get(it, "prediction");
    static const char *const flat[][2] = {{"metric", "predicted_metric"}, {"ratio", "predicted_ratio"},
                                          {"why", "prediction_why"}};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(flat); i++)
        if (json_object_get(pr, flat[i][0]))
            json_object_set(note, flat[i][1], json_object_get(pr, flat[i][0]));
    return note;
}

/* A failed step for item it: the note under "external" (a failed step's
 * note is its whole result). */
static void item_failed(const spak_strategy_run *run, const json_t *it, spak_proposal *out, const char *why)
{
    out->kind = SPAK_PROPOSAL_FAILED;
    spak_snprintf(out->key, sizeof out->key, "external:%ld", (long)run->n_done + 1);
    spak_snprintf(out->why, sizeof out->why, "%s", why);
    out->note = json_pack("{s:o}", "external", item_note(it));
}

/* The proposal for item it (borrowed). */
static void from_item(const spak_strategy_run *run, const json_t *it, spak_proposal *out)
{
    char key[KEY_MAX], why[600] = "";
    const spak_space *sp = run->space;
    if (!item_key(sp, it, key, sizeof key, why, sizeof why)) {
        item_failed(run, it, out, why);
        return;
    }
    const char *code = json_string_value(json_object_get(it, "code_path"));
    bool have_point = key[0] != 0;
    if (have_point && !spak_space_find(sp, key, &out->index)) {
        char w[KEY_MAX + 64];
        spak_snprintf(w, sizeof w, "the outside proposal '%.900s' is not a point of the space", key);
        item_failed(run, it, out, w);
        return;
    }
    if (!code && !have_point) {
        item_failed(run, it, out, "the outside proposal has neither a point nor a source");
        return;
    }
    const json_t *pred = json_object_get(it, "prediction");
    out->predicted = json_is_number(json_object_get(pred, "metric")) ? json_number_value(json_object_get(pred, "metric"))
                                                                     : NAN;
    out->note = item_note(it);
    out->note_key = "external";
    out->build_detail = json_pack("{s:O}", "external", out->note);
    if (!code) {
        out->kind = SPAK_PROPOSAL_POINT;
        return;
    }
    if (!have_point) {
        /* the defines of the best point, else of the space's first point */
        out->index = 0;
        if (run->best_eval_id && run->best_index < sp->total)
            out->index = run->best_index;
        else
            while (out->index < sp->total && !spak_space_exists(sp, out->index))
                out->index++;
    }
    out->kind = SPAK_PROPOSAL_CODE;
    spak_snprintf(out->code_path, sizeof out->code_path, "%s", code);
    spak_snprintf(out->tag, sizeof out->tag, "ext-%ld-%ld", (long)json_integer_value(json_object_get(it, "proposal")),
                  (long)json_integer_value(json_object_get(it, "item")));
    out->gate_payload = json_deep_copy(it);
}

/* The item to judge next from the queue q (*it owned, NULL when none):
 * the oldest, taken off; a sweep at the head gives its next point and stays
 * there until it ends (sweep.h), its end kept under q's "sweeps" by
 * proposal. The item is kept as "taken" until the next is taken: a run
 * killed while judging it gives it back on resume (external_resumed). */
static spak_status take_item(const spak_strategy_run *run, json_t *q, json_t **it, bool *changed, spak_err *err)
{
    json_t *qi = json_object_get(q, "items");
    *it = NULL;
    while (json_array_size(qi) > 0) {
        json_t *head = json_array_get(qi, 0);
        *changed = true;
        if (!json_is_object(head) || !json_is_object(json_object_get(head, "sweep"))) {
            *it = json_incref(head);
            json_object_set(q, "taken", head);
            json_array_remove(qi, 0);
            return SPAK_OK;
        }
        char why[512];
        spak_status st = spak_sweep_next(run, head, it, why, sizeof why, err);
        if (st != SPAK_OK)
            return st;
        if (*it) {
            json_object_set(q, "taken", *it);
            return SPAK_OK;
        }
        json_t *ends = json_object_get(q, "sweeps");
        if (!json_is_object(ends)) {
            ends = json_object();
            json_object_set_new(q, "sweeps", ends);
        }
        json_t *sw = json_object_get(head, "sweep");
        char pid[32];
        spak_snprintf(pid, sizeof pid, "%lld", (long long)json_integer_value(json_object_get(head, "proposal")));
        json_object_set_new(ends, pid, json_pack("{s:s,s:I,s:s}", "strategy", spak_sweep_strategy(run, sw), "points",
                                                 (json_int_t)json_array_size(json_object_get(sw, "proposed")),
                                                 "ended", why));
        json_array_remove(qi, 0);
    }
    return SPAK_OK;
}

/* The oldest queued item, taken off the queue (or the one that waited at
 * the llm-code gate and was answered). */
static spak_status external_propose(void *self, const spak_strategy_run *run, const uint64_t *pending,
                                    size_t n_pending, spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    (void)self;
    (void)pending;
    (void)n_pending;  /* whoever proposes from outside decides what to run twice */
    *n_out = 0;
    if (max == 0)
        return SPAK_OK;
    *n_out = 1;
    if (run->gated) {
        from_item(run, run->gated, out);
        return SPAK_OK;
    }
    spak_status st = spak_store_begin(run->store, err);
    if (st != SPAK_OK)
        return st;
    json_t *q = queue_get(run->store, run->run_id);
    json_t *it = NULL;
    bool changed = false;
    st = take_item(run, q, &it, &changed, err);
    if (st == SPAK_OK && changed)
        st = queue_put(run->store, run->run_id, q, err);
    json_decref(q);
    if (st == SPAK_OK)
        st = spak_store_commit(run->store, err);
    else
        (void)spak_store_rollback(run->store, NULL);
    if (st != SPAK_OK) {
        json_decref(it);
        return st;
    }
    if (!it) {
        write_context(run);
        out->kind = SPAK_PROPOSAL_SUSPEND;
        out->note = json_pack("{s:s}", "waiting", "an outside proposal");
        spak_snprintf(out->why, sizeof out->why,
                      "waiting for an outside proposal; submit one for run %s, then 'spak resume %s'", run->run_id,
                      run->run_id);
        return SPAK_OK;
    }
    if (json_is_string(it)) {  /* the first form: a bare key */
        json_t *o = json_pack("{s:O}", "point", it);
        json_decref(it);
        it = o;
    }
    from_item(run, it, out);
    json_decref(it);
    return SPAK_OK;
}

/* Whether the taken item it has an evaluation: final (its note names it),
 * and whether one was cut off (interrupted, its candidate the item's). */
static void taken_fate(const spak_strategy_run *run, const json_t *it, bool *final, bool *cut)
{
    *final = *cut = false;
    json_int_t pid = json_integer_value(json_object_get(it, "proposal"));
    json_int_t item = json_integer_value(json_object_get(it, "item"));
    char key[KEY_MAX], why[600], tag[64];
    if (!item_key(run->space, it, key, sizeof key, why, sizeof why))
        key[0] = 0;
    spak_snprintf(tag, sizeof tag, "code:ext-%lld-%lld|", (long long)pid, (long long)item);
    bool code = json_object_get(it, "code_path") != NULL;
    spak_eval *ev = NULL;
    size_t n = 0;
    if (spak_store_eval_list(run->store, run->run_id, &ev, &n, NULL) != SPAK_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *k = ev[i].cand_key ? ev[i].cand_key : "";
        bool mine = code ? strncmp(k, tag, strlen(tag)) == 0 : key[0] && strcmp(k, key) == 0;
        if (mine && ev[i].status && strcmp(ev[i].status, SPAK_EVAL_INTERRUPTED) == 0)
            *cut = true;
        json_t *res = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        const json_t *note = json_object_get(res, "external");
        if (!json_is_object(note))
            note = res;
        if (json_integer_value(json_object_get(note, "proposal")) == pid &&
            json_integer_value(json_object_get(note, "item")) == item)
            *final = true;
        json_decref(res);
    }
    spak_store_evals_free(ev, n);
}

/* A resumed run: the item whose evaluation was cut off by a kill goes back
 * to the front of the queue, so that nothing proposed is lost (and nothing
 * judged is judged again: an item with a final evaluation stays taken). */
static spak_status external_resumed(void *self, const spak_strategy_run *run, spak_err *err)
{
    (void)self;
    spak_status st = spak_store_begin(run->store, err);
    if (st != SPAK_OK)
        return st;
    json_t *q = queue_get(run->store, run->run_id);
    json_t *it = json_object_get(q, "taken");
    bool final = false, cut = false;
    if (json_is_object(it))
        taken_fate(run, it, &final, &cut);
    if (cut && !final) {
        json_array_insert(json_object_get(q, "items"), 0, it);
        json_object_del(q, "taken");
        st = queue_put(run->store, run->run_id, q, err);
    }
    json_decref(q);
    if (st == SPAK_OK)
        return spak_store_commit(run->store, err);
    (void)spak_store_rollback(run->store, NULL);
    return st;
}

const spak_strategy spak_strategy_external = {
    .resumed = external_resumed,
    .propose = external_propose,
};
