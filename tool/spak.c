/*
 * spak - the command-line interface. The only place that prints to the user
 * or exits; everything else lives in libspak and returns a status.
 *
 * Exit status: 0 success, 1 the command ran and found a problem (an invalid
 * spec, a failed run), 2 usage error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <unistd.h>

#include "spak.h"
#include "analyze/counters.h"
#include "analyze/evaluate.h"
#include "analyze/views.h"
#include "spec/ast.h"
#include "engine.h"
#include "program/agent.h"
#include "program/driver_llm.h"
#include "program/llm/llm.h"
#include "store/owner.h"
#include "store/store.h"
#include "spec/fmt.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "spec/t1.h"
#include "util.h"
#include "cli.h"
#include "live.h"


typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;
} command;

static const command *find_command(const char *name);

int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "spak %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    const command *c = find_command(cmd);
    if (c)
        fprintf(stderr, "usage: %s\n", c->usage);
    return EXIT_USAGE;
}

#define SAFE_RING 8

const char *cli_safe_flags(const char *s, unsigned flags)
{
    static spak_buf ring[SAFE_RING];
    static unsigned next;
    if (!s)
        return NULL;
    spak_buf *b = &ring[next++ % SAFE_RING];
    if (!b->cap)
        spak_buf_init(b, 0);  /* first use of this slot */
    spak_buf_reset(b);
    if (spak_escape_term(b, s, strlen(s), flags) != SPAK_OK)
        return "(unprintable text)";
    return b->data ? b->data : "";
}

const char *cli_safe(const char *s)
{
    return cli_safe_flags(s, 0);
}

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static void print_command_help(const command *c)
{
    printf("usage: %s\n\n%s\n", c->usage, c->summary);
}

/* Print the diagnostics of a spec to stderr. */
static void print_diags(const spak_spec *s)
{
    spak_buf b;
    spak_buf_init(&b, 0);
    if (spak_diags_format(spak_spec_diags(s), &b) == SPAK_OK && b.len)
        fputs(b.data, stderr);
    spak_buf_free(&b);
}

static json_t *diags_json(const spak_diags *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < d->n; i++) {
        const spak_diag *g = &d->items[i];
        json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:s,s:s}", "file", d->file, "line", g->line, "col",
                                             g->col, "severity",
                                             g->severity == SPAK_DIAG_ERROR ? "error" : "warning", "message", g->msg));
    }
    return arr;
}

/* ---- spak check ---- */

/* Each engineering loop's space as a run would search it: its parameters,
 * the index range (total), the points that exist (their conditions and
 * restrictions hold) and how many restrictions it keeps; points is null
 * for a space spak cannot hold (over its limits). */
static json_t *loops_json(const spak_model *m)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < m->n_loops; i++) {
        const spak_loop_def *l = &m->loops[i];
        spak_space sp;
        spak_err err = {0};
        bool ok = spak_space_init_loop(&sp, l, &err) == SPAK_OK;
        json_array_append_new(arr, json_pack("{s:s,s:I,s:o,s:o,s:I}", "name", l->name, "parameters",
                                             (json_int_t)l->n_params, "total",
                                             ok ? json_integer((json_int_t)sp.total) : json_null(), "points",
                                             ok ? json_integer((json_int_t)sp.points) : json_null(), "restricts",
                                             (json_int_t)l->n_restricts));
    }
    return arr;
}

/* One file of check's or fmt's list: the spec (the caller frees it) and the
 * load's status in *st; NULL when the file gave no spec at all, its error
 * then printed on stderr (when print) and, with files, noted there as
 * {"file": path, KEY: false, "error": message}. */
static spak_spec *load_listed(const char *path, spak_status *st, bool print, json_t *files, const char *key,
                              const spak_t1_set *sets, size_t n_sets)
{
    spak_spec *s = NULL;
    spak_err err = {0};
    /* fmt formats the file as written; check checks the spec it stands for (a T1 file's translation) */
    *st = strcmp(key, "parsed") == 0 ? spak_spec_load_source(path, &s, &err)
                                     : spak_spec_load_sets(path, sets, n_sets, &s, &err);
    if (!s) {
        if (print)
            fprintf(stderr, "%s\n", err.msg);
        if (files)
            json_array_append_new(files, json_pack("{s:s,s:b,s:s}", "file", path, key, 0, "error", err.msg));
    }
    return s;
}

static int cmd_check(int argc, char **argv)
{
    bool json = false, quiet = false;
    int first;
    const cli_opt opts[] = {{"--json", NULL, &json, NULL}, {"-q", "--quiet", &quiet, NULL}, {0}};
    spak_t1_set sets[CLI_MAX_SETS];
    size_t n_sets = 0;
    if ((argc = cli_take_sets("check", argc, argv, sets, &n_sets)) < 0)
        return EXIT_USAGE;
    int prc = cli_parse_opts("check", argc, argv, opts, CLI_DASHDASH, &first);
    if (prc)
        return prc;
    if (first >= argc)
        return usage_error("check", "%sno spec file given", "");
    int rc = 0;
    json_t *out = json ? json_array() : NULL;
    for (int i = first; i < argc; i++) {
        spak_status st;
        spak_spec *s = load_listed(argv[i], &st, !json, out, "valid", sets, n_sets);
        if (!s) {
            rc = EXIT_PROBLEM;
            continue;
        }
        if (st == SPAK_OK)
            st = spak_spec_check_sources(s);  /* every source the space can produce (spec.h) */
        const spak_diags *d = spak_spec_diags(s);
        if (st != SPAK_OK)
            rc = EXIT_PROBLEM;
        if (json) {
            json_t *o = json_pack("{s:s,s:b,s:I,s:I}", "file", argv[i], "valid", st == SPAK_OK, "errors",
                                  (json_int_t)d->n_errors, "warnings", (json_int_t)d->n_warnings);
            json_object_set_new(o, "diagnostics", diags_json(d));
            if (st == SPAK_OK) {
                const spak_model *m = spak_spec_model(s);
                json_object_set_new(o, "system", json_string(m->system_name));
                json_object_set_new(o, "loops", loops_json(m));
            }
            json_array_append_new(out, o);
        } else {
            print_diags(s);
            if (st == SPAK_OK && !quiet) {
                const spak_model *m = spak_spec_model(s);
                size_t np = 0;
                for (size_t k = 0; k < m->n_loops; k++)
                    np += m->loops[k].n_params;
                printf("%s: ok: system %s (%zu design, %zu tuning parameters; %zu trace cases; %zu facts, %zu "
                       "rules; %zu engineering loops, %zu agent loops)%s\n",
                       argv[i], m->system_name, m->n_design, m->n_tuning, m->schema.n_cases, m->n_facts, m->n_rules,
                       m->n_loops, m->n_agent_loops, d->n_warnings ? " with warnings" : "");
            }
        }
        spak_spec_free(s);
    }
    if (json) {
        cli_print_json(out, JSON_INDENT(2), NULL);
        json_decref(out);
    }
    return rc;
}

/* ---- spak fmt ---- */

static int cmd_fmt(int argc, char **argv)
{
    bool write = false, check = false, json = false;
    int first;
    const cli_opt opts[] = {{"-w", "--write", &write, NULL}, {"--check", NULL, &check, NULL},
                            {"--json", NULL, &json, NULL}, {0}};
    int prc = cli_parse_opts("fmt", argc, argv, opts, CLI_DASHDASH, &first);
    if (prc)
        return prc;
    if (first >= argc)
        return usage_error("fmt", "%sno spec file given", "");
    if (write && check)
        return usage_error("fmt", "%s--write and --check exclude each other (--check changes nothing)", "");
    if (!write && !check && argc - first > 1)
        return usage_error("fmt", "%sprinting takes one file; use --write or --check for several", "");
    if (json && !write && !check)
        return usage_error("fmt", "%s--json goes with --check or --write (printing writes the spec itself)", "");
    int rc = 0;
    json_t *report = json ? json_array() : NULL;
    for (int i = first; i < argc; i++) {
        spak_status st;
        spak_spec *s = load_listed(argv[i], &st, true, report, "parsed", NULL, 0);
        if (!s) {
            rc = EXIT_PROBLEM;
            continue;
        }
        if (st == SPAK_ERR_SYNTAX || st == SPAK_ERR_LIMIT || st == SPAK_ERR_NOMEM) {
            print_diags(s);
            fprintf(stderr, "%s: not formatted: the file does not parse\n", argv[i]);
            if (report)
                json_array_append_new(report, json_pack("{s:s,s:b}", "file", argv[i], "parsed", 0));
            spak_spec_free(s);
            rc = EXIT_PROBLEM;
            continue;
        }
        spak_buf b;
        spak_buf_init(&b, 0);
        if (spak_fmt_file(spak_spec_file(s), &b) != SPAK_OK) {
            fprintf(stderr, "%s: out of memory while formatting\n", argv[i]);
            rc = EXIT_PROBLEM;
        } else {
            size_t len;
            const char *src = spak_spec_source(s, &len);
            bool same = len == b.len && memcmp(src, b.data ? b.data : "", len) == 0;
            if (report)
                json_array_append_new(report, json_pack("{s:s,s:b,s:b,s:b}", "file", argv[i], "parsed", 1, "canonical",
                                                        same, "rewritten", write && !same));
            if (check) {
                if (!same) {
                    if (!json)
                        printf("%s: not in canonical form\n", argv[i]);
                    rc = EXIT_PROBLEM;
                }
            } else if (write) {
                spak_err err = {0};
                if (!same && spak_write_file_atomic(argv[i], b.data, b.len, &err) != SPAK_OK) {
                    fprintf(stderr, "%s\n", err.msg);
                    rc = EXIT_PROBLEM;
                }
            } else {
                fwrite(b.data ? b.data : "", 1, b.len, stdout);
            }
        }
        spak_buf_free(&b);
        spak_spec_free(s);
    }
    if (report) {
        cli_print_json(report, JSON_INDENT(2), "[]");
        json_decref(report);
    }
    return rc;
}

