/*
 * llm.h - one chat exchange with a language model: a request (system + user
 * message, model, sampling parameters) in, a reply (text, finish reason,
 * token counts, latency, cost, outcome) out.
 *
 * Backends (one file each, listed once in llm.c's table; see "backend
 * interface" below):
 *   openai     POST {endpoint}/chat/completions (llama.cpp server, vLLM,
 *              Ollama's /v1, hosted OpenAI-compatible services)
 *   anthropic  POST {endpoint}/v1/messages (Anthropic Messages API)
 *   manual     no network: the prompt is written to a file and a person or
 *              an external agent writes the reply file; until it exists the
 *              call ends SPAK_LLM_SUSPENDED
 *
 * Failures are outcomes, not crashes: every way an exchange can go wrong
 * (connection refused, timeout, 429, 5xx, garbage, truncated JSON, empty
 * choices, a reply over the size cap, a refusal) has its own
 * spak_llm_outcome, and spak_llm_complete fills the reply in every case so
 * the caller can record the step. Transient failures (connect errors,
 * timeouts, cut connections, 429, 5xx) are retried with exponential backoff
 * and jitter, honouring Retry-After, up to a retry cap.
 *
 * Secrets: the API key is read from the environment variable named by
 * spak_llm_config.api_key_env at the moment of the call, is sent only in the
 * request header, and never appears in a spak_llm_reply, a spak_err, or any
 * other struct this module returns: its occurrences (spak_llm_redact says
 * which forms) become "[REDACTED]" in a server's body before anything is
 * taken from it, and in every field of the reply (text, raw, detail, model,
 * finish reason) before it is returned, whatever the backend; the manual
 * backend's prompt file is written without it. An endpoint that carries a
 * credential (user:password@host, a query string or fragment, the key's
 * value) is refused (spak_llm_endpoint_check) and never sent or echoed.
 *
 * Ownership: a spak_llm_reply owns its text and raw strings; free them with
 * spak_llm_reply_free. Config and request strings belong to the caller and
 * are only read during the call.
 */
#ifndef SPAK_LLM_H
#define SPAK_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include "spak.h"
#include "util.h"

/* A backend: a table of functions (defined below). Backends are static
 * objects; a config only points at one. */
typedef struct spak_llm_backend spak_llm_backend;

/* What became of one exchange. Retryable ones are marked (R): they are
 * retried inside spak_llm_complete and are final only after the retry cap. */
typedef enum spak_llm_outcome {
    SPAK_LLM_OK = 0,      /* a non-empty reply text */
    SPAK_LLM_SUSPENDED,   /* manual: prompt written, no reply file yet */
    SPAK_LLM_CONFIG,      /* the configuration is unusable (no endpoint, no model, bad URL) */
    SPAK_LLM_AUTH,        /* API key variable unset, or HTTP 401/403 */
    SPAK_LLM_CONNECT,     /* (R) could not connect: refused, unreachable, DNS */
    SPAK_LLM_TIMEOUT,     /* (R) no complete reply within timeout_s */
    SPAK_LLM_CUT,         /* (R) connection closed or reset in the middle of the reply */
    SPAK_LLM_RATE_LIMIT,  /* (R) HTTP 429 */
    SPAK_LLM_HTTP_5XX,    /* (R) HTTP 5xx (Anthropic's 529 "overloaded" included) */
    SPAK_LLM_HTTP_4XX,    /* HTTP 4xx other than 401/403/429: the request is wrong */
    SPAK_LLM_TOO_LARGE,   /* reply body over max_reply_bytes; the transfer was stopped */
    SPAK_LLM_BAD_JSON,    /* body not JSON, truncated JSON, or JSON of the wrong shape */
    SPAK_LLM_EMPTY,       /* well-formed, but no choice / no text content */
    SPAK_LLM_REFUSAL,     /* the API says the model refused (refusal field, stop_reason
                             "refusal", finish_reason "content_filter") */
    SPAK_LLM_IO           /* manual: the prompt or reply file could not be written/read */
} spak_llm_outcome;

#define SPAK_LLM_N_OUTCOMES 15

