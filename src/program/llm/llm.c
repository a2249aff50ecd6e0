/*
 * llm.c - see llm.h. The table of backends, the transport (libcurl), the
 * retry loop, outcome classification, secrets handling, cost and the price
 * table, and the JSON helpers the HTTP backends share. The wire formats live
 * in llm_openai.c and llm_anthropic.c, the file protocol of the manual
 * backend in llm_manual.c.
 */
#include "program/llm/llm.h"

#include <curl/curl.h>
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX 4096
#define REDACTED "[REDACTED]"

static const char *const outcome_names[SPAK_LLM_N_OUTCOMES] = {
    [SPAK_LLM_OK] = "ok",
    [SPAK_LLM_SUSPENDED] = "suspended",
    [SPAK_LLM_CONFIG] = "config",
    [SPAK_LLM_AUTH] = "auth",
    [SPAK_LLM_CONNECT] = "connect",
    [SPAK_LLM_TIMEOUT] = "timeout",
    [SPAK_LLM_CUT] = "cut",
    [SPAK_LLM_RATE_LIMIT] = "rate_limit",
    [SPAK_LLM_HTTP_5XX] = "http_5xx",
    [SPAK_LLM_HTTP_4XX] = "http_4xx",
    [SPAK_LLM_TOO_LARGE] = "too_large",
    [SPAK_LLM_BAD_JSON] = "bad_json",
    [SPAK_LLM_EMPTY] = "empty",
    [SPAK_LLM_REFUSAL] = "refusal",
    [SPAK_LLM_IO] = "io",
};

const char *spak_llm_outcome_name(spak_llm_outcome o)
{
    if ((unsigned)o < SPAK_LLM_N_OUTCOMES && outcome_names[o])
        return outcome_names[o];
    return "unknown";
}

bool spak_llm_outcome_retryable(spak_llm_outcome o)
{
    switch (o) {
    case SPAK_LLM_CONNECT:
    case SPAK_LLM_TIMEOUT:
    case SPAK_LLM_CUT:
    case SPAK_LLM_RATE_LIMIT:
    case SPAK_LLM_HTTP_5XX:
        return true;
    default:
        return false;
    }
}

/* Every backend, once. The first is the default. Adding a backend: its file
 * (defining a spak_llm_backend, see llm.h) and one line here. */
