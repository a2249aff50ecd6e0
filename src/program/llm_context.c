/* llm_context.c - the prompt's texts from the run (llm_context.h). */
#include "program/llm_context.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/views.h"
#include "knowledge/knowledge.h"
#include "program/context_sections.h"
#include "spec/fmt.h"

static char *read_capped(const char *path, size_t cap)
{
    char *t = NULL;
    size_t n;
    if (spak_read_file(path, (size_t)1 << 20, &t, &n, NULL) != SPAK_OK)
        return NULL;
    if (n > cap) {
        t[cap] = '\0';  /* the prompt builder's budget cuts further */
    }
    return t;
}

void spak_llm_texts_free(spak_llm_texts *t)
{
    spak_buf_free(&t->task);
    spak_buf_free(&t->space);
    spak_buf_free(&t->analysis);
    spak_buf_free(&t->diag);
    spak_buf_free(&t->rules);
    spak_buf_free(&t->machine);
    spak_buf_free(&t->start);
    spak_buf_free(&t->diff);
    spak_buf_free(&t->shapes);
    spak_buf_free(&t->counters);
    spak_buf_free(&t->predictions);
    free(t->abi);
    free(t->best_src);
    for (size_t i = 0; i < t->n_lessons; i++)
        free(t->lessons[i]);
    for (size_t i = 0; i < t->n_history; i++)
        free(t->history[i]);
    free(t->lessons);
    free(t->history);
}

/* A lesson with its evidence: the effect, its uncertainty, the confidence,
 * the run it came from and the judge's evidence line. */
static char *lesson_line(const spak_lesson *l)
{
    spak_buf b;
    spak_buf_init(&b, 4096);
    (void)spak_buf_puts(&b, l->text);
    json_t *ev = l->evidence_json ? json_loads(l->evidence_json, 0, NULL) : NULL;
    const char *why = json_string_value(json_object_get(ev, "evidence"));
    bool any = !isnan(l->effect) || why || l->run_id;
    if (any)
        (void)spak_buf_puts(&b, " (evidence:");
    if (!isnan(l->effect))
        (void)spak_buf_printf(&b, " effect %.4g", l->effect);
    if (!isnan(l->uncertainty))
        (void)spak_buf_printf(&b, " +- %.3g", l->uncertainty);
    if (!isnan(l->confidence))
        (void)spak_buf_printf(&b, ", confidence %.2f", l->confidence);
    if (why)
        (void)spak_buf_printf(&b, "; %s", why);
    if (json_is_true(json_object_get(ev, "untrusted")))
        (void)spak_buf_puts(&b, "; from records the trusted judge did not write");
    if (l->run_id)
        (void)spak_buf_printf(&b, "; run %s", l->run_id);
    if (any)
        (void)spak_buf_puts(&b, ")");
    json_decref(ev);
    return spak_buf_take(&b);
}

/* What a section removed by the run's design says instead (run_opts.h). */
#define OMIT_MEAS SPAK_CTX_OMITTED_MEASUREMENTS
#define OMIT_KNOW SPAK_CTX_OMITTED_KNOWLEDGE

/* The texts that read the run's evaluations: history, starting point,
 * latest analysis, per-shape results, counters, diagnostics, diff,
 * predictions. */
