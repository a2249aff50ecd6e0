/* mcp_tools.c - the tools and resources of `spak mcp` (mcp_tools.h). */
#include "mcp_tools.h"

#include <ctype.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "mcp_elicit.h"
#include "mcp_run.h"
#include "program/context_sections.h"
#include "program/diff.h"
#include "program/prompt.h"
#include "program/strategy_external.h"
#include "spec/diag.h"
#include "spec/expr.h"
#include "spec/parse.h"
#include "util.h"

#define SOURCE_MAX (1u << 20)
#define TUNABLE_MAX_POINTS 256
#define TUNABLE_DEFAULT_POINTS 16
#define TUNABLE_MAX_GRID 65536
#define WAIT_DEFAULT_S 60.0
#define WAIT_MAX_S 600.0
#define PROGRESS_EVERY_S 1.0

bool mcp_fail(mcp_reply *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->code = code;
    return false;
}

/* A tool result: text and, when given, the structured content (taken). */
static json_t *result(const char *text, json_t *structured, bool is_error)
{
    json_t *j = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text ? text : "", "isError",
                          is_error);
    if (structured)
        json_object_set_new(j, "structuredContent", structured);
    return j;
}

/* ---- arguments ---- */

/* args[name] as a string: *out NULL when absent and not required. */
static bool arg_str(json_t *args, const char *name, bool required, const char **out, mcp_reply *r)
{
    json_t *v = json_object_get(args, name);
    *out = NULL;
    if (!v)
        return !required || mcp_fail(r, MCP_INVALID_PARAMS, "argument '%s' is required", name);
    if (!json_is_string(v))
        return mcp_fail(r, MCP_INVALID_PARAMS, "argument '%s' must be a string", name);
    *out = json_string_value(v);
    return true;
}

/* args[name] as a number in [lo, hi]: *out unchanged when absent. */
static bool arg_num(json_t *args, const char *name, double lo, double hi, double *out, mcp_reply *r)
{
    json_t *v = json_object_get(args, name);
    if (!v)
        return true;
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return mcp_fail(r, MCP_INVALID_PARAMS, "argument '%s' must be a number in [%g, %g]", name, lo, hi);
    *out = json_number_value(v);
    return true;
}

/* Only the named arguments, so that a misspelt one is said, not ignored. */
static bool arg_known(json_t *args, const char *const *names, mcp_reply *r)
{
    const char *k;
    json_t *v;
    if (args && !json_is_object(args))
        return mcp_fail(r, MCP_INVALID_PARAMS, "arguments must be an object");
    json_object_foreach(args, k, v) {
        bool ok = false;
        for (size_t i = 0; names[i] && !ok; i++)
            ok = strcmp(names[i], k) == 0;
        if (!ok)
            return mcp_fail(r, MCP_INVALID_PARAMS, "unknown argument '%.100s'", k);
    }
    return true;
}

/* The run a tool acts on: args.run, else the current run. */
static bool arg_run(mcp_server *s, json_t *args, const char **run, mcp_reply *r)
{
    if (!arg_str(args, "run", false, run, r))
        return false;
    if (!*run)
        *run = s->run[0] ? s->run : NULL;
    if (!*run)
        return mcp_fail(r, MCP_INVALID_PARAMS, "no run: give 'run', or call spak_start or spak_attach first");
    size_t n = strlen(*run);
    if (n == 0 || n >= MCP_RUN_ID_MAX)
        return mcp_fail(r, MCP_INVALID_PARAMS, "'run' must be a run id of 1 to %d characters", MCP_RUN_ID_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)(*run)[i]) && (*run)[i] != '-' && (*run)[i] != '_')
            return mcp_fail(r, MCP_INVALID_PARAMS, "'run' must be a run id (letters, digits, '-', '_'), not '%.80s'",
                            *run);
    return true;
}

/* ---- the tools that run a command ---- */

/* `spak ARGS` to its end: its JSON output as the structured content, its
 * text (stdout, then stderr) as the text. */
static json_t *command_result(mcp_server *s, const char *const *args, int ok_rc, int *rc_out)
{
    char *out = NULL, *err = NULL;
    int rc = mcp_capture(s, args, &out, &err);
    if (rc_out)
        *rc_out = rc;
    json_t *j = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
    if (!j && out && strrchr(out, '\n')) {  /* several JSON lines: the last one */
        char *t = out + strlen(out);
        while (t > out && (t[-1] == '\n'))
            *--t = 0;
        char *last = strrchr(out, '\n');
        j = json_loads(last ? last + 1 : out, 0, NULL);
    }
    if (j && !json_is_object(j))
        j = json_pack("{s:o}", "result", j);
    spak_buf b;
    spak_buf_init(&b, 2u << 20);
    spak_buf_printf(&b, "%s%s%s", out ? out : "", out && *out && err && *err ? "\n" : "", err ? err : "");
    if (rc != ok_rc && rc != 0)
        spak_buf_printf(&b, "\n(spak %s exited with status %d)", args[0], rc);
    json_t *res = result(b.data ? b.data : "", j, rc != 0 && rc != ok_rc);
    spak_buf_free(&b);
    free(out);
    free(err);
    return res;
}

static void tool_check(mcp_server *s, json_t *args, mcp_reply *r)
{
    static const char *const names[] = {"spec", NULL};
    const char *spec;
    if (!arg_known(args, names, r) || !arg_str(args, "spec", true, &spec, r))
        return;
    const char *av[] = {"check", "--json", spec, NULL};
    int rc = 0;
    json_t *res = command_result(s, av, 1, &rc);
    json_t *sc = json_object_get(res, "structuredContent");
    json_t *files = json_object_get(sc, "result");
    if (!json_is_array(files)) {
        r->result = res;  /* not the JSON of a check: its text says why */
        return;
    }
    /* the text as a person reads it: one file:line:col: severity: message a line */
    spak_buf b;
    spak_buf_init(&b, 1u << 20);
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i), *ds = json_object_get(f, "diagnostics");
        spak_buf_printf(&b, "%s: %s\n", json_string_value(json_object_get(f, "file")),
                        json_is_true(json_object_get(f, "valid")) ? "valid" : "not valid");
        for (size_t k = 0; k < json_array_size(ds); k++) {
            json_t *d = json_array_get(ds, k);
            spak_buf_printf(&b, "%s:%lld:%lld: %s: %s\n", json_string_value(json_object_get(d, "file")),
                            (long long)json_integer_value(json_object_get(d, "line")),
                            (long long)json_integer_value(json_object_get(d, "col")),
                            json_string_value(json_object_get(d, "severity")),
                            json_string_value(json_object_get(d, "message")));
        }
    }
    json_t *out = json_pack("{s:b,s:O}", "ok", rc == 0, "files", files);
    r->result = result(b.data ? b.data : "", out, rc != 0 && rc != 1);
    spak_buf_free(&b);
    json_decref(res);
}

