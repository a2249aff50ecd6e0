/* driver_llm.c - see driver_llm.h. */
#include "program/driver_llm.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program/prompt.h"
#include "store/scopes.h"

static bool num(const spak_block *b, const char *key, double *out)
{
    const spak_entry *e = spak_block_find(b, key);
    if (!e || !e->value)
        return false;
    if (e->value->kind == SPAK_EX_NUMBER) {
        *out = e->value->num;
        return true;
    }
    if (e->value->kind == SPAK_EX_UNARY && e->value->lhs->kind == SPAK_EX_NUMBER) {
        *out = -e->value->lhs->num;
        return true;
    }
    return false;
}

/* price_in / price_out not both given: the first entry of the price table
 * whose pattern matches the model fills the missing ones. */
static spak_status prices_from_table(const char *table, const char *spec_path, spak_llm_config *cfg, spak_err *err)
{
    char path[PATH_MAX];
    const char *slash = spec_path ? strrchr(spec_path, '/') : NULL;
    if (table[0] == '/' || !slash)
        spak_snprintf(path, sizeof path, "%s", table);
    else
        spak_snprintf(path, sizeof path, "%.*s/%s", (int)(slash - spec_path), spec_path, table);
    spak_llm_prices t;
    spak_status st = spak_llm_prices_load(path, &t, err);
    if (st != SPAK_OK) {
        if (err) {
            char why[SPAK_ERR_MSG_MAX];
            spak_snprintf(why, sizeof why, "%s", err->msg);
            spak_errf(err, st, "llm price_table: %s", why);
        }
        return st;
    }
    double in, out;
    if (cfg->model && spak_llm_prices_find(&t, cfg->model, &in, &out)) {
        if (cfg->price_in < 0)
            cfg->price_in = in;
        if (cfg->price_out < 0)
            cfg->price_out = out;
    }
    spak_llm_prices_free(&t);
    return SPAK_OK;
}

spak_status spak_llm_settings_read(const spak_block *llm, const char *spec_path, const char *backend,
                                   const char *endpoint, const char *model, spak_llm_settings *s, spak_err *err)
{
    memset(s, 0, sizeof *s);
    spak_llm_config_init(&s->cfg);
    s->mode = SPAK_LLM_MODE_PARAMS;
    s->context_tokens = 8192;
    s->max_failed_steps = 8;
    const char *be = llm ? spak_block_string(llm, "backend") : NULL;
    if (backend)
        be = backend;
    if (be && !spak_llm_backend_parse(be, &s->cfg.backend)) {
        char names[256];
        spak_llm_backend_names(names, sizeof names, ", ", ", ");  /* the backends' table (program/llm) */
        return spak_errf(err, SPAK_ERR_ARG, "llm backend '%s' is not one of %s", be, names);
    }
    s->cfg.endpoint = endpoint ? endpoint : llm ? spak_block_string(llm, "endpoint") : NULL;
    s->cfg.model = model ? model : llm ? spak_block_string(llm, "model") : NULL;
    if (llm) {
        double v;
        const char *k = spak_block_string(llm, "api_key_env");
        if (k)
            s->cfg.api_key_env = k;
        if (num(llm, "temperature", &v))
            s->cfg.temperature = v;
        if (num(llm, "max_tokens", &v))
            s->cfg.max_tokens = (long)v;
        if (num(llm, "timeout_s", &v))
            s->cfg.timeout_s = v;
        if (num(llm, "retries", &v))
            s->cfg.max_retries = (int)v;
        if (num(llm, "price_in", &v))
            s->cfg.price_in = v;
        if (num(llm, "price_out", &v))
            s->cfg.price_out = v;
        if (num(llm, "context_tokens", &v))
            s->context_tokens = (long)v;
        if (num(llm, "budget_tokens", &v))
            s->budget_tokens = (long)v;
        if (num(llm, "budget_usd", &v))
            s->budget_usd = v;
        if (num(llm, "max_failed_steps", &v))
            s->max_failed_steps = (long)v;
        const char *m = spak_block_string(llm, "mode");
        if (m && strcmp(m, "code") == 0)
            s->mode = SPAK_LLM_MODE_CODE;
        else if (m && strcmp(m, "alternate") == 0)
            s->mode = SPAK_LLM_MODE_ALTERNATE;
        else if (m && strcmp(m, "params") != 0)
            return spak_errf(err, SPAK_ERR_ARG, "llm mode '%s' is not one of params, code, alternate", m);
    }
    /* an endpoint with a credential in it is refused before anything is
     * stored: it would be kept with the run and in every step */
    spak_status st = spak_llm_endpoint_check_config(&s->cfg, err);
    if (st != SPAK_OK)
        return st;
    const char *table = llm ? spak_block_string(llm, "price_table") : NULL;
    if (table && (s->cfg.price_in < 0 || s->cfg.price_out < 0))
        return prices_from_table(table, spec_path, &s->cfg, err);
    return SPAK_OK;
}