static void measured_texts(const spak_strategy_run *e, spak_llm_texts *t)
{
    bool hide = spak_ctx_without(e, SPAK_CTX_WITHOUT_MEASUREMENTS);
    spak_eval *ev = NULL;
    size_t n = 0;
    if (spak_store_eval_list(e->store, e->run_id, &ev, &n, NULL) != SPAK_OK) {
        ev = NULL;
        n = 0;
    }
    t->history = calloc(n ? n : 1, sizeof *t->history);
    for (size_t i = 0; t->history && i < n; i++) {
        char line[1024], ci[96] = "";
        double lo, hi;
        if (!hide && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0 && i + 20 >= n) {  /* the prompt shows the last 20 */
            json_t *recs = spak_ctx_records(e->store, e->run_id, ev[i].eval_id);
            if (spak_views_ratio_ci(recs, &lo, &hi, NULL))
                spak_snprintf(ci, sizeof ci, " [%.3g-%.3g]", lo, hi);
            json_decref(recs);
        }
        if (hide && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0)
            spak_snprintf(line, sizeof line, "%s: done, correct (%s)", ev[i].cand_key, OMIT_MEAS);
        else if (hide && strcmp(ev[i].status, SPAK_EVAL_STOPPED) == 0)  /* its reason says how slow */
            spak_snprintf(line, sizeof line, "%s: stopped early by the judge (%s)", ev[i].cand_key, OMIT_MEAS);
        else if (strcmp(ev[i].status, SPAK_EVAL_DONE) == 0)
            spak_snprintf(line, sizeof line, "%s: %s %.4g, %.3fx the baseline%s%s%s", ev[i].cand_key,
                          e->loop->metric, ev[i].metric, ev[i].ratio, ci, ev[i].bottleneck ? ", " : "",
                          ev[i].bottleneck ? ev[i].bottleneck : "");
        else {
            char cut[512];
            const char *why = ev[i].error ? ev[i].error : "";
            spak_snprintf(line, sizeof line, "%s: %s %s", ev[i].cand_key, ev[i].status,
                          hide ? spak_context_hide_measured(why, cut, sizeof cut) : why);
        }
        t->history[t->n_history] = strdup(line);
        if (t->history[t->n_history])
            t->n_history++;
    }
    /* the latest evaluation that was a candidate (a failed step built nothing) */
    const spak_eval *latest = NULL, *best = NULL;
    for (size_t i = n; i-- > 0 && !latest;)
        if (!ev[i].cand_key || strncmp(ev[i].cand_key, "llm:", 4) != 0)
            latest = &ev[i];
    for (size_t i = 0; i < n; i++)
        if (ev[i].eval_id == e->best_eval_id)
            best = &ev[i];
    json_t *lrec = latest ? spak_ctx_records(e->store, e->run_id, latest->eval_id) : json_array();
    json_t *brec = best ? spak_ctx_records(e->store, e->run_id, best->eval_id) : json_array();
    if (n && &ev[n - 1] != latest)  /* the last step gave no candidate: say so first */
        spak_buf_printf(&t->analysis, "last step %s: %s%s%s\n", ev[n - 1].cand_key, ev[n - 1].status,
                        ev[n - 1].error ? ": " : "", ev[n - 1].error ? ev[n - 1].error : "");
    spak_ctx_analysis(e, latest, lrec, best, brec, &t->analysis);
    spak_ctx_start(e, ev, n, &t->start);
    const spak_eval *first = NULL;  /* the starting point (context_sections.c: the first point measured) */
    for (size_t i = 0; i < n && !first; i++)
        if (ev[i].cand_key && strncmp(ev[i].cand_key, "code:", 5) != 0 && strncmp(ev[i].cand_key, "llm:", 4) != 0)
            first = &ev[i];
    if (best && first == best && t->best_src) {
        free(t->best_src);
        t->best_src = strdup("Not repeated: the best candidate is the starting point, whose source is shown "
                             "above.");
    }
    spak_ctx_shapes(e, latest, lrec, best, brec, &t->shapes);
    spak_ctx_counters(e, latest, lrec, &t->counters);
    spak_ctx_diag(e, latest, lrec, &t->diag);
    spak_ctx_diff(e, latest, best, &t->diff);
    spak_ctx_predictions(e, ev, n, &t->predictions);
    if (hide) {  /* the sections that are measurements say why they are empty (the start keeps its source) */
        spak_buf *gone[] = {&t->analysis, &t->shapes, &t->counters, &t->predictions};
        for (size_t i = 0; i < SPAK_ARRAY_LEN(gone); i++) {
            gone[i]->len = 0;
            spak_buf_printf(gone[i], "%s.", OMIT_MEAS);
        }
    }
    json_decref(lrec);
    json_decref(brec);
    spak_store_evals_free(ev, n);
}

