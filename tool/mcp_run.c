/* mcp_run.c - children and proposal states of `spak mcp` (mcp_run.h). */
#include "mcp_run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "program/strategy_external.h"
#include "store/owner.h"
#include "store/store.h"
#include "util.h"

#define CAPTURE_MAX (1u << 20)
#define MAX_ARGS 32

extern char **environ;

bool mcp_set_home(mcp_server *s, const char *path)
{
    char abs[PATH_MAX], cwd[PATH_MAX];
    if (realpath(path, abs))
        return spak_snprintf(s->home, sizeof s->home, "%s", abs);
    if (path[0] != '/' && getcwd(cwd, sizeof cwd))
        return spak_snprintf(s->home, sizeof s->home, "%s/%s", cwd, path);  /* made by the first run */
    return spak_snprintf(s->home, sizeof s->home, "%s", path);
}

spak_engine_opts mcp_opts(const mcp_server *s)
{
    spak_engine_opts o;
    memset(&o, 0, sizeof o);
    o.home = s->home;
    return o;
}

/* argv of `spak CMD --home H ARGS...` into av (NULL-terminated). */
static void make_argv(const mcp_server *s, const char *const *args, const char **av)
{
    size_t n = 0;
    av[n++] = s->exe;
    av[n++] = args[0];
    if (strcmp(args[0], "check") != 0) {  /* check reads no home */
        av[n++] = "--home";
        av[n++] = s->home;
    }
    for (size_t i = 1; args[i] && n < MAX_ARGS - 1; i++)
        av[n++] = args[i];
    av[n] = NULL;
}

/* Read what is there from fd into b (beyond the cap: read and dropped);
 * false at its end. */
static bool drain(int fd, spak_buf *b)
{
    char chunk[8192];
    ssize_t k = read(fd, chunk, sizeof chunk);
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (k <= 0)
        return false;
    (void)spak_buf_append(b, chunk, (size_t)k);  /* over the cap: the rest is dropped */
    return true;
}

