/*
 * test_llm.c - the LLM client over real HTTP against tests/llm/bad_server.py
 * (a misbehaving server on loopback that this test starts and stops): every
 * failure becomes the right outcome, retries and Retry-After are honoured,
 * the size cap holds, the API key never leaks; the Anthropic request shape
 * (headers, body) matches tests/llm/fixtures and its responses parse; the
 * manual backend's file protocol. TAP on stdout. Run from the repository
 * root (tests/run.sh does). No server -> "not ok", never a skip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program/llm/llm.h"
#include "program/prompt.h"
#include "tap.h"
#include "util.h"

#define SECRET "sk-test-SECRET-0123456789abcdef"
#define ANT_SECRET "sk-ant-test-KEY-0123456789abcdef"

static char tmpdir[] = "/tmp/spak-test-llm-XXXXXX";
static pid_t server_pid = -1;
static int port;
/* What the calls of this test used (the engine sums its stored steps instead). */
static struct {
    long calls, failed, prompt_tokens, completion_tokens;
    double cost;
} usage;

static void tally(const spak_llm_reply *rep)
{
    usage.calls++;
    usage.failed += rep->outcome != SPAK_LLM_OK;
    usage.prompt_tokens += rep->prompt_tokens > 0 ? rep->prompt_tokens : 0;
    usage.completion_tokens += rep->completion_tokens > 0 ? rep->completion_tokens : 0;
    if (!isnan(rep->cost))
        usage.cost += rep->cost;
}