/* status, show, learn, report of a run: `spak CMD --json RUN`. */
static void tool_view(mcp_server *s, const char *cmd, json_t *args, mcp_reply *r)
{
    static const char *const names[] = {"run", NULL};
    const char *run;
    if (!arg_known(args, names, r) || !arg_run(s, args, &run, r))
        return;
    const char *av[] = {cmd, "--json", run, NULL};
    r->result = command_result(s, av, 0, NULL);
    json_t *sc = json_object_get(r->result, "structuredContent");
    if (sc && strcmp(cmd, "status") == 0) {
        spak_engine_opts o = mcp_opts(s);
        size_t q = 0;
        if (spak_external_queued(&o, run, 0, &q, NULL) == SPAK_OK)
            json_object_set_new(sc, "queued", json_integer((json_int_t)q));
        json_object_set_new(sc, "evaluating", json_boolean(mcp_child_of(s, run) != NULL));
        char why[1024];
        if (mcp_waiting_for(s, run, why, sizeof why)) {
            json_object_set_new(sc, "waiting_for", json_string(why));
            json_t *c0 = json_array_get(json_object_get(r->result, "content"), 0);
            const char *was = json_string_value(json_object_get(c0, "text"));
            spak_buf b;
            spak_buf_init(&b, 4u << 20);
            spak_buf_printf(&b, "%s\n(%s)", was ? was : "", why);
            json_object_set_new(c0, "text", json_string(b.data ? b.data : why));
            spak_buf_free(&b);
        }
    }
}

static void tool_start(mcp_server *s, json_t *args, mcp_reply *r)
{
    static const char *const names[] = {"spec", "budget", "wall_time", "seed", "approve", "loop", "home",
                                         "context_without", "sweep", NULL};
    const char *spec, *approve, *loop, *home, *without, *sweep;
    double budget = 0, wall = 0, seed = -1;
    if (!arg_known(args, names, r) || !arg_str(args, "spec", true, &spec, r) ||
        !arg_num(args, "budget", 1, 1000000, &budget, r) || !arg_num(args, "wall_time", 1, 1e7, &wall, r) ||
        !arg_num(args, "seed", 0, 2147483647.0, &seed, r) || !arg_str(args, "approve", false, &approve, r) ||
        !arg_str(args, "loop", false, &loop, r) || !arg_str(args, "home", false, &home, r) ||
        !arg_str(args, "context_without", false, &without, r) || !arg_str(args, "sweep", false, &sweep, r))
        return;
    if (sweep && strcmp(sweep, "default") != 0 && strcmp(sweep, "random") != 0 && strcmp(sweep, "rules") != 0 &&
        strcmp(sweep, "grid") != 0) {
        mcp_fail(r, MCP_INVALID_PARAMS, "'sweep' '%.60s' is not one of default, random, rules, grid", sweep);
        return;
    }
    unsigned bits = 0;
    spak_err err = {0};
    if (without && spak_context_without_parse(without, &bits, &err) != SPAK_OK) {
        mcp_fail(r, MCP_INVALID_PARAMS, "'context_without': %s", err.msg);
        return;
    }
    if (home && !mcp_set_home(s, home)) {
        mcp_fail(r, MCP_INVALID_PARAMS, "'home' is too long");
        return;
    }
    char nb[32], nw[32], ns[32];
    const char *av[20] = {"run", "--json", "--strategy", "external"};
    size_t n = 4;
    if (budget > 0 && spak_snprintf(nb, sizeof nb, "%.0f", budget))
        av[n++] = "--budget", av[n++] = nb;
    if (wall > 0 && spak_snprintf(nw, sizeof nw, "%g", wall))
        av[n++] = "--wall-time", av[n++] = nw;
    if (seed >= 0 && spak_snprintf(ns, sizeof ns, "%.0f", seed))
        av[n++] = "--seed", av[n++] = ns;
    if (approve)
        av[n++] = "--approve", av[n++] = approve;
    if (loop)
        av[n++] = "--loop", av[n++] = loop;
    if (without)
        av[n++] = "--context-without", av[n++] = without;
    av[n++] = spec;
    av[n] = NULL;
    int rc = 0;
    r->result = command_result(s, av, 3, &rc);
    json_t *sc = json_object_get(r->result, "structuredContent");
    const char *id = json_string_value(json_object_get(sc, "run_id"));
    if (rc == 3 && id && strlen(id) < sizeof s->run) {
        spak_snprintf(s->run, sizeof s->run, "%s", id);
        json_object_set_new(sc, "home", json_string(s->home));
        json_object_set_new(sc, "next", json_string("read spak_context, then spak_propose; spak_wait for its records"));
        char path[PATH_MAX];
        if (sweep && spak_snprintf(path, sizeof path, "%s/runs/%s/external/sweep-strategy", s->home, id))
            (void)spak_write_file_atomic(path, sweep, strlen(sweep), NULL);  /* the run's folder exists: it waits */
    }
}

static void tool_attach(mcp_server *s, json_t *args, mcp_reply *r)
{
    static const char *const names[] = {"run", "home", NULL};
    const char *run, *home;
    if (!arg_known(args, names, r) || !arg_str(args, "home", false, &home, r))
        return;
    if (home && !mcp_set_home(s, home)) {
        mcp_fail(r, MCP_INVALID_PARAMS, "'home' is too long");
        return;
    }
    if (!arg_str(args, "run", true, &run, r) || !arg_run(s, args, &run, r))
        return;
    spak_engine_opts o = mcp_opts(s);
    spak_err err = {0};
    size_t q = 0;
    if (spak_external_queued(&o, run, 0, &q, &err) != SPAK_OK) {
        r->result = result(err.msg, NULL, true);
        return;
    }
    spak_snprintf(s->run, sizeof s->run, "%s", run);
    mcp_ensure_child(s, run);
    const char *av[] = {"status", "--json", run, NULL};
    r->result = command_result(s, av, 0, NULL);
    json_t *sc = json_object_get(r->result, "structuredContent");
    if (sc) {
        json_object_set_new(sc, "queued", json_integer((json_int_t)q));
        json_object_set_new(sc, "evaluating", json_boolean(mcp_child_of(s, run) != NULL));
    }
}

/* A file of the run's external folder, read (capped); NULL when absent. */
static char *run_file(const mcp_server *s, const char *run, const char *name)
{
    char path[PATH_MAX];
    char *t = NULL;
    if (spak_snprintf(path, sizeof path, "%s/runs/%s/external/%s", s->home, run, name))
        (void)spak_read_file(path, 4u << 20, &t, NULL, NULL);
    return t;
}

static void reap(mcp_server *s);