int mcp_capture(const mcp_server *s, const char *const *args, char **out, char **errout)
{
    const char *av[MAX_ARGS];
    make_argv(s, args, av);
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, rc = -1;
    spak_buf bo, be;
    spak_buf_init(&bo, CAPTURE_MAX);
    spak_buf_init(&be, CAPTURE_MAX);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    pid_t pid = -1;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
        goto out;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    if (posix_spawn(&pid, s->exe, &fa, NULL, (char *const *)av, environ) != 0) {
        pid = -1;
        goto out;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    bool open_o = true, open_e = true;
    while (open_o || open_e) {
        struct pollfd p[2] = {{open_o ? po[0] : -1, POLLIN, 0}, {open_e ? pe[0] : -1, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (open_o && p[0].revents)
            open_o = drain(po[0], &bo);
        if (open_e && p[1].revents)
            open_e = drain(pe[0], &be);
    }
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
    }
    rc = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    posix_spawn_file_actions_destroy(&fa);
    *out = spak_buf_take(&bo);
    *errout = spak_buf_take(&be);
    return rc;
}

mcp_kid *mcp_child_of(mcp_server *s, const char *run)
{
    for (size_t i = 0; i < MCP_MAX_KIDS; i++)
        if (s->kids[i].pid > 0 && strcmp(s->kids[i].run, run) == 0)
            return &s->kids[i];
    return NULL;
}

void mcp_ensure_child(mcp_server *s, const char *run)
{
    if (mcp_child_of(s, run) || spak_now_monotonic() < s->respawn_after)
        return;
    spak_engine_opts o = mcp_opts(s);
    size_t queued = 0;
    if (spak_external_queued(&o, run, 0, &queued, NULL) != SPAK_OK || queued == 0)
        return;
    mcp_resume_child(s, run);
}

void mcp_resume_child(mcp_server *s, const char *run)
{
    if (mcp_child_of(s, run))
        return;
    mcp_kid *k = NULL;
    for (size_t i = 0; i < MCP_MAX_KIDS && !k; i++)
        if (s->kids[i].pid <= 0)
            k = &s->kids[i];
    if (!k)
        return;  /* every slot busy: tried again at the next turn */
    char dir[PATH_MAX], log[PATH_MAX + 16];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s/external", s->home, run);
    spak_snprintf(log, sizeof log, "%s/resume.log", dir);
    (void)spak_mkdirs(dir, NULL);
    const char *args[] = {"resume", run, NULL};
    const char *av[MAX_ARGS];
    make_argv(s, args, av);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* its own session: a signal to the server's group (a client's ^C, a
     * kill of the server) leaves the evaluation to finish and be journaled */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
    pid_t pid;
    if (posix_spawn(&pid, s->exe, &fa, &at, (char *const *)av, environ) == 0) {
        k->pid = pid;
        k->started = spak_now_monotonic();
        spak_snprintf(k->run, sizeof k->run, "%s", run);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
}

/* The external note of an evaluation's result, or NULL. */
static const json_t *note_of(const json_t *res)
{
    const json_t *n = json_object_get(res, "external");
    if (json_is_object(n))
        return n;
    return json_is_integer(json_object_get(res, "proposal")) ? res : NULL;  /* a step rejected at the gate */
}

static bool final_status(const char *st)
{
    return st && (strcmp(st, SPAK_EVAL_DONE) == 0 || strcmp(st, SPAK_EVAL_FAILED) == 0 ||
                  strcmp(st, SPAK_EVAL_STOPPED) == 0);
}

/* One evaluation as a wait shows it; hide: without its measurement, as the
 * context of a run started with --context-without measurements shows it. */
static json_t *eval_json(const spak_eval *e, const json_t *note, bool hide)
{
    json_t *j = json_pack("{s:I,s:s,s:s,s:O?,s:O?,s:O?,s:O?}", "eval_id", (json_int_t)e->eval_id, "candidate",
                          e->cand_key ? e->cand_key : "", "status", e->status ? e->status : "", "item",
                          json_object_get(note, "item"), "tunables", json_object_get(note, "tunables"), "prediction",
                          json_object_get(note, "prediction"), "swept", json_object_get(note, "swept"));
    json_object_set_new(j, "correct", e->correct < 0 ? json_null() : json_boolean(e->correct));
    if (hide) {
        json_object_set_new(j, "measurement", json_string(SPAK_CTX_OMITTED_MEASUREMENTS));
        char cut[512];
        if (e->error && strcmp(e->status ? e->status : "", SPAK_EVAL_STOPPED) != 0)  /* a stop says how slow */
            json_object_set_new(j, "error", json_string(spak_context_hide_measured(e->error, cut, sizeof cut)));
        goto log;
    }
    json_object_set_new(j, "metric", isnan(e->metric) ? json_null() : json_real(e->metric));
    json_object_set_new(j, "ratio", isnan(e->ratio) ? json_null() : json_real(e->ratio));
    if (e->bottleneck)
        json_object_set_new(j, "bottleneck", json_string(e->bottleneck));
    if (e->error)
        json_object_set_new(j, "error", json_string(e->error));
log:
    if (e->build_log && *e->build_log && e->correct != 1) {
        size_t n = strlen(e->build_log);
        json_object_set_new(j, "build_log_tail", json_string(e->build_log + (n > 4000 ? n - 4000 : 0)));
    }
    return j;
}

/* Why the run cannot go on by itself now, or NULL (borrowed text in buf). */
static const char *waiting_for(mcp_server *s, spak_store *st, const char *run, char *buf, size_t n)
{
    if (mcp_child_of(s, run))
        return NULL;
    spak_run r = {0};
    const char *why = NULL;
    if (spak_store_run_get(st, run, &r, NULL) != SPAK_OK)
        return NULL;
    char *pend = spak_engine_pending(st, run);
    json_t *pj = pend ? json_loads(pend, 0, NULL) : NULL;
    free(pend);
    const char *shown = spak_run_status_shown(r.status, r.owner);
    if (pj && !json_object_get(pj, "decision")) {
        char asked[160];
        bool asking = mcp_elicit_asking(s, run, asked, sizeof asked);
        spak_snprintf(buf, n,
                      "the run waits for the supervisor at its '%s' gate (%s): a person answers it with 'spak approve "
                      "--home %s %s' or 'spak reject --home %s %s'; no tool answers it%s%s",
                      json_string_value(json_object_get(pj, "gate")) ? json_string_value(json_object_get(pj, "gate"))
                                                                      : "approval",
                      json_string_value(json_object_get(pj, "what")) ? json_string_value(json_object_get(pj, "what"))
                                                                      : "no description",
                      s->home, run, s->home, run, asking ? "; the person is being asked through the client" : "",
                      !asking && asked[0] ? "; " : "");
        if (!asking && asked[0])
            spak_snprintf(buf + strlen(buf), n - strlen(buf), "%s", asked);
        why = buf;
    } else if (strcmp(shown, SPAK_RUN_SUSPENDED) != 0 && strcmp(shown, SPAK_RUN_RUNNING) != 0 &&
               strcmp(shown, SPAK_RUN_INTERRUPTED) != 0) {  /* interrupted: the server resumes it */
        spak_snprintf(buf, n, "the run is %s (%s): it takes no more proposals", shown,
                      r.stop_reason ? r.stop_reason : "no reason recorded");
        why = buf;
    }
    json_decref(pj);
    spak_store_run_free(&r);
    return why;
}

bool mcp_waiting_for(mcp_server *s, const char *run, char *buf, size_t n)
{
    spak_engine_opts o = mcp_opts(s);
    spak_store *st = NULL;
    bool any = false;
    if (spak_engine_open_store(&o, &st, NULL) == SPAK_OK)
        any = waiting_for(s, st, run, buf, n) != NULL;
    spak_store_close(st);
    return any;
}

bool mcp_run_running(const mcp_server *s, const char *run)
{
    spak_engine_opts o = mcp_opts(s);
    spak_store *st = NULL;
    spak_run r = {0};
    bool running = false;
    if (spak_engine_open_store(&o, &st, NULL) == SPAK_OK && spak_store_run_get(st, run, &r, NULL) == SPAK_OK)
        running = strcmp(spak_run_status_shown(r.status, r.owner), SPAK_RUN_RUNNING) == 0;
    spak_store_run_free(&r);
    spak_store_close(st);
    return running;
}

bool mcp_run_ended(const mcp_server *s, const char *run, char *why, size_t wn)
{
    spak_engine_opts o = mcp_opts(s);
    spak_store *st = NULL;
    spak_run r = {0};
    bool ended = false;
    if (spak_engine_open_store(&o, &st, NULL) == SPAK_OK && spak_store_run_get(st, run, &r, NULL) == SPAK_OK) {
        const char *shown = spak_run_status_shown(r.status, r.owner);
        ended = strcmp(shown, SPAK_RUN_SUSPENDED) != 0 && strcmp(shown, SPAK_RUN_RUNNING) != 0 &&
                strcmp(shown, SPAK_RUN_INTERRUPTED) != 0;
        if (ended)
            spak_snprintf(why, wn, "run %s is %s (%s): it takes no more proposals; start another with spak_start",
                          run, shown, r.stop_reason ? r.stop_reason : "no reason recorded");
    }
    spak_store_run_free(&r);
    spak_store_close(st);
    return ended;
}

json_t *mcp_proposal_state(mcp_server *s, const char *run, long proposal, char *why, size_t wn)
{
    spak_engine_opts o = mcp_opts(s);
    spak_err err = {0};
    size_t queued = 0;
    if (spak_external_queued(&o, run, proposal, &queued, &err) != SPAK_OK) {
        spak_snprintf(why, wn, "%s", err.msg);
        return NULL;
    }
    spak_store *st = NULL;
    if (spak_engine_open_store(&o, &st, &err) != SPAK_OK) {
        spak_snprintf(why, wn, "%s", err.msg);
        return NULL;
    }
    spak_engine_opts ro = {.llm_temperature = -1};  /* the run's own options: its ablation */
    json_t *rj = spak_engine_load_options(st, run, &ro);
    bool hide = ro.context_without & SPAK_CTX_WITHOUT_MEASUREMENTS;
    json_decref(rj);
    spak_eval *ev = NULL;
    size_t n = 0;
    (void)spak_store_eval_list(st, run, &ev, &n, NULL);
    json_t *evs = json_array();
    long finished = 0, of = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *res = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        const json_t *note = note_of(res);
        if (note && json_integer_value(json_object_get(note, "proposal")) == proposal) {
            json_array_append_new(evs, eval_json(&ev[i], note, hide));
            finished += final_status(ev[i].status);
            if (json_integer_value(json_object_get(note, "of")) > of)
                of = (long)json_integer_value(json_object_get(note, "of"));
        }
        json_decref(res);
    }
    spak_store_evals_free(ev, n);
    bool done = queued == 0 && finished > 0 && finished >= of;
    char wbuf[1024];
    const char *wf = done ? NULL : waiting_for(s, st, run, wbuf, sizeof wbuf);
    spak_store_close(st);
    json_t *j = json_pack("{s:s,s:I,s:b,s:I,s:I,s:I,s:o,s:b}", "run", run, "proposal", (json_int_t)proposal, "done",
                          done, "finished", (json_int_t)finished, "of", (json_int_t)(of ? of : finished + (long)queued),
                          "queued", (json_int_t)queued, "evaluations", evs, "evaluating",
                          !done && mcp_child_of(s, run) != NULL);
    if (wf)
        json_object_set_new(j, "waiting_for", json_string(wf));
    json_t *ends = NULL;
    char pk[32];
    spak_snprintf(pk, sizeof pk, "%ld", proposal);
    if (spak_external_sweeps(&o, run, &ends, NULL, NULL) == SPAK_OK && json_object_get(ends, pk))
        json_object_set(j, "sweep", json_object_get(ends, pk));  /* how its sweep ended */
    json_decref(ends);
    return j;
}

/* One swept point as the summary lists it: "UNR=2 12.3 (ratio 1.8)". */
static void point_text(spak_buf *b, const spak_eval *e, const json_t *note, bool hide)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)json_object_get(note, "tunables"), k, v) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        spak_buf_printf(b, "%s%s=%s", first ? "" : ",", k, t ? t : "?");
        free(t);
        first = false;
    }
    bool ok = e->correct == 1 && e->status && strcmp(e->status, SPAK_EVAL_DONE) == 0;
    if (!ok)
        spak_buf_printf(b, " failed (%.120s)", e->error ? e->error : e->status ? e->status : "?");
    else if (!hide)
        spak_buf_printf(b, " %.4g (ratio %.3g)", e->metric, e->ratio);
}