static const spak_llm_backend *const backends[] = {
    &spak_llm_openai,
    &spak_llm_anthropic,
    &spak_llm_manual,
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

static const spak_llm_backend *backend_of(const spak_llm_config *cfg)
{
    return cfg->backend ? cfg->backend : backends[0];
}

void spak_llm_config_init(spak_llm_config *c)
{
    memset(c, 0, sizeof *c);
    c->backend = backends[0];
    c->temperature = 0.2;
    c->max_tokens = SPAK_LLM_DEFAULT_MAX_TOKENS;
    c->timeout_s = SPAK_LLM_DEFAULT_TIMEOUT_S;
    c->connect_timeout_s = SPAK_LLM_DEFAULT_CONNECT_TIMEOUT_S;
    c->max_retries = SPAK_LLM_DEFAULT_RETRIES;
    c->backoff_s = SPAK_LLM_DEFAULT_BACKOFF_S;
    c->backoff_max_s = SPAK_LLM_DEFAULT_BACKOFF_MAX_S;
    c->retry_after_max_s = SPAK_LLM_DEFAULT_RETRY_AFTER_MAX_S;
    c->max_reply_bytes = SPAK_LLM_DEFAULT_MAX_REPLY;
    c->price_in = -1;
    c->price_out = -1;
}

bool spak_llm_backend_parse(const char *name, const spak_llm_backend **out)
{
    for (size_t i = 0; name && i < N_BACKENDS; i++)
        if (strcmp(name, backends[i]->name) == 0) {
            *out = backends[i];
            return true;
        }
    return false;
}

const char *spak_llm_backend_name(const spak_llm_backend *b)
{
    return (b ? b : backends[0])->name;
}

void spak_llm_backend_names(char *buf, size_t n, const char *sep, const char *last_sep)
{
    if (!n)
        return;
    buf[0] = 0;
    size_t len = 0;
    for (size_t i = 0; i < N_BACKENDS && len < n; i++) {
        const char *s = i == 0 ? "" : i + 1 == N_BACKENDS ? last_sep : sep;
        int k = snprintf(buf + len, n - len, "%s%s", s, backends[i]->name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

void spak_llm_reply_free(spak_llm_reply *rep)
{
    if (!rep)
        return;
    free(rep->text);
    free(rep->raw);
    rep->text = NULL;
    rep->raw = NULL;
}

/* ---- small helpers ---- */

bool spak_llm_ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

spak_status spak_llm_url(const spak_llm_config *cfg, spak_buf *out, spak_err *err)
{
    const char *e = cfg->endpoint;
    if (!e || !*e)
        return spak_errf(err, SPAK_ERR_ARG, "no endpoint configured");
    spak_status cst = spak_llm_endpoint_check(e, NULL, err);
    if (cst != SPAK_OK)
        return cst;
    if (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0)
        return spak_errf(err, SPAK_ERR_ARG, "endpoint must start with http:// or https://");
    size_t n = strlen(e);
    if (n > 2048)
        return spak_errf(err, SPAK_ERR_ARG, "endpoint longer than 2048 bytes");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)e[i] <= ' ' || e[i] == 0x7f)
            return spak_errf(err, SPAK_ERR_ARG, "endpoint contains a space or control character");
    while (n > 0 && e[n - 1] == '/')
        n--;
    spak_buf_reset(out);
    spak_status st = spak_buf_append(out, e, n);
    if (st != SPAK_OK)
        return spak_errf(err, st, "out of memory");
    const spak_llm_backend *b = backend_of(cfg);
    if (!b->url_tail)
        return spak_errf(err, SPAK_ERR_ARG, "the %s backend has no URL", b->name);
    const char *tail = b->url_tail(e, n);
    if (tail && (st = spak_buf_puts(out, tail)) != SPAK_OK)
        return spak_errf(err, st, "out of memory");
    return SPAK_OK;
}

/* ---- JSON helpers the HTTP backends share ---- */

json_t *spak_llm_stop_array(const spak_llm_request *req, bool *bad_utf8)
{
    *bad_utf8 = false;
    json_t *stop = json_array();
    for (int i = 0; stop && i < SPAK_LLM_MAX_STOP && req->stop[i]; i++)
        if (json_array_append_new(stop, json_string(req->stop[i]))) {
            json_decref(stop);
            *bad_utf8 = true;
            return NULL;
        }
    return stop;
}

spak_status spak_llm_body_dump(const json_t *root, spak_buf *out, spak_err *err)
{
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_buf_reset(out);
    spak_status st = spak_buf_puts(out, s);
    free(s);
    if (st != SPAK_OK)
        return spak_errf(err, st, "request body over the buffer cap");
    return SPAK_OK;
}

long spak_llm_json_tokens(const json_t *v)
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

bool spak_llm_error_message(const char *body, size_t len, char *buf, size_t n)
{
    if (!body || !len || !n)
        return false;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
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

/* Copy s into dst (n bytes), one line: control characters become spaces. */
static void one_line(char *dst, size_t n, const char *s, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    if (n)
        dst[j] = 0;
}

/* ---- secrets ---- */

static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n--)
        *v++ = 0;
}

#define KEY_FORMS 5
#define KEY_MIN 4        /* a shorter key is not searched for: it would cut ordinary words */
#define KEY_FORM_MIN 8   /* the key's encoded forms are searched for from this length */

/* The key percent-encoded as a URL would carry it (RFC 3986: everything but
 * unreserved characters), hex digits in upper or lower case, into out (n
 * bytes); false when it does not fit. */
static bool url_encoded(const char *key, bool upper, char *out, size_t n)
{
    static const char *const hex[2] = {"0123456789abcdef", "0123456789ABCDEF"};
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (j + 4 > n)
            return false;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
            out[j++] = (char)*p;
        } else {
            out[j++] = '%';
            out[j++] = hex[upper][*p >> 4];
            out[j++] = hex[upper][*p & 15];
        }
    }
    out[j] = 0;
    return true;
}

/* The key as it sits inside a JSON string when a server's encoder escapes
 * it (jansson's rules: quote, backslash and controls; flags add \/ and
 * \uXXXX for non-ASCII), without the quotes; "" when it cannot. */
static void json_encoded(const char *key, size_t flags, char *out, size_t n)
{
    out[0] = 0;
    json_t *j = json_string(key);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY | flags) : NULL;
    size_t dl = d ? strlen(d) : 0;
    if (dl >= 2 && dl - 2 < n) {
        memcpy(out, d + 1, dl - 2);
        out[dl - 2] = 0;
    }
    free(d);
    json_decref(j);
}

/* The forms of key that are searched for: the exact value, and from
 * KEY_FORM_MIN bytes on the forms it takes when a server echoes it through
 * a URL (percent-encoded) or a JSON encoder that escapes '/' or non-ASCII.
 * Each distinct form once; returns how many. */
static size_t key_forms(const char *key, char forms[KEY_FORMS][3 * KEY_MAX + 1])
{
    size_t k = 0, kl = key ? strlen(key) : 0;
    if (kl < KEY_MIN)
        return 0;
    snprintf(forms[k++], sizeof forms[0], "%s", key);
    if (kl < KEY_FORM_MIN)
        return k;
    char f[3 * KEY_MAX + 1];
    for (int v = 0; v < 4; v++) {
        f[0] = 0;
        if (v < 2 && !url_encoded(key, v == 1, f, sizeof f))
            continue;
        if (v >= 2)
            json_encoded(key, v == 2 ? JSON_ESCAPE_SLASH : (JSON_ESCAPE_SLASH | JSON_ENSURE_ASCII), f, sizeof f);
        bool seen = !f[0];
        for (size_t i = 0; i < k && !seen; i++)
            seen = strcmp(forms[i], f) == 0;
        if (!seen)
            memcpy(forms[k++], f, strlen(f) + 1);
    }
    return k;
}