static bool start_server(void)
{
    char pf[256], logd[256];
    snprintf(pf, sizeof pf, "%s/port", tmpdir);
    snprintf(logd, sizeof logd, "%s/log", tmpdir);
    mkdir(logd, 0700);
    if (access("tests/llm/bad_server.py", R_OK) != 0) {
        printf("# tests/llm/bad_server.py not found: run from the repository root\n");
        return false;
    }
    server_pid = fork();
    if (server_pid < 0)
        return false;
    if (server_pid == 0) {
        execlp("python3", "python3", "tests/llm/bad_server.py", "--port-file", pf, "--log-dir", logd, "--lifetime",
               "300", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {  /* 15 s */
        char *data = NULL;
        size_t len;
        if (spak_read_file(pf, 64, &data, &len, NULL) == SPAK_OK) {
            long p;
            char *nl = strchr(data, '\n');
            if (nl)
                *nl = 0;
            bool ok = spak_parse_long(data, 1, 65535, &p);
            free(data);
            if (ok) {
                port = (int)p;
                return true;
            }
        }
        int stt;
        if (waitpid(server_pid, &stt, WNOHANG) == server_pid) {
            printf("# bad_server.py exited early (status %d): is python3 installed?\n", stt);
            server_pid = -1;
            return false;
        }
        usleep(50000);
    }
    return false;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
}

static char endpoint[256];

static void base_cfg(spak_llm_config *c, const char *scenario)
{
    spak_llm_config_init(c);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/%s/v1", port, scenario);
    c->endpoint = endpoint;
    c->model = "test-model";
    c->max_retries = 2;
    c->backoff_s = 0.05;
    c->backoff_max_s = 0.2;
    c->timeout_s = 5;
    c->connect_timeout_s = 2;
    c->price_in = 1.0;
    c->price_out = 2.0;
}

static spak_llm_request base_req(void)
{
    spak_llm_request r;
    memset(&r, 0, sizeof r);
    r.system = "You are a test.";
    r.user = "Say something.";
    return r;
}

/* One call; the reply is added to the usage like the engine would. */
static spak_status call(const spak_llm_config *c, spak_llm_reply *rep, spak_err *err)
{
    spak_llm_request r = base_req();
    memset(err, 0, sizeof *err);
    spak_status st = spak_llm_complete(c, &r, rep, err);
    tally(rep);
    return st;
}

static void test_openai_paths(void)
{
    spak_llm_config c;
    spak_llm_reply rep;
    spak_err err;

    base_cfg(&c, "ok");
    spak_status st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_OK && rep.outcome == SPAK_LLM_OK, "ok: outcome ok (%s)", rep.detail);
    TAP_OK(rep.text && strstr(rep.text, "```c"), "ok: reply text");
    TAP_OK(rep.prompt_tokens == 11 && rep.completion_tokens == 7, "ok: token counts from usage");
    TAP_OK(rep.http_status == 200 && rep.attempts == 1 && !strcmp(rep.finish_reason, "stop"), "ok: status, attempts, finish");
    TAP_OK(!strcmp(rep.model, "bad-server-model"), "ok: the model the server named");
    TAP_OK(fabs(rep.cost - (11 * 1.0 + 7 * 2.0) / 1e6) < 1e-15, "ok: cost from the prices");
    TAP_OK(rep.raw && strstr(rep.raw, "chatcmpl-bad-server"), "ok: raw body kept");
    spak_reply pr;
    spak_reply_opts o = {SPAK_PROMPT_CODE, "spak_kernel", NULL, 0};
    spak_reply_parse(rep.text, strlen(rep.text), &o, &pr, &err);
    TAP_OK(pr.kind == SPAK_REPLY_CODE && pr.has_prediction && pr.predicted_metric == 3.5,
           "ok: reply parses to code with a prediction");
    spak_reply_free(&pr);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "flaky500");
    st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_OK && rep.outcome == SPAK_LLM_OK && rep.attempts == 2, "500 then 200: retried, ok after 2 attempts");
    spak_llm_reply_free(&rep);

    base_cfg(&c, "ratelimit");
    st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_OK && rep.attempts == 2, "429 then 200: ok after 2 attempts");
    TAP_OK(rep.latency_s >= 0.95, "429: Retry-After: 1 honoured over a 0.05 s backoff (%.2f s)", rep.latency_s);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "ratelimit_long");
    c.retry_after_max_s = 10;
    st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_ERR_IO && rep.outcome == SPAK_LLM_RATE_LIMIT && rep.attempts == 1,
           "Retry-After 3600 over the cap: rate_limit at once (%s)", rep.detail);
    TAP_OK(strstr(rep.detail, "over the cap") && rep.latency_s < 2, "rate_limit: says why, did not wait");
    spak_llm_reply_free(&rep);

    base_cfg(&c, "always503");
    st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_ERR_IO && rep.outcome == SPAK_LLM_HTTP_5XX && rep.attempts == 3 && rep.http_status == 503,
           "503 always: http_5xx after 1 + 2 retries (%s)", rep.detail);
    TAP_OK(strstr(err.msg, "http_5xx") && strstr(err.msg, "service unavailable"), "503: err names outcome and message: %s",
           err.msg);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "badreq");
    st = call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_HTTP_4XX && rep.attempts == 1 && strstr(rep.detail, "unknown model bad-model"),
           "400: http_4xx, not retried, server message kept (%s)", rep.detail);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "slow");
    c.timeout_s = 1;
    c.max_retries = 0;
    st = call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_TIMEOUT && rep.latency_s < 2.5, "slow server: timeout after ~1 s (%.2f s, %s)",
           rep.latency_s, rep.detail);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "cut");
    c.max_retries = 1;
    st = call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_CUT && rep.attempts == 2, "cut mid-body: cut, retried once (%s)", rep.detail);
    TAP_OK(rep.text == NULL, "cut: no partial text passed on");
    spak_llm_reply_free(&rep);

    /* replies that fail in one way each: the outcome, the attempts where they
     * matter, and words the detail must hold */
    static const struct {
        const char *scenario;
        spak_llm_outcome outcome;
        int attempts; /* 0: any */
        const char *in_detail, *what;
    } bad[] = {
        {"garbage", SPAK_LLM_BAD_JSON, 1, "not JSON", "HTML garbage: bad_json, not retried"},
        {"truncated", SPAK_LLM_BAD_JSON, 0, "truncated", "truncated JSON: bad_json"},
        {"nocontent", SPAK_LLM_EMPTY, 0, NULL, "null content: empty"},
        {"refusal", SPAK_LLM_REFUSAL, 0, "can't help", "refusal field: refusal"},
    };
    for (size_t i = 0; i < SPAK_ARRAY_LEN(bad); i++) {
        base_cfg(&c, bad[i].scenario);
        (void)call(&c, &rep, &err); /* the reply's outcome is what is checked */
        TAP_OK(rep.outcome == bad[i].outcome && (!bad[i].attempts || rep.attempts == bad[i].attempts) &&
                   (!bad[i].in_detail || strstr(rep.detail, bad[i].in_detail)),
               "%s (%s)", bad[i].what, rep.detail);
        spak_llm_reply_free(&rep);
    }

    base_cfg(&c, "empty");
    st = call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_EMPTY && rep.prompt_tokens == 3, "empty choices: empty, usage still read (%s)",
           rep.detail);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "huge");
    st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_ERR_LIMIT && rep.outcome == SPAK_LLM_TOO_LARGE && rep.attempts == 1,
           "2 MiB body: too_large, transfer stopped, not retried (%s)", rep.detail);
    TAP_OK(rep.raw == NULL || strlen(rep.raw) <= SPAK_LLM_RAW_KEEP, "too_large: kept raw body within its cap");
    spak_llm_reply_free(&rep);

    base_cfg(&c, "nonexistent");
    st = call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_HTTP_4XX && rep.http_status == 404, "unknown path: http_4xx 404");
    spak_llm_reply_free(&rep);

    /* connection refused: a port that was free a moment ago */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int dead = 0;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &al) == 0)
        dead = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    base_cfg(&c, "ok");
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/v1", dead);
    c.max_retries = 1;
    st = call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_CONNECT && rep.attempts == 2 && rep.http_status == 0,
           "connection refused: connect, retried (%s)", rep.detail);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "ok");
    c.endpoint = NULL;
    st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_ERR_ARG && rep.outcome == SPAK_LLM_CONFIG && rep.attempts == 0, "no endpoint: config");
    spak_llm_reply_free(&rep);
}