/* ---- spak dump ---- */

static int cmd_dump(int argc, char **argv)
{
    int first;
    const cli_opt opts[] = {{0}};
    int prc = cli_parse_opts("dump", argc, argv, opts, 0, &first);
    if (prc)
        return prc;
    if (argc - first != 1)
        return usage_error("dump", "%sexpected one spec file", "");
    spak_spec *s = NULL;
    spak_err err = {0};
    spak_status st = spak_spec_load_source(argv[first], &s, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_PROBLEM;
    }
    int rc = 0;
    if (st == SPAK_ERR_SYNTAX || st == SPAK_ERR_LIMIT || st == SPAK_ERR_NOMEM) {
        print_diags(s);
        rc = EXIT_PROBLEM;
    } else {
        spak_buf b;
        spak_buf_init(&b, 0);
        if (spak_ast_dump(spak_spec_file(s), &b) == SPAK_OK)
            fwrite(b.data, 1, b.len, stdout);
        else
            rc = EXIT_PROBLEM;
        spak_buf_free(&b);
    }
    spak_spec_free(s);
    return rc;
}


/* ---- spak run / resume ---- */

typedef struct run_ui {
    bool json, quiet;
    bool live;   /* out is a terminal: redraw a status line in place */
    FILE *out;   /* progress lines */
} run_ui;

static void fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v))
        spak_snprintf(buf, n, "-");
    else if (fabs(v) >= 100)
        spak_snprintf(buf, n, "%.1f", v);
    else
        spak_snprintf(buf, n, "%.3g", v);
}

/* " [lo-hi]" when lo and hi are an interval, else "" (a ratio measured
 * without one prints as it always did) */
static void fmt_ci(char *buf, size_t n, double lo, double hi)
{
    if (lo > 0 && hi >= lo)
        spak_snprintf(buf, n, " [%.3g-%.3g]", lo, hi);
    else
        buf[0] = '\0';
}

/* At an approval gate: ask on the terminal when there is one, else leave
 * the run suspended for `spak approve` / `spak reject`. */
static int on_approve(void *ud, const char *gate, const char *what)
{
    (void)ud;
    if (!isatty(STDIN_FILENO))
        return -1;
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return -1;
    live_pause(true); /* the question must not be drawn over */
    fprintf(tty, "\nspak: approval gate '%s': %s\napprove? [y/N/later] ", cli_safe(gate), cli_safe(what));
    fflush(tty);
    char line[32] = "";
    int a = -1;
    if (fgets(line, sizeof line, tty))
        a = (line[0] == 'y' || line[0] == 'Y') ? 1 : (line[0] == 'l' || line[0] == 'L') ? -1 : 0;
    fclose(tty);
    live_pause(false);
    return a;
}

static void print_event(const run_ui *ui, const spak_engine_event *ev);

/* The run's progress (live.h): on a terminal a status line, redrawn in
 * place every second, above which finished lines scroll; elsewhere the
 * lines alone. */
static void on_event(void *ud, const spak_engine_event *ev)
{
    run_ui *ui = ud;
    if (ui->quiet)
        return;
    /* the line draws the key (an LLM may have written it) and the spec's
     * names as they are: escaped for the terminal here */
    spak_engine_event esc = *ev;
    char key[512], metric[64], base[64];
    spak_snprintf(key, sizeof key, "%s", ev->key ? cli_safe(ev->key) : "");
    spak_snprintf(metric, sizeof metric, "%s", ev->metric_name ? cli_safe(ev->metric_name) : "");
    spak_snprintf(base, sizeof base, "%s", ev->baseline ? cli_safe(ev->baseline) : "");
    esc.key = ev->key ? key : NULL;
    esc.metric_name = ev->metric_name ? metric : NULL;
    esc.baseline = ev->baseline ? base : NULL;
    live_lock_note(ui->out, ui->live, &esc);
    live_clear();
    if (ev->kind != SPAK_EV_PHASE)
        print_event(ui, ev);
    live_draw();
    live_unlock();
}

/* --json: what an evaluation waits for, one JSON object a line among the
 * progress lines (stderr). */
static void print_waiting_json(FILE *f, const spak_engine_event *ev)
{
    json_t *j = json_pack("{s:s,s:s?,s:s?,s:s,s:f}", "event", "waiting", "run_id", ev->run_id, "candidate",
                          ev->key && ev->key[0] ? ev->key : NULL, "for", ev->why ? ev->why : "", "elapsed_s",
                          ev->elapsed_s);
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    if (t)
        fprintf(f, "%s\n", t);
    free(t);
}

static void print_event(const run_ui *ui, const spak_engine_event *ev)
{
    FILE *f = ui->out;
    char m[32], r[32], bm[32], br[32], ci[48], bci[48];
    fmt_ci(ci, sizeof ci, ev->ratio_lo, ev->ratio_hi);
    fmt_ci(bci, sizeof bci, ev->best_ratio_lo, ev->best_ratio_hi);
    switch (ev->kind) {
    case SPAK_EV_RUN_STARTED:
        if (ev->total == 0 && !ev->metric_name) {  /* an agent run */
            fprintf(f, "spak: %s agent run %s\n", ev->resumed ? "resuming" : "started", ev->run_id);
            break;
        }
        fprintf(f, "spak: %s run %s: %llu candidates in the space, budget %ld evaluations%s\n",
                ev->resumed ? "resuming" : "started", ev->run_id, (unsigned long long)ev->total, ev->budget,
                ev->budget ? "" : " (none)");
        if (ev->resumed)
            fprintf(f, "spak: %ld evaluations already finished are kept\n", ev->eval_no);
        break;
    case SPAK_EV_EVAL_DONE:
        fmt_num(m, sizeof m, ev->metric);
        fmt_num(r, sizeof r, ev->ratio);
        fmt_num(bm, sizeof bm, ev->best_metric);
        fmt_num(br, sizeof br, ev->best_ratio);
        if (ev->budget)
            fprintf(f, "[%3ld/%ld] ", ev->eval_no, ev->budget);
        else
            fprintf(f, "[%3ld] ", ev->eval_no);
        /* records not from one of spak's judges: the command could print anything */
        if (ev->ok)
            fprintf(f, "%-44s ok      %s %8s  %6sx%s %-9s %-8s (best %s, %sx%s)%s\n", cli_safe(ev->key),
                    cli_safe(ev->metric_name), m, r, ci, cli_safe(ev->baseline ? ev->baseline : "baseline"),
                    cli_safe(ev->bottleneck ? ev->bottleneck : "-"), bm, br, bci, ev->untrusted ? " [untrusted]" : "");
        else if (ev->stopped)  /* censored, not failed: correct, and too slow to be worth timing */
            fprintf(f, "%-44s STOPPED %s%s\n", cli_safe(ev->key), cli_safe(ev->why ? ev->why : "stopped early"),
                    ev->untrusted ? " [untrusted]" : "");
        else
            fprintf(f, "%-44s FAILED  %s%s\n", cli_safe(ev->key),
                    cli_safe(ev->why && ev->why[0] ? ev->why : "unknown reason"), ev->untrusted ? " [untrusted]" : "");
        break;
    case SPAK_EV_RUN_DONE:
        if (!ev->metric_name) {  /* an agent run */
            fprintf(f, "spak: run %s done (%s) after %ld statements\n", ev->run_id, cli_safe(ev->stop_reason),
                    ev->eval_no);
            break;
        }
        fmt_num(bm, sizeof bm, ev->best_metric);
        fmt_num(br, sizeof br, ev->best_ratio);
        fprintf(f, "spak: run %s done (%s) after %ld evaluations in %.1f s; best %s %s, %sx%s %s%s%s%s\n", ev->run_id,
                cli_safe(ev->stop_reason), ev->eval_no, ev->elapsed_s, cli_safe(ev->metric_name), bm, br, bci,
                cli_safe(ev->baseline ? ev->baseline : "the baseline"),
                ev->untrusted ? " (untrusted records: not from one of spak's judges)" : "",
                ev->decision ? "; decision: " : "", ev->decision ? ev->decision : "");
        {  /* the leading candidates re-timed side by side: which, how they ranked */
            json_t *sj = ev->summary_json ? json_loads(ev->summary_json, 0, NULL) : NULL;
            if (json_object_get(sj, "retime") || json_object_get(sj, "measured_under_load"))
                cli_print_decision(f, sj, "  ");
            json_decref(sj);
        }
        break;
    case SPAK_EV_SUSPENDED:
        fprintf(f, "spak: run %s suspended: %s\n", ev->run_id, cli_safe(cli_hint(ev->why)));
        break;
    case SPAK_EV_WAITING:  /* the lock file's text is another process's: escaped */
        if (ui->json)
            print_waiting_json(f, ev);
        else
            fprintf(f, "spak: %s waits for %s\n", ev->key && ev->key[0] ? cli_safe(ev->key) : "a build",
                    cli_safe(ev->why));
        break;
    case SPAK_EV_PHASE:
        break;
    }
    fflush(f);
}