/* The sweeps of one proposal: its points, best, spread and end. */
static void one_sweep(spak_buf *b, long prop, const spak_eval *ev, size_t n, const json_t *end, const json_t *going,
                      bool hide)
{
    size_t tried = 0, failed = 0;
    const spak_eval *best = NULL;
    const json_t *best_note = NULL;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        json_t *res = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        const json_t *note = json_object_get(res, "external");
        if (json_object_get(note, "swept") && json_integer_value(json_object_get(note, "proposal")) == prop &&
            final_status(ev[i].status)) {
            tried++;
            bool ok = ev[i].correct == 1 && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0 && !isnan(ev[i].ratio);
            failed += !ok;
            if (ok) {
                lo = fmin(lo, ev[i].ratio);
                hi = fmax(hi, ev[i].ratio);
                if (!best || ev[i].ratio > best->ratio) {
                    best = &ev[i];
                    json_decref((json_t *)best_note);
                    best_note = json_incref((json_t *)note);
                }
            }
        }
        json_decref(res);
    }
    const char *strat = json_string_value(json_object_get(end ? end : going, "strategy"));
    spak_buf_printf(b, "- Proposal %ld, swept by the %s strategy: %zu point%s judged, %zu failed; %s%s.\n", prop,
                    strat ? strat : "run's", tried, tried == 1 ? "" : "s", failed, end ? "ended: " : "still going",
                    end ? json_string_value(json_object_get(end, "ended")) : "");
    if (best && hide)
        spak_buf_printf(b, "  Its best and spread: %s.\n", SPAK_CTX_OMITTED_MEASUREMENTS);
    else if (best) {
        spak_buf_puts(b, "  Best: ");
        point_text(b, best, best_note, false);
        spak_buf_printf(b, ", eval %lld. Spread of the correct points' ratios: %.3g .. %.3g (%.2fx).\n",
                        (long long)best->eval_id, lo, hi, lo > 0 ? hi / lo : NAN);
    }
    json_decref((json_t *)best_note);
    spak_buf_puts(b, "  Points in the order tried:");
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < 32; i++) {
        json_t *res = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        const json_t *note = json_object_get(res, "external");
        if (json_object_get(note, "swept") && json_integer_value(json_object_get(note, "proposal")) == prop &&
            final_status(ev[i].status)) {
            spak_buf_puts(b, shown++ ? "; " : " ");
            point_text(b, &ev[i], note, hide);
        }
        json_decref(res);
    }
    spak_buf_puts(b, shown ? ".\n" : " none yet.\n");
}