/* s with each occurrence of one form replaced, appended to b. */
static spak_status replace_form(spak_buf *b, const char *s, size_t len, const char *form)
{
    size_t fl = strlen(form), i = 0;
    spak_status st = SPAK_OK;
    while (st == SPAK_OK && i < len) {
        const char *hit = fl <= len - i ? memmem(s + i, len - i, form, fl) : NULL;
        if (!hit)
            break;
        st = spak_buf_append(b, s + i, (size_t)(hit - (s + i)));
        if (st == SPAK_OK)
            st = spak_buf_puts(b, REDACTED);
        i = (size_t)(hit - s) + fl;
    }
    if (st == SPAK_OK)
        st = spak_buf_append(b, s + i, len - i);
    return st;
}

typedef char key_form[3 * KEY_MAX + 1];

char *spak_llm_redact(const char *s, size_t len, const char *key)
{
    spak_buf cur, next;
    spak_buf_init(&cur, 0);
    spak_buf_init(&next, 0);
    key_form *forms = malloc(KEY_FORMS * sizeof *forms);
    spak_status st = forms ? spak_buf_append(&cur, s ? s : "", s ? len : 0) : SPAK_ERR_NOMEM;
    if (st == SPAK_OK && !cur.data)
        st = spak_buf_puts(&cur, "");
    size_t nf = st == SPAK_OK ? key_forms(key, forms) : 0;
    for (size_t f = 0; f < nf && st == SPAK_OK; f++) {
        if (!memmem(cur.data, cur.len, forms[f], strlen(forms[f])))
            continue;
        spak_buf_reset(&next);
        st = replace_form(&next, cur.data, cur.len, forms[f]);
        spak_buf tmp = cur;
        cur = next;
        next = tmp;
    }
    if (forms)
        wipe((char *)forms, KEY_FORMS * sizeof *forms);
    free(forms);
    spak_buf_free(&next);
    if (st != SPAK_OK) {
        spak_buf_free(&cur);
        return NULL;
    }
    return spak_buf_take(&cur);
}

/* A fixed field (n bytes) redacted in place, cut on a UTF-8 boundary if the
 * redacted text is longer; when that cannot be done (out of memory) the
 * field is withheld rather than kept. */
static void redact_fixed(char *s, size_t n, const char *key)
{
    char *r = spak_llm_redact(s, strlen(s), key);
    if (!r) {
        snprintf(s, n, "%s", "(withheld: it could not be checked for the API key)");
        return;
    }
    size_t rl = strlen(r);
    if (rl >= n) {
        size_t k = n - 1;
        while (k > 0 && ((unsigned char)r[k] & 0xC0) == 0x80)
            k--;
        rl = k;
    }
    memcpy(s, r, rl);
    s[rl] = 0;
    free(r);
}

/* An owned string redacted in place (NULL stays NULL; out of memory frees it). */
static void redact_owned(char **s, const char *key)
{
    if (!*s)
        return;
    char *r = spak_llm_redact(*s, strlen(*s), key);
    free(*s);
    *s = r;
}

/* Everything a reply carries out of this module, scrubbed of the key: the
 * one place every exchange passes before it is returned. */
static void redact_reply(spak_llm_reply *rep, const char *key)
{
    if (!key || strlen(key) < KEY_MIN)
        return;
    redact_owned(&rep->text, key);
    redact_owned(&rep->raw, key);
    redact_fixed(rep->detail, sizeof rep->detail, key);
    redact_fixed(rep->model, sizeof rep->model, key);
    redact_fixed(rep->finish_reason, sizeof rep->finish_reason, key);
}

/* The key the config names, read from the environment into key (n bytes);
 * "" when none is named or set. Only for redaction: read_key is the one
 * that decides whether a call may go out. */
static void config_key(const spak_llm_config *cfg, char *key, size_t n)
{
    key[0] = 0;
    const char *env = cfg ? (cfg->api_key_env ? cfg->api_key_env : backend_of(cfg)->key_env) : NULL;
    const char *v = env && *env ? getenv(env) : NULL;
    if (v && strlen(v) < n)
        memcpy(key, v, strlen(v) + 1);
}

/* Every string under v redacted in place; depth bounds the recursion. */
static spak_status redact_value(json_t *v, const char *key, int depth)
{
    if (depth > 32)
        return SPAK_ERR_LIMIT;
    json_t *x;
    const char *name;
    size_t i;
    spak_status st = SPAK_OK;
    if (json_is_string(v)) {
        char *r = spak_llm_redact(json_string_value(v), json_string_length(v), key);
        if (!r || (strcmp(r, json_string_value(v)) != 0 && json_string_set(v, r) != 0))
            st = SPAK_ERR_NOMEM;
        free(r);
    } else if (json_is_object(v)) {
        json_object_foreach(v, name, x) {
            if ((st = redact_value(x, key, depth + 1)) != SPAK_OK)
                break;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if ((st = redact_value(x, key, depth + 1)) != SPAK_OK)
                break;
        }
    }
    return st;
}