static void bin_dir_of_self(char *buf, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0) {
        spak_snprintf(buf, n, ".");
        return;
    }
    buf[k] = '\0';
    char *sl = strrchr(buf, '/');
    if (sl)
        *sl = '\0';
}

/* The --json summary of run (of st) on stdout: its summary object with
 * the status where the run stands, or the run's id, status and state. */
static void print_run_summary_json(spak_store *st, const spak_run *run)
{
    json_t *s = run->summary_json ? json_loads(run->summary_json, 0, NULL) : NULL;
    if (!s)
        s = json_pack("{s:s,s:s,s:s}", "run_id", run->id, "status", run->status, "state", run->state);
    else
        json_object_set_new(s, "status", json_string(run->status));
    if (run->stop_reason && !json_object_get(s, "stop_reason"))
        json_object_set_new(s, "stop_reason", json_string(run->stop_reason));
    char *pend = spak_engine_pending(st, run->id);
    json_t *pj = pend ? json_loads(pend, 0, NULL) : NULL;
    free(pend);
    if (strcmp(run->status, SPAK_RUN_SUSPENDED) == 0 && pj && !json_object_get(pj, "decision"))
        json_object_set_new(s, "pending_approval", json_pack("{s:O?,s:O?}", "gate", json_object_get(pj, "gate"),
                                                             "what", json_object_get(pj, "what")));
    json_decref(pj);
    cli_print_json(s, JSON_COMPACT, NULL);
    json_decref(s);
}

/* A numeric option of the run-like commands: a whole number in [lo, hi]
 * into *l, or a number into *d, refused below lo (at lo too when lo_open)
 * and above hi. need is the usage error, with one %s for the value. */
typedef struct num_opt {
    const char *name;
    long *l;
    double *d;
    double lo, hi;
    bool lo_open;
    const char *need;
    const char *val;  /* as given, NULL when not */
} num_opt;

/* Set the numeric option n from its value, when it was given; 0, or the
 * usage error's status. */
static int set_num_opt(const char *cmd, const num_opt *n)
{
    long lv;
    double dv;
    const char *val = n->val;
    if (!val)
        return 0;
    if (n->l) {
        if (!spak_parse_long(val, (long)n->lo, (long)n->hi, &lv))
            return usage_error(cmd, n->need, val);
        *n->l = lv;
    } else {
        if (!spak_parse_double(val, &dv) || (n->lo_open ? dv <= n->lo : dv < n->lo) || dv > n->hi)
            return usage_error(cmd, n->need, val);
        *n->d = dv;
    }
    return 0;
}