bool mcp_sweep_summary(const mcp_server *s, const char *run, size_t max, spak_buf *b)
{
    spak_engine_opts o = mcp_opts(s);
    json_t *ends = NULL, *going = NULL;
    if (spak_external_sweeps(&o, run, &ends, &going, NULL) != SPAK_OK)
        return false;
    /* the proposals with a sweep, newest first */
    long props[64];
    size_t np = 0;
    const char *k;
    json_t *v;
    json_t *both[2] = {ends, going};
    for (int w = 0; w < 2; w++)
        json_object_foreach(both[w], k, v) if (np < SPAK_ARRAY_LEN(props)) props[np++] = strtol(k, NULL, 10);
    bool any = np > 0;
    if (any) {
        for (size_t i = 1; i < np; i++)  /* newest first */
            for (size_t j = i; j > 0 && props[j] > props[j - 1]; j--) {
                long t = props[j];
                props[j] = props[j - 1];
                props[j - 1] = t;
            }
        spak_store *st = NULL;
        spak_eval *ev = NULL;
        size_t n = 0;
        spak_engine_opts ro = {.llm_temperature = -1};
        bool hide = false;
        if (spak_engine_open_store(&o, &st, NULL) == SPAK_OK) {
            json_decref(spak_engine_load_options(st, run, &ro));
            hide = ro.context_without & SPAK_CTX_WITHOUT_MEASUREMENTS;
            (void)spak_store_eval_list(st, run, &ev, &n, NULL);
        }
        spak_buf_puts(b, "## What spak's sweeps of your tunables found\n\n");
        for (size_t i = 0; i < np && i < max; i++) {
            char pk[32];
            spak_snprintf(pk, sizeof pk, "%ld", props[i]);
            one_sweep(b, props[i], ev, n, json_object_get(ends, pk), json_object_get(going, pk), hide);
        }
        if (np > max)
            spak_buf_printf(b, "- (%zu older sweeps not shown)\n", np - max);
        spak_buf_puts(b, "\n");
        spak_store_evals_free(ev, n);
        spak_store_close(st);
    }
    json_decref(ends);
    json_decref(going);
    return any;
}

bool mcp_elicit_asking(const mcp_server *s, const char *run, char *why, size_t wn)
{
    if (why && wn)
        why[0] = 0;
    for (size_t i = 0; i < MCP_MAX_ELICITS; i++)
        if (s->elicits[i].pending && strcmp(s->elicits[i].run, run) == 0) {
            if (why)
                spak_snprintf(why, wn, "%s", s->elicits[i].outcome);
            return s->elicits[i].request != 0;
        }
    return false;
}