spak_status spak_llm_redact_json(const spak_llm_config *cfg, json_t *j)
{
    char key[KEY_MAX];
    config_key(cfg, key, sizeof key);
    spak_status st = j && strlen(key) >= KEY_MIN ? redact_value(j, key, 0) : SPAK_OK;
    wipe(key, sizeof key);
    return st;
}

/* ---- credentials in the endpoint ---- */

/* The name of the first query parameter of q (after '?'), into buf when
 * it is short and plain enough to show; else "a parameter". */
static void param_name(const char *q, char *buf, size_t n)
{
    size_t k = strcspn(q, "=&#");
    bool plain = k > 0 && k <= 32;
    for (size_t i = 0; plain && i < k; i++)
        plain = (q[i] >= 'a' && q[i] <= 'z') || (q[i] >= 'A' && q[i] <= 'Z') || (q[i] >= '0' && q[i] <= '9') ||
                q[i] == '_' || q[i] == '-' || q[i] == '.';
    if (plain)
        snprintf(buf, n, "parameter '%.*s'", (int)k, q);
    else
        snprintf(buf, n, "a parameter");
}

#define KEY_WHERE "; give the key only through the environment variable that api_key_env (--api-key-env) names"

spak_status spak_llm_endpoint_check(const char *endpoint, const char *key, spak_err *err)
{
    if (!endpoint)
        return SPAK_OK;
    /* any '@' before the query, not only in the authority: a key with a '/'
     * in it (user:ab/cd@host) would end the authority early */
    const char *auth = strstr(endpoint, "://");
    auth = auth ? auth + 3 : endpoint;
    if (memchr(auth, '@', strcspn(auth, "?#")))
        return spak_errf(err, SPAK_ERR_ARG,
                         "llm endpoint refused: it carries credentials before the host (user:password@)" KEY_WHERE);
    const char *q = strpbrk(endpoint, "?#");
    if (q) {
        char what[64];
        param_name(q + 1, what, sizeof what);
        if (*q == '#')
            return spak_errf(err, SPAK_ERR_ARG,
                             "llm endpoint refused: it has a fragment ('#...'), where a credential would be "
                             "stored with the run" KEY_WHERE);
        return spak_errf(err, SPAK_ERR_ARG,
                         "llm endpoint refused: it has a query string (%s); a query is where API keys travel, and "
                         "spak appends the API's path to the endpoint, so an endpoint takes none" KEY_WHERE,
                         what);
    }
    if (key && strlen(key) >= KEY_MIN) {
        char *r = spak_llm_redact(endpoint, strlen(endpoint), key);
        bool has = !r || strcmp(r, endpoint) != 0;
        free(r);
        if (has)
            return spak_errf(err, SPAK_ERR_ARG, "llm endpoint refused: it contains the API key's value" KEY_WHERE);
    }
    return SPAK_OK;
}

spak_status spak_llm_endpoint_check_config(const spak_llm_config *cfg, spak_err *err)
{
    char key[KEY_MAX];
    config_key(cfg, key, sizeof key);
    spak_status st = spak_llm_endpoint_check(cfg ? cfg->endpoint : NULL, key, err);
    wipe(key, sizeof key);
    return st;
}

/* ---- the transfer ---- */

