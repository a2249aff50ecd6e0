/* cmd_mcp.c - `spak mcp`: the Model Context Protocol server over stdio
 * (JSON-RPC 2.0, one message per line; revision 2025-11-25, 2025-06-18 for
 * older clients). The protocol lives here: the lifecycle, the dispatch,
 * progress and cancellation, the waits answered later; the tools and
 * resources are mcp_tools.c, the children and the store reads mcp_run.c.
 * One thread: the loop polls stdin a few times a second and, between
 * messages, reaps children and answers waits (mcp_tick). stdout carries
 * only protocol messages; notes go to stderr. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "mcp_elicit.h"
#include "mcp_run.h"
#include "mcp_tools.h"
#include "program/strategy_external.h"
#include "spak.h"
#include "util.h"

#define LINE_MAX_BYTES (16u << 20)
#define TICK_MS 200

static const char *const VERSIONS[] = {"2025-11-25", "2025-06-18"};

static void send_msg(json_t *msg)
{
    char *t = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!t)
        return;
    fputs(t, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(t);
}

static void respond(mcp_server *s, json_t *id, json_t *res)
{
    (void)s;
    send_msg(json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", res));
}

static void respond_error(json_t *id, int code, const char *msg)
{
    send_msg(json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code", code,
                       "message", msg));
}

static void notify(mcp_server *s, json_t *msg)
{
    (void)s;
    send_msg(msg);
}

/* initialize: the client's revision when it is one of ours, else ours. */
static json_t *initialize(mcp_server *s, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "protocolVersion"));
    const char *v = VERSIONS[0];
    for (size_t i = 0; want && i < SPAK_ARRAY_LEN(VERSIONS); i++)
        if (strcmp(want, VERSIONS[i]) == 0)
            v = VERSIONS[i];
    spak_snprintf(s->version, sizeof s->version, "%s", v);
    /* approval gates are put to the person through a client that can ask (mcp_elicit.h) */
    json_t *el = json_object_get(json_object_get(params, "capabilities"), "elicitation");
    s->elicit = json_is_object(el) && (json_object_size(el) == 0 || json_object_get(el, "form"));  /* {} = form */
    return json_pack("{s:s,s:{s:{s:b},s:{s:b}},s:{s:s,s:s,s:s},s:s}", "protocolVersion", v, "capabilities", "tools",
                     "listChanged", 0, "resources", "listChanged", 0, "serverInfo", "name", "spak", "title",
                     "spak: the performance-engineering loop", "version", SPAK_VERSION, "instructions",
                     "You are the engineer of a spak run. spak_start (or spak_attach) a run, read spak_context, then "
                     "spak_propose a point, a source or a diff with your prediction and spak_wait for its records; "
                     "repeat. spak builds, checks and times every candidate in its sandbox with a trusted harness. "
                     "Approval gates are answered by a person (spak approve, or the client's own question to its user), never "
                     "by a tool.");
}

/* One request or notification. */
static void dispatch(mcp_server *s, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    if (!json_is_object(msg) || !method || (params && !json_is_object(params) && !json_is_array(params))) {
        json_t *res = json_object_get(msg, "result"), *err = json_object_get(msg, "error");
        if (json_is_object(msg) && !method && (res || err))
            (void)mcp_elicit_response(s, id, res, err);  /* a response to one of our requests */
        else
            respond_error(id, MCP_INVALID_REQUEST, "not a JSON-RPC 2.0 request: an object with a 'method' string");
        return;
    }
    if (!id) {  /* a notification: never answered */
        if (strcmp(method, "notifications/cancelled") == 0)
            mcp_cancel(s, json_object_get(params, "requestId"));
        return;
    }
    mcp_reply r = {0};
    if (strcmp(method, "initialize") == 0)
        r.result = initialize(s, params);
    else if (strcmp(method, "ping") == 0)
        r.result = json_object();
    else if (strcmp(method, "tools/list") == 0)
        r.result = mcp_tools_list();
    else if (strcmp(method, "tools/call") == 0) {
        json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
        mcp_tools_call(s, json_string_value(json_object_get(params, "name")), json_object_get(params, "arguments"),
                       id, token, &r);
    } else if (strcmp(method, "resources/list") == 0)
        mcp_resources_list(s, &r);
    else if (strcmp(method, "resources/read") == 0)
        mcp_resources_read(s, params, &r);
    else if (strcmp(method, "resources/templates/list") == 0)
        r.result = json_pack("{s:[]}", "resourceTemplates");
    else
        mcp_fail(&r, MCP_METHOD_NOT_FOUND, "method '%.200s' is not served by spak", method);
    if (r.code)
        respond_error(id, r.code, r.msg);
    else if (r.result)
        respond(s, id, r.result);
    else if (!r.deferred)
        respond_error(id, MCP_INTERNAL_ERROR, "no result");
}