static bool contains(const void *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void test_secrets(void)
{
    spak_llm_config c;
    spak_llm_reply rep;
    spak_err err;
    setenv("SPAK_TEST_LLM_KEY", SECRET, 1);
    base_cfg(&c, "auth");
    c.api_key_env = "SPAK_TEST_LLM_KEY";
    call(&c, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_AUTH && rep.attempts == 1, "401: auth, not retried");
    TAP_OK(!contains(&rep, sizeof rep, SECRET) && rep.raw && !strstr(rep.raw, SECRET) && strstr(rep.raw, "[REDACTED]"),
           "401 echoing the key: raw body redacted, reply struct free of the key");
    TAP_OK(!strstr(rep.detail, SECRET) && !strstr(err.msg, SECRET), "detail and err free of the key: %s", err.msg);
    spak_llm_reply_free(&rep);

    /* the header really carried it */
    char path[300];
    snprintf(path, sizeof path, "%s/log/auth.jsonl", tmpdir);
    char *log = NULL;
    size_t n = 0;
    spak_read_file(path, 1 << 20, &log, &n, NULL);
    TAP_OK(log && strstr(log, "\"authorization\": \"Bearer " SECRET "\""), "the key went out as Authorization: Bearer");
    free(log);

    unsetenv("SPAK_TEST_LLM_KEY_UNSET");
    base_cfg(&c, "ok");
    c.api_key_env = "SPAK_TEST_LLM_KEY_UNSET";
    spak_status st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_ERR_IO && rep.outcome == SPAK_LLM_AUTH && rep.attempts == 0 &&
               strstr(rep.detail, "SPAK_TEST_LLM_KEY_UNSET"),
           "unset key variable: auth before any request (%s)", rep.detail);
    spak_llm_reply_free(&rep);

    base_cfg(&c, "ok");  /* no key variable: no Authorization header */
    call(&c, &rep, &err);
    spak_llm_reply_free(&rep);
    snprintf(path, sizeof path, "%s/log/ok.jsonl", tmpdir);
    spak_read_file(path, 1 << 20, &log, &n, NULL);
    TAP_OK(log && !strstr(log, "authorization") && strstr(log, "\"model\": \"test-model\""),
           "no key configured: no Authorization header; body carries the model");
    free(log);
}