void spak_llm_context_build(const spak_strategy_run *e, spak_llm_texts *t, spak_llm_context *c)
{
    memset(t, 0, sizeof *t);
    spak_buf_init(&t->task, 1 << 16);
    spak_buf_init(&t->space, 1 << 16);
    spak_buf_init(&t->analysis, 1 << 16);
    spak_buf_init(&t->diag, 1 << 16);
    spak_buf_init(&t->rules, 1 << 16);
    spak_buf_init(&t->machine, 1 << 14);
    spak_buf_init(&t->start, 1 << 16);
    spak_buf_init(&t->diff, 1 << 16);
    spak_buf_init(&t->shapes, 1 << 16);
    spak_buf_init(&t->counters, 1 << 15);
    spak_buf_init(&t->predictions, 1 << 15);
    memset(c, 0, sizeof *c);
    const spak_block *p = e->m->problem;
    const char *fam = p ? spak_block_string(p, "family") : NULL;
    spak_buf_printf(&t->task, "Make the %s kernel of system %s faster. Target: %s.", fam ? fam : "", e->m->system_name,
                    e->target);
    /* held-out shapes stay out of the prompt: the strategy never sees them */
    static const char *const keys[] = {"precision", "baseline", "shapes"};
    for (size_t i = 0; p && i < SPAK_ARRAY_LEN(keys); i++) {
        const spak_entry *x = spak_block_find(p, keys[i]);
        if (x && x->value) {
            spak_buf_printf(&t->task, " %s: ", keys[i]);
            (void)spak_fmt_expr(x->value, &t->task);  /* the buffer records a cut */
            spak_buf_puts(&t->task, ".");
        }
    }
    spak_buf_printf(&t->task,
                    " The metric is %s (%s), measured by a trusted harness that checks every candidate against a "
                    "reference on fresh inputs and held-out shapes, and times it against the baseline in the same "
                    "process. Candidates are built from source with the parameters as -D defines "
                    "(numbers: NAME=value, upper-case; strings: SPAK_<NAME>_<VALUE>=1).",
                    e->loop->metric, e->loop->objective == SPAK_OBJ_MAXIMIZE ? "maximize" : "minimize");
    for (size_t i = 0; i < e->space->n; i++) {
        spak_buf_printf(&t->space, "%s: [", e->space->params[i].name);
        for (size_t k = 0; k < e->space->params[i].n_values; k++) {
            if (k)
                spak_buf_puts(&t->space, ", ");
            (void)spak_fmt_expr(e->space->params[i].values[k], &t->space);  /* the buffer records a cut */
        }
        spak_buf_puts(&t->space, "]\n");
    }
    char path[PATH_MAX];
    if (spak_cand_source_of(e->site, 0, path, sizeof path)) {
        char *sl = strrchr(path, '/');
        if (sl && spak_snprintf(sl, sizeof path - (size_t)(sl - path), "/abi.h"))
            t->abi = spak_ctx_abi_with_includes(path, 64 << 10);
    }
    spak_ctx_machine(e, &t->machine);
    /* the best candidate's source: the LLM's own file, or the template's */
    if (e->best_eval_id) {
        spak_eval be = {0};
        spak_candidate cand = {0};
        bool found = false;
        if (spak_store_eval_get(e->store, e->run_id, e->best_eval_id, &be, NULL) == SPAK_OK && be.cand_key &&
            spak_store_candidate_get(e->store, e->run_id, be.cand_key, &cand, &found, NULL) == SPAK_OK && found &&
            cand.source_path)
            t->best_src = read_capped(cand.source_path, 64 << 10);
        else if (spak_cand_source_of(e->site, e->best_index, path, sizeof path))
            t->best_src = read_capped(path, 64 << 10);
        spak_store_candidate_free(&cand);
        spak_store_eval_free(&be);
    }
    measured_texts(e, t);
    /* rules: those whose condition holds now, then the prose guidance (a
     * condition nobody can evaluate), then the lessons */
    spak_firing firings[64];
    size_t nf = spak_rules_fire(e->m, e->space, e->env, firings, SPAK_ARRAY_LEN(firings));
    for (size_t i = 0; i < nf; i++) {
        const spak_rule_def *r = firings[i].rule;
        for (size_t k = 0; k < r->n_actions; k++)
            spak_buf_printf(&t->rules, "fired: %s \"%s\"%s%s: %s\n", r->is_hint ? "hint" : "rule", r->title,
                            r->when_text ? " when " : "", r->when_text ? r->when_text : "", r->actions[k].text);
    }
    for (size_t i = 0; i < e->m->n_rules; i++) {
        const spak_rule_def *r = &e->m->rules[i];
        if (r->when || !r->when_text)
            continue;  /* formal: fired above or not now */
        for (size_t k = 0; k < r->n_actions; k++)
            spak_buf_printf(&t->rules, "guidance: %s \"%s\" when %s: %s\n", r->is_hint ? "hint" : "rule", r->title,
                            r->when_text, r->actions[k].text);
    }
    if (spak_ctx_without(e, SPAK_CTX_WITHOUT_KNOWLEDGE)) {
        t->rules.len = 0;
        spak_buf_puts(&t->rules, OMIT_KNOW ": the spec's rules and hints are not shown.");
    }
    if (!t->rules.len)
        spak_buf_puts(&t->rules, "None: no rule or hint of the spec holds now, and the spec gives no prose "
                                 "guidance.");
    spak_lesson *ls = NULL;
    size_t nl = 0;
    const char *famv = fam ? fam : "";
    if (spak_ctx_without(e, SPAK_CTX_WITHOUT_KNOWLEDGE))
        c->lessons_omitted = OMIT_KNOW ": the store's lessons are not shown.";
    else if (spak_store_lesson_list(e->store, NULL, famv, NULL, &ls, &nl, NULL) == SPAK_OK) {
        t->lessons = calloc(nl ? nl : 1, sizeof *t->lessons);
        for (size_t i = nl; t->lessons && i-- > 0;)  /* newest first */
            if (ls[i].text && (t->lessons[t->n_lessons] = lesson_line(&ls[i])))
                t->n_lessons++;
        spak_store_lessons_free(ls, nl);
    }
    c->task = t->task.data;
    c->abi_header = t->abi;
    spak_snprintf(t->abi_symbol, sizeof t->abi_symbol, "spak_%s", fam ? fam : "kernel");
    c->abi_symbol = t->abi_symbol;
    c->language = strcmp(e->target, "cuda") == 0 ? "cuda" : "c";
    c->space = t->space.data;
    c->machine = t->machine.data;
    c->start = t->start.data;
    c->best_source = t->best_src;
    c->diff = t->diff.data;
    c->analysis = t->analysis.data;
    c->shapes = t->shapes.data;
    c->counters = t->counters.data;
    c->diagnostics = t->diag.data;
    c->rules = t->rules.data;
    c->predictions = t->predictions.data;
    c->lessons = (const char *const *)t->lessons;
    c->n_lessons = t->n_lessons;
    size_t keep = t->n_history > 20 ? t->n_history - 20 : 0;  /* the last 20 */
    c->history = (const char *const *)t->history + keep;
    c->n_history = t->n_history - keep;
    c->metric = e->loop->metric;
}