/* What the budget cut, by section, as a line of text and as JSON. */
static json_t *cuts_said(const spak_prompt *pr, spak_buf *b)
{
    const struct {
        const char *name;
        size_t bytes;
    } cut[] = {{"Predictions against outcomes", pr->predictions_cut}, {"Compiler diagnostics", pr->diagnostics_cut},
               {"Hardware counters", pr->counters_cut}, {"Fired rules and facts", pr->rules_cut},
               {"Diff against the best", pr->diff_cut}, {"Per-shape results", pr->shapes_cut},
               {"Latest analysis", pr->analysis_cut}, {"Starting point", pr->start_cut},
               {"Machine", pr->machine_cut}, {"Current best source", pr->source_cut}};
    json_t *sec = json_object();
    spak_buf_printf(b, "(The context's budget: %zu tokens; what did not fit is cut in the LLM prompt's order: ",
                    pr->budget_tokens);
    bool any = false;
    if (pr->history_dropped || pr->lessons_dropped) {
        spak_buf_printf(b, "%zu older History entries and %zu Lessons left out", pr->history_dropped,
                        pr->lessons_dropped);
        any = true;
    }
    for (size_t i = 0; i < SPAK_ARRAY_LEN(cut); i++)
        if (cut[i].bytes) {
            spak_buf_printf(b, "%s%s: %zu bytes cut", any ? "; " : "", cut[i].name, cut[i].bytes);
            json_object_set_new(sec, cut[i].name, json_integer((json_int_t)cut[i].bytes));
            any = true;
        }
    spak_buf_puts(b, any ? ". Each cut is marked where it was made; a larger max_tokens shows more.)\n\n"
                         : "nothing had to be cut.)\n\n");
    return json_pack("{s:I,s:I,s:I,s:I,s:o}", "budget_tokens", (json_int_t)pr->budget_tokens, "est_tokens",
                     (json_int_t)pr->est_tokens, "history_dropped", (json_int_t)pr->history_dropped,
                     "lessons_dropped", (json_int_t)pr->lessons_dropped, "sections_cut", sec);
}

/* The context rebuilt from its parts within budget tokens (the same cuts as
 * the LLM prompt's: spak_prompt_build), less what `extra` takes (the notes
 * and sw, the sweeps' summary, which goes before it), into b;
 * NULL and r set when it cannot be. */
static json_t *budgeted(mcp_server *s, const char *run, size_t budget, size_t extra, const spak_buf *sw, spak_buf *b,
                        mcp_reply *r)
{
    char *t = run_file(s, run, "context.json");
    json_t *j = t ? json_loads(t, 0, NULL) : NULL;
    free(t);
    spak_prompt_parts parts;
    const char **lists = NULL;
    json_t *trunc = NULL;
    if (!spak_ctx_parts_from_json(j, &parts, &lists)) {
        r->result = result("no context to budget yet: the run writes it each time it waits for a proposal", NULL,
                           true);
        goto out;
    }
    spak_prompt pr;
    spak_err err = {0};
    if (spak_prompt_build(&parts, budget > extra ? budget - extra : 1, &pr, &err) != SPAK_OK) {
        char m[800];
        spak_snprintf(m, sizeof m, "the context does not fit %zu tokens: %s (the notes and the sweeps' summary "
                      "before it take about %zu of them)", budget, err.msg, extra);
        r->result = result(m, NULL, true);
        goto out;
    }
    pr.budget_tokens = budget;
    trunc = cuts_said(&pr, b);
    if (sw->len)
        spak_buf_append(b, sw->data, sw->len);
    spak_buf_printf(b, "%s\n\n%s", pr.system, pr.user);
    spak_prompt_free(&pr);
out:
    free(lists);
    json_decref(j);
    return trunc;
}

/* The context's default budget: the spec's llm { context_tokens }, kept
 * with the parts; 0 (none) without one. */
static size_t default_budget(mcp_server *s, const char *run)
{
    char *t = run_file(s, run, "context.json");
    json_t *j = t ? json_loads(t, 0, NULL) : NULL;
    size_t n = (size_t)json_integer_value(json_object_get(j, "context_tokens"));
    free(t);
    json_decref(j);
    return n;
}

static void tool_context(mcp_server *s, json_t *args, mcp_reply *r)
{
    static const char *const names[] = {"run", "max_tokens", NULL};
    const char *run;
    double max_tokens = 0;
    if (!arg_known(args, names, r) || !arg_run(s, args, &run, r) ||
        !arg_num(args, "max_tokens", 256, 1e8, &max_tokens, r))
        return;
    /* The run writes its context when it next waits for a proposal, a
     * moment after the last evaluation's records are stored (which ends a
     * spak_wait): with nothing left in the queue, wait for that moment (at
     * most 15 s: a call during a long evaluation gets the note below after
     * that) rather than show the context of the wait before */
    spak_engine_opts o = mcp_opts(s);
    size_t queued = 1;
    (void)spak_external_queued(&o, run, 0, &queued, NULL);
    bool busy = mcp_run_running(s, run);
    for (double until = spak_now_monotonic() + 15; busy && queued == 0 && spak_now_monotonic() < until;) {
        (void)poll(NULL, 0, 50);  /* 50 ms */
        reap(s);
        busy = mcp_run_running(s, run);
    }
    char *t = run_file(s, run, "context.md");
    if (!t) {
        r->result = result("no context yet: the run writes it each time it waits for a proposal", NULL, true);
        return;
    }
    json_t *sc = json_pack("{s:s,s:b}", "run", run, "evaluating", busy);
    spak_buf b, sw;
    spak_buf_init(&b, 8u << 20);
    spak_buf_init(&sw, 1u << 20);
    if (busy)
        spak_buf_puts(&b, "(an evaluation is under way: this is the context of the run's last wait; spak_wait for "
                          "the new records)\n\n");
    (void)mcp_sweep_summary(s, run, 3, &sw);
    size_t budget = max_tokens > 0 ? (size_t)max_tokens : default_budget(s, run);
    if (budget > 0) {
        json_t *trunc = budgeted(s, run, budget, spak_prompt_estimate_tokens(sw.len + b.len + 600), &sw, &b, r);
        if (!trunc) {
            json_decref(sc);
            goto out;
        }
        json_object_set_new(sc, "truncation", trunc);
    }
    if (budget == 0 && sw.len)
        spak_buf_append(&b, sw.data, sw.len);
    if (budget == 0)
        spak_buf_puts(&b, t);
    r->result = result(b.data ? b.data : t, sc, false);
out:
    spak_buf_free(&b);
    spak_buf_free(&sw);
    free(t);
}

/* ---- spak_propose ---- */

/* A tunable's name: a C macro name. */
static bool macro_name(const char *n)
{
    if (!n || !(isalpha((unsigned char)*n) || *n == '_'))
        return false;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_')
            return false;
    return true;
}