static json_t *last_request(const char *scenario);

/* Whether any form of the echo key the redaction knows is in n bytes at p. */
#define ECHO_KEY "sk-echo/SECRET+0123456789abcdef"
#define ECHO_KEY_URL "sk-echo%2FSECRET%2B0123456789abcdef"
#define ECHO_KEY_JSON "sk-echo\\/SECRET+0123456789abcdef"
static bool leaks_echo(const void *p, size_t n)
{
    return contains(p, n, ECHO_KEY) || contains(p, n, ECHO_KEY_URL) || contains(p, n, ECHO_KEY_JSON) ||
           contains(p, n, "SECRET+0123") || contains(p, n, "SECRET%2B0123");
}

/* A server that echoes the key in a successful reply (text, model, raw
 * body; as is, percent-encoded, JSON-escaped): nothing returned holds it. */
static void test_echo(const char *scenario_path, const char *key_env, const spak_llm_backend *b)
{
    spak_llm_config c;
    spak_llm_reply rep;
    spak_err err;
    setenv(key_env, ECHO_KEY, 1);
    base_cfg(&c, "echo");
    c.backend = b;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/%s", port, scenario_path);
    c.api_key_env = key_env;
    spak_status st = call(&c, &rep, &err);
    TAP_OK(st == SPAK_OK && rep.outcome == SPAK_LLM_OK && rep.text, "%s echo: a successful reply (%s)", b->name,
           rep.detail);
    bool clean = !leaks_echo(&rep, sizeof rep) && !(rep.text && leaks_echo(rep.text, strlen(rep.text))) &&
                 !(rep.raw && leaks_echo(rep.raw, strlen(rep.raw))) && !leaks_echo(err.msg, strlen(err.msg));
    TAP_OK(clean, "%s echo: text, raw body, model, detail and err hold no form of the key", b->name);
    TAP_OK(rep.text && strstr(rep.text, "Your key is [REDACTED] (in a URL: [REDACTED])") && rep.raw &&
               strstr(rep.raw, "\"system_fingerprint\": \"[REDACTED]\"") && strstr(rep.model, "echo-[REDACTED]"),
           "%s echo: each form replaced where it was (text %.60s, model %s)", b->name, rep.text ? rep.text : "-",
           rep.model);
    spak_llm_reply_free(&rep);
    json_t *req = last_request("echo");
    json_t *h = json_object_get(req, "headers");
    const char *sent = json_string_value(json_object_get(h, b == &spak_llm_anthropic ? "x-api-key" : "authorization"));
    TAP_OK(sent && strstr(sent, ECHO_KEY), "%s echo: the key did go out (the test is real)", b->name);
    json_decref(req);
    unsetenv(key_env);
}

/* The manual backend: the prompt file is written without the key, and a
 * reply file quoting it is redacted. */
static void test_manual_secret(void)
{
    spak_llm_config c;
    spak_llm_config_init(&c);
    c.backend = &spak_llm_manual;
    char dir[300], reply[SPAK_LLM_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/manual/secret", tmpdir);
    c.manual_dir = dir;
    c.model = "human";
    c.api_key_env = "SPAK_TEST_LLM_KEY";
    setenv("SPAK_TEST_LLM_KEY", ECHO_KEY, 1);
    spak_llm_request r = {.system = "system quoting " ECHO_KEY, .user = "an earlier reply said " ECHO_KEY_URL,
                          .tag = "step-0001"};
    spak_llm_reply rep;
    spak_err err;
    spak_llm_complete(&c, &r, &rep, &err);
    char *prompt = NULL;
    size_t n = 0;
    spak_read_file(rep.prompt_path, 1 << 20, &prompt, &n, NULL);
    TAP_OK(prompt && !leaks_echo(prompt, n) && strstr(prompt, "system quoting [REDACTED]") &&
               strstr(prompt, "said [REDACTED]"),
           "manual: the prompt file holds no form of the key");
    free(prompt);
    snprintf(reply, sizeof reply, "%s", rep.reply_path);
    spak_llm_reply_free(&rep);
    spak_write_file_atomic(reply, "the key: " ECHO_KEY "\n", strlen("the key: " ECHO_KEY "\n"), NULL);
    spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_OK && rep.text && !leaks_echo(rep.text, strlen(rep.text)) &&
               strstr(rep.text, "the key: [REDACTED]"),
           "manual: a reply file quoting the key is redacted");
    spak_llm_reply_free(&rep);
    unsetenv("SPAK_TEST_LLM_KEY");
}