typedef struct xfer {
    spak_buf body;
    size_t cap;
    bool too_large;
    bool nomem;
    double retry_after;    /* seconds, -1 when absent */
} xfer;

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n > x->cap || x->body.len > x->cap - n) {
        x->too_large = true;
        return 0;  /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (spak_buf_append(&x->body, p, n) != SPAK_OK) {
        x->nomem = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->retry_after = -1;  /* a new response (after 100 Continue or a retry) */
        return n;
    }
    static const char name[] = "retry-after:";
    size_t k = sizeof name - 1;
    if (n <= k || n > 256 || strncasecmp(p, name, k) != 0)
        return n;
    char v[256];
    size_t j = 0;
    for (size_t i = k; i < n && j + 1 < sizeof v; i++)
        if (p[i] != '\r' && p[i] != '\n')
            v[j++] = p[i];
    v[j] = 0;
    char *s = v;
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = 0;
    long secs;
    if (spak_parse_long(s, 0, 86400L * 365, &secs)) {
        x->retry_after = (double)secs;
    } else {
        time_t t = curl_getdate(s, NULL);
        if (t != -1) {
            double d = difftime(t, time(NULL));
            x->retry_after = d > 0 ? d : 0;
        }
    }
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Classify a finished attempt into rep (outcome, http_status, detail). */
static void classify(const spak_llm_config *cfg, CURLcode cc, long status, const xfer *x, const char *curl_msg,
                     spak_llm_reply *rep)
{
    rep->http_status = (int)status;
    if (x->too_large) {
        rep->outcome = SPAK_LLM_TOO_LARGE;
        snprintf(rep->detail, sizeof rep->detail, "reply larger than the cap of %zu bytes; transfer stopped",
                 x->cap);
        return;
    }
    if (cc != CURLE_OK) {
        switch (cc) {
        case CURLE_OPERATION_TIMEDOUT:
            rep->outcome = SPAK_LLM_TIMEOUT;
            break;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            rep->outcome = SPAK_LLM_CONNECT;
            break;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
            rep->outcome = SPAK_LLM_CUT;
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            rep->outcome = SPAK_LLM_CONFIG;
            break;
        default:
            rep->outcome = SPAK_LLM_CONNECT;
            break;
        }
        const char *m = curl_msg && *curl_msg ? curl_msg : curl_easy_strerror(cc);
        if (cc == CURLE_OPERATION_TIMEDOUT)
            snprintf(rep->detail, sizeof rep->detail, "no complete reply within %.3g s (%.200s)", cfg->timeout_s, m);
        else
            snprintf(rep->detail, sizeof rep->detail, "%.250s", m);
        one_line(rep->detail, sizeof rep->detail, rep->detail, strlen(rep->detail));
        return;
    }
    if (status >= 200 && status < 300)
        return;  /* parsed by the caller */
    char msg[200];
    if (!spak_llm_error_message(x->body.data, x->body.len, msg, sizeof msg))
        one_line(msg, sizeof msg, x->body.data ? x->body.data : "", x->body.len < 120 ? x->body.len : 120);
    if (status == 429)
        rep->outcome = SPAK_LLM_RATE_LIMIT;
    else if (status == 401 || status == 403)
        rep->outcome = SPAK_LLM_AUTH;
    else if (status >= 500)
        rep->outcome = SPAK_LLM_HTTP_5XX;
    else if (status >= 400)
        rep->outcome = SPAK_LLM_HTTP_4XX;
    else {
        rep->outcome = SPAK_LLM_CONFIG;
        snprintf(rep->detail, sizeof rep->detail, "HTTP %ld: redirects are not followed; check the endpoint", status);
        return;
    }
    snprintf(rep->detail, sizeof rep->detail, "HTTP %ld%s%s", status, *msg ? ": " : "", msg);
}

static void keep_raw(spak_llm_reply *rep, const xfer *x, const char *key)
{
    free(rep->raw);
    rep->raw = NULL;
    rep->raw_truncated = false;
    if (!x->body.data)
        return;
    char *r = spak_llm_redact(x->body.data, x->body.len, key);
    if (!r)
        return;
    size_t n = strlen(r);
    if (n > SPAK_LLM_RAW_KEEP) {
        /* cut on a UTF-8 boundary so the kept text stays valid */
        size_t k = SPAK_LLM_RAW_KEEP;
        while (k > 0 && ((unsigned char)r[k] & 0xC0) == 0x80)
            k--;
        r[k] = 0;
        rep->raw_truncated = true;
    }
    rep->raw = r;
}

static spak_status finish(const spak_llm_config *cfg, spak_llm_reply *rep, spak_err *err)
{
    if (!cfg) {
        return spak_errf(err, SPAK_ERR_ARG, "llm %s: %s", spak_llm_outcome_name(rep->outcome), rep->detail);
    }
    if (backend_of(cfg)->unpriced) {
        rep->cost = 0;  /* a person's or an agent's time is not priced here */
        if (rep->outcome == SPAK_LLM_OK)
            return SPAK_OK;
    } else if (rep->outcome == SPAK_LLM_OK) {
        rep->cost = spak_llm_cost(cfg->price_in, cfg->price_out, rep->prompt_tokens, rep->completion_tokens);
        return SPAK_OK;
    }
    spak_status st;
    switch (rep->outcome) {
    case SPAK_LLM_CONFIG: st = SPAK_ERR_ARG; break;
    case SPAK_LLM_SUSPENDED: st = SPAK_ERR_STATE; break;
    case SPAK_LLM_TOO_LARGE: st = SPAK_ERR_LIMIT; break;
    default: st = SPAK_ERR_IO; break;
    }
    /* failed attempts still used (and may bill) prompt tokens; cost only when known */
    rep->cost = spak_llm_cost(cfg->price_in, cfg->price_out, rep->prompt_tokens, rep->completion_tokens);
    return spak_errf(err, st, "llm %s: %s", spak_llm_outcome_name(rep->outcome), rep->detail);
}

/* The request's header list; one of its lines holds the key. */
struct spak_llm_headers {
    struct curl_slist *list;
    bool nomem;
};

void spak_llm_header_add(spak_llm_headers *h, const char *head, const char *value)
{
    char line[KEY_MAX + 64];
    snprintf(line, sizeof line, "%s%s", head, value);
    struct curl_slist *n = curl_slist_append(h->list, line);
    wipe(line, sizeof line);
    if (n)
        h->list = n;
    else
        h->nomem = true;
}

/* Free a header list, wiping each line first (one of them holds the key). */
static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            wipe(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* One HTTP call over its attempts: what is sent (the same each time), the
 * key, the handle and the reply being received. */
typedef struct exchange {
    const spak_llm_config *cfg;
    const spak_llm_backend *b;
    spak_buf url, body;
    spak_llm_headers hdr;
    char key[KEY_MAX];
    char curl_msg[CURL_ERROR_SIZE];
    xfer x;
    CURL *c;
} exchange;

static void exchange_init(exchange *ex, const spak_llm_config *cfg)
{
    memset(ex, 0, sizeof *ex);
    ex->cfg = cfg;
    ex->b = backend_of(cfg);
    spak_buf_init(&ex->url, 0);
    spak_buf_init(&ex->body, 0);
    spak_buf_init(&ex->x.body, 0);
    ex->x.cap = cfg->max_reply_bytes ? cfg->max_reply_bytes : SPAK_LLM_DEFAULT_MAX_REPLY;
}

/* Frees everything, and takes the key out of rep before it is wiped. */
static void exchange_free(exchange *ex, spak_llm_reply *rep)
{
    if (ex->c)
        curl_easy_cleanup(ex->c);
    free_headers(ex->hdr.list);
    redact_reply(rep, ex->key);
    wipe(ex->key, sizeof ex->key);
    spak_buf_free(&ex->x.body);
    spak_buf_free(&ex->url);
    spak_buf_free(&ex->body);
}

static void fail(spak_llm_reply *rep, spak_llm_outcome o, const char *detail)
{
    rep->outcome = o;
    snprintf(rep->detail, sizeof rep->detail, "%.250s", detail);
}

/* The key: from the environment, at the moment of the call. False (rep
 * says why) when a variable is named but holds no usable key. */
static bool read_key(exchange *ex, spak_llm_reply *rep)
{
    const char *env = ex->cfg->api_key_env ? ex->cfg->api_key_env : ex->b->key_env;
    if (!env || !*env)
        return true;
    const char *v = getenv(env);
    if (!v || !*v) {
        rep->outcome = SPAK_LLM_AUTH;
        snprintf(rep->detail, sizeof rep->detail, "environment variable %.100s (the API key) is not set", env);
        return false;
    }
    size_t kl = strlen(v);
    if (kl >= sizeof ex->key || strpbrk(v, "\r\n")) {
        rep->outcome = SPAK_LLM_CONFIG;
        snprintf(rep->detail, sizeof rep->detail, "environment variable %.100s does not hold a usable key", env);
        return false;
    }
    memcpy(ex->key, v, kl + 1);
    return true;
}

/* Everything sent, made once before the first attempt: URL, key, body,
 * headers, the curl handle. A config that cannot be sent leaves rep's
 * outcome not OK; only running out of memory is a status. */
static spak_status prepare(exchange *ex, const spak_llm_request *req, spak_llm_reply *rep)
{
    const spak_llm_config *cfg = ex->cfg;
    spak_err e2;
    if (!cfg->model || !*cfg->model) {
        fail(rep, SPAK_LLM_CONFIG, "no model configured");
        return SPAK_OK;
    }
    if (cfg->max_tokens <= 0 || !(cfg->timeout_s > 0)) {
        fail(rep, SPAK_LLM_CONFIG, "max_tokens and timeout_s must be positive");
        return SPAK_OK;
    }
    if (spak_llm_url(cfg, &ex->url, &e2) != SPAK_OK) {
        fail(rep, SPAK_LLM_CONFIG, e2.msg);
        return SPAK_OK;
    }
    if (!read_key(ex, rep))
        return SPAK_OK;
    spak_status st = ex->b->body(cfg, req, &ex->body, &e2);
    if (st != SPAK_OK) {
        if (st != SPAK_ERR_NOMEM)
            fail(rep, SPAK_LLM_CONFIG, e2.msg);
        return st == SPAK_ERR_NOMEM ? st : SPAK_OK;
    }
    spak_llm_header_add(&ex->hdr, "Content-Type: ", "application/json");
    spak_llm_header_add(&ex->hdr, "Accept: ", "application/json");
    spak_llm_header_add(&ex->hdr, "Expect:", "");  /* no 100-continue round trip */
    if (ex->b->headers)
        ex->b->headers(cfg, ex->key, &ex->hdr);
    if (ex->hdr.nomem)
        return SPAK_ERR_NOMEM;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK || !(ex->c = curl_easy_init()))
        fail(rep, SPAK_LLM_CONNECT, "libcurl could not be initialised");
    return SPAK_OK;
}

static void set_options(exchange *ex)
{
    CURL *c = ex->c;
    const spak_llm_config *cfg = ex->cfg;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, ex->url.data);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, ex->body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ex->body.len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, ex->hdr.list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex->x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex->x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ex->curl_msg);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_s * 1000.0));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)((cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 10.0) * 1000.0));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* A proxy from the environment must never see loopback traffic
     * (a local model server); remote endpoints still honour *_proxy. */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, "spak/" SPAK_VERSION);
}