/* --approve GATES: a comma-separated list of knowledge and llm-code. */
static int parse_gates(const char *cmd, const char *val, unsigned *approve)
{
    char list[256];
    spak_snprintf(list, sizeof list, "%s", val);
    char *save = NULL;
    for (char *g = strtok_r(list, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
        if (strcmp(g, "knowledge") == 0)
            *approve |= SPAK_GATE_KNOWLEDGE;
        else if (strcmp(g, "llm-code") == 0)
            *approve |= SPAK_GATE_LLM_CODE;
        else
            return usage_error(cmd, "--approve takes knowledge and/or llm-code, not '%s'", g);
    }
    return 0;
}

/* --early-stop X: a candidate X times slower than the best so far is
 * stopped early (X >= 2); 0 or "off": never (the engine's -1). */
static int parse_early_stop(const char *cmd, const char *val, double *out)
{
    double x;
    if (strcmp(val, "off") == 0 || (spak_parse_double(val, &x) && x == 0))
        *out = -1;
    else if (spak_parse_double(val, &x) && x >= 2 && x <= 1e6)
        *out = x;
    else
        return usage_error(cmd, "--early-stop needs a factor >= 2, or 0 or 'off', not '%s'", val);
    return 0;
}

/* --executor NAME and --slurm-KEY VALUE: a known executor, well-formed
 * sbatch values (analyze/executor.h). */
static int check_executor_opts(const char *cmd, const spak_engine_opts *o)
{
    char msg[300], why[96];
    if (o->executor && !spak_executor_find(o->executor)) {
        char names[128];
        spak_executor_names(names, sizeof names);
        spak_snprintf(msg, sizeof msg, "--executor takes %s, not '%s'", names, o->executor);
        return usage_error(cmd, "%s", msg);
    }
    const char *keys[4] = {"partition", "time", "account", "gpus"};
    const char *vals[4] = {o->slurm.partition, o->slurm.time, o->slurm.account, o->slurm.gpus};
    for (int i = 0; i < 4; i++)
        if (vals[i] && !spak_slurm_value_ok(keys[i], vals[i], why, sizeof why)) {
            spak_snprintf(msg, sizeof msg, "--slurm-%s needs %s, not '%s'", keys[i], why, vals[i]);
            return usage_error(cmd, "%s", msg);
        }
    return 0;
}

/* The options of 'spak run', which agent, resume, approve and reject take
 * too (--force only where force is not NULL). Sets *first to the first
 * operand's index and returns 0, or returns usage_error's status. */
static int parse_run_opts(const char *cmd, int argc, char **argv, int *first, spak_engine_opts *o, run_ui *ui,
                          bool *force)
{
    num_opt nums[] = {
        {"--temperature", NULL, &o->llm_temperature, 0, 2, false, "--temperature needs a number in [0, 2], not '%s'", NULL},
        {"--max-tokens", &o->llm_max_tokens, NULL, 1, 1000000, false, "--max-tokens needs a whole number, not '%s'", NULL},
        {"--llm-timeout", NULL, &o->llm_timeout_s, 0, INFINITY, true, "--llm-timeout needs seconds, not '%s'", NULL},
        {"--seed", &o->seed, NULL, 0, 2147483647L, false, "--seed needs a whole number, not '%s'", NULL},
        {"--budget", &o->max_evaluations, NULL, 1, 1000000, false, "--budget needs a number of evaluations, not '%s'", NULL},
        {"--wall-time", NULL, &o->max_wall_s, 0, INFINITY, true, "--wall-time needs seconds, not '%s'", NULL},
        {"--eval-timeout", NULL, &o->eval_timeout_s, 0, INFINITY, true, "--eval-timeout needs seconds, not '%s'", NULL},
        {"--jobs", &o->jobs, NULL, 1, 256, false, "--jobs needs a number of evaluations in flight (1 to 256), not '%s'",
         NULL},
    };
    const char *llm = NULL, *gates = NULL, *early = NULL, *without = NULL;
    spak_counters_when cw;
    const cli_opt opts[] = {
        {"--json", NULL, &ui->json, NULL},          {"--quiet", "-q", &ui->quiet, NULL},
        {"--endpoint", NULL, NULL, &o->llm_endpoint}, {"--model", NULL, NULL, &o->llm_model},
        {"--lessons", NULL, &o->use_lessons, NULL}, {"--no-learn", NULL, &o->no_learn, NULL},
        {"--home", NULL, NULL, &o->home},           {"--allow-weak-isolation", NULL, &o->allow_weak_isolation, NULL},
        {"--loop", NULL, NULL, &o->loop_name},      {"--strategy", NULL, NULL, &o->strategy},
        {"--llm", NULL, NULL, &llm},                {"--approve", NULL, NULL, &gates},
        {"--early-stop", NULL, NULL, &early},       {"--context-without", NULL, NULL, &without},
        {"--counters", NULL, NULL, &o->counters},
        {nums[0].name, NULL, NULL, &nums[0].val},   {nums[1].name, NULL, NULL, &nums[1].val},
        {nums[2].name, NULL, NULL, &nums[2].val},   {nums[3].name, NULL, NULL, &nums[3].val},
        {nums[4].name, NULL, NULL, &nums[4].val},   {nums[5].name, NULL, NULL, &nums[5].val},
        {nums[6].name, NULL, NULL, &nums[6].val},   {nums[7].name, NULL, NULL, &nums[7].val},
        {"--devices", NULL, NULL, &o->devices},     {"--cpus", NULL, NULL, &o->cpus},
        {"--sandbox-uids", NULL, NULL, &o->sandbox_uids},
        {"--executor", NULL, NULL, &o->executor},   {"--slurm-partition", NULL, NULL, &o->slurm.partition},
        {"--slurm-time", NULL, NULL, &o->slurm.time}, {"--slurm-account", NULL, NULL, &o->slurm.account},
        {"--slurm-gpus", NULL, NULL, &o->slurm.gpus},
        {force ? "--force" : NULL, NULL, force, NULL},  /* without force, the end of the list */
        {0}};
    int rc = cli_parse_opts(cmd, argc, argv, opts, 0, first);
    for (size_t k = 0; rc == 0 && k < SPAK_ARRAY_LEN(nums); k++)
        rc = set_num_opt(cmd, &nums[k]);
    if (rc == 0 && gates)
        rc = parse_gates(cmd, gates, &o->approve);
    if (rc == 0 && early)
        rc = parse_early_stop(cmd, early, &o->early_stop);
    if (rc == 0 && o->counters && !spak_counters_parse(o->counters, &cw))
        rc = usage_error(cmd, "--counters takes new, every or never, not '%s'", o->counters);
    if (rc == 0)
        rc = check_executor_opts(cmd, o);
    spak_err err = {0};
    if (rc == 0 && without && spak_context_without_parse(without, &o->context_without, &err) != SPAK_OK)
        rc = usage_error(cmd, "%s", err.msg);
    if (rc)
        return rc;
    if (llm) {  /* --llm BACKEND: the llm strategy with that backend */
        o->llm_backend = llm;
        o->strategy = "llm";
    }
    /* checked here, not only when the llm strategy reads its settings: the
     * run's options are stored with it whatever the strategy */
    if (spak_llm_endpoint_check(o->llm_endpoint, NULL, &err) != SPAK_OK)
        return usage_error(cmd, "%s", err.msg);
    return 0;
}

/* SIGINT and SIGTERM while a cluster's job is in flight: the executor
 * cancels the job (scancel) and the run ends with an error, resumable;
 * with no job in flight the signal does what it did before (ends spak). */
static void on_stop_signal(int sig)
{
    if (!spak_executor_interrupt()) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/* What run, resume, agent, approve and reject share: where the harnesses
 * are, where progress goes, whether it is redrawn in place. bin must outlive o. */
static void wire_ui(spak_engine_opts *o, run_ui *ui, char *bin, size_t n)
{
    bin_dir_of_self(bin, n);
    o->bin_dir = bin;
    if (ui->json)
        ui->out = stderr;
    ui->live = isatty(fileno(ui->out)) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
    o->on_event = on_event;
    o->on_approve = on_approve;
    o->ud = ui;
    o->run_loop = spak_engine_run;  /* an agent's tool.engineering_loop */
    /* where the measurement locks live (measure_lock.h): /var/tmp/spak-locks
     * unless set, e.g. for tests that must not wait for this machine's runs */
    o->lock_dir = getenv("SPAK_LOCK_DIR") && *getenv("SPAK_LOCK_DIR") ? getenv("SPAK_LOCK_DIR") : NULL;
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* A run goes on with what started it: an agent_loop's run with the agent,
 * an engineering loop's with the engine (neither knows the other). Errors
 * (no store, no such run) are the engine's to report. */
static spak_status resume_run(const spak_engine_opts *o, const char *run_id, bool force, spak_err *err)
{
    spak_store *st = NULL;
    spak_run run = {0};
    bool agent = false;
    if (spak_engine_open_store(o, &st, NULL) == SPAK_OK && spak_store_run_get(st, run_id, &run, NULL) == SPAK_OK)
        agent = run.strategy && strncmp(run.strategy, "agent:", 6) == 0 && strcmp(run.status, SPAK_RUN_DONE) != 0;
    spak_store_run_free(&run);
    if (st)
        spak_store_close(st);
    return agent ? spak_agent_resume(o, run_id, err) : spak_engine_resume(o, run_id, force, err);
}

/* What run, agent, resume, approve and reject start from: the engine's
 * options, the run's UI, the index of the first operand, the home, and
 * room for the folder of spak's binary (wire_ui points the options at it). */
typedef struct run_cli {
    spak_engine_opts o;
    run_ui ui;
    int first;
    char home[PATH_MAX];
    char bin[PATH_MAX];
} run_cli;

/* Parse cmd's options into c (--force only where force is not NULL), check
 * that it was given min_ops to max_ops operands, find the home (run and
 * agent make one where there is none; the others need one), and wire the
 * run's UI to the engine (wire_ui). Returns 0, or the exit status of the
 * usage error (operands: want says what was expected) or of the home's. */
static int run_cli_start(run_cli *c, const char *cmd, int argc, char **argv, bool *force, int min_ops, int max_ops,
                         const char *want)
{
    c->o = (spak_engine_opts){.seed = -1, .llm_temperature = -1};
    c->ui = (run_ui){.out = stdout};
    int rc = parse_run_opts(cmd, argc, argv, &c->first, &c->o, &c->ui, force);
    if (rc)
        return rc;
    if (argc - c->first < min_ops || argc - c->first > max_ops)
        return usage_error(cmd, "%s", want);
    bool create = strcmp(cmd, "run") == 0 || strcmp(cmd, "agent") == 0;
    if ((rc = cli_home(cmd, c->o.home, create, c->home, sizeof c->home)) != 0)
        return rc;
    c->o.home = c->home;
    wire_ui(&c->o, &c->ui, c->bin, sizeof c->bin);
    return 0;
}

/* How run, agent, resume, approve and reject end: the JSON summary on
 * stdout when --json asked for it and there is a run, then the exit status
 * from where the run stands: 0 done (whatever stopped it: goal, budget,
 * plateau, inconclusive; the reason is in the last progress line and in
 * --json), EXIT_SUSPENDED waiting for an answer (said on stderr also with
 * --quiet: someone must act), EXIT_PROBLEM failed. */
static int run_exit(const spak_engine_opts *o, const run_ui *ui, const char *cmd, const char *run_id, spak_status st)
{
    spak_store *store = NULL;
    spak_run run = {0};
    bool have = run_id[0] && spak_engine_open_store(o, &store, NULL) == SPAK_OK &&
                spak_store_run_get(store, run_id, &run, NULL) == SPAK_OK;
    if (ui->json && have)
        print_run_summary_json(store, &run);
    int rc = st == SPAK_OK ? 0 : EXIT_PROBLEM;
    if (st == SPAK_OK && have && strcmp(run.status, SPAK_RUN_SUSPENDED) == 0) {
        rc = EXIT_SUSPENDED;
        /* a quiet run says this much: the exit status alone would not tell where the answer goes */
        if (ui->quiet)
            fprintf(stderr, "spak %s: run %s suspended; 'spak status %s' says what it waits for\n", cmd,
                    cli_safe(run.id), cli_safe(run.id));
    } else if (st == SPAK_OK && have && strcmp(run.status, SPAK_RUN_FAILED) == 0) {
        rc = EXIT_PROBLEM;
    }
    spak_store_run_free(&run);
    if (store)
        spak_store_close(store);
    return rc;
}

/* spak run and spak agent: a run started, by the engine from a spec's
 * engineering loop or by the agent from one of its agent_loops (named by
 * an optional second operand). */
static int start_run(int argc, char **argv, bool agent)
{
    const char *cmd = agent ? "agent" : "run";
    run_cli c;
    spak_t1_set sets[CLI_MAX_SETS];
    size_t n_sets = 0;
    if (!agent && (argc = cli_take_sets(cmd, argc, argv, sets, &n_sets)) < 0)
        return EXIT_USAGE;
    int rc = run_cli_start(&c, cmd, argc, argv, NULL, 1, agent ? 2 : 1,
                           agent ? "expected a spec file and optionally an agent_loop name" : "expected one spec file");
    if (rc)
        return rc;
    c.o.t1_sets = sets;
    c.o.n_t1_sets = n_sets;
    char run_id[SPAK_STORE_ID_MAX] = "";
    spak_err err = {0};
    const char *spec = argv[c.first];
    spak_status st = agent ? spak_agent_run(&c.o, spec, c.first + 1 < argc ? argv[c.first + 1] : NULL, run_id, &err)
                           : spak_engine_run(&c.o, spec, run_id, &err);
    live_stop();
    if (st != SPAK_OK) {
        fprintf(stderr, "spak %s: %s\n", cmd, cli_safe(cli_hint(err.msg)));
        if (run_id[0])
            fprintf(stderr, "spak %s: the run is %s; '%s' continues it\n", cmd, run_id, cli_command("resume", run_id));
    }
    return run_exit(&c.o, &c.ui, cmd, run_id, st);
}

static int cmd_run(int argc, char **argv)
{
    return start_run(argc, argv, false);
}

static int cmd_agent(int argc, char **argv)
{
    return start_run(argc, argv, true);
}

static int cmd_resume(int argc, char **argv)
{
    run_cli c;
    bool force = false;
    int rc = run_cli_start(&c, "resume", argc, argv, &force, 1, 1, "expected one run id");
    if (rc)
        return rc;
    spak_err err = {0};
    spak_status st = resume_run(&c.o, argv[c.first], force, &err);
    live_stop();
    if (st != SPAK_OK)
        fprintf(stderr, "spak resume: %s\n", cli_safe(cli_hint(err.msg)));
    return run_exit(&c.o, &c.ui, "resume", argv[c.first], st);
}

/* ---- spak status / show ---- */

/* The status a person or a script is shown: "interrupted" for a run whose
 * owner was killed (it says running in the store). */
static const char *shown(const spak_run *r)
{
    return spak_run_status_shown(r->status, r->owner);
}

static json_t *run_json(spak_store *st, const spak_run *r, bool with_evals)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:I,s:f,s:f}", "run_id", r->id, "status", shown(r), "state",
                          r->state, "stop_reason", r->stop_reason, "spec", r->spec_path, "seed", (json_int_t)r->seed,
                          "created_at", r->created_at, "updated_at", r->updated_at);
    json_t *s = r->summary_json ? json_loads(r->summary_json, 0, NULL) : NULL;
    if (s)
        json_object_set_new(o, "summary", s);
    /* the LLM's usage (agent steps are kept apart, under agent) */
    spak_run_llm_usage use = spak_engine_llm_usage(st, r->id, true);
    if (use.steps) {
        json_t *u = json_pack("{s:I,s:I}", "steps", (json_int_t)use.steps, "tokens", (json_int_t)use.tokens);
        json_object_set_new(u, "cost_usd",
                            use.cost_unknown && use.cost_usd == 0 ? json_null() : json_real(use.cost_usd));
        json_object_set_new(u, "cost_complete", json_boolean(!use.cost_unknown));
        json_object_set_new(o, "llm", u);
    }
    char *pend = spak_engine_pending(st, r->id);
    json_t *pj = pend ? json_loads(pend, 0, NULL) : NULL;
    free(pend);
    if (pj && !json_object_get(pj, "decision")) {
        json_object_del(pj, "payload");
        json_object_set_new(o, "pending_approval", pj);
    } else {
        json_decref(pj);
    }
    spak_eval *ev = NULL;
    size_t n = 0;
    if (spak_store_eval_list(st, r->id, &ev, &n, NULL) == SPAK_OK) {
        json_t *counts = json_object();
        json_t *arr = with_evals ? json_array() : NULL;
        for (size_t i = 0; i < n; i++) {
            json_t *c = json_object_get(counts, ev[i].status);
            json_object_set_new(counts, ev[i].status, json_integer(c ? json_integer_value(c) + 1 : 1));
            if (arr) {
                json_t *e = json_pack("{s:I,s:s?,s:s,s:s?,s:s?,s:s?}", "eval_id", (json_int_t)ev[i].eval_id,
                                      "candidate", ev[i].cand_key, "status", ev[i].status, "exit", ev[i].exit_desc,
                                      "bottleneck", ev[i].bottleneck, "error", ev[i].error);
                json_object_set_new(e, "correct", ev[i].correct < 0 ? json_null() : json_boolean(ev[i].correct));
                json_object_set_new(e, "metric", isnan(ev[i].metric) ? json_null() : json_real(ev[i].metric));
                json_object_set_new(e, "ratio", isnan(ev[i].ratio) ? json_null() : json_real(ev[i].ratio));
                double lo, hi;  /* the ratio's interval, from its records (views.h) */
                json_t *recs = ev[i].correct == 1 ? spak_eval_records(st, r->id, ev[i].eval_id) : NULL;
                if (recs && spak_views_ratio_ci(recs, &lo, &hi, NULL))
                    json_object_set_new(e, "ratio_ci", json_pack("[f,f]", lo, hi));
                json_decref(recs);
                json_object_set_new(e, "seconds",
                                    json_real(ev[i].finished_at > 0 ? ev[i].finished_at - ev[i].started_at : 0));
                /* records a spec's own command printed, not one of spak's judges */
                if (spak_result_untrusted(ev[i].result_json))
                    json_object_set_new(e, "trusted", json_false());
                /* the parameters that cannot act on this candidate (build/reach.h) */
                json_t *rj = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
                if (json_is_array(json_object_get(rj, "unreached")))
                    json_object_set(e, "unreached", json_object_get(rj, "unreached"));
                /* where its wall time went: the engine's steps, the judge's phases (docs/scale-out.md) */
                if (json_is_object(json_object_get(rj, "cost")))
                    json_object_set(e, "cost", json_object_get(rj, "cost"));
                /* whether the judge's hardware counters were asked for (analyze/counters.h) */
                if (json_is_string(json_object_get(rj, "counters")))
                    json_object_set(e, "counters", json_object_get(rj, "counters"));
                json_decref(rj);
                json_array_append_new(arr, e);
            }
        }
        json_object_set_new(o, "evaluations_by_status", counts);
        if (arr)
            json_object_set_new(o, "evaluations", arr);
        spak_store_evals_free(ev, n);
    }
    return o;
}

