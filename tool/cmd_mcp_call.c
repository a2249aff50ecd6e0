/* cmd_mcp_call.c - `spak mcp-call TOOL [JSON]`: one tool of `spak mcp`
 * called from a shell, for engineers (and agents) without an MCP client.
 * It starts `spak mcp` as a child, initializes it as any client does, calls
 * the tool (or lists the tools), prints the result and ends the server; a
 * proposal's evaluation goes on in the `spak resume` the server started, so
 * a later `spak mcp-call spak_wait '{"run": ..., "proposal": N}'` finds it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "spak.h"
#include "util.h"

extern char **environ;

typedef struct conn {
    pid_t pid;
    FILE *to, *from;
} conn;

static bool start_server(const char *home, conn *c)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int in[2], out[2];
    if (n <= 0 || pipe2(in, O_CLOEXEC) != 0)
        return false;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return false;
    }
    exe[n] = 0;
    const char *av[] = {exe, "mcp", home ? "--home" : NULL, home, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    bool ok = posix_spawn(&c->pid, exe, &fa, NULL, (char *const *)av, environ) == 0;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    c->to = fdopen(in[1], "w");
    c->from = fdopen(out[0], "r");
    return ok && c->to && c->from;
}

static void send_msg(conn *c, json_t *m)
{
    char *t = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (t)
        fprintf(c->to, "%s\n", t);
    fflush(c->to);
    free(t);
}

/* The response to request id; progress notifications go to stderr. NULL
 * when the server ended first. */
static json_t *receive(conn *c, json_int_t id, bool quiet)
{
    char *line = NULL;
    size_t cap = 0;
    json_t *got = NULL;
    while (!got && getline(&line, &cap, c->from) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        const char *method = json_string_value(json_object_get(m, "method"));
        if (method && strcmp(method, "notifications/progress") == 0 && !quiet) {
            const char *msg = json_string_value(json_object_get(json_object_get(m, "params"), "message"));
            fprintf(stderr, "spak mcp-call: %s\n", cli_safe(msg ? msg : "progress"));
        }
        if (json_integer_value(json_object_get(m, "id")) == id && !method)
            got = json_incref(m);
        json_decref(m);
    }
    free(line);
    return got;
}

/* Print a tools/call result: its text, or with json its structured content
 * (the whole result when it has none). 0, or 1 for a tool error. */
static int print_result(const json_t *res, bool json)
{
    if (json) {
        const json_t *sc = json_object_get(res, "structuredContent");
        cli_print_json(sc ? sc : res, JSON_INDENT(2), NULL);
    } else {
        const json_t *content = json_object_get(res, "content");
        for (size_t i = 0; i < json_array_size(content); i++) {
            const char *t = json_string_value(json_object_get(json_array_get(content, i), "text"));
            spak_buf b;
            spak_buf_init(&b, 0);
            /* the whole text (a context is long), made safe for the terminal, lines kept */
            if (t && spak_escape_term(&b, t, strlen(t), SPAK_ESC_KEEP_NL) == SPAK_OK)
                printf("%s\n", b.data ? b.data : "");
            spak_buf_free(&b);
        }
    }
    return json_is_true(json_object_get(res, "isError")) ? 1 : 0;
}

static int print_list(const json_t *res, bool json)
{
    if (json) {
        cli_print_json(res, JSON_INDENT(2), NULL);
        return 0;
    }
    const json_t *tools = json_object_get(res, "tools");
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const json_t *t = json_array_get(tools, i);
        printf("%-14s %s\n", json_string_value(json_object_get(t, "name")),
               cli_safe(json_string_value(json_object_get(t, "description"))));
    }
    return 0;
}

int cmd_mcp_call(int argc, char **argv)
{
    const char *home = NULL;
    bool json = false, list = false, quiet = false;
    int first = argc;
    const cli_opt opts[] = {{"--home", NULL, NULL, &home}, {"--json", NULL, &json, NULL},
                            {"--list", NULL, &list, NULL}, {"--quiet", "-q", &quiet, NULL}, {0}};
    int rc = cli_parse_opts("mcp-call", argc, argv, opts, 0, &first);
    if (rc)
        return rc;
    if (!list && (first >= argc || argc - first > 2))
        return usage_error("mcp-call", "needs TOOL and at most one JSON object of arguments%s", "");
    json_error_t je;
    json_t *args = !list && argc - first == 2 ? json_loads(argv[first + 1], 0, &je) : json_object();
    if (!json_is_object(args)) {
        fprintf(stderr, "spak mcp-call: the arguments are not a JSON object: %s (column %d)\n",
                args ? "not an object" : cli_safe(je.text), args ? 0 : je.column);
        json_decref(args);
        return 2;
    }
    conn c = {0};
    if (!start_server(home, &c)) {
        fprintf(stderr, "spak mcp-call: cannot start 'spak mcp': %s\n", strerror(errno));
        json_decref(args);
        return 1;
    }
    send_msg(&c, json_pack("{s:s,s:i,s:s,s:{s:s,s:{},s:{s:s,s:s}}}", "jsonrpc", "2.0", "id", 1, "method", "initialize",
                           "params", "protocolVersion", "2025-11-25", "capabilities", "clientInfo", "name",
                           "spak mcp-call", "version", SPAK_VERSION));
    json_t *init = receive(&c, 1, quiet);
    send_msg(&c, json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", "notifications/initialized"));
    if (list)
        send_msg(&c, json_pack("{s:s,s:i,s:s}", "jsonrpc", "2.0", "id", 2, "method", "tools/list"));
    else
        send_msg(&c, json_pack("{s:s,s:i,s:s,s:{s:s,s:O,s:{s:s}}}", "jsonrpc", "2.0", "id", 2, "method", "tools/call",
                               "params", "name", argv[first], "arguments", args, "_meta", "progressToken", "mcp-call"));
    json_t *resp = init ? receive(&c, 2, quiet) : NULL;
    rc = 1;
    if (!resp)
        fprintf(stderr, "spak mcp-call: the server ended without an answer (its messages are above)\n");
    else if (json_object_get(resp, "error"))
        fprintf(stderr, "spak mcp-call: %s (JSON-RPC error %lld)\n",
                cli_safe(json_string_value(json_object_get(json_object_get(resp, "error"), "message"))),
                (long long)json_integer_value(json_object_get(json_object_get(resp, "error"), "code")));
    else
        rc = list ? print_list(json_object_get(resp, "result"), json)
                  : print_result(json_object_get(resp, "result"), json);
    fclose(c.to);
    fclose(c.from);
    while (waitpid(c.pid, NULL, 0) < 0 && errno == EINTR) {
    }
    json_decref(init);
    json_decref(resp);
    json_decref(args);
    return rc;
}
