/*
 * llm_anthropic.c - the Anthropic Messages API (POST /v1/messages).
 *
 * Request headers: x-api-key (from the environment), anthropic-version,
 * content-type: application/json (set in llm.c).
 * Request:  {"model", "max_tokens", "system"?, "messages": [{"role": "user",
 *            "content"}], "temperature"?, "stop_sequences"?}
 * Response: {"id", "type": "message", "role": "assistant", "model",
 *            "content": [{"type": "text", "text"} ...], "stop_reason":
 *            "end_turn" | "max_tokens" | "stop_sequence" | "refusal" | ...,
 *            "stop_sequence", "usage": {"input_tokens", "output_tokens",
 *            "cache_creation_input_tokens"?, "cache_read_input_tokens"?}}
 * Errors:   {"type": "error", "error": {"type", "message"}} with HTTP 4xx/5xx
 *            (429 rate_limit_error, 529 overloaded_error).
 */
#include "program/llm/llm.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANTHROPIC_VERSION "2023-06-01"
#define ANTHROPIC_KEY_ENV "ANTHROPIC_API_KEY"  /* read when the config names no api_key_env */

static spak_status anthropic_body(const spak_llm_config *cfg, const spak_llm_request *req, spak_buf *out,
                                  spak_err *err)
{
    spak_status st = SPAK_OK;
    json_t *root = json_pack("{s:s?,s:I,s:[{s:s,s:s?}]}", "model", cfg->model, "max_tokens",
                             (json_int_t)cfg->max_tokens, "messages", "role", "user", "content", req->user);
    if (!root)
        return spak_errf(err, SPAK_ERR_ARG, "the request is not valid UTF-8 (model or message)");
    if (req->system && *req->system) {
        json_t *s = json_string(req->system);
        if (!s || json_object_set_new(root, "system", s)) {
            st = spak_errf(err, SPAK_ERR_ARG, "the system message is not valid UTF-8");
            goto out;
        }
    }
    /* Anthropic's range is 0..1; spak's config allows up to 2 for OpenAI servers. */
    if (cfg->temperature >= 0 &&
        json_object_set_new(root, "temperature", json_real(cfg->temperature > 1 ? 1.0 : cfg->temperature)))
        goto nomem;
    if (req->stop[0]) {
        bool bad = false;
        json_t *stop = spak_llm_stop_array(req, &bad);
        if (bad) {
            st = spak_errf(err, SPAK_ERR_ARG, "a stop string is not valid UTF-8");
            goto out;
        }
        if (json_object_set_new(root, "stop_sequences", stop))
            goto nomem;
    }
    st = spak_llm_body_dump(root, out, err);
    goto out;
nomem:
    st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
out:
    json_decref(root);
    return st;
}

static spak_status anthropic_parse(const char *body, size_t len, spak_llm_reply *rep)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        rep->outcome = SPAK_LLM_BAD_JSON;
        spak_llm_json_problem(&je, len, rep->detail, sizeof rep->detail);
        return SPAK_OK;
    }
    spak_status st = SPAK_OK;
    spak_buf text;
    spak_buf_init(&text, 0);
    rep->outcome = SPAK_LLM_BAD_JSON;
    if (!json_is_object(root)) {
        snprintf(rep->detail, sizeof rep->detail, "reply is JSON but not an object");
        goto out;
    }
    json_t *type = json_object_get(root, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "error") == 0) {
        char m[200];
        if (!spak_llm_error_message(body, len, m, sizeof m))
            snprintf(m, sizeof m, "(no message)");
        snprintf(rep->detail, sizeof rep->detail, "an error object with a 2xx status: %s", m);
        goto out;
    }
    json_t *model = json_object_get(root, "model");
    if (json_is_string(model))
        snprintf(rep->model, sizeof rep->model, "%s", json_string_value(model));
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        long in = spak_llm_json_tokens(json_object_get(usage, "input_tokens"));
        /* cached prompt tokens are billed differently but are prompt tokens all the same */
        long cc = spak_llm_json_tokens(json_object_get(usage, "cache_creation_input_tokens"));
        long cr = spak_llm_json_tokens(json_object_get(usage, "cache_read_input_tokens"));
        if (in >= 0)
            rep->prompt_tokens = in + (cc > 0 ? cc : 0) + (cr > 0 ? cr : 0);
        rep->completion_tokens = spak_llm_json_tokens(json_object_get(usage, "output_tokens"));
    }
    json_t *sr = json_object_get(root, "stop_reason");
    if (json_is_string(sr))
        snprintf(rep->finish_reason, sizeof rep->finish_reason, "%s", json_string_value(sr));
    json_t *content = json_object_get(root, "content");
    if (!json_is_array(content)) {
        snprintf(rep->detail, sizeof rep->detail, "reply has no \"content\" array");
        goto out;
    }
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk) {
        json_t *bt = json_object_get(blk, "type");
        if (!json_is_string(bt)) {
            snprintf(rep->detail, sizeof rep->detail, "content[%zu] has no \"type\"", i);
            goto out;
        }
        if (strcmp(json_string_value(bt), "text") != 0)
            continue;  /* thinking, tool_use ...: not part of the answer text */
        json_t *t = json_object_get(blk, "text");
        if (!json_is_string(t)) {
            snprintf(rep->detail, sizeof rep->detail, "content[%zu] is a text block without a \"text\" string", i);
            goto out;
        }
        if (memchr(json_string_value(t), 0, json_string_length(t))) {
            snprintf(rep->detail, sizeof rep->detail, "content[%zu] contains a NUL character", i);
            goto out;
        }
        if (spak_buf_append(&text, json_string_value(t), json_string_length(t)) != SPAK_OK) {
            st = SPAK_ERR_NOMEM;
            goto out;
        }
    }
    if (strcmp(rep->finish_reason, "refusal") == 0) {
        rep->outcome = SPAK_LLM_REFUSAL;
        snprintf(rep->detail, sizeof rep->detail, "the model refused (stop_reason refusal)");
        goto out;
    }
    if (text.len == 0) {
        rep->outcome = SPAK_LLM_EMPTY;
        snprintf(rep->detail, sizeof rep->detail, "reply has no text content (%zu content blocks)",
                 json_array_size(content));
        goto out;
    }
    rep->text = spak_buf_take(&text);
    rep->outcome = SPAK_LLM_OK;
    snprintf(rep->detail, sizeof rep->detail, "%zu bytes, stop_reason %s", strlen(rep->text),
             *rep->finish_reason ? rep->finish_reason : "(none)");
out:
    spak_buf_free(&text);
    json_decref(root);
    return st;
}

/* The base URL (https://api.anthropic.com); .../v1 and .../v1/messages too. */
static const char *anthropic_url_tail(const char *e, size_t n)
{
    if (spak_llm_ends_with(e, n, "/v1/messages"))
        return NULL;
    return spak_llm_ends_with(e, n, "/v1") ? "/messages" : "/v1/messages";
}

static void anthropic_headers(const spak_llm_config *cfg, const char *key, spak_llm_headers *h)
{
    spak_llm_header_add(h, "anthropic-version: ",
                        cfg->anthropic_version ? cfg->anthropic_version : ANTHROPIC_VERSION);
    if (*key)
        spak_llm_header_add(h, "x-api-key: ", key);
}

const spak_llm_backend spak_llm_anthropic = {
    .name = "anthropic",
    .key_env = ANTHROPIC_KEY_ENV,
    .url_tail = anthropic_url_tail,
    .body = anthropic_body,
    .headers = anthropic_headers,
    .parse = anthropic_parse,
};