/* A tunable's value as the text of its define: a number, or an identifier. */
static bool define_text(const json_t *v, char *out, size_t n)
{
    if (json_is_integer(v))
        return spak_snprintf(out, n, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return isfinite(json_real_value(v)) && spak_snprintf(out, n, "%.17g", json_real_value(v));
    if (json_is_string(v) && macro_name(json_string_value(v)))
        return spak_snprintf(out, n, "%s", json_string_value(v));
    return false;
}

/* A grid point of the tunables: its values, for a condition to read. */
typedef struct grid_point {
    json_t *tun;
    size_t index;
} grid_point;

/* The value of tunable name at point ud (numbers; identifiers as strings). */
static bool grid_param(void *ud, const char *name, spak_value *out)
{
    const grid_point *g = ud;
    json_t *vals = json_object_get(g->tun, name);
    if (!vals)
        return false;
    size_t rest = g->index;
    const char *k;
    json_t *v;
    json_object_foreach(g->tun, k, v) {
        json_t *x = json_array_get(v, rest % json_array_size(v));
        rest /= json_array_size(v);
        if (strcmp(k, name) != 0)
            continue;
        memset(out, 0, sizeof *out);
        if (json_is_number(x)) {
            out->kind = SPAK_VAL_NUM;
            out->num = out->lo = out->hi = json_number_value(x);
        } else {
            out->kind = SPAK_VAL_STR;
            out->str = json_string_value(x);
        }
        return true;
    }
    return false;
}

/* The conditions (strings, each an expression of the spec language over the
 * tunables, as a parameter's `when:`) parsed into conds[*n]. */
static bool parse_conditions(json_t *list, spak_arena *a, spak_expr **conds, size_t *n, mcp_reply *r)
{
    *n = 0;
    if (!list)
        return true;
    if (!json_is_array(list) || json_array_size(list) > 16)
        return mcp_fail(r, MCP_INVALID_PARAMS, "'conditions' must be an array of at most 16 expressions");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *t = json_string_value(json_array_get(list, i));
        if (!t)
            return mcp_fail(r, MCP_INVALID_PARAMS, "condition %zu must be a string", i + 1);
        spak_diags d;
        spak_diags_init(&d, "condition");
        conds[i] = spak_parse_expr_text(t, (spak_pos){1, 1}, a, &d, false);
        if (!conds[i])
            mcp_fail(r, MCP_INVALID_PARAMS, "condition %zu '%.200s' is not an expression: %s", i + 1, t,
                     d.n ? d.items[0].msg : "syntax error");
        spak_diags_free(&d);
        if (!conds[i])
            return false;
        (*n)++;
    }
    return true;
}

/* tunables {NAME: [values]} and their conditions: checked; keep gets the
 * grid points (indices into the product, the first name varying fastest)
 * where every condition holds, at most max_points of them. */
static bool tunable_points(json_t *tun, json_t *cond_list, double max_points, json_t *keep, mcp_reply *r)
{
    if (!tun) {
        if (cond_list)
            return mcp_fail(r, MCP_INVALID_PARAMS, "'conditions' go with 'tunables'");
        json_array_append_new(keep, json_integer(0));
        return true;
    }
    if (!json_is_object(tun) || json_object_size(tun) == 0 || json_object_size(tun) > 16)
        return mcp_fail(r, MCP_INVALID_PARAMS, "'tunables' must be an object of 1 to 16 NAME: [values]");
    const char *k;
    json_t *v;
    size_t product = 1;
    json_object_foreach(tun, k, v) {
        char txt[128];
        if (!macro_name(k))
            return mcp_fail(r, MCP_INVALID_PARAMS, "tunable '%.80s': a name the source reads as a define (a C "
                                                   "identifier)", k);
        if (!json_is_array(v) || json_array_size(v) == 0)
            return mcp_fail(r, MCP_INVALID_PARAMS, "tunable '%s': its values must be a non-empty array", k);
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!define_text(json_array_get(v, i), txt, sizeof txt))
                return mcp_fail(r, MCP_INVALID_PARAMS, "tunable '%s', value %zu: a number or an identifier", k, i + 1);
        product *= json_array_size(v);
        if (product > TUNABLE_MAX_GRID)
            return mcp_fail(r, MCP_INVALID_PARAMS, "the tunables' grid is over %d points", TUNABLE_MAX_GRID);
    }
    spak_arena a;
    spak_arena_init(&a);
    spak_expr *conds[16];
    size_t nc = 0;
    bool ok = parse_conditions(cond_list, &a, conds, &nc, r);
    for (size_t p = 0; ok && p < product; p++) {
        grid_point g = {tun, p};
        spak_eval_env env = {.param = grid_param, .ud = &g};
        bool all = true;
        for (size_t c = 0; c < nc && all && ok; c++) {
            spak_err err = {0};
            if (spak_eval_bool(conds[c], &env, &all, &err) != SPAK_OK)
                ok = mcp_fail(r, MCP_INVALID_PARAMS, "condition %zu: %s", c + 1, err.msg);
        }
        if (ok && all)
            json_array_append_new(keep, json_integer((json_int_t)p));
    }
    spak_arena_free(&a);
    if (ok && json_array_size(keep) == 0)
        return mcp_fail(r, MCP_INVALID_PARAMS, "no point of the tunables' grid meets the conditions");
    (void)max_points;  /* a sweep stops there (program/sweep.h); a grid larger is walked, not refused */
    return ok;
}

/* The source of a code proposal: args.source, or args.diff applied to the
 * run's best source. false: r says why (a diff that does not apply is a
 * tool error, for the engineer to read and mend). */
static bool proposal_source(mcp_server *s, const char *run, const char *source, const char *diff, char **out,
                            mcp_reply *r)
{
    *out = NULL;
    if (source) {
        if (strlen(source) > SOURCE_MAX)
            return mcp_fail(r, MCP_INVALID_PARAMS, "'source' is over %u bytes", SOURCE_MAX);
        *out = strdup(source);
        return *out != NULL || mcp_fail(r, MCP_INTERNAL_ERROR, "out of memory");
    }
    char *best = run_file(s, run, "best.c");
    if (!best) {
        r->result = result("the run has no best source to apply a diff to yet (it is written when the run waits)",
                           NULL, true);
        return false;
    }
    spak_buf b;
    spak_buf_init(&b, SOURCE_MAX);
    spak_err err = {0};
    spak_status st = spak_diff_apply(best, strlen(best), diff, strlen(diff), &b, &err);
    free(best);
    if (st != SPAK_OK) {
        char msg[1200];
        spak_snprintf(msg, sizeof msg, "the diff does not apply to the run's best source: %s", err.msg);
        r->result = result(msg, json_pack("{s:s}", "error", err.msg), true);
        spak_buf_free(&b);
        return false;
    }
    *out = spak_buf_take(&b);
    return true;
}

/* The item of a code proposal: its source in a file of run's external
 * folder; with tunables, a sweep of them (program/sweep.h: each point's
 * source gets its defines when the run takes it). */
