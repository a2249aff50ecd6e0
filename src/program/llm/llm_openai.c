/*
 * llm_openai.c - the OpenAI-compatible chat completions format
 * (POST /v1/chat/completions), as served by llama.cpp's server,
 * llama-cpp-python, vLLM, Ollama's /v1 and hosted services.
 *
 * Request:  {"model", "messages": [{"role": "system"|"user", "content"}],
 *            "max_tokens", "temperature"?, "stop"?, "response_format"?, "stream": false}
 * Response: {"model", "choices": [{"message": {"content", "refusal"?},
 *            "finish_reason"}], "usage": {"prompt_tokens", "completion_tokens"}}
 */
#include "program/llm/llm.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

static spak_status openai_body(const spak_llm_config *cfg, const spak_llm_request *req, spak_buf *out,
                               spak_err *err)
{
    spak_status st = SPAK_OK;
    json_t *msgs = json_array();
    json_t *root = json_object();
    if (!msgs || !root)
        goto nomem;
    if (req->system && *req->system) {
        if (json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", req->system)))
            goto bad_utf8;
    }
    if (json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", req->user)))
        goto bad_utf8;
    if (json_object_set_new(root, "model", json_string(cfg->model)) ||
        json_object_set(root, "messages", msgs) ||
        json_object_set_new(root, "max_tokens", json_integer(cfg->max_tokens)) ||
        json_object_set_new(root, "stream", json_false()))
        goto bad_utf8;
    if (cfg->temperature >= 0 && json_object_set_new(root, "temperature", json_real(cfg->temperature)))
        goto nomem;
    if (req->stop[0]) {
        bool bad = false;
        json_t *stop = spak_llm_stop_array(req, &bad);
        if (bad)
            goto bad_utf8;
        if (json_object_set_new(root, "stop", stop))
            goto nomem;
    }
    if (req->json_object &&
        json_object_set_new(root, "response_format", json_pack("{s:s}", "type", "json_object")))
        goto nomem;
    st = spak_llm_body_dump(root, out, err);
    goto out;
bad_utf8:
    st = spak_errf(err, SPAK_ERR_ARG, "the request is not valid UTF-8 (model, messages or stop strings)");
    goto out;
nomem:
    st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
out:
    json_decref(msgs);
    json_decref(root);
    return st;
}

static void set_detail(spak_llm_reply *rep, spak_llm_outcome o, const char *msg)
{
    rep->outcome = o;
    snprintf(rep->detail, sizeof rep->detail, "%s", msg);
}

static void copy_str(char *dst, size_t n, json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, n, "%s", json_string_value(v));
}

static spak_status openai_parse(const char *body, size_t len, spak_llm_reply *rep)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, PARSE_FLAGS, &je);
    if (!root) {
        rep->outcome = SPAK_LLM_BAD_JSON;
        spak_llm_json_problem(&je, len, rep->detail, sizeof rep->detail);
        return SPAK_OK;
    }
    spak_status st = SPAK_OK;
    if (!json_is_object(root)) {
        set_detail(rep, SPAK_LLM_BAD_JSON, "reply is JSON but not an object");
        goto out;
    }
    copy_str(rep->model, sizeof rep->model, json_object_get(root, "model"));
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        rep->prompt_tokens = spak_llm_json_tokens(json_object_get(usage, "prompt_tokens"));
        rep->completion_tokens = spak_llm_json_tokens(json_object_get(usage, "completion_tokens"));
    }
    json_t *choices = json_object_get(root, "choices");
    if (!json_is_array(choices)) {
        char m[200];
        if (spak_llm_error_message(body, len, m, sizeof m)) {
            rep->outcome = SPAK_LLM_BAD_JSON;
            snprintf(rep->detail, sizeof rep->detail, "no \"choices\"; the server says: %s", m);
        } else {
            set_detail(rep, SPAK_LLM_BAD_JSON, "reply has no \"choices\" array");
        }
        goto out;
    }
    if (json_array_size(choices) == 0) {
        set_detail(rep, SPAK_LLM_EMPTY, "reply has an empty \"choices\" array");
        goto out;
    }
    json_t *c0 = json_array_get(choices, 0);
    json_t *msg = json_is_object(c0) ? json_object_get(c0, "message") : NULL;
    if (!json_is_object(msg)) {
        set_detail(rep, SPAK_LLM_BAD_JSON, "choices[0] has no \"message\" object");
        goto out;
    }
    copy_str(rep->finish_reason, sizeof rep->finish_reason, json_object_get(c0, "finish_reason"));
    json_t *refusal = json_object_get(msg, "refusal");
    json_t *content = json_object_get(msg, "content");
    if (json_is_string(refusal) && json_string_length(refusal) > 0) {
        rep->outcome = SPAK_LLM_REFUSAL;
        snprintf(rep->detail, sizeof rep->detail, "the model refused: %.200s", json_string_value(refusal));
        goto out;
    }
    if (strcmp(rep->finish_reason, "content_filter") == 0) {
        set_detail(rep, SPAK_LLM_REFUSAL, "the reply was withheld by a content filter (finish_reason content_filter)");
        goto out;
    }
    if (!json_is_null(content) && content && !json_is_string(content)) {
        set_detail(rep, SPAK_LLM_BAD_JSON, "choices[0].message.content is not a string");
        goto out;
    }
    if (!json_is_string(content) || json_string_length(content) == 0) {
        set_detail(rep, SPAK_LLM_EMPTY, "choices[0].message.content is empty");
        goto out;
    }
    if (memchr(json_string_value(content), 0, json_string_length(content))) {
        set_detail(rep, SPAK_LLM_BAD_JSON, "reply text contains a NUL character");
        goto out;
    }
    rep->text = strdup(json_string_value(content));
    if (!rep->text) {
        st = SPAK_ERR_NOMEM;
        goto out;
    }
    rep->outcome = SPAK_LLM_OK;
    snprintf(rep->detail, sizeof rep->detail, "%zu bytes, finish_reason %s", json_string_length(content),
             *rep->finish_reason ? rep->finish_reason : "(none)");
out:
    json_decref(root);
    return st;
}

/* The base URL has its /v1; a full .../chat/completions is used as is. */
static const char *openai_url_tail(const char *e, size_t n)
{
    return spak_llm_ends_with(e, n, "/chat/completions") ? NULL : "/chat/completions";
}

/* An Authorization header only when a key was configured (local servers need none). */
static void openai_headers(const spak_llm_config *cfg, const char *key, spak_llm_headers *h)
{
    (void)cfg;
    if (*key)
        spak_llm_header_add(h, "Authorization: Bearer ", key);
}

const spak_llm_backend spak_llm_openai = {
    .name = "openai",
    .url_tail = openai_url_tail,
    .body = openai_body,
    .headers = openai_headers,
    .parse = openai_parse,
};