/* One attempt: rep holds only what this attempt found (outcome, status,
 * detail, the redacted body, and when it is a 2xx the parsed reply). */
static spak_status attempt_once(exchange *ex, spak_llm_reply *rep)
{
    ex->curl_msg[0] = 0;
    spak_buf_reset(&ex->x.body);
    ex->x.too_large = ex->x.nomem = false;
    ex->x.retry_after = -1;
    free(rep->text);
    rep->text = NULL;
    rep->finish_reason[0] = 0;
    rep->detail[0] = 0;
    rep->outcome = SPAK_LLM_OK;
    rep->http_status = 0;

    set_options(ex);
    rep->attempts++;
    CURLcode cc = curl_easy_perform(ex->c);
    if (ex->x.nomem)
        return SPAK_ERR_NOMEM;
    long status = 0;
    curl_easy_getinfo(ex->c, CURLINFO_RESPONSE_CODE, &status);
    /* the key out of the body before anything is taken from it, so no
     * field cut to its size can keep part of it */
    if (ex->x.body.data && strlen(ex->key) >= KEY_MIN) {
        char *r = spak_llm_redact(ex->x.body.data, ex->x.body.len, ex->key);
        if (!r)
            return SPAK_ERR_NOMEM;
        spak_status st = SPAK_OK;
        if (strlen(r) != ex->x.body.len || memcmp(r, ex->x.body.data, ex->x.body.len) != 0) {  /* found */
            spak_buf_reset(&ex->x.body);
            st = spak_buf_puts(&ex->x.body, r);
        }
        free(r);
        if (st != SPAK_OK)
            return SPAK_ERR_NOMEM;
    }
    classify(ex->cfg, cc, status, &ex->x, ex->curl_msg, rep);
    keep_raw(rep, &ex->x, ex->key);
    if (rep->outcome == SPAK_LLM_OK)
        return ex->b->parse(ex->x.body.data, ex->x.body.len, rep);
    return SPAK_OK;
}