static bool code_item(mcp_server *s, const char *run, const char *src, json_t *base, json_t *sweep, json_t *items,
                      mcp_reply *r)
{
    static unsigned long serial;
    char dir[PATH_MAX], path[PATH_MAX + 64];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s/external", s->home, run);
    spak_err err = {0};
    if (spak_mkdirs(dir, &err) != SPAK_OK)
        return mcp_fail(r, MCP_INTERNAL_ERROR, "%s", err.msg);
    spak_snprintf(path, sizeof path, "%s/src-%ld-%lu.c", dir, (long)getpid(), ++serial);
    if (spak_write_file_atomic(path, src, strlen(src), &err) != SPAK_OK)
        return mcp_fail(r, MCP_INTERNAL_ERROR, "%s", err.msg);
    json_t *it = json_deep_copy(base);
    json_object_set_new(it, "code_path", json_string(path));
    if (sweep)
        json_object_set(it, "sweep", sweep);
    json_array_append_new(items, it);
    return true;
}

/* The sweep of a proposal's tunables (program/sweep.h): the strategy given,
 * else the one spak_start was given, else the run's own (the spec's). */
static bool sweep_of(mcp_server *s, const char *run, json_t *args, json_t *tun, double max_points, json_t **out,
                     mcp_reply *r)
{
    const char *strategy;
    double plateau = -1, goal = NAN;
    *out = NULL;
    if (!arg_str(args, "strategy", false, &strategy, r) || !arg_num(args, "plateau", 0, 1e6, &plateau, r) ||
        !arg_num(args, "goal", -1e300, 1e300, &goal, r))
        return false;
    static const char *const walks[] = {"default", "random", "rules", "grid"};
    bool known = !strategy;
    for (size_t i = 0; strategy && i < SPAK_ARRAY_LEN(walks); i++)
        known = known || strcmp(strategy, walks[i]) == 0;
    if (!known)
        return mcp_fail(r, MCP_INVALID_PARAMS, "'strategy' '%.60s' is not one of default, random, rules, grid",
                        strategy);
    if ((strategy || json_object_get(args, "plateau") || json_object_get(args, "goal")) && !tun)
        return mcp_fail(r, MCP_INVALID_PARAMS, "'strategy', 'plateau' and 'goal' go with 'tunables' (a sweep)");
    if (!tun)
        return true;
    char *given = strategy ? NULL : run_file(s, run, "sweep-strategy");
    if (given)
        given[strcspn(given, "\n")] = 0;
    *out = json_pack("{s:O,s:O?,s:I}", "tunables", tun, "conditions", json_object_get(args, "conditions"),
                     "max_points", (json_int_t)max_points);
    if (strategy || (given && *given))
        json_object_set_new(*out, "strategy", json_string(strategy ? strategy : given));
    free(given);
    if (plateau >= 0)
        json_object_set_new(*out, "plateau", json_integer((json_int_t)plateau));
    if (!isnan(goal))
        json_object_set_new(*out, "goal", json_real(goal));
    return true;
}

/* The common part of every item: the point (when given) and the prediction. */
static bool item_base(json_t *args, json_t **base, mcp_reply *r)
{
    const char *point, *why;
    double pm = NAN, pr = NAN;
    if (!arg_str(args, "point", false, &point, r) || !arg_str(args, "prediction", false, &why, r) ||
        !arg_num(args, "predicted_metric", -1e300, 1e300, &pm, r) ||
        !arg_num(args, "predicted_ratio", 0, 1e9, &pr, r))
        return false;
    json_t *vals = json_object_get(args, "values");
    if (vals && !json_is_object(vals))
        return mcp_fail(r, MCP_INVALID_PARAMS, "'values' must be an object {parameter: value}");
    if (point && vals)
        return mcp_fail(r, MCP_INVALID_PARAMS, "give 'point' or 'values', not both");
    *base = json_object();
    if (point)
        json_object_set_new(*base, "point", json_string(point));
    if (vals)
        json_object_set(*base, "values", vals);
    if (why || !isnan(pm) || !isnan(pr)) {
        json_t *p = json_object();
        if (why)
            json_object_set_new(p, "why", json_string(why));
        if (!isnan(pm))
            json_object_set_new(p, "metric", json_real(pm));
        if (!isnan(pr))
            json_object_set_new(p, "ratio", json_real(pr));
        json_object_set_new(*base, "prediction", p);
    }
    return true;
}

static void tool_propose(mcp_server *s, json_t *args, json_t *id, mcp_reply *r)
{
    static const char *const names[] = {"run", "point", "values", "source", "diff", "prediction",
                                        "predicted_metric", "predicted_ratio", "tunables", "conditions",
                                        "max_points", "strategy", "plateau", "goal", NULL};
    const char *run, *source, *diff;
    double max_points = TUNABLE_DEFAULT_POINTS;
    json_t *base = NULL, *items = json_array(), *keep = json_array(), *sweep = NULL;
    char *src = NULL;
    if (!arg_known(args, names, r) || !arg_run(s, args, &run, r) || !arg_str(args, "source", false, &source, r) ||
        !arg_str(args, "diff", false, &diff, r) || !arg_num(args, "max_points", 1, TUNABLE_MAX_POINTS, &max_points, r) ||
        !item_base(args, &base, r))
        goto out;
    json_t *tun = json_object_get(args, "tunables");
    bool code = source || diff;
    if (source && diff) {
        mcp_fail(r, MCP_INVALID_PARAMS, "give 'source' or 'diff', not both");
        goto out;
    }
    if (!code && !json_object_get(base, "point") && !json_object_get(base, "values")) {
        mcp_fail(r, MCP_INVALID_PARAMS, "a proposal is a 'point', 'values', a 'source' or a 'diff'");
        goto out;
    }
    if (tun && !code) {
        mcp_fail(r, MCP_INVALID_PARAMS, "'tunables' go with a 'source' or a 'diff' (the source reads them as defines)");
        goto out;
    }
    if (!tunable_points(tun, json_object_get(args, "conditions"), max_points, keep, r) ||
        !sweep_of(s, run, args, tun, max_points, &sweep, r))
        goto out;
    size_t points = json_array_size(keep);
    spak_engine_opts o = mcp_opts(s);
    spak_err err = {0};
    size_t waiting = 0;
    char why[600];
    if (spak_external_queued(&o, run, 0, &waiting, &err) != SPAK_OK || mcp_run_ended(s, run, why, sizeof why)) {
        r->result = result(err.msg[0] ? err.msg : why, NULL, true);  /* the run first: no files for none */
        goto out;
    }
    if (code && !proposal_source(s, run, source, diff, &src, r))
        goto out;
    json_object_set_new(base, "kind", json_string(code ? diff ? "diff" : "source" : "point"));
    if (code && !code_item(s, run, src, base, sweep, items, r))
        goto out;
    if (!code)
        json_array_append(items, base);
    long pid = 0;
    if (spak_external_queue(&o, run, items, &pid, &err) != SPAK_OK) {
        r->result = result(err.msg, NULL, true);
        goto out;
    }
    mcp_propose *mp = &s->proposes[s->next_propose++ % MCP_MAX_PROPOSES];
    json_decref(mp->id);
    mp->id = json_incref(id);
    mp->proposal = pid;
    spak_snprintf(mp->run, sizeof mp->run, "%s", run);
    mcp_ensure_child(s, run);
    char text[768];
    const char *strat = json_string_value(json_object_get(sweep, "strategy"));
    if (sweep)
        spak_snprintf(text, sizeof text,
                      "proposal %ld queued for run %s: a sweep of its tunables (%zu points meet the conditions) by "
                      "the %s strategy, one evaluation a point, at most %.0f, stopping where the strategy stops; "
                      "call spak_wait with proposal %ld for the records, and spak_context for what the sweep found",
                      pid, run, points, strat ? strat : "run's", max_points, pid);
    else
        spak_snprintf(text, sizeof text,
                      "proposal %ld queued for run %s: 1 evaluation; call spak_wait with proposal %ld for the records",
                      pid, run, pid);
    json_t *sc = json_pack("{s:s,s:I,s:I}", "run", run, "proposal", (json_int_t)pid, "items",
                           (json_int_t)json_array_size(items));
    if (sweep)
        json_object_set_new(sc, "sweep", json_pack("{s:s,s:I,s:I}", "strategy", strat ? strat : "run's", "points",
                                                   (json_int_t)points, "max_points", (json_int_t)max_points));
    r->result = result(text, sc, false);
out:
    free(src);
    json_decref(base);
    json_decref(items);
    json_decref(keep);
    json_decref(sweep);
}