/* status and show: their options (--json, --home DIR), then the store
 * (*st, the caller closes it). Returns 0, or the exit status after saying
 * what went wrong. */
static int open_store_for(const char *cmd, int argc, char **argv, int *first, bool *json, spak_store **st)
{
    spak_engine_opts o = {0};
    const cli_opt opts[] = {{"--json", NULL, json, NULL}, {"--home", NULL, NULL, &o.home}, {0}};
    int rc = cli_parse_opts(cmd, argc, argv, opts, 0, first);
    if (rc)
        return rc;
    if (argc - *first > 1)
        return usage_error(cmd, "%sexpected at most one run id", "");
    char home[PATH_MAX];
    if ((rc = cli_home(cmd, o.home, false, home, sizeof home)) != 0)
        return rc;
    o.home = home;
    spak_err err;
    if (spak_engine_open_store(&o, st, &err) != SPAK_OK) {
        fprintf(stderr, "spak %s: %s\n", cmd, err.msg);
        return EXIT_PROBLEM;
    }
    return 0;
}

static void print_best_line(json_t *summary)
{
    json_t *best = json_object_get(summary, "best");
    const char *metric = json_string_value(json_object_get(summary, "metric"));
    if (!json_is_object(best) || !metric) {
        printf("  best: none (no candidate was correct and measured)\n");
        return;
    }
    json_t *ratio = json_object_get(best, "ratio");
    const char *bl = json_string_value(json_object_get(summary, "baseline"));
    printf("  best: %s  %s %.4g", cli_safe(json_string_value(json_object_get(best, "candidate"))), cli_safe(metric),
           json_number_value(json_object_get(best, metric)));
    if (json_is_number(ratio))
        printf("  %.3fx %s", json_number_value(ratio), cli_safe(bl ? bl : "baseline"));
    /* how the best was ranked: "ratio" (on the paired ratio to the one
     * baseline), "metric", or "ratio and metric" (progress.h) */
    const char *on = json_string_value(json_object_get(summary, "ranked_on"));
    printf("  (evaluation %lld%s%s)%s\n", (long long)json_integer_value(json_object_get(best, "eval_id")),
           on ? "; ranked on the " : "", on ? cli_safe(on) : "",
           json_integer_value(json_object_get(summary, "untrusted_evaluations")) > 0
               ? "  [untrusted: records not from one of spak's judges]"
               : "");
}

/* The run `id` of st into *r (free with spak_store_run_free). On failure
 * says so as `spak CMD: ...`, closes st and returns EXIT_PROBLEM. */
static int get_run(const char *cmd, spak_store *st, const char *id, spak_run *r)
{
    spak_err err = {0};
    if (spak_store_run_get(st, id, r, &err) == SPAK_OK)
        return 0;
    fprintf(stderr, "spak %s: %s\n", cmd, err.msg);
    spak_store_close(st);
    return EXIT_PROBLEM;
}

/* `spak status RUN` and `spak show RUN`: the run `id` of st as JSON (with
 * every evaluation when with_evals), or for people by print, which gets the
 * same JSON. Closes st; returns the command's exit status. */
