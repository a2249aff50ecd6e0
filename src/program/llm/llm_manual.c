/*
 * llm_manual.c - the manual backend: a person or an external coding agent
 * is the model.
 *
 * Protocol (docs/llm.md):
 *   {manual_dir}/{tag}.prompt.md   written by spak (atomically): a comment
 *                                  line naming the reply path, then the
 *                                  system and user messages
 *   {manual_dir}/{tag}.reply.md    written by the answerer; it should be
 *                                  written to a temporary name and renamed,
 *                                  so spak never reads half a reply
 * A call finds the reply file -> OK with its text. No reply file -> the
 * prompt is (re)written and the call ends SPAK_LLM_SUSPENDED; the engine
 * stops the run and `spak resume RUN` makes the same call again, which then
 * finds the reply.
 */
#include "program/llm/llm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool tag_ok(const char *t)
{
    if (!t || !*t || strlen(t) > 200 || t[0] == '.')
        return false;
    for (const char *p = t; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static spak_status manual_complete(const spak_llm_config *cfg, const spak_llm_request *req, spak_llm_reply *rep,
                                   spak_err *err)
{
    (void)err;
    if (!cfg->manual_dir || !*cfg->manual_dir) {
        rep->outcome = SPAK_LLM_CONFIG;
        snprintf(rep->detail, sizeof rep->detail, "manual backend without a directory for prompt and reply files");
        return SPAK_OK;
    }
    if (!tag_ok(req->tag)) {
        rep->outcome = SPAK_LLM_CONFIG;
        snprintf(rep->detail, sizeof rep->detail,
                 "manual backend needs a tag of letters, digits, '-', '_', '.' (not starting with '.')");
        return SPAK_OK;
    }
    if (!spak_snprintf(rep->prompt_path, sizeof rep->prompt_path, "%s/%s.prompt.md", cfg->manual_dir, req->tag) ||
        !spak_snprintf(rep->reply_path, sizeof rep->reply_path, "%s/%s.reply.md", cfg->manual_dir, req->tag)) {
        rep->outcome = SPAK_LLM_CONFIG;
        snprintf(rep->detail, sizeof rep->detail, "manual directory path too long");
        return SPAK_OK;
    }

    struct stat sb;
    if (stat(rep->reply_path, &sb) == 0) {
        size_t cap = cfg->max_reply_bytes ? cfg->max_reply_bytes : SPAK_LLM_DEFAULT_MAX_REPLY;
        char *data = NULL;
        size_t len = 0;
        spak_err e2;
        spak_status st = spak_read_file(rep->reply_path, cap, &data, &len, &e2);
        if (st == SPAK_ERR_NOMEM)
            return st;
        if (st == SPAK_ERR_LIMIT) {
            rep->outcome = SPAK_LLM_TOO_LARGE;
            snprintf(rep->detail, sizeof rep->detail, "reply file larger than the cap of %zu bytes", cap);
            return SPAK_OK;
        }
        if (st != SPAK_OK) {
            rep->outcome = SPAK_LLM_IO;
            snprintf(rep->detail, sizeof rep->detail, "%.250s", e2.msg);
            return SPAK_OK;
        }
        if (all_space(data, len)) {
            free(data);
            rep->outcome = SPAK_LLM_EMPTY;
            snprintf(rep->detail, sizeof rep->detail, "reply file %.200s is empty", rep->reply_path);
            return SPAK_OK;
        }
        if (memchr(data, 0, len) || !spak_utf8_valid(data, len)) {
            free(data);
            rep->outcome = SPAK_LLM_IO;
            snprintf(rep->detail, sizeof rep->detail, "reply file %.200s is not UTF-8 text", rep->reply_path);
            return SPAK_OK;
        }
        rep->text = data;
        rep->outcome = SPAK_LLM_OK;
        snprintf(rep->finish_reason, sizeof rep->finish_reason, "manual");
        snprintf(rep->detail, sizeof rep->detail, "%zu bytes from %.200s", len, rep->reply_path);
        return SPAK_OK;
    }
    if (errno != ENOENT) {
        rep->outcome = SPAK_LLM_IO;
        snprintf(rep->detail, sizeof rep->detail, "%.200s: %s", rep->reply_path, strerror(errno));
        return SPAK_OK;
    }

    spak_err e2;
    spak_status st = spak_mkdirs(cfg->manual_dir, &e2);
    if (st == SPAK_OK) {
        spak_buf b;
        spak_buf_init(&b, 0);
        st = spak_buf_printf(&b,
                             "<!-- spak prompt for model %s. Write the reply to %s (write a temporary file, then "
                             "rename it), then run `spak resume` for the run. -->\n\n",
                             cfg->model ? cfg->model : "(manual)", rep->reply_path);
        if (st == SPAK_OK && req->system && *req->system)
            st = spak_buf_printf(&b, "# System\n\n%s\n\n", req->system);
        if (st == SPAK_OK)
            st = spak_buf_printf(&b, "# User\n\n%s\n", req->user);
        if (st == SPAK_ERR_NOMEM) {
            spak_buf_free(&b);
            return st;
        }
        if (st != SPAK_OK)
            snprintf(e2.msg, sizeof e2.msg, "prompt over the buffer cap");
        else
            st = spak_write_file_atomic(rep->prompt_path, b.data, b.len, &e2);
        spak_buf_free(&b);
    }
    if (st != SPAK_OK) {
        rep->outcome = SPAK_LLM_IO;
        snprintf(rep->detail, sizeof rep->detail, "%.250s", e2.msg);
        return SPAK_OK;
    }
    rep->outcome = SPAK_LLM_SUSPENDED;
    snprintf(rep->detail, sizeof rep->detail, "suspended: waiting for a reply at %.200s", rep->reply_path);
    return SPAK_OK;
}

const spak_llm_backend spak_llm_manual = {
    .name = "manual",
    .unpriced = true,
    .complete = manual_complete,
};