/* ---- spak_wait ---- */

/* The wait's result: the state and a line of text. */
static json_t *wait_result(json_t *state)
{
    char text[2048];
    long fin = (long)json_integer_value(json_object_get(state, "finished"));
    long of = (long)json_integer_value(json_object_get(state, "of"));
    const char *wf = json_string_value(json_object_get(state, "waiting_for"));
    char *ej = json_dumps(json_object_get(state, "evaluations"), JSON_INDENT(1));
    spak_snprintf(text, sizeof text, "proposal %ld: %s, %ld of %ld evaluations final%s%s\n%.1500s",
                  (long)json_integer_value(json_object_get(state, "proposal")),
                  json_is_true(json_object_get(state, "done")) ? "done" : "not done yet", fin, of, wf ? "; " : "",
                  wf ? wf : "", ej ? ej : "");
    free(ej);
    return result(text, state, false);
}

static void tool_wait(mcp_server *s, json_t *args, json_t *id, json_t *token, mcp_reply *r)
{
    static const char *const names[] = {"run", "proposal", "timeout_s", NULL};
    const char *run;
    double prop = 0, timeout = WAIT_DEFAULT_S;
    if (!arg_known(args, names, r) || !arg_run(s, args, &run, r) || !arg_num(args, "proposal", 1, 1e9, &prop, r) ||
        !arg_num(args, "timeout_s", 0, WAIT_MAX_S, &timeout, r))
        return;
    if (prop < 1 || prop != floor(prop)) {
        mcp_fail(r, MCP_INVALID_PARAMS, "argument 'proposal' is required, a whole number: the id spak_propose gave "
                                        "back");
        return;
    }
    char why[1024];
    json_t *st = mcp_proposal_state(s, run, (long)prop, why, sizeof why);
    if (!st) {
        r->result = result(why, NULL, true);
        return;
    }
    if (json_is_true(json_object_get(st, "done")) || (json_object_get(st, "waiting_for") && !mcp_elicit_holds(s, run)) ||
        timeout <= 0) {
        r->result = wait_result(st);
        return;
    }
    json_decref(st);
    mcp_wait *w = NULL;
    for (size_t i = 0; i < MCP_MAX_WAITS && !w; i++)
        if (!s->waits[i].id)
            w = &s->waits[i];
    if (!w) {
        mcp_fail(r, MCP_INTERNAL_ERROR, "too many waits at once (%d)", MCP_MAX_WAITS);
        return;
    }
    w->id = json_incref(id);
    w->token = token ? json_incref(token) : NULL;
    spak_snprintf(w->run, sizeof w->run, "%s", run);
    w->proposal = (long)prop;
    w->deadline = spak_now_monotonic() + timeout;
    w->next_progress = 0;
    w->last_progress = -1;
    r->deferred = true;
}

static void tool_stop(mcp_server *s, json_t *args, mcp_reply *r)
{
    static const char *const names[] = {"run", NULL};
    const char *run;
    if (!arg_known(args, names, r) || !arg_run(s, args, &run, r))
        return;
    spak_engine_opts o = mcp_opts(s);
    spak_err err = {0};
    size_t n = 0;
    if (spak_external_withdraw(&o, run, 0, &n, &err) != SPAK_OK) {
        r->result = result(err.msg, NULL, true);
        return;
    }
    mcp_kid *k = mcp_child_of(s, run);
    if (k)
        kill(k->pid, SIGINT);  /* the CLI ends an interrupted run resumable */
    char text[512];
    spak_snprintf(text, sizeof text,
                  "run %s stopped: %zu queued item%s withdrawn (a sweep is one, with its points not taken yet)%s; the run "
                  "stays resumable (spak_attach, or "
                  "'spak resume --home %s %s')",
                  run, n, n == 1 ? "" : "s", k ? ", the evaluation under way interrupted" : "", s->home, run);
    r->result = result(text, json_pack("{s:s,s:I,s:b}", "run", run, "withdrawn", (json_int_t)n, "interrupted", k != NULL),
                       false);
}

/* ---- the table ---- */

typedef struct tool_def {
    const char *name, *description, *schema;
} tool_def;