/* spak_llm_redact's forms and spak_llm_endpoint_check's rules. */
static void test_redact_and_endpoint(void)
{
    char *r = spak_llm_redact("a " ECHO_KEY " b " ECHO_KEY_URL " c sk-echo%2fSECRET%2b0123456789abcdef d " ECHO_KEY_JSON,
                              strlen("a " ECHO_KEY " b " ECHO_KEY_URL " c sk-echo%2fSECRET%2b0123456789abcdef d "
                                     ECHO_KEY_JSON),
                              ECHO_KEY);
    TAP_STREQ(r, "a [REDACTED] b [REDACTED] c [REDACTED] d [REDACTED]",
              "redact: exact, percent-encoded (both cases) and JSON-escaped forms");
    free(r);
    /* a step about to be stored: every string in it, at any depth */
    spak_llm_config kc;
    spak_llm_config_init(&kc);
    kc.api_key_env = "SPAK_TEST_LLM_KEY";
    setenv("SPAK_TEST_LLM_KEY", ECHO_KEY, 1);
    json_t *step = json_pack("{s:s,s:{s:[s,i]},s:s}", "user", "history: " ECHO_KEY, "nested", "a", "x " ECHO_KEY_URL,
                             1, "reply", "no key here");
    char *dump = NULL;
    if (step && spak_llm_redact_json(&kc, step) == SPAK_OK)
        dump = json_dumps(step, JSON_SORT_KEYS | JSON_COMPACT);
    TAP_STREQ(dump, "{\"nested\":{\"a\":[\"x [REDACTED]\",1]},\"reply\":\"no key here\",\"user\":\"history: [REDACTED]\"}",
              "redact_json: every string of a step, nested too, with the key the config names");
    free(dump);
    json_decref(step);
    unsetenv("SPAK_TEST_LLM_KEY");
    r = spak_llm_redact("abc xyz", 7, "abc");
    TAP_STREQ(r, "abc xyz", "redact: a key under 4 bytes is not searched for");
    free(r);
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"http://user:" ECHO_KEY "@127.0.0.1:8080/v1", "credentials before the host"},
        {"https://" ECHO_KEY "@api.example.com/v1", "credentials before the host"},
        {"http://127.0.0.1:8080/v1?key=" ECHO_KEY, "query string (parameter 'key')"},
        {"http://127.0.0.1:8080/v1?api_key=" ECHO_KEY, "query string (parameter 'api_key')"},
        {"http://127.0.0.1:8080/v1/chat/completions?token=" ECHO_KEY, "query string (parameter 'token')"},
        {"http://127.0.0.1:8080/v1?x=1&access_token=" ECHO_KEY, "query string (parameter 'x')"},
        {"http://127.0.0.1:8080/v1#" ECHO_KEY, "fragment"},
        {"http://127.0.0.1:8080/" ECHO_KEY_URL "/v1", "the API key's value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spak_err e = {0};
        spak_status st = spak_llm_endpoint_check(cases[i].url, ECHO_KEY, &e);
        TAP_OK(st == SPAK_ERR_ARG && strstr(e.msg, cases[i].want) && !leaks_echo(e.msg, strlen(e.msg)) &&
                   !strstr(e.msg, "127.0.0.1") && !strstr(e.msg, "example.com"),
               "endpoint refused (%s), the URL not echoed: %s", cases[i].want, e.msg);
    }
    spak_err e = {0};
    TAP_OK(spak_llm_endpoint_check("http://127.0.0.1:8080/v1", ECHO_KEY, &e) == SPAK_OK &&
               spak_llm_endpoint_check("https://api.anthropic.com", NULL, &e) == SPAK_OK &&
               spak_llm_endpoint_check("http://[::1]:8080/v1", NULL, &e) == SPAK_OK,
           "plain endpoints pass");
    /* the client refuses too, before anything is sent */
    spak_llm_config c;
    spak_llm_reply rep;
    base_cfg(&c, "ok");
    snprintf(endpoint, sizeof endpoint, "http://u:p@127.0.0.1:%d/ok/v1", port);
    spak_status st = call(&c, &rep, &e);
    TAP_OK(st == SPAK_ERR_ARG && rep.outcome == SPAK_LLM_CONFIG && rep.attempts == 0 && !strstr(e.msg, "u:p@"),
           "spak_llm_complete refuses a credential in the endpoint, nothing sent: %s", e.msg);
    spak_llm_reply_free(&rep);
}