static int print_run(const char *cmd, spak_store *st, const char *id, bool json, bool with_evals,
                     void (*print)(spak_store *, const spak_run *, json_t *))
{
    spak_run r = {0};
    int rc = get_run(cmd, st, id, &r);
    if (rc)
        return rc;
    json_t *j = run_json(st, &r, with_evals);
    if (json)
        cli_print_json(j, JSON_INDENT(2), "{}");
    else
        print(st, &r, j);
    json_decref(j);
    spak_store_run_free(&r);
    spak_store_close(st);
    return 0;
}

/* `spak status RUN` for people: state, counts, best, LLM usage, what next. */
static void print_status_one(spak_store *st, const spak_run *r, json_t *j)
{
    printf("run %s: %s, state %s%s%s\n  spec: %s\n", cli_safe(r->id), cli_safe(shown(r)), cli_safe(r->state),
           r->stop_reason ? ", stopped: " : "", r->stop_reason ? cli_safe(r->stop_reason) : "",
           cli_safe(r->spec_path ? r->spec_path : "-"));
    json_t *c = json_object_get(j, "evaluations_by_status");
    const char *k;
    json_t *v;
    printf("  evaluations:");
    json_object_foreach(c, k, v) printf(" %lld %s", (long long)json_integer_value(v), cli_safe(k));
    printf("\n");
    json_t *s = json_object_get(j, "summary");
    if (s) {
        print_best_line(s);
        cli_print_decision(stdout, s, "  ");
    }
    json_t *u = json_object_get(j, "llm");
    if (u) {
        json_t *usd = json_object_get(u, "cost_usd");
        printf("  llm: %lld steps, %lld tokens, ", (long long)json_integer_value(json_object_get(u, "steps")),
               (long long)json_integer_value(json_object_get(u, "tokens")));
        if (json_is_number(usd))
            printf("cost USD %.4f%s\n", json_number_value(usd),
                   json_is_true(json_object_get(u, "cost_complete")) ? "" : " (some steps without a price)");
        else
            printf("cost unknown (no prices in the llm block)\n");
    }
    char *pend = spak_engine_pending(st, r->id);
    json_t *pj = pend ? json_loads(pend, 0, NULL) : NULL;
    if (pj && !json_object_get(pj, "decision"))
        printf("  pending approval (%s): %s\n  answer with '%s' or '%s'\n",
               cli_safe(json_string_value(json_object_get(pj, "gate"))),
               cli_safe(json_string_value(json_object_get(pj, "what"))), cli_safe(cli_command("approve", r->id)),
               cli_safe(cli_command("reject", r->id)));
    else if (strcmp(r->status, SPAK_RUN_DONE) != 0)
        printf("  '%s' continues it\n", cli_safe(cli_command("resume", r->id)));
    json_decref(pj);
    free(pend);
}

/* `spak status`: every run, one line each (or a JSON array). */
static int status_list(spak_store *st, bool json)
{
    spak_err err = {0};
    spak_run *runs = NULL;
    size_t n = 0;
    if (spak_store_run_list(st, &runs, &n, &err) != SPAK_OK) {
        fprintf(stderr, "spak status: %s\n", err.msg);
        spak_store_close(st);
        return EXIT_PROBLEM;
    }
    json_t *arr = json ? json_array() : NULL;
    if (!json)
        printf("%-16s %-11s %-10s %-24s %s\n", "RUN", "STATUS", "STATE", "STOPPED", "SPEC");
    for (size_t i = 0; i < n; i++) {
        if (json)
            json_array_append_new(arr, run_json(st, &runs[i], false));
        else
        {
            char *pend = spak_engine_pending(st, runs[i].id);
            printf("%-16s %-11s %-10s %-24s %s%s\n", cli_safe(runs[i].id), cli_safe(shown(&runs[i])),
                   cli_safe(runs[i].state), cli_safe(runs[i].stop_reason ? runs[i].stop_reason : "-"),
                   cli_safe(runs[i].spec_path ? runs[i].spec_path : "-"),
                   pend && !strstr(pend, "\"decision\"") ? "  [approval pending]" : "");
            free(pend);
        }
    }
    if (json) {
        cli_print_json(arr, JSON_INDENT(2), "[]");
        json_decref(arr);
    } else if (n == 0) {
        printf("(no runs yet; '%s' starts one)\n", cli_safe(cli_command("run", "SPEC")));
    }
    spak_store_runs_free(runs, n);
    spak_store_close(st);
    return 0;
}

/* `spak show RUN` for people: one line per evaluation, then the best. */
static void print_show(spak_store *st, const spak_run *r, json_t *j)
{
    (void)st;
    json_t *s = json_object_get(j, "summary");
    const char *metric = s ? json_string_value(json_object_get(s, "metric")) : NULL;
    printf("run %s (%s, state %s%s%s)\n", cli_safe(r->id), cli_safe(shown(r)), cli_safe(r->state),
           r->stop_reason ? ", " : "", r->stop_reason ? cli_safe(r->stop_reason) : "");
    printf("%4s  %-44s %-7s %10s  %-22s %-9s %s\n", "EVAL", "CANDIDATE", "STATUS", cli_safe(metric ? metric : "METRIC"),
           "RATIO [95% interval]", "BOUND", "NOTE");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "evaluations"), i, e) {
        char m[32], ra[32];
        fmt_num(m, sizeof m, json_is_number(json_object_get(e, "metric")) ? json_number_value(json_object_get(e, "metric")) : NAN);
        fmt_num(ra, sizeof ra, json_is_number(json_object_get(e, "ratio")) ? json_number_value(json_object_get(e, "ratio")) : NAN);
        json_t *rci = json_object_get(e, "ratio_ci");
        char ci[48], rr[80];
        fmt_ci(ci, sizeof ci, json_number_value(json_array_get(rci, 0)), json_number_value(json_array_get(rci, 1)));
        spak_snprintf(rr, sizeof rr, "%s%s", ra, ci);  /* "1.02 [0.99-1.05]" */
        const char *b = json_string_value(json_object_get(e, "bottleneck"));
        const char *er = json_string_value(json_object_get(e, "error"));
        bool untrusted = json_is_false(json_object_get(e, "trusted"));
        char unr[300] = "";
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(e, "unreached"), k, x) {
            size_t L = strlen(unr);
            spak_snprintf(unr + L, sizeof unr - L, "%s%s", L ? "," : "[not reached: ", json_string_value(x));
        }
        if (unr[0]) {
            size_t L = strlen(unr);
            spak_snprintf(unr + L, sizeof unr - L, "]%s", untrusted || er ? " " : "");
        }
        printf("%4lld  %-44s %-7s %10s  %-22s %-9s %s%s%s%s\n", (long long)json_integer_value(json_object_get(e, "eval_id")),
               cli_safe(json_string_value(json_object_get(e, "candidate"))),
               cli_safe(json_string_value(json_object_get(e, "status"))), m, rr, cli_safe(b ? b : "-"), cli_safe(unr),
               untrusted ? "[untrusted]" : "", untrusted && er ? " " : "", cli_safe(er ? er : ""));
    }
    if (s) {
        print_best_line(s);
        cli_print_decision(stdout, s, "  ");
    }
}

/* spak status and spak show: the store opened with their options, then one
 * run shown (status without a run id lists them all; show needs one). */
static int view_runs(int argc, char **argv, bool show)
{
    const char *cmd = show ? "show" : "status";
    bool json = false;
    int first;
    spak_store *st = NULL;
    int rc = open_store_for(cmd, argc, argv, &first, &json, &st);
    if (rc)
        return rc;
    if (!show && first >= argc)
        return status_list(st, json);
    if (show && first != argc - 1) {
        spak_store_close(st);
        return usage_error(cmd, "%sexpected one run id", "");
    }
    return print_run(cmd, st, argv[first], json, show, show ? print_show : print_status_one);
}

static int cmd_status(int argc, char **argv)
{
    return view_runs(argc, argv, false);
}

static int cmd_show(int argc, char **argv)
{
    return view_runs(argc, argv, true);
}

static int answer(int argc, char **argv, bool approve)
{
    const char *cmd = approve ? "approve" : "reject";
    run_cli c;
    int rc = run_cli_start(&c, cmd, argc, argv, NULL, 1, 1, "expected one run id");
    if (rc)
        return rc;
    const char *run_id = argv[c.first];
    char what[1200] = "";
    spak_err err = {0};
    if (spak_engine_answer(&c.o, run_id, approve, what, sizeof what, &err) != SPAK_OK) {
        fprintf(stderr, "spak %s: %s\n", cmd, cli_safe(cli_hint(err.msg)));
        return EXIT_PROBLEM;
    }
    printf("spak %s: %s %s\n", cmd, approve ? "approved" : "rejected", cli_safe(what));
    spak_status st = resume_run(&c.o, run_id, false, &err);
    live_stop();
    if (st != SPAK_OK)
        fprintf(stderr, "spak %s: %s\n", cmd, cli_safe(cli_hint(err.msg)));
    /* the answer above found the run: its id is not empty */
    return run_exit(&c.o, &c.ui, cmd, run_id, st);
}

