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

spak_status spak_llm_openai_body(const spak_llm_config *cfg, const spak_llm_request *req, spak_buf *out,
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
        json_t *stop = json_array();
        for (int i = 0; stop && i < SPAK_LLM_MAX_STOP && req->stop[i]; i++)
            if (json_array_append_new(stop, json_string(req->stop[i]))) {
                json_decref(stop);
                goto bad_utf8;
            }
        if (json_object_set_new(root, "stop", stop))
            goto nomem;
    }
    if (req->json_object &&
        json_object_set_new(root, "response_format", json_pack("{s:s}", "type", "json_object")))
        goto nomem;
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        goto nomem;
    spak_buf_reset(out);
    st = spak_buf_puts(out, s);
    free(s);
    if (st != SPAK_OK)
        st = spak_errf(err, st, "request body over the buffer cap");
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

static long tokens(json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (long)json_integer_value(v);
    return -1;
}

void spak_llm_json_problem(const json_error_t *je, size_t len, char *buf, size_t n)
{
    if (len == 0)
        snprintf(buf, n, "empty body where JSON was expected");
    else if ((size_t)je->position >= len || json_error_code(je) == json_error_premature_end_of_input)
        snprintf(buf, n, "truncated JSON: %s (at byte %d of %zu)", je->text, je->position, len);
    else
        snprintf(buf, n, "body is not JSON: %s (at byte %d)", je->text, je->position);
}

spak_status spak_llm_openai_parse(const char *body, size_t len, spak_llm_reply *rep)
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
        rep->prompt_tokens = tokens(json_object_get(usage, "prompt_tokens"));
        rep->completion_tokens = tokens(json_object_get(usage, "completion_tokens"));
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

bool spak_llm_error_message(const char *body, size_t len, char *buf, size_t n)
{
    if (!body || !len || !n)
        return false;
    json_t *root = json_loadb(body, len, PARSE_FLAGS, NULL);
    if (!root)
        return false;
    bool found = false;
    json_t *e = json_object_get(root, "error");
    const char *type = NULL, *msg = NULL;
    if (json_is_object(e)) {
        json_t *t = json_object_get(e, "type"), *m = json_object_get(e, "message");
        type = json_is_string(t) ? json_string_value(t) : NULL;
        msg = json_is_string(m) ? json_string_value(m) : NULL;
    } else if (json_is_string(e)) {
        msg = json_string_value(e);
    } else {
        json_t *d = json_object_get(root, "detail");  /* FastAPI-style servers */
        msg = json_is_string(d) ? json_string_value(d) : NULL;
    }
    if (type || msg) {
        snprintf(buf, n, "%s%s%s", type ? type : "", type && msg ? ": " : "", msg ? msg : "");
        for (char *p = buf; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        found = true;
    }
    json_decref(root);
    return found;
}