/* spak_escape_term (util.c), the terminal's side of the same trust line. */
static void test_escape(void)
{
    spak_buf b;
    spak_buf_init(&b, 0);
    const char in[] = "a\x1b]0;pwned\x07 \x1b[2J\x7f \xc2\x9b" "31m \xe2\x80\xae \xff tab\there\nnl \\ \xc3\xa9";
    spak_escape_term(&b, in, sizeof in - 1, 0);
    TAP_STREQ(b.data, "a\\x1b]0;pwned\\x07 \\x1b[2J\\x7f \\x9b31m \\u202e \\xff tab\\x09here\\x0anl \\ \xc3\xa9",
              "escape: ESC, BEL, DEL, C1, bidi override, a stray byte, tab and newline made visible; backslash and "
              "UTF-8 kept");
    spak_buf_reset(&b);
    spak_escape_term(&b, "l1\nl2\t\x1b", strlen("l1\nl2\t\x1b"), SPAK_ESC_KEEP_NL);
    TAP_STREQ(b.data, "l1\nl2\t\\x1b", "escape: KEEP_NL keeps the lines of a reply");
    spak_buf_reset(&b);
    const char js[] = "{\n  \"r\": \"\xc2\x9b\x7f\"\n}";
    spak_escape_term(&b, js, sizeof js - 1, SPAK_ESC_JSON);
    TAP_STREQ(b.data, "{\n  \"r\": \"\\u009b\\u007f\"\n}", "escape: JSON mode gives \\u00NN, still valid JSON");
    spak_buf_reset(&b);
    spak_escape_term(&b, "x=1,y=2 ok 1.5x", 15, 0);
    TAP_STREQ(b.data, "x=1,y=2 ok 1.5x", "escape: ordinary text unchanged");
    spak_buf_free(&b);
}

/* The last request logged for a scenario, parsed. */
static json_t *last_request(const char *scenario)
{
    char path[300];
    snprintf(path, sizeof path, "%s/log/%s.jsonl", tmpdir, scenario);
    char *log = NULL;
    size_t n = 0;
    if (spak_read_file(path, 1 << 20, &log, &n, NULL) != SPAK_OK)
        return NULL;
    char *last = log, *p;
    while ((p = strchr(last, '\n')) && p[1])
        last = p + 1;
    json_t *j = json_loads(last, JSON_DISABLE_EOF_CHECK, NULL);
    free(log);
    return j;
}