void spak_llm_settings_override(spak_llm_settings *s, double temperature, long max_tokens, double timeout_s)
{
    if (temperature >= 0)
        s->cfg.temperature = temperature;
    if (max_tokens > 0)
        s->cfg.max_tokens = max_tokens;
    if (timeout_s > 0)
        s->cfg.timeout_s = timeout_s;
}

/* The index of a parameter choice {"name": value, ...}, or false. */
static bool choice_index(const spak_space *sp, const char *params_json, uint64_t *index, char *why, size_t wn)
{
    json_t *j = json_loads(params_json, 0, NULL);
    if (!j) {
        spak_snprintf(why, wn, "the choice is not JSON");
        return false;
    }
    char key[2048];
    size_t off = 0;
    key[0] = '\0';
    bool ok = true;
    for (size_t i = 0; i < sp->n && ok; i++) {
        json_t *v = json_object_get(j, sp->params[i].name);
        char txt[256];
        if (!v) {
            spak_snprintf(why, wn, "the choice leaves out parameter %s", sp->params[i].name);
            ok = false;
            break;
        }
        if (json_is_string(v))
            spak_snprintf(txt, sizeof txt, "%s", json_string_value(v));
        else if (json_is_integer(v))
            spak_snprintf(txt, sizeof txt, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            spak_snprintf(txt, sizeof txt, "%g", json_real_value(v));
        else if (json_is_boolean(v))
            spak_snprintf(txt, sizeof txt, "%s", json_is_true(v) ? "true" : "false");
        else {
            spak_snprintf(why, wn, "parameter %s has a value of the wrong type", sp->params[i].name);
            ok = false;
            break;
        }
        /* match the value against the parameter's list (64 == 64.0) */
        bool found = false;
        for (size_t k = 0; k < sp->params[i].n_values && !found; k++) {
            const spak_expr *e = sp->params[i].values[k];
            char vt[256];
            spak_snprintf(vt, sizeof vt, "%s%s", e->kind == SPAK_EX_UNARY ? "-" : "", spak_value_text(e));
            double a, b;
            if (strcmp(vt, txt) == 0 ||
                (spak_parse_double(vt, &a) && spak_parse_double(txt, &b) && a == b)) {
                found = true;
                spak_snprintf(key + off, sizeof key - off, "%s%s=%s", i ? "," : "", sp->params[i].name, vt);
                off = strlen(key);
            }
        }
        if (!found) {
            spak_snprintf(why, wn, "%s = %s is not one of its values", sp->params[i].name, txt);
            ok = false;
        }
    }
    json_decref(j);
    return ok && spak_space_find(sp, key, index);
}

void spak_llm_prompt_parts(const spak_llm_context *ctx, bool want_code, spak_prompt_parts *parts)
{
    *parts = (spak_prompt_parts){
        .mode = want_code ? SPAK_PROMPT_CODE : SPAK_PROMPT_PARAMS,
        .language = ctx->language,
        .task = ctx->task,
        .abi_header = ctx->abi_header,
        .abi_symbol = ctx->abi_symbol,
        .space = ctx->space,
        .machine = ctx->machine,
        .start = ctx->start,
        .best_source = ctx->best_source,
        .diff = ctx->diff,
        .analysis = ctx->analysis,
        .shapes = ctx->shapes,
        .counters = ctx->counters,
        .diagnostics = ctx->diagnostics,
        .rules = ctx->rules,
        .lessons = ctx->lessons,
        .n_lessons = ctx->n_lessons,
        .lessons_omitted = ctx->lessons_omitted,
        .predictions = ctx->predictions,
        .history = ctx->history,
        .n_history = ctx->n_history,
        .metric = ctx->metric,
        .in_flight = ctx->in_flight,
    };
}

/* Whether choice index idx repeats one of chosen[0..n). */
static bool chosen_before(const uint64_t *chosen, size_t n, uint64_t idx)
{
    for (size_t i = 0; i < n; i++)
        if (chosen[i] == idx)
            return true;
    return false;
}

/* Choice r is usable (a point of the space, not tried, in flight or
 * chosen[0..used) already): its index into *idx; else false with why. */
static bool choice_ok(const spak_space *space, const unsigned char *tried, const spak_reply *r,
                      const uint64_t *chosen, size_t used, uint64_t *idx, char *why, size_t wn)
{
    char w[256] = "";
    if (r->kind != SPAK_REPLY_PARAMS)
        spak_snprintf(why, wn, "llm reply unusable (%s): %s", spak_reply_kind_name(r->kind), r->detail);
    else if (!choice_index(space, r->params_json, idx, w, sizeof w))
        spak_snprintf(why, wn, "llm choice rejected: %s", w);
    else if (tried && (tried[*idx / 8] & (1u << (*idx % 8))))
        spak_snprintf(why, wn, "llm chose a candidate that was already evaluated or is in flight");
    else if (chosen_before(chosen, used, *idx))
        spak_snprintf(why, wn, "a duplicate of an earlier choice of this reply");
    else
        return true;
    return false;
}

/* The step's prediction is choice r's. */
static void set_prediction(json_t *step, const spak_reply *r)
{
    json_object_del(step, "predicted_metric");
    json_object_del(step, "predicted_ratio");
    json_object_del(step, "prediction_why");
    if (!r->has_prediction)
        return;
    json_object_set_new(step, "predicted_metric",
                        isnan(r->predicted_metric) ? json_null() : json_real(r->predicted_metric));
    if (!isnan(r->predicted_ratio))
        json_object_set_new(step, "predicted_ratio", json_real(r->predicted_ratio));
    if (r->prediction_why)
        json_object_set_new(step, "prediction_why", json_string(r->prediction_why));
}

/* Choice r as proposal o, with step (taken) as its record; the step's
 * tokens and cost are shown with each choice, counted once by the caller. */
static void choice_take(const spak_reply *r, uint64_t idx, json_t *step, long tokens, double cost,
                        spak_llm_proposal *o)
{
    memset(o, 0, sizeof *o);
    o->kind = SPAK_PROPOSE_PARAMS;
    o->index = idx;
    o->predicted = r->has_prediction ? r->predicted_metric : NAN;
    o->predicted_ratio = r->has_prediction ? r->predicted_ratio : NAN;
    o->tokens = tokens;
    o->cost = cost;
    o->step = step;
    set_prediction(step, r);
}

/* A reply to a prompt that asked for up to max choices: each usable one a
 * proposal, in the reply's order (out[0] keeps the step); the choices
 * dropped (unusable, already tried or in flight, a duplicate, beyond max)
 * noted in the step ("choices"). None usable: out[0] a failed step with
 * the first choice's why. */
static spak_status take_choices(const spak_space *space, const unsigned char *tried, const char *text,
                                const spak_reply_opts *ro, size_t max, spak_llm_proposal *out, size_t *n_out,
                                spak_err *err)
{
    spak_reply r[SPAK_REPLY_MAX_CHOICES];
    size_t nr = 0, extra = 0, used = 0;
    spak_status st = spak_reply_parse_choices(text, strlen(text), ro, max, r, &nr, &extra, err);
    if (st != SPAK_OK)
        return st;
    json_t *step = out[0].step, *dropped = json_array();
    char first_why[512] = "";
    uint64_t idx[SPAK_REPLY_MAX_CHOICES];
    size_t take[SPAK_REPLY_MAX_CHOICES];
    for (size_t i = 0; i < nr; i++) {
        char why[512];
        if (choice_ok(space, tried, &r[i], idx, used, &idx[used], why, sizeof why)) {
            take[used++] = i;
            continue;
        }
        if (!first_why[0])
            spak_snprintf(first_why, sizeof first_why, "%s", why);
        json_array_append_new(dropped, json_pack("{s:I,s:s?,s:s}", "choice", (json_int_t)(i + 1), "params",
                                                 r[i].params_json, "why", why));
    }
    json_object_set_new(step, "choices", json_pack("{s:I,s:I,s:I,s:I,s:o}", "asked", (json_int_t)max, "given",
                                                   (json_int_t)(nr + extra), "used", (json_int_t)used,
                                                   "beyond_asked", (json_int_t)extra, "dropped", dropped));
    json_object_set_new(step, "verdict", json_string(used ? "params" : spak_reply_kind_name(r[0].kind)));
    char detail[128];
    spak_snprintf(detail, sizeof detail, "%zu of %zu choices used", used, nr + extra);
    json_object_set_new(step, "verdict_detail", json_string(used ? detail : r[0].detail));
    long tokens = out[0].tokens;
    double cost = out[0].cost;
    for (size_t k = used; k-- > 0;)  /* the first keeps the step itself; the others a copy of it */
        choice_take(&r[take[k]], idx[k], k ? json_copy(step) : step, tokens, cost, &out[k]);
    if (!used) {
        out[0].kind = SPAK_PROPOSE_FAILED;
        spak_snprintf(out[0].why, sizeof out[0].why, "%s", first_why[0] ? first_why : "llm reply gave no choice");
    }
    *n_out = used ? used : 1;
    for (size_t i = 0; i < nr; i++)
        spak_reply_free(&r[i]);
    return SPAK_OK;
}

spak_status spak_llm_propose(const spak_llm_settings *s, const spak_llm_context *ctx, const spak_space *space,
                             const unsigned char *tried, uint64_t base_index, bool want_code, const char *out_dir,
                             const char *tag, size_t max, spak_llm_proposal *out, size_t *n_out, spak_err *err)
{
    memset(out, 0, sizeof *out);
    out->predicted = NAN;
    out->predicted_ratio = NAN;
    out->cost = NAN;
    *n_out = 1;
    if (want_code || max > SPAK_REPLY_MAX_CHOICES)  /* one source a step; at most so many choices */
        max = want_code ? 1 : SPAK_REPLY_MAX_CHOICES;
    spak_prompt_parts parts;
    spak_llm_prompt_parts(ctx, want_code, &parts);
    parts.n_choices = max;
    spak_prompt pr;
    spak_status st = spak_prompt_build(&parts, (size_t)s->context_tokens, &pr, err);
    if (st != SPAK_OK)
        return st;
    spak_llm_config cfg = s->cfg;
    cfg.manual_dir = out_dir;
    spak_llm_request rq = {.system = pr.system, .user = pr.user, .json_object = !want_code, .tag = tag};
    spak_llm_reply rep;
    spak_err e2 = {0};
    st = spak_llm_complete(&cfg, &rq, &rep, &e2);
    /* the step as it is stored: never the API key (llm.c redacts it) */
    out->step = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:f,s:I,s:s,s:s,s:s,s:f,s:i,s:i}", "tag", tag, "mode",
                          want_code ? "code" : "params", "backend", spak_llm_backend_name(cfg.backend), "endpoint",
                          cfg.endpoint, "model", rep.model[0] ? rep.model : cfg.model, "temperature", cfg.temperature,
                          "max_tokens", (json_int_t)cfg.max_tokens, "system", pr.system, "user", pr.user,
                          "truncation", pr.report, "latency_s", rep.latency_s, "prompt_tokens", (int)rep.prompt_tokens,
                          "completion_tokens", (int)rep.completion_tokens);
    json_object_set_new(out->step, "outcome", json_string(spak_llm_outcome_name(rep.outcome)));
    json_object_set_new(out->step, "detail", json_string(rep.detail));
    json_object_set_new(out->step, "http_status", json_integer(rep.http_status));
    json_object_set_new(out->step, "attempts", json_integer(rep.attempts));
    if (rep.text)
        json_object_set_new(out->step, "reply", json_string(rep.text));
    out->tokens = (rep.prompt_tokens > 0 ? rep.prompt_tokens : 0) + (rep.completion_tokens > 0 ? rep.completion_tokens : 0);
    out->cost = rep.cost;
    json_object_set_new(out->step, "cost_usd", isnan(rep.cost) ? json_null() : json_real(rep.cost));
    spak_prompt_free(&pr);
    /* the reply is already free of the key (llm.c); the prompt may quote it */
    if (spak_llm_redact_json(&cfg, out->step) != SPAK_OK) {
        json_decref(out->step);
        out->step = NULL;
        spak_llm_reply_free(&rep);
        return spak_errf(err, SPAK_ERR_NOMEM, "the llm step could not be checked for the API key");
    }
    if (st != SPAK_OK && rep.outcome == SPAK_LLM_OK) {
        spak_llm_reply_free(&rep);
        return spak_errf(err, st, "%s", e2.msg);
    }
    if (rep.outcome == SPAK_LLM_SUSPENDED) {
        out->kind = SPAK_PROPOSE_SUSPENDED;
        spak_snprintf(out->why, sizeof out->why, "waiting for the reply to %s in %s", rep.prompt_path, rep.reply_path);
        json_object_set_new(out->step, "prompt_path", json_string(rep.prompt_path));
        json_object_set_new(out->step, "reply_path", json_string(rep.reply_path));
        spak_llm_reply_free(&rep);
        return SPAK_OK;
    }
    if (rep.outcome != SPAK_LLM_OK) {
        out->kind = SPAK_PROPOSE_FAILED;
        spak_snprintf(out->why, sizeof out->why, "llm %s: %s", spak_llm_outcome_name(rep.outcome), rep.detail);
        spak_llm_reply_free(&rep);
        return SPAK_OK;
    }
    const char *names[SPAK_SPACE_MAX_PARAMS];
    for (size_t i = 0; i < space->n; i++)
        names[i] = space->params[i].name;
    spak_reply_opts ro = {want_code ? SPAK_PROMPT_CODE : SPAK_PROMPT_PARAMS, ctx->abi_symbol, names, space->n};
    if (max > 1) {  /* several choices asked (--jobs N): one reply for the free slots */
        st = take_choices(space, tried, rep.text, &ro, max, out, n_out, err);
        spak_llm_reply_free(&rep);
        return st;
    }
    spak_reply r;
    st = spak_reply_parse(rep.text, strlen(rep.text), &ro, &r, err);
    spak_llm_reply_free(&rep);
    if (st != SPAK_OK)
        return st;
    json_object_set_new(out->step, "verdict", json_string(spak_reply_kind_name(r.kind)));
    json_object_set_new(out->step, "verdict_detail", json_string(r.detail));
    if (r.has_prediction) {
        out->predicted = r.predicted_metric;
        json_object_set_new(out->step, "predicted_metric",
                            isnan(r.predicted_metric) ? json_null() : json_real(r.predicted_metric));
        out->predicted_ratio = r.predicted_ratio;
        if (!isnan(r.predicted_ratio))
            json_object_set_new(out->step, "predicted_ratio", json_real(r.predicted_ratio));
        if (r.prediction_why)
            json_object_set_new(out->step, "prediction_why", json_string(r.prediction_why));
    }
    if (r.kind == SPAK_REPLY_PARAMS) {
        char why[256] = "";
        uint64_t idx;
        if (!choice_index(space, r.params_json, &idx, why, sizeof why)) {
            out->kind = SPAK_PROPOSE_FAILED;
            spak_snprintf(out->why, sizeof out->why, "llm choice rejected: %s", why);
        } else if (tried && (tried[idx / 8] & (1u << (idx % 8)))) {
            out->kind = SPAK_PROPOSE_FAILED;
            spak_snprintf(out->why, sizeof out->why, "llm chose a candidate that was already evaluated");
        } else {
            out->kind = SPAK_PROPOSE_PARAMS;
            out->index = idx;
        }
    } else if (r.kind == SPAK_REPLY_CODE) {
        const char *ext = ctx->language && strcmp(ctx->language, "cuda") == 0 ? "cu" : "c";
        spak_snprintf(out->code_path, sizeof out->code_path, "%s/%s.%s", out_dir, tag, ext);
        st = spak_mkdirs(out_dir, err);
        if (st == SPAK_OK)
            st = spak_write_file_atomic(out->code_path, r.code, strlen(r.code), err);
        if (st != SPAK_OK) {
            spak_reply_free(&r);
            return st;
        }
        out->kind = SPAK_PROPOSE_CODE;
        out->index = base_index;
    } else {
        out->kind = SPAK_PROPOSE_FAILED;
        spak_snprintf(out->why, sizeof out->why, "llm reply unusable (%s): %s", spak_reply_kind_name(r.kind), r.detail);
    }
    spak_reply_free(&r);
    return SPAK_OK;
}

spak_run_llm_usage spak_engine_llm_usage(spak_store *st, const char *run_id, bool with_suspended)
{
    spak_run_llm_usage u = {0};
    for (long k = 1; k < 1000000; k++) {
        char *v = NULL;
        if (spak_store_llm_step_get(st, run_id, k, &v, NULL) != SPAK_OK || !v)
            break;
        json_t *step = json_loads(v, 0, NULL);
        free(v);
        const char *oc = json_string_value(json_object_get(step, "outcome"));
        if (with_suspended || (oc && strcmp(oc, "suspended") != 0)) {
            u.steps++;
            json_int_t pt = json_integer_value(json_object_get(step, "prompt_tokens"));
            json_int_t ct = json_integer_value(json_object_get(step, "completion_tokens"));
            u.tokens += (pt > 0 ? pt : 0) + (ct > 0 ? ct : 0);
            json_t *c = json_object_get(step, "cost_usd");
            if (json_is_number(c))
                u.cost_usd += json_number_value(c);
            else
                u.cost_unknown = true;
        }
        json_decref(step);
    }
    return u;
}
