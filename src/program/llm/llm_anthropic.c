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

spak_status spak_llm_anthropic_body(const spak_llm_config *cfg, const spak_llm_request *req, spak_buf *out,
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
        json_t *stop = json_array();
        for (int i = 0; stop && i < SPAK_LLM_MAX_STOP && req->stop[i]; i++)
            if (json_array_append_new(stop, json_string(req->stop[i]))) {
                json_decref(stop);
                st = spak_errf(err, SPAK_ERR_ARG, "a stop string is not valid UTF-8");
                goto out;
            }
        if (json_object_set_new(root, "stop_sequences", stop))
            goto nomem;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        goto nomem;
    spak_buf_reset(out);
    st = spak_buf_puts(out, s);
    free(s);
    if (st != SPAK_OK)
        st = spak_errf(err, st, "request body over the buffer cap");
    goto out;
nomem:
    st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
out:
    json_decref(root);
    return st;
}

static long tokens(json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (long)json_integer_value(v);
    return -1;
}

spak_status spak_llm_anthropic_parse(const char *body, size_t len, spak_llm_reply *rep)
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
        long in = tokens(json_object_get(usage, "input_tokens"));
        /* cached prompt tokens are billed differently but are prompt tokens all the same */
        long cc = tokens(json_object_get(usage, "cache_creation_input_tokens"));
        long cr = tokens(json_object_get(usage, "cache_read_input_tokens"));
        if (in >= 0)
            rep->prompt_tokens = in + (cc > 0 ? cc : 0) + (cr > 0 ? cr : 0);
        rep->completion_tokens = tokens(json_object_get(usage, "output_tokens"));
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