static void test_anthropic(void)
{
    spak_llm_config c;
    spak_llm_reply rep;
    spak_err err;
    setenv("ANTHROPIC_API_KEY", ANT_SECRET, 1);
    spak_llm_request r;
    memset(&r, 0, sizeof r);
    r.system = "You are a performance engineer.";
    r.user = "Propose the next tile size for the matmul kernel.";
    r.stop[0] = "</answer>";

    base_cfg(&c, "anthropic");
    c.backend = &spak_llm_anthropic;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/anthropic", port);
    c.model = "claude-sonnet-4-5";
    c.max_tokens = 1024;
    c.temperature = 0.2;
    c.price_in = 3;
    c.price_out = 15;
    spak_status st = spak_llm_complete(&c, &r, &rep, &err);
    tally(&rep);
    TAP_OK(st == SPAK_OK && rep.outcome == SPAK_LLM_OK, "anthropic: ok (%s)", rep.detail);

    json_t *req = last_request("anthropic");
    json_t *hdr = json_object_get(req, "headers");
    TAP_STREQ(json_string_value(json_object_get(req, "path")), "/anthropic/v1/messages", "anthropic: POST /v1/messages");
    TAP_STREQ(json_string_value(json_object_get(hdr, "x-api-key")), ANT_SECRET, "anthropic: x-api-key from ANTHROPIC_API_KEY");
    TAP_STREQ(json_string_value(json_object_get(hdr, "anthropic-version")), "2023-06-01", "anthropic: anthropic-version");
    TAP_STREQ(json_string_value(json_object_get(hdr, "content-type")), "application/json", "anthropic: content-type");
    TAP_OK(!json_object_get(hdr, "authorization"), "anthropic: no Authorization header");
    json_error_t je;
    json_t *want = json_load_file("tests/llm/fixtures/anthropic_request.json", 0, &je);
    TAP_OK(want && json_equal(json_object_get(req, "body"), want), "anthropic: body equals fixtures/anthropic_request.json");
    if (want && !json_equal(json_object_get(req, "body"), want)) {
        char *got = json_dumps(json_object_get(req, "body"), JSON_SORT_KEYS);
        printf("#   got: %s\n", got ? got : "(none)");
        free(got);
    }
    json_decref(want);
    json_decref(req);

    TAP_STREQ(rep.text,
              "Try a larger tile: the kernel is memory bound.\n```json\n{\"params\": {\"BM\": 128}, \"prediction\": "
              "{\"metric\": 21.5, \"why\": \"fewer global loads per flop\"}}\n```",
              "anthropic: text blocks joined, tool_use block skipped");
    TAP_OK(rep.prompt_tokens == 50 && rep.completion_tokens == 37, "anthropic: usage input 42 + cache read 8, output 37");
    TAP_OK(!strcmp(rep.finish_reason, "end_turn") && !strcmp(rep.model, "claude-sonnet-4-5-20250929"),
           "anthropic: stop_reason and model");
    TAP_OK(fabs(rep.cost - (50 * 3.0 + 37 * 15.0) / 1e6) < 1e-12, "anthropic: cost");
    spak_reply pr;
    spak_reply_opts o = {SPAK_PROMPT_PARAMS, NULL, NULL, 0};
    spak_reply_parse(rep.text, strlen(rep.text), &o, &pr, &err);
    TAP_OK(pr.kind == SPAK_REPLY_PARAMS && !strcmp(pr.params_json, "{\"BM\":128}") && pr.predicted_metric == 21.5,
           "anthropic: the reply's JSON choice parses");
    spak_reply_free(&pr);
    TAP_OK(!contains(&rep, sizeof rep, ANT_SECRET) && (!rep.raw || !strstr(rep.raw, ANT_SECRET)),
           "anthropic: the key is nowhere in the reply");
    spak_llm_reply_free(&rep);

    c.endpoint = endpoint;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/anthropic_overloaded", port);
    st = spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(st == SPAK_OK && rep.attempts == 2, "anthropic 529 overloaded then ok: retried");
    spak_llm_reply_free(&rep);

    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/anthropic_refusal", port);
    spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_REFUSAL && rep.prompt_tokens == 30, "anthropic stop_reason refusal: refusal");
    spak_llm_reply_free(&rep);

    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/anthropic_badreq", port);
    spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_HTTP_4XX && rep.attempts == 1 &&
               strstr(rep.detail, "invalid_request_error: max_tokens: Field required"),
           "anthropic 400: http_4xx with the error type and message (%s)", rep.detail);
    spak_llm_reply_free(&rep);

    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/anthropic_maxtokens", port);
    spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_OK && !strcmp(rep.finish_reason, "max_tokens"), "anthropic max_tokens: ok, finish max_tokens");
    spak_reply_opts oc = {SPAK_PROMPT_CODE, NULL, NULL, 0};
    spak_reply_parse(rep.text, strlen(rep.text), &oc, &pr, &err);
    TAP_OK(pr.kind == SPAK_REPLY_UNCLOSED, "anthropic max_tokens: the cut code block is unclosed_code");
    spak_reply_free(&pr);
    spak_llm_reply_free(&rep);

    unsetenv("ANTHROPIC_API_KEY");
    st = spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_AUTH && rep.attempts == 0, "anthropic without ANTHROPIC_API_KEY: auth, nothing sent");
    spak_llm_reply_free(&rep);
}