/* The wait before retry number attempt + 1: exponential backoff with
 * jitter, or the server's Retry-After when longer. False (rep's detail says
 * why) when the Retry-After is over the cap: the call ends there. */
static bool retry_delay(const exchange *ex, spak_llm_reply *rep, int attempt, uint64_t *rng, double *delay)
{
    const spak_llm_config *cfg = ex->cfg;
    double d = cfg->backoff_s > 0 ? cfg->backoff_s * ldexp(1.0, attempt) : 0;
    if (cfg->backoff_max_s > 0 && d > cfg->backoff_max_s)
        d = cfg->backoff_max_s;
    d *= 0.5 + 0.5 * (double)(rng_next(rng) >> 11) / 9007199254740992.0;  /* jitter: [0.5, 1) */
    double ra = ex->x.retry_after;
    if (ra >= 0) {
        double cap = cfg->retry_after_max_s > 0 ? cfg->retry_after_max_s : SPAK_LLM_DEFAULT_RETRY_AFTER_MAX_S;
        if (ra > cap) {
            size_t dl = strlen(rep->detail);
            snprintf(rep->detail + dl, sizeof rep->detail - dl, "; Retry-After %.0f s is over the cap of %.0f s", ra,
                     cap);
            return false;
        }
        if (ra > d)
            d = ra;
    }
    *delay = d;
    return true;
}

/* Attempts until one gives a final outcome or the retries are spent. */
static spak_status run_attempts(exchange *ex, spak_llm_reply *rep)
{
    uint64_t rng = (uint64_t)(spak_now_wall() * 1e6) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)ex;
    if (!rng)
        rng = 0x9E3779B97F4A7C15ull;
    int max_retries = ex->cfg->max_retries < 0 ? 0 : ex->cfg->max_retries;
    for (int attempt = 0;; attempt++) {
        spak_status st = attempt_once(ex, rep);
        if (st != SPAK_OK)
            return st;
        double delay;
        if (!spak_llm_outcome_retryable(rep->outcome) || attempt >= max_retries ||
            !retry_delay(ex, rep, attempt, &rng, &delay))
            break;
        sleep_s(delay);
    }
    if (rep->outcome != SPAK_LLM_OK && rep->attempts > 1) {
        size_t dl = strlen(rep->detail);
        snprintf(rep->detail + dl, sizeof rep->detail - dl, " (after %d attempts)", rep->attempts);
    }
    return SPAK_OK;
}

/* A backend without HTTP (manual): it sees the request with the configured
 * key taken out (its prompt is written to a file), and its reply is
 * scrubbed like a server's. */
static spak_status complete_local(const spak_llm_config *cfg, const spak_llm_request *req, spak_llm_reply *rep,
                                  spak_err *err)
{
    char key[KEY_MAX];
    config_key(cfg, key, sizeof key);
    spak_llm_request r2 = *req;
    char *sys = NULL, *user = NULL;
    spak_status st = SPAK_ERR_NOMEM;
    if (strlen(key) >= KEY_MIN) {
        sys = req->system ? spak_llm_redact(req->system, strlen(req->system), key) : NULL;
        user = spak_llm_redact(req->user, strlen(req->user), key);
        if (!user || (req->system && !sys))
            goto out;
        r2.system = sys;
        r2.user = user;
    }
    st = backend_of(cfg)->complete(cfg, &r2, rep, err);
    redact_reply(rep, key);
out:
    wipe(key, sizeof key);
    free(sys);
    free(user);
    return st;
}