#define RUN_PROP "\"run\":{\"type\":\"string\",\"description\":\"run id (default: the run started or attached last)\"}"
static const tool_def TOOLS[] = {
    {"spak_check", "Check a spec file: its diagnostics (file:line:col, what and why) and whether it is valid.",
     "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"string\",\"description\":\"path of the .spak "
     "file\"}},\"required\":[\"spec\"]}"},
    {"spak_start",
     "Start a run of a spec whose engineer is you (strategy external): it waits for your proposals. Budgets and "
     "approval gates hold as in 'spak run'.",
     "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"string\"},\"budget\":{\"type\":\"integer\","
     "\"minimum\":1,\"description\":\"evaluations\"},\"wall_time\":{\"type\":\"number\",\"description\":\"seconds\"},"
     "\"seed\":{\"type\":\"integer\",\"minimum\":0},\"approve\":{\"type\":\"string\",\"description\":\"gates a person "
     "answers with spak approve, e.g. llm-code\"},\"loop\":{\"type\":\"string\"},\"home\":{\"type\":\"string\"},"
     "\"context_without\":{\"type\":\"string\",\"description\":\"an ablation: measurements and/or knowledge "
     "(comma-separated) left out of the context\"},\"sweep\":{\"type\":\"string\",\"enum\":[\"default\","
     "\"random\",\"rules\",\"grid\"],\"description\":\"how proposals' tunables are swept (default: the spec's "
     "strategy when it is one of these, else default)\"}},"
     "\"required\":[\"spec\"]}"},
    {"spak_attach", "Take up an existing run (after a restart of the server): its state, and its queue goes on.",
     "{\"type\":\"object\",\"properties\":{\"run\":{\"type\":\"string\"},\"home\":{\"type\":\"string\"}},"
     "\"required\":[\"run\"]}"},
    {"spak_context",
     "Everything to read before the next move: the task, the ABI, the space, the best source, the analysis, "
     "diagnostics, rules, lessons and history (the same text as the LLM strategy's prompt), and what the sweeps of "
     "your tunables found.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP ",\"max_tokens\":{\"type\":\"integer\",\"minimum\":256,"
     "\"description\":\"cut the context to fit this many tokens, in the LLM prompt's order, saying what was cut "
     "(default: the spec's llm context_tokens, else no cut)\"}}}"},
    {"spak_propose",
     "Propose the next candidate: a point ('point' as name=value,... or 'values'), a whole kernel 'source', or a "
     "unified 'diff' against the run's best source; with your prediction. Code may carry 'tunables' {NAME: "
     "[values]} that its source reads as defines: spak sweeps them with a strategy, each point one evaluation, and "
     "the next context says what the sweep found. Returns a proposal id at once.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP ",\"point\":{\"type\":\"string\"},\"values\":{\"type\":"
     "\"object\"},\"source\":{\"type\":\"string\"},\"diff\":{\"type\":\"string\"},\"prediction\":{\"type\":\"string\","
     "\"description\":\"what you expect and why\"},\"predicted_metric\":{\"type\":\"number\"},\"predicted_ratio\":"
     "{\"type\":\"number\"},\"tunables\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"array\"}},"
     "\"conditions\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"expressions over "
     "the tunables (the spec language's, as a when:): only points where all hold\"},\"max_points\":{\"type\":"
     "\"integer\",\"minimum\":1,\"maximum\":256,\"description\":\"the sweep's most evaluations (default "
     "16)\"},\"strategy\":{\"type\":\"string\",\"enum\":[\"default\",\"random\",\"rules\",\"grid\"],"
     "\"description\":\"how the tunables are swept (default: spak_start's sweep, else the spec's strategy, else "
     "default)\"},\"plateau\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"the sweep stops after "
     "this many points without improving its best (default: the spec's stop.plateau; 0: never)\"},\"goal\":{"
     "\"type\":\"number\",\"description\":\"the sweep stops when a point's metric reaches this\"}}}"},
    {"spak_wait",
     "Wait for a proposal's evaluations: their records when all are final, else the progress so far at the "
     "timeout. Says so when the run waits for its supervisor.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP ",\"proposal\":{\"type\":\"integer\",\"minimum\":1},"
     "\"timeout_s\":{\"type\":\"number\",\"minimum\":0,\"maximum\":600}},\"required\":[\"proposal\"]}"},
    {"spak_status", "Where a run stands: its state, its evaluations by status, the queue, a pending gate.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP "}}"},
    {"spak_show", "What a run measured: every evaluation with its metric, ratio, bottleneck and error.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP "}}"},
    {"spak_learn", "Crystallize a run: lessons with their evidence, and the spec's next version.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP "}}"},
    {"spak_report", "Write the run's report (Markdown and HTML); gives their paths.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP "}}"},
    {"spak_stop", "Stop proposing: withdraw what is queued and interrupt the evaluation under way; the run stays "
                  "resumable.",
     "{\"type\":\"object\",\"properties\":{" RUN_PROP "}}"},
};

json_t *mcp_tools_list(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < SPAK_ARRAY_LEN(TOOLS); i++) {
        json_t *sch = json_loads(TOOLS[i].schema, 0, NULL);
        json_array_append_new(a, json_pack("{s:s,s:s,s:o}", "name", TOOLS[i].name, "description",
                                           TOOLS[i].description, "inputSchema", sch ? sch : json_object()));
    }
    return json_pack("{s:o}", "tools", a);
}

void mcp_tools_call(mcp_server *s, const char *name, json_t *args, json_t *id, json_t *token, mcp_reply *r)
{
    if (!name) {
        mcp_fail(r, MCP_INVALID_PARAMS, "tools/call needs 'name', a string");
        return;
    }
    if (args && !json_is_object(args)) {
        mcp_fail(r, MCP_INVALID_PARAMS, "'arguments' must be an object");
        return;
    }
    if (strcmp(name, "spak_check") == 0)
        tool_check(s, args, r);
    else if (strcmp(name, "spak_start") == 0)
        tool_start(s, args, r);
    else if (strcmp(name, "spak_attach") == 0)
        tool_attach(s, args, r);
    else if (strcmp(name, "spak_context") == 0)
        tool_context(s, args, r);
    else if (strcmp(name, "spak_propose") == 0)
        tool_propose(s, args, id, r);
    else if (strcmp(name, "spak_wait") == 0)
        tool_wait(s, args, id, token, r);
    else if (strcmp(name, "spak_stop") == 0)
        tool_stop(s, args, r);
    else if (strcmp(name, "spak_status") == 0 || strcmp(name, "spak_show") == 0 || strcmp(name, "spak_learn") == 0 ||
             strcmp(name, "spak_report") == 0)
        tool_view(s, name + 5, args, r);
    else
        mcp_fail(r, MCP_INVALID_PARAMS, "unknown tool '%.100s' (tools/list names them)", name);
}

/* ---- the turn of the loop: children, waits, progress ---- */

static void reap(mcp_server *s)
{
    int wst;
    pid_t pid;
    while ((pid = waitpid(-1, &wst, WNOHANG)) > 0)
        for (size_t i = 0; i < MCP_MAX_KIDS; i++)
            if (s->kids[i].pid == pid) {
                /* a child that ended at once (another process holds the run:
                 * a server killed before us left its resume running) is
                 * started again later, not at every turn */
                if (spak_now_monotonic() - s->kids[i].started < 1.0)
                    s->respawn_after = spak_now_monotonic() + 2.0;
                s->kids[i].pid = 0;
            }
    /* what was queued while a child was ending, and runs whose child ended */
    for (size_t i = 0; i < MCP_MAX_WAITS; i++)
        if (s->waits[i].id)
            mcp_ensure_child(s, s->waits[i].run);
    if (s->run[0])
        mcp_ensure_child(s, s->run);
}

static void free_wait(mcp_wait *w)
{
    json_decref(w->id);
    json_decref(w->token);
    memset(w, 0, sizeof *w);
}