static int cmd_approve(int argc, char **argv)
{
    return answer(argc, argv, true);
}

static int cmd_reject(int argc, char **argv)
{
    return answer(argc, argv, false);
}

static void on_build_event(void *ud, const spak_engine_event *ev)
{
    (void)ud;
    printf("[%3ld/%llu] %-44s %s %s\n", ev->eval_no, (unsigned long long)ev->total, cli_safe(ev->key),
           ev->ok ? "ok    " : "FAILED", cli_safe(ev->why));
    fflush(stdout);
}

static int cmd_build(int argc, char **argv)
{
    spak_engine_opts o = {.seed = -1, .llm_temperature = -1};
    bool json = false;
    int i;
    const cli_opt opts[] = {{"--home", NULL, NULL, &o.home}, {"--loop", NULL, NULL, &o.loop_name},
                            {"--json", NULL, &json, NULL}, {0}};
    int rc = cli_parse_opts("build", argc, argv, opts, 0, &i);
    if (rc)
        return rc;
    if (i != argc - 1)
        return usage_error("build", "%sexpected one spec file", "");
    char home[PATH_MAX];
    if ((rc = cli_home("build", o.home, true, home, sizeof home)) != 0)
        return rc;
    o.home = home;
    o.on_event = json ? NULL : on_build_event;
    size_t built, failed;
    spak_err err = {0};
    spak_status st = spak_engine_build_all(&o, argv[i], &built, &failed, &err);
    if (st != SPAK_OK) {
        fprintf(stderr, "spak build: %s\n", err.msg);
        return EXIT_PROBLEM;
    }
    if (json)
        printf("{\"built\": %zu, \"failed\": %zu}\n", built, failed);  /* integers: nothing to shorten */
    else
        printf("spak build: %zu built, %zu failed\n", built, failed);
    return failed ? EXIT_PROBLEM : 0;
}

/* Commands that take --json and no operand: 0 with *json set, or the
 * usage error's status. */
static int json_only_opts(const char *cmd, int argc, char **argv, bool *json)
{
    int first;
    const cli_opt opts[] = {{"--json", NULL, json, NULL}, {0}};
    int rc = cli_parse_opts(cmd, argc, argv, opts, 0, &first);
    if (rc == 0 && first < argc)
        rc = usage_error(cmd, "unexpected argument '%s'", argv[first]);
    return rc;
}