/* Defaults applied by spak_llm_config_init. */
#define SPAK_LLM_DEFAULT_MAX_TOKENS 2048
#define SPAK_LLM_DEFAULT_TIMEOUT_S 120.0
#define SPAK_LLM_DEFAULT_CONNECT_TIMEOUT_S 10.0
#define SPAK_LLM_DEFAULT_RETRIES 3
#define SPAK_LLM_DEFAULT_BACKOFF_S 1.0
#define SPAK_LLM_DEFAULT_BACKOFF_MAX_S 30.0
#define SPAK_LLM_DEFAULT_RETRY_AFTER_MAX_S 120.0
#define SPAK_LLM_DEFAULT_MAX_REPLY (1u << 20)  /* 1 MiB */
#define SPAK_LLM_RAW_KEEP (64u << 10)          /* bytes of the raw body kept in a reply */
#define SPAK_LLM_MAX_STOP 4
#define SPAK_LLM_PATH_MAX 1024

typedef struct spak_llm_config {
    const spak_llm_backend *backend;  /* from spak_llm_backend_parse; NULL = the first (openai) */
    /* OpenAI: the base URL with its /v1 (http://127.0.0.1:8080/v1); a URL that
     * already ends in /chat/completions is used as is.
     * Anthropic: the base URL (https://api.anthropic.com); .../v1 and
     * .../v1/messages are accepted too. Only http:// and https://. */
    const char *endpoint;
    const char *model;
    double temperature;         /* < 0: not sent (the server's default) */
    long max_tokens;            /* > 0 */
    double timeout_s;           /* whole transfer, per attempt */
    double connect_timeout_s;
    /* Name of the environment variable holding the API key (never the key).
     * NULL: OpenAI sends no Authorization header; Anthropic reads
     * ANTHROPIC_API_KEY. A named variable that is unset or empty is
     * SPAK_LLM_AUTH before anything is sent. */
    const char *api_key_env;
    const char *anthropic_version;  /* NULL: the Anthropic backend's own (llm_anthropic.c) */
    int max_retries;            /* retries after the first attempt (0 = none) */
    double backoff_s;           /* first backoff; doubles per retry, with jitter */
    double backoff_max_s;       /* cap of one backoff */
    double retry_after_max_s;   /* a longer Retry-After ends the call (RATE_LIMIT) */
    size_t max_reply_bytes;     /* cap on the reply body */
    /* USD per million tokens; < 0 = unknown (then cost is NAN). */
    double price_in, price_out;
    /* Manual: directory for the prompt and reply files (created if missing). */
    const char *manual_dir;
} spak_llm_config;

/* Defaults: OpenAI backend, temperature 0.2, the SPAK_LLM_DEFAULT_* values,
 * prices unknown. Endpoint and model stay NULL. */
void spak_llm_config_init(spak_llm_config *c);
/* A backend by its name ("openai", "anthropic", "manual": the table's
 * names); false and *out untouched if unknown. *out points at static
 * storage. */
bool spak_llm_backend_parse(const char *name, const spak_llm_backend **out);
/* The backend's name (static storage); NULL means the default, "openai". */
const char *spak_llm_backend_name(const spak_llm_backend *b);
/* The table's names for messages and help, joined by sep, the last two by
 * last_sep ("openai, anthropic or manual"); truncated to fit buf. */
void spak_llm_backend_names(char *buf, size_t n, const char *sep, const char *last_sep);

typedef struct spak_llm_request {
    const char *system;          /* may be NULL */
    const char *user;            /* required */
    const char *stop[SPAK_LLM_MAX_STOP];  /* NULL-terminated when fewer */
    /* OpenAI backends: ask for a JSON object (response_format json_object;
     * llama.cpp and vLLM then constrain decoding). Ignored by the others. */
    bool json_object;
    /* Manual: the file stem, e.g. "step-0007": the files are
     * {manual_dir}/{tag}.prompt.md and {manual_dir}/{tag}.reply.md.
     * Letters, digits, '-', '_', '.' only (no path separators). */
    const char *tag;
} spak_llm_request;

typedef struct spak_llm_reply {
    spak_llm_outcome outcome;
    char *text;                  /* the reply text (owned); NULL unless OK */
    char finish_reason[32];      /* as the API says it: stop, length, end_turn, max_tokens ... */
    char model[128];             /* the model the server says answered (or the configured one) */
    long prompt_tokens;          /* -1 when the API did not say */
    long completion_tokens;      /* -1 when the API did not say */
    double latency_s;            /* wall time of the whole call, retries and backoff included */
    double cost;                 /* USD from the config's prices; NAN when unknown */
    int http_status;             /* of the last attempt; 0 when there was no HTTP reply */
    int attempts;                /* HTTP attempts made (0 for manual) */
    char *raw;                   /* last body, at most SPAK_LLM_RAW_KEEP bytes, key redacted (owned); may be NULL */
    bool raw_truncated;
    char detail[256];            /* one line: what happened (no secrets) */
    char prompt_path[SPAK_LLM_PATH_MAX];  /* manual: where the prompt was written */
    char reply_path[SPAK_LLM_PATH_MAX];   /* manual: where the reply is expected */
} spak_llm_reply;