/* One line of input. */
static void handle_line(mcp_server *s, const char *line, size_t n)
{
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n == 0)
        return;
    json_error_t je;
    json_t *msg = json_loadb(line, n, 0, &je);
    if (!msg) {
        char m[400];
        spak_snprintf(m, sizeof m, "parse error at column %d: %s", je.column, je.text);
        respond_error(NULL, MCP_PARSE_ERROR, m);
        return;
    }
    if (json_is_array(msg))
        respond_error(NULL, MCP_INVALID_REQUEST, "batches are not part of this protocol revision");
    else
        dispatch(s, msg);
    json_decref(msg);
}

/* Where the server's home is: --home, $SPAK_HOME, the nearest .spak, else
 * .spak here (made by the first run). */
static int find_home(const char *given, mcp_server *s)
{
    char h[PATH_MAX];
    int rc = cli_home("mcp", given, true, h, sizeof h);
    if (rc == 0 && !mcp_set_home(s, h)) {
        fprintf(stderr, "spak mcp: the home's path is too long\n");
        rc = 1;
    }
    return rc;
}

static int serve(mcp_server *s)
{
    spak_buf in;
    spak_buf_init(&in, LINE_MAX_BYTES + 65536);
    bool eof = false, skipping = false;
    while (!eof) {
        struct pollfd p = {0, POLLIN, 0};
        int k = poll(&p, 1, TICK_MS);
        if (k > 0) {
            char chunk[65536];
            ssize_t got = read(0, chunk, sizeof chunk);
            if (got <= 0 && !(got < 0 && errno == EINTR))
                eof = true;
            for (ssize_t i = 0, st = 0; got > 0 && i <= got; i++) {
                if (i < got && chunk[i] != '\n')
                    continue;
                size_t len = (size_t)(i - st);
                if (!skipping && spak_buf_append(&in, chunk + st, len) != SPAK_OK) {
                    respond_error(NULL, MCP_INVALID_REQUEST, "message over 16 MiB: dropped");
                    skipping = true;
                    spak_buf_reset(&in);
                }
                if (i < got) {
                    if (!skipping)
                        handle_line(s, in.data ? in.data : "", in.len);
                    skipping = false;
                    spak_buf_reset(&in);
                }
                st = i + 1;
            }
        }
        mcp_elicit_tick(s, send_msg);
        mcp_tick(s, respond);
    }
    spak_buf_free(&in);
    return 0;
}

int cmd_mcp(int argc, char **argv)
{
    const char *home = NULL;
    int first = argc;
    const cli_opt opts[] = {{"--home", NULL, NULL, &home}, {0}};
    int rc = cli_parse_opts("mcp", argc, argv, opts, 0, &first);
    if (rc)
        return rc;
    if (first < argc)
        return usage_error("mcp", "unexpected argument '%s'", argv[first]);
    static mcp_server s;
    s.notify = notify;
    ssize_t n = readlink("/proc/self/exe", s.exe, sizeof s.exe - 1);
    if (n <= 0) {
        fprintf(stderr, "spak mcp: cannot find its own binary (/proc/self/exe)\n");
        return 1;
    }
    s.exe[n] = 0;
    if ((rc = find_home(home, &s)) != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    return serve(&s);
}