static int cmd_explain(int argc, char **argv)
{
    bool json = false;
    int rc = json_only_opts("explain", argc, argv, &json);
    if (rc)
        return rc;
    if (json) {
        json_t *o = json_pack("{s:[ssssssss],s:s}", "states", "specify", "decide", "program", "build", "analyze",
                              "knowledge", "retime", "done", "text", spak_engine_describe());
        json_object_set_new(o, "waiting_state", json_string("suspended"));
        cli_print_json(o, JSON_INDENT(2), "{}");
        json_decref(o);
        return 0;
    }
    fputs(spak_engine_describe(), stdout);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    bool json = false;
    int rc = argc > 0 ? json_only_opts("version", argc, argv, &json) : 0;
    if (rc)
        return rc;
    if (json)
        printf("{\"version\": \"%s\"}\n", SPAK_VERSION);
    else
        printf("spak %s\n", SPAK_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"check", cmd_check, "Parse and check spec files. Diagnostics go to stderr as file:line:col: error: ...;\n"
                         "exit 0 when every file is valid, 1 when one has errors, 2 for usage errors.\n"
                         "  --json    one JSON array with each file's validity and diagnostics on stdout\n"
                         "  --quiet   print nothing for valid files\n"
                         "A T1 tuning file (FILE.json) is checked as its translation (docs/t1.md);\n"
                         "  --set NAME=VALUES  replace a T1 parameter's values first (repeatable)",
     "spak check [--json] [--quiet] [--set NAME=VALUES]... FILE..."},
    {"fmt", cmd_fmt, "Print a spec in canonical form (comments kept; idempotent).\n"
                     "  --write, -w   rewrite the files in place (atomically)\n"
                     "  --check       exit 1 and name the files that are not in canonical form\n"
                     "  --json        with --check or --write: one JSON array of {file, parsed, canonical, rewritten}",
     "spak fmt [--write | --check] [--json] FILE..."},
    {"run", cmd_run, "Run the loop of a spec: propose, build, check and time candidates in the sandbox,\n"
                     "learn, and stop on the budget, a stop condition, a plateau or an exhausted space.\n"
                     "One line per evaluation; state in .spak/ (the SQLite store, build cache, run dirs).\n"
                     "  --json              progress to stderr; one JSON summary object on stdout\n"
                     "  --quiet             no progress lines\n"
                     "  --strategy NAME     default | grid | random | rules | llm (overrides the spec)\n"
                     "  --llm BACKEND       strategy llm with backend openai | anthropic | manual\n"
                     "  --endpoint URL      the LLM endpoint (overrides the spec's llm block)\n"
                     "  --model NAME        the LLM model\n"
                     "  --temperature T     --max-tokens N  --llm-timeout S   (override the llm block)\n"
                     "  --approve GATES     pause for the supervisor before: knowledge (writing lessons),\n"
                     "                      llm-code (running LLM-written code); comma-separated\n"
                     "  --lessons           rules strategy: also act on the store's lessons for this\n"
                     "                      device and kernel family, nearest shape class first (transfer)\n"
                     "  --no-learn          no crystallization at the end (see 'spak learn')\n"
                     "  --allow-weak-isolation  keep evaluations whose sandbox lacks a layer of the\n"
                     "                      minimum (docs/sandbox.md) instead of failing them\n"
                     "  --seed N            strategy and input seed (overrides the spec)\n"
                     "  --budget N          at most N evaluations (overrides the spec; an llm run given\n"
                     "                      no budget of any kind gets 50)\n"
                     "  --wall-time S       stop after S seconds (overrides the spec)\n"
                     "  --eval-timeout S    wall limit of one measurement (default 600)\n"
                     "  --jobs N            N evaluations in flight at once: builds side by side, one\n"
                     "                      measurement per device at a time (docs/scale-out.md)\n"
                     "  --devices LIST      CUDA devices to measure on, e.g. 0,1 (default: detected)\n"
                     "  --cpus SETS         a core set per job for CPU measurements side by side,\n"
                     "                      disjoint, '/'-separated, e.g. 0-3/4-7\n"
                     "  --sandbox-uids A-B  the candidates' uids, one per job (default 1900000000-...)\n"
                     "  --executor NAME     local | slurm: where measurements run (overrides the spec)\n"
                     "  --slurm-partition P --slurm-time T  --slurm-account A  --slurm-gpus G\n"
                     "                      a Slurm job's sbatch options (override the spec's slurm block)\n"
                     "  --early-stop X      stop a candidate X times slower than the best so far after\n"
                     "                      its first repetitions (default 10, or the spec's; 0: never)\n"
                     "  --counters WHEN     a judge asked for hardware counters (--ncu) takes them: new\n"
                     "                      (default: the first evaluation of each design point) |\n"
                     "                      every | never\n"
                     "  --context-without W an ablation: leave measurements and/or knowledge out of\n"
                     "                      what the engineer reads (docs/llm.md); comma-separated\n"
                     "  --loop NAME         which engineering_loop (default: the first)\n"
                     "  --home DIR          the home (default: $SPAK_HOME, else the nearest .spak/ from\n"
                     "                      here up; made here when there is none)\n"
                     "  --set NAME=VALUES   a T1 file (SPEC.json, run as its translation, docs/t1.md):\n"
                     "                      replace a parameter's values first (repeatable)\n"
                     "Exit 0 when the run is done (the reason printed), 1 failed, 2 usage, 3 suspended.",
     "spak run [OPTIONS] SPEC"},
    {"agent", cmd_agent, "Execute an agent_loop of a spec: llm.query, tool.read/write (inside the run's\n"
                         "directory), tool.run (sandboxed, no shell), tool.engineering_loop, emit, if/else;\n"
                         "every statement journaled; 'spak resume RUN' continues a suspended one.\n"
                         "  (takes the options of 'spak run', e.g. --llm, --endpoint, --model, --home, --json)",
     "spak agent [OPTIONS] SPEC [AGENT_LOOP]"},
    {"resume", cmd_resume, "Continue a run that was stopped or killed; finished evaluations are kept.\n"
                           "  --force   take the run over from a process that no longer runs\n"
                           "  (and the options of 'spak run')",
     "spak resume [--force] [OPTIONS] RUN"},
    {"approve", cmd_approve, "Approve the pending gate of a suspended run (see --approve) and continue it.\n"
                             "  (takes the options of 'spak run': --json, --quiet, --home DIR)",
     "spak approve [OPTIONS] RUN"},
    {"reject", cmd_reject, "Reject the pending gate of a suspended run and continue it: rejected LLM code\n"
                           "is a recorded failed step; rejected knowledge is not written.",
     "spak reject [OPTIONS] RUN"},
    {"status", cmd_status, "List runs, or tell where one run stands.\n  --json   machine-readable\n  --home DIR",
     "spak status [--json] [--home DIR] [RUN]"},
    {"show", cmd_show, "Show what a run measured: one line per evaluation.\n  --json   machine-readable\n  --home DIR",
     "spak show [--json] [--home DIR] RUN"},
    {"learn", cmd_learn, "Crystallize a run: lessons with their evidence (effects that pass a stated\n"
                         "statistical test, negative ones too; the best configuration), written as spec\n"
                         "v(n+1) in the run's folder of the home with the diff printed, an insights log\n"
                         "(JSONL) and the store's lessons table; the same lessons are never written twice.\n"
                         "  --dry-run        compute and print, write nothing\n"
                         "  --write          write v(n+1) next to the original spec instead (never over it)\n"
                         "  --approve        show the diff and ask on the terminal before writing\n"
                         "  --policy P       without a terminal: write (default) or skip\n"
                         "  --out PATH       where v(n+1) goes\n"
                         "  --json           machine-readable summary on stdout\n"
                         "  --home DIR",
     "spak learn [--dry-run] [--write | --out PATH] [--approve [--policy write|skip]] [--json] [--home DIR] RUN"},
    {"report", cmd_report, "Write a run's report: report.md and one self-contained report.html with SVG charts (metric per\nevaluation, roofline, effects), the candidates, knowledge and provenance (default out: HOME/reports/RUN).\n  --out DIR   where to write\n  --json      print the paths as JSON\n  --home DIR", "spak report [--home DIR] [--out DIR] [--json] RUN"},
    {"export", cmd_export, "Write one run's results as a file: spak's JSON (default), CSV or T4 (Kernel Tuner's).\n"
                           "The JSON carries every repetition; docs/export.md has the layouts and schemas.\n"
                           "  --format F   json (default), csv or t4\n  -o FILE      write FILE (default: stdout)\n"
                           "  --home DIR",
     "spak export [--format json|csv|t4] [-o FILE] [--home DIR] RUN"},
    {"import", cmd_import, "Translate a T1 tuning file (Kernel Tuner's input format) into a spec (docs/t1.md).\n"
                           "  -o FILE            write the spec to FILE (default: stdout)\n"
                           "  --set NAME=VALUES  replace a parameter's values (a Python list or one value); repeatable\n"
                           "  --points           list every point of the space with its grid and block (JSON lines)\n"
                           "  --count            print the number of points\n"
                           "Given a spec that imports a T1 file (front matter t1: \"FILE.json\"), prints the spec it stands for.",
     "spak import t1 [-o FILE] [--set NAME=VALUES]... [--points|--count] FILE.json|SPEC.spak"},
    {"compare", cmd_compare, "Compare the same candidates of two runs: B's time over A's, with intervals.\n"
                             "The intervals come from the stored repetitions (Welch); candidates only one run\n"
                             "has are listed. A and B are run ids or files that 'spak export' wrote (a '/' in\n"
                             "it or a .json ending).\n"
                             "  --level L   the intervals' level (default 0.95)\n  --json      machine-readable\n"
                             "  --home DIR",
     "spak compare [--level L] [--json] [--home DIR] A B"},
    {"build", cmd_build, "Build every candidate of a spec's loop into the build cache (HOME/cache/build).\n"
                         "Do it before carrying the home to a machine where compiling would cost its time.\n"
                         "  --loop NAME   which engineering_loop\n  --json        {built, failed} on stdout\n  --home DIR",
     "spak build [--loop NAME] [--json] [--home DIR] SPEC"},
    {"llm", cmd_llm, "Talk to an LLM endpoint directly (the client the llm strategy uses); prints the reply\n"
                     "(--json: reply, outcome, tokens, latency, cost). The API key comes only from the\n"
                     "environment variable named by --api-key-env. --expect parses the reply as the loop would.",
     "spak llm ask [--backend openai|anthropic|manual] --endpoint URL --model M [--system TEXT]\n"
     "             [--temperature T] [--max-tokens N] [--timeout S] [--retries N] [--api-key-env VAR]\n"
     "             [--json-object] [--expect code|params] [--symbol NAME] [--manual-dir DIR --tag T]\n"
     "             [--price-in USD --price-out USD] [--json] PROMPT"},
    {"mcp", cmd_mcp, "Serve the loop to an MCP client over stdio.\nJSON-RPC 2.0, revision 2025-11-25 (2025-06-18 for older clients):\n"
     "tools to start or attach a run whose engineer is the client, read its context, propose points, sources or\n"
     "diffs with predictions, wait for their records; resources for the spec, the ABI and the best source.\n"
     "Approval gates stay with 'spak approve'. docs/mcp.md.\n  --home DIR", "spak mcp [--home DIR]"},
    {"mcp-call", cmd_mcp_call, "Call one tool of 'spak mcp' from a shell: starts the server, initializes it, calls\n"
     "TOOL with the JSON object of arguments, prints the result's text (--json: its structured content).\n"
     "  --list   list the tools\n  --json   machine-readable\n  -q       no progress lines\n  --home DIR",
     "spak mcp-call [--home DIR] [--json] (--list | TOOL [JSON])"},
    {"explain", cmd_explain, "Print the loop's state machine (--json: its states and the text).", "spak explain [--json]"},
    {"dump", cmd_dump, "Print the syntax tree of a spec (for tests and tools; comments are not part of it).",
     "spak dump FILE"},
    {"version", cmd_version, "Print the version (--json: as JSON).", "spak version [--json]"},
    {"help", cmd_help, "Show help for a command.", "spak help [COMMAND]"},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < SPAK_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The first sentence of a summary (up to a '.', ':' or ';' that ends a
 * clause outside parentheses, or the end), its lines joined, on lines of at
 * most 80 columns under the name: the listing never cuts a sentence. */
static void print_brief(FILE *f, const char *name, const char *summary)
{
    char line[1024];
    size_t n = 0;
    int depth = 0;
    for (const char *p = summary; *p && n + 1 < sizeof line; p++) {
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (depth == 0 && strchr(".:;", *p) && (!p[1] || p[1] == ' ' || p[1] == '\n'))
            break;
        line[n++] = *p == '\n' ? ' ' : *p;
    }
    line[n] = '\0';
    fprintf(f, "  %-9s", name);
    const int width = 80 - 12;
    const char *p = line;
    while (*p) {
        int len = (int)strlen(p);
        if (len > width) {  /* break at the last space that fits */
            len = width;
            while (len > 0 && p[len] != ' ')
                len--;
            if (len == 0)
                len = width;
        }
        fprintf(f, "%s %.*s\n", p == line ? "" : "           ", len, p);
        p += len;
        while (*p == ' ')
            p++;
    }
    if (!line[0])
        fputc('\n', f);
}

static void print_usage(FILE *f)
{
    fprintf(f, "spak %s - the Specification -> Programming -> Analysis -> Knowledge loop\n\n", SPAK_VERSION);
    fprintf(f, "usage: spak COMMAND [OPTIONS] [ARGS]   (options go anywhere; '--' ends them)\n\ncommands:\n");
    for (size_t i = 0; i < SPAK_ARRAY_LEN(commands); i++)
        print_brief(f, commands[i].name, commands[i].summary);
    fprintf(f, "\nThe home (the state directory): --home DIR, else $SPAK_HOME, else the nearest\n"
               ".spak/ from the current directory up; 'spak run' makes .spak/ here if none.\n"
               "\nexit status: 0 done (a run: whatever stopped it; the reason printed, in --json)\n"
               "  1 failed (a run failed, a spec has errors)\n"
               "  2 usage error\n"
               "  3 the run is suspended (waiting for 'spak approve', 'spak reject', a reply\n"
               "    file or an outside proposal, then 'spak resume')\n");
    fprintf(f, "\n'spak help COMMAND' or 'spak COMMAND --help' tells more. The language:\n"
               "docs/language.md; the command line: docs/cli.md\n");
}

static int cmd_help(int argc, char **argv)
{
    int first;
    const cli_opt opts[] = {{0}};
    int rc = cli_parse_opts("help", argc, argv, opts, 0, &first);
    if (rc)
        return rc;
    if (argc - first > 1)
        return usage_error("help", "%sexpected at most one command", "");
    if (first >= argc) {
        print_usage(stdout);
        return 0;
    }
    const command *c = find_command(argv[first]);
    if (!c) {
        fprintf(stderr, "spak: unknown command '%s'\n", argv[first]);
        return EXIT_USAGE;
    }
    print_command_help(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "spak: unknown command '%s' (see 'spak help')\n", argv[1]);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (is_help(argv[i])) {
            print_command_help(c);
            return 0;
        }
    }
    return c->fn(argc - 1, argv + 1);
}