spak_status spak_llm_complete(const spak_llm_config *cfg, const spak_llm_request *req, spak_llm_reply *rep,
                              spak_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->prompt_tokens = rep->completion_tokens = -1;
    rep->cost = NAN;
    double t0 = spak_now_monotonic();
    if (!cfg || !req) {
        fail(rep, SPAK_LLM_CONFIG, "no config or request");
        return finish(cfg, rep, err);
    }
    if (cfg->model)
        snprintf(rep->model, sizeof rep->model, "%s", cfg->model);
    if (!req->user) {
        fail(rep, SPAK_LLM_CONFIG, "the request has no user message");
        return finish(cfg, rep, err);
    }
    spak_status st;
    if (backend_of(cfg)->complete) {
        st = complete_local(cfg, req, rep, err);
        rep->latency_s = spak_now_monotonic() - t0;
        if (st == SPAK_ERR_NOMEM)
            return st;
        return finish(cfg, rep, err);
    }
    exchange ex;
    exchange_init(&ex, cfg);
    st = prepare(&ex, req, rep);
    if (st == SPAK_OK && rep->outcome == SPAK_LLM_OK)
        st = run_attempts(&ex, rep);
    exchange_free(&ex, rep);
    rep->latency_s = spak_now_monotonic() - t0;
    if (st == SPAK_ERR_NOMEM) {
        free(rep->text);
        rep->text = NULL;
        return spak_errf(err, st, "out of memory in an LLM call");
    }
    return finish(cfg, rep, err);
}

/* ---- cost ---- */

double spak_llm_cost(double price_in, double price_out, long prompt_tokens, long completion_tokens)
{
    if (!(price_in >= 0) || !(price_out >= 0) || prompt_tokens < 0 || completion_tokens < 0)
        return NAN;
    return (price_in * (double)prompt_tokens + price_out * (double)completion_tokens) / 1e6;
}

/* ---- price table ---- */

void spak_llm_prices_free(spak_llm_prices *p)
{
    if (!p)
        return;
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

spak_status spak_llm_prices_parse(const char *json, size_t len, spak_llm_prices *out, spak_err *err)
{
    out->items = NULL;
    out->n = 0;
    if (len > SPAK_LLM_PRICES_MAX_BYTES)
        return spak_errf(err, SPAK_ERR_LIMIT, "price table larger than %u bytes", SPAK_LLM_PRICES_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return spak_errf(err, SPAK_ERR_SYNTAX, "price table: line %d: %s", je.line, je.text);
    spak_status st = SPAK_OK;
    json_t *arr = json_is_object(root) ? json_object_get(root, "prices") : NULL;
    if (!json_is_array(arr)) {
        st = spak_errf(err, SPAK_ERR_CHECK, "price table: expected an object with a \"prices\" array");
        goto out;
    }
    size_t n = json_array_size(arr);
    if (n > SPAK_LLM_PRICES_MAX_ENTRIES) {
        st = spak_errf(err, SPAK_ERR_LIMIT, "price table: more than %d entries", SPAK_LLM_PRICES_MAX_ENTRIES);
        goto out;
    }
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *m = json_object_get(e, "model"), *pi = json_object_get(e, "input"), *po = json_object_get(e, "output");
        if (!json_is_string(m) || !json_is_number(pi) || !json_is_number(po)) {
            st = spak_errf(err, SPAK_ERR_CHECK,
                           "price table: entry %zu needs \"model\" (string), \"input\" and \"output\" (numbers)", i);
            goto out;
        }
        double vi = json_number_value(pi), vo = json_number_value(po);
        if (!(vi >= 0) || !(vo >= 0) || !isfinite(vi) || !isfinite(vo)) {
            st = spak_errf(err, SPAK_ERR_CHECK, "price table: entry %zu has a negative or non-finite price", i);
            goto out;
        }
        if (json_string_length(m) >= sizeof out->items[i].model || json_string_length(m) == 0) {
            st = spak_errf(err, SPAK_ERR_CHECK, "price table: entry %zu: model pattern empty or over %zu bytes", i,
                           sizeof out->items[i].model - 1);
            goto out;
        }
        snprintf(out->items[i].model, sizeof out->items[i].model, "%s", json_string_value(m));
        out->items[i].input = vi;
        out->items[i].output = vo;
        out->n++;
    }
out:
    json_decref(root);
    if (st != SPAK_OK)
        spak_llm_prices_free(out);
    return st;
}

spak_status spak_llm_prices_load(const char *path, spak_llm_prices *out, spak_err *err)
{
    char *data = NULL;
    size_t len = 0;
    out->items = NULL;
    out->n = 0;
    spak_status st = spak_read_file(path, SPAK_LLM_PRICES_MAX_BYTES, &data, &len, err);
    if (st != SPAK_OK)
        return st;
    st = spak_llm_prices_parse(data, len, out, err);
    if (st != SPAK_OK && err) {
        char tmp[SPAK_ERR_MSG_MAX];
        snprintf(tmp, sizeof tmp, "%s", err->msg);
        st = spak_errf(err, st, "%s: %s", path, tmp);
    }
    free(data);
    return st;
}

bool spak_llm_prices_find(const spak_llm_prices *p, const char *model, double *input, double *output)
{
    if (!p || !model)
        return false;
    for (size_t i = 0; i < p->n; i++) {
        if (fnmatch(p->items[i].model, model, 0) == 0) {
            *input = p->items[i].input;
            *output = p->items[i].output;
            return true;
        }
    }
    return false;
}