/* One exchange. The reply is filled in every case (also when the call
 * fails) so it can be recorded; free it with spak_llm_reply_free.
 * Returns SPAK_OK when rep->outcome is SPAK_LLM_OK; otherwise err says
 * "<outcome>: <detail>" and the status is
 *   SPAK_ERR_ARG    CONFIG (a bad config or request)
 *   SPAK_ERR_STATE  SUSPENDED (manual: the reply file does not exist yet)
 *   SPAK_ERR_LIMIT  TOO_LARGE
 *   SPAK_ERR_NOMEM  out of memory
 *   SPAK_ERR_IO     every other outcome (the exchange failed; see rep->outcome). */
spak_status spak_llm_complete(const spak_llm_config *cfg, const spak_llm_request *req, spak_llm_reply *rep,
                              spak_err *err);
void spak_llm_reply_free(spak_llm_reply *rep);

/* Short constant name of an outcome ("ok", "rate_limit", ...). Static storage. */
const char *spak_llm_outcome_name(spak_llm_outcome o);
/* Whether an outcome is transient (worth retrying later). */
bool spak_llm_outcome_retryable(spak_llm_outcome o);

/* ---- cost ----------------------------------------------------------------
 * What a run used is summed from its stored steps (engine.h,
 * spak_run_llm_usage), not here. */
/* Cost in USD of a reply's tokens; NAN when a price or a count is unknown. */
double spak_llm_cost(double price_in, double price_out, long prompt_tokens, long completion_tokens);

/* ---- price table ----------------------------------------------------------
 * A JSON file of USD prices per million tokens:
 *   { "prices": [ { "model": "claude-sonnet-4-*", "input": 3.0, "output": 15.0 },
 *                 { "model": "smollm2", "input": 0, "output": 0 } ] }
 * "model" is an fnmatch(3) pattern; the first match wins. spak ships no
 * prices of its own (they change); the user's table or the spec's
 * price_in/price_out keys give them. */
typedef struct spak_llm_price {
    char model[128];
    double input, output;
} spak_llm_price;

typedef struct spak_llm_prices {
    spak_llm_price *items;   /* owned */
    size_t n;
} spak_llm_prices;

#define SPAK_LLM_PRICES_MAX_BYTES (256u << 10)
#define SPAK_LLM_PRICES_MAX_ENTRIES 1024

spak_status spak_llm_prices_parse(const char *json, size_t len, spak_llm_prices *out, spak_err *err);
spak_status spak_llm_prices_load(const char *path, spak_llm_prices *out, spak_err *err);
/* The first entry whose pattern matches model; false if none. */
bool spak_llm_prices_find(const spak_llm_prices *p, const char *model, double *input, double *output);
void spak_llm_prices_free(spak_llm_prices *p);

/* ---- backend interface ----------------------------------------------------
 * A backend is one file defining one spak_llm_backend, and one line in the
 * table in llm.c. An HTTP backend fills url_tail, body, parse (and headers
 * when it sends any of its own); llm.c does the transport, the retries, the
 * key and its redaction. A backend without HTTP fills complete instead. */
typedef struct spak_llm_headers spak_llm_headers;  /* a request's header list (llm.c) */
struct json_t;

struct spak_llm_backend {
    const char *name;       /* as the spec's backend key and --backend spell it */
    const char *key_env;    /* the key's variable when the config names none; NULL: no key */
    bool unpriced;          /* replies cost 0 (a person's time is not priced here) */
    /* What to append to the endpoint (n bytes, trailing '/' already cut) to
     * get the URL to POST to; NULL when it is already complete. */
    const char *(*url_tail)(const char *endpoint, size_t n);
    /* The JSON body of the request (compact) into out (reset first). A bad
     * request is SPAK_ERR_ARG with err saying why. */
    spak_status (*body)(const spak_llm_config *cfg, const spak_llm_request *req, spak_buf *out, spak_err *err);
    /* Headers beyond Content-Type/Accept, added with spak_llm_header_add;
     * key is "" when there is none. May be NULL. */
    void (*headers)(const spak_llm_config *cfg, const char *key, spak_llm_headers *h);
    /* Parse a 2xx body into rep: text, finish_reason, model, tokens, and the
     * outcome (OK, BAD_JSON, EMPTY or REFUSAL) with detail. Returns only
     * SPAK_OK or SPAK_ERR_NOMEM: a bad body is an outcome, not an error. */
    spak_status (*parse)(const char *body, size_t len, spak_llm_reply *rep);
    /* A whole exchange without HTTP: fills rep's outcome and detail; returns
     * SPAK_OK (the outcome says the rest) or SPAK_ERR_NOMEM. */
    spak_status (*complete)(const spak_llm_config *cfg, const spak_llm_request *req, spak_llm_reply *rep,
                            spak_err *err);
};