static void test_manual(void)
{
    spak_llm_config c;
    spak_llm_config_init(&c);
    c.backend = &spak_llm_manual;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/manual/run-1", tmpdir);
    c.manual_dir = dir;
    c.model = "human";
    spak_llm_request r = base_req();
    r.tag = "step-0001";
    spak_llm_reply rep;
    spak_err err;
    spak_status st = spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(st == SPAK_ERR_STATE && rep.outcome == SPAK_LLM_SUSPENDED, "manual: suspended without a reply (%s)", err.msg);
    char want[400];
    snprintf(want, sizeof want, "%s/step-0001.reply.md", dir);
    TAP_STREQ(rep.reply_path, want, "manual: reply path");
    TAP_OK(strstr(rep.detail, want) != NULL, "manual: detail says where the reply is awaited");
    char *prompt = NULL;
    size_t n;
    spak_read_file(rep.prompt_path, 1 << 20, &prompt, &n, NULL);
    TAP_OK(prompt && strstr(prompt, "# System\n\nYou are a test.") && strstr(prompt, "# User\n\nSay something.") &&
               strstr(prompt, want),
           "manual: prompt file has both messages and names the reply file");
    free(prompt);
    spak_llm_reply_free(&rep);

    TAP_OK(spak_write_file_atomic(want, "```c\nvoid k(void) {}\n```\n", 25, NULL) == SPAK_OK, "manual: reply written");
    st = spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(st == SPAK_OK && rep.outcome == SPAK_LLM_OK && rep.text && strstr(rep.text, "void k"),
           "manual: resumed call reads the reply");
    TAP_OK(rep.cost == 0 && rep.prompt_tokens == -1 && rep.attempts == 0, "manual: no tokens, no cost, no HTTP");
    spak_llm_reply_free(&rep);

    spak_write_file_atomic(want, " \n", 2, NULL);
    spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(rep.outcome == SPAK_LLM_EMPTY, "manual: blank reply file is empty");
    spak_llm_reply_free(&rep);

    r.tag = "../escape";
    st = spak_llm_complete(&c, &r, &rep, &err);
    TAP_OK(st == SPAK_ERR_ARG && rep.outcome == SPAK_LLM_CONFIG, "manual: a tag with a path separator is refused");
    spak_llm_reply_free(&rep);
}

int main(void)
{
    /* A proxy in the environment must not catch loopback traffic. */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    if (!mkdtemp(tmpdir)) {
        TAP_OK(0, "temporary directory: %s", strerror(errno));
        return tap_done();
    }
    bool up = start_server();
    TAP_OK(up, "bad_server.py started on loopback (port %d)", port);
    if (up) {
        test_openai_paths();
        test_secrets();
        test_echo("echo/v1", "SPAK_TEST_LLM_KEY", &spak_llm_openai);
        test_echo("echo", "SPAK_TEST_ANT_KEY", &spak_llm_anthropic);
        test_redact_and_endpoint();
        test_anthropic();
    }
    stop_server();
    test_manual();
    test_manual_secret();
    test_escape();
    TAP_OK(usage.calls > 20 && usage.failed > 10 && usage.prompt_tokens > 0 && usage.cost > 0,
           "usage over the run: %ld calls, %ld failed, %ld+%ld tokens, $%.6f", usage.calls, usage.failed,
           usage.prompt_tokens, usage.completion_tokens, usage.cost);
    char cmd_dir[300];
    snprintf(cmd_dir, sizeof cmd_dir, "%s", tmpdir);
    /* clean up the temporary tree (files we wrote) */
    char *const rm[] = {"rm", "-rf", cmd_dir, NULL};
    pid_t p = fork();
    if (p == 0) {
        execvp("rm", rm);
        _exit(127);
    }
    if (p > 0)
        waitpid(p, NULL, 0);
    return tap_done();
}