/* A progress notification for wait w when its count moved or a second passed. */
static void progress(mcp_server *s, mcp_wait *w, const json_t *st, double now)
{
    long fin = (long)json_integer_value(json_object_get(st, "finished"));
    if (!w->token || (fin == w->last_progress && now < w->next_progress))
        return;
    w->last_progress = fin;
    w->next_progress = now + PROGRESS_EVERY_S;
    char msg[256];
    spak_snprintf(msg, sizeof msg, "proposal %ld: %ld evaluation%s final, %lld queued%s", w->proposal, fin,
                  fin == 1 ? "" : "s", (long long)json_integer_value(json_object_get(st, "queued")),
                  json_is_true(json_object_get(st, "evaluating")) ? ", evaluating" : "");
    s->notify(s, json_pack("{s:s,s:s,s:{s:O,s:I,s:I,s:s}}", "jsonrpc", "2.0", "method", "notifications/progress",
                           "params", "progressToken", w->token, "progress", (json_int_t)fin, "total",
                           json_integer_value(json_object_get(st, "of")), "message", msg));
}

void mcp_tick(mcp_server *s, void (*respond)(mcp_server *s, json_t *id, json_t *result))
{
    reap(s);
    double now = spak_now_monotonic();
    for (size_t i = 0; i < MCP_MAX_WAITS; i++) {
        mcp_wait *w = &s->waits[i];
        if (!w->id)
            continue;
        char why[1024];
        json_t *st = mcp_proposal_state(s, w->run, w->proposal, why, sizeof why);
        if (!st) {
            respond(s, w->id, result(why, NULL, true));
            free_wait(w);
            continue;
        }
        progress(s, w, st, now);
        /* a gate being put to the person through the client: the wait goes
         * on, for the records that follow the answer */
        bool gate = json_object_get(st, "waiting_for") && !mcp_elicit_holds(s, w->run);
        if (json_is_true(json_object_get(st, "done")) || gate || now >= w->deadline) {
            respond(s, w->id, wait_result(st));
            free_wait(w);
        } else
            json_decref(st);
    }
}

void mcp_cancel(mcp_server *s, json_t *id)
{
    if (!id)
        return;
    for (size_t i = 0; i < MCP_MAX_WAITS; i++)
        if (s->waits[i].id && json_equal(s->waits[i].id, id))
            free_wait(&s->waits[i]);  /* the request is not answered (the protocol's cancellation) */
    for (size_t i = 0; i < MCP_MAX_PROPOSES; i++) {
        mcp_propose *p = &s->proposes[i];
        if (p->id && json_equal(p->id, id)) {
            spak_engine_opts o = mcp_opts(s);
            size_t n = 0;
            (void)spak_external_withdraw(&o, p->run, p->proposal, &n, NULL);  /* what was not taken yet */
            json_decref(p->id);
            p->id = NULL;
        }
    }
}

/* ---- resources: the spec, the ABI header and what it includes, the best
 * source and the context of the current run ---- */

/* The headers abi (a path) includes with "...", recursively, into paths
 * (at most 16; the ABI itself first). */
static void headers(const char *abi, json_t *paths)
{
    if (json_array_size(paths) >= 16)
        return;
    for (size_t i = 0; i < json_array_size(paths); i++)
        if (strcmp(json_string_value(json_array_get(paths, i)), abi) == 0)
            return;
    char *t = NULL;
    if (spak_read_file(abi, 1u << 20, &t, NULL, NULL) != SPAK_OK)
        return;
    json_array_append_new(paths, json_string(abi));
    const char *sl = strrchr(abi, '/');
    size_t dn = sl ? (size_t)(sl - abi) : 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        char *q = strstr(line, "#include \"");
        char *end = q ? strchr(q + 10, '"') : NULL;
        if (!end || strchr(line, '#') != q)
            continue;
        char path[PATH_MAX], real[PATH_MAX];
        if (spak_snprintf(path, sizeof path, "%.*s/%.*s", (int)dn, abi, (int)(end - q - 10), q + 10) &&
            realpath(path, real))
            headers(real, paths);
    }
    free(t);
}

/* The run's resources as {uri: path}. */
static json_t *resource_map(mcp_server *s)
{
    json_t *m = json_object();
    if (!s->run[0])
        return m;
    char *sj = run_file(s, s->run, "state.json");
    json_t *st = sj ? json_loads(sj, 0, NULL) : NULL;
    free(sj);
    char uri[512], path[PATH_MAX];
    const char *spec = json_string_value(json_object_get(st, "spec"));
    const char *abi = json_string_value(json_object_get(st, "abi"));
    if (spec && *spec && spak_snprintf(uri, sizeof uri, "spak://%s/spec", s->run))
        json_object_set_new(m, uri, json_string(spec));
    json_t *hs = json_array();
    if (abi && *abi)
        headers(abi, hs);
    for (size_t i = 0; i < json_array_size(hs); i++) {
        const char *h = json_string_value(json_array_get(hs, i));
        const char *base = strrchr(h, '/');
        if (spak_snprintf(uri, sizeof uri, "spak://%s/abi/%s", s->run, base ? base + 1 : h))
            json_object_set_new(m, uri, json_string(h));
    }
    json_decref(hs);
    if (spak_snprintf(path, sizeof path, "%s/runs/%s/external/best.c", s->home, s->run) &&
        spak_snprintf(uri, sizeof uri, "spak://%s/best-source", s->run))
        json_object_set_new(m, uri, json_string(path));
    if (spak_snprintf(path, sizeof path, "%s/runs/%s/external/context.md", s->home, s->run) &&
        spak_snprintf(uri, sizeof uri, "spak://%s/context", s->run))
        json_object_set_new(m, uri, json_string(path));
    json_decref(st);
    return m;
}

void mcp_resources_list(mcp_server *s, mcp_reply *r)
{
    json_t *m = resource_map(s), *a = json_array();
    const char *uri;
    json_t *p;
    json_object_foreach(m, uri, p) {
        const char *slash = strrchr(uri, '/');
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "uri", uri, "name", slash ? slash + 1 : uri, "mimeType",
                                           strstr(uri, "/context") ? "text/markdown" : "text/plain"));
    }
    json_decref(m);
    r->result = json_pack("{s:o}", "resources", a);
}

void mcp_resources_read(mcp_server *s, json_t *params, mcp_reply *r)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    if (!uri) {
        mcp_fail(r, MCP_INVALID_PARAMS, "resources/read needs 'uri', a string");
        return;
    }
    json_t *m = resource_map(s);
    const char *path = json_string_value(json_object_get(m, uri));
    char *t = NULL;
    if (!path)
        mcp_fail(r, MCP_INVALID_PARAMS, "no resource '%.200s' (resources/list names them)", uri);
    else if (spak_read_file(path, 4u << 20, &t, NULL, NULL) != SPAK_OK)
        mcp_fail(r, MCP_INVALID_PARAMS, "resource '%.200s' cannot be read yet (%.200s)", uri, path);
    else
        r->result = json_pack("{s:[{s:s,s:s,s:s}]}", "contents", "uri", uri, "mimeType", "text/plain", "text", t);
    free(t);
    json_decref(m);
}