extern const spak_llm_backend spak_llm_openai, spak_llm_anthropic, spak_llm_manual;

/* ---- secrets ---------------------------------------------------------------
 * The one redaction: a new string (caller frees; NULL when out of memory):
 * s[0..len) with every occurrence of key replaced by "[REDACTED]". A key
 * shorter than 4 bytes is not searched for (it would cut ordinary words);
 * from 8 bytes on, its forms as a server may echo it are replaced too:
 * percent-encoded (RFC 3986, upper- and lower-case hex) and JSON-escaped
 * ('/' as "\/", non-ASCII as \uXXXX). Not searched for: the key cut into
 * parts, re-cased, or in another encoding (base64 ...); docs/llm.md says so. */
char *spak_llm_redact(const char *s, size_t len, const char *key);
/* Every string under j (a step about to be stored) redacted in place with
 * the key that cfg names, read from the environment now; nothing to do when
 * none is set. SPAK_ERR_NOMEM, or SPAK_ERR_LIMIT for JSON nested over 32
 * levels; the caller must then not store j. */
spak_status spak_llm_redact_json(const spak_llm_config *cfg, struct json_t *j);
/* Refuse an endpoint that carries a credential, before it is stored or sent:
 * userinfo (user:password@ before the host; any '@' before the query is
 * taken for one, since a '/' in the password ends the authority early to
 * a parser), any query string or fragment
 * (a query is where keys travel -- ?key=, ?api_key=, ?token= -- and since
 * the API's path is appended to the endpoint no endpoint needs one), or,
 * when key is not NULL, the key's value in any form spak_llm_redact knows.
 * SPAK_ERR_ARG with err saying which rule, never echoing the URL; SPAK_OK
 * for NULL. */
spak_status spak_llm_endpoint_check(const char *endpoint, const char *key, spak_err *err);
/* spak_llm_endpoint_check of cfg's endpoint with the key cfg names (read
 * from the environment now): for settings time (spak run, spak llm ask). */
spak_status spak_llm_endpoint_check_config(const spak_llm_config *cfg, spak_err *err);

/* The URL to POST to, from the config's endpoint and backend (refused as
 * spak_llm_endpoint_check refuses, without the key). */
spak_status spak_llm_url(const spak_llm_config *cfg, spak_buf *out, spak_err *err);

/* Shared helpers of the HTTP backends (llm.c). */

/* Whether the n bytes at s end with suffix. */
bool spak_llm_ends_with(const char *s, size_t n, const char *suffix);
/* Add the header line head + value ("x-api-key: " + key); the joined line
 * is wiped after (value may be the key). Out of memory is recorded in h and
 * ends the call. */
void spak_llm_header_add(spak_llm_headers *h, const char *head, const char *value);
/* The request's stop strings as a new JSON array (owned by the caller);
 * NULL with *bad_utf8 set when one is not UTF-8, NULL alone when out of memory. */
struct json_t *spak_llm_stop_array(const spak_llm_request *req, bool *bad_utf8);
/* root as compact JSON with sorted keys into out (reset first). */
spak_status spak_llm_body_dump(const struct json_t *root, spak_buf *out, spak_err *err);
/* A token count from a JSON value: the integer when it is one >= 0, else -1. */
long spak_llm_json_tokens(const struct json_t *v);
/* The message of an error body ({"error": {"message": ...}} and Anthropic's
 * {"type": "error", "error": {"type": ..., "message": ...}}) into buf; false if none. */
bool spak_llm_error_message(const char *body, size_t len, char *buf, size_t n);
/* One line on why a body did not decode: "truncated JSON: ..." when the
 * input ended early, "body is not JSON: ..." otherwise. */
struct json_error_t;
void spak_llm_json_problem(const struct json_error_t *je, size_t len, char *buf, size_t n);

#endif
