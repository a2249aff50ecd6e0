/* agent.c - see agent.h. */
#include "program/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "program/driver_llm.h"
#include "spec/expr.h"
#include "spec/fmt.h"
#include "spec/parse.h"
#include "analyze/sandbox.h"
#include "spec/spec.h"
#include "analyze/evaluate.h"
#include "analyze/records.h"
#include "analyze/trace.h"
#include "store/owner.h"
#include "store/scopes.h"
#include "template.h"

#define AGENT_MAX_FILE ((size_t)1 << 20)

typedef struct agent {
    const spak_engine_opts *o;
    spak_store *store;
    spak_spec *spec;
    const spak_model *m;
    const spak_entry *loop;
    char run_id[SPAK_STORE_ID_MAX];
    bool claimed;  /* this process holds the run (released at the end) */
    char dir[PATH_MAX];        /* the run's directory: the only place files are read and written */
    json_t *vars;              /* name -> string */
    json_t *tainted;           /* names an LLM wrote */
    json_t *branches;          /* recorded if-decisions, in execution order */
    json_t *latest;            /* valid records of the newest tool.run / engineering loop */
    long k;                    /* statements executed (this run, all sessions) */
    long skip;                 /* statements already executed before a resume */
    long n_branch;             /* if-decisions taken so far */
    spak_llm_settings llm;
    bool suspended;
} agent;

static spak_status journal(agent *a, const char *to, const char *status, json_t *detail, spak_err *err)
{
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    spak_transition t = {NULL, to, status, NULL, NULL, d};
    spak_status st = spak_store_transition(a->store, a->run_id, &t, NULL, err);
    free(d);
    return st;
}

static spak_status save(agent *a, spak_err *err)
{
    json_t *s = json_pack("{s:I,s:O,s:O,s:O}", "k", (json_int_t)a->k, "vars", a->vars, "tainted", a->tainted,
                          "branches", a->branches);
    char *t = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    spak_status st = spak_store_agent_put(a->store, a->run_id, t ? t : "{}", err);
    free(t);
    return st;
}

typedef struct agent_lookup {
    agent *a;
    bool *taint;
} agent_lookup;

/* {{name}}: a variable, or run_id / workdir. */
static spak_status lookup_var(void *ud, const char *name, spak_buf *out, spak_err *err)
{
    agent_lookup *l = ud;
    const char *v = json_string_value(json_object_get(l->a->vars, name));
    if (strcmp(name, "run_id") == 0)
        v = l->a->run_id;
    else if (strcmp(name, "workdir") == 0)
        v = l->a->dir;
    if (!v)
        return spak_errf(err, SPAK_ERR_ARG, "{{%s}} has no value (no statement set it)", name);
    if (l->taint && json_object_get(l->a->tainted, name))
        *l->taint = true;
    return spak_buf_puts(out, v);
}

/* Expand s into out (template.h). Sets *taint when an LLM wrote a variable it names. */
static spak_status expand(agent *a, const char *s, spak_buf *out, bool *taint, spak_err *err)
{
    agent_lookup l = {a, taint};
    return spak_template_expand(s, lookup_var, &l, out, err);
}

static const char *str(const spak_entry *stmt, const char *key)
{
    return stmt->body ? spak_block_string(stmt->body, key) : NULL;
}

/* A path inside the run's directory: relative, no "..", no symlink escape. */
static spak_status confine(agent *a, const char *rel, char *out, size_t n, spak_err *err)
{
    if (!rel || !*rel || rel[0] == '/')
        return spak_errf(err, SPAK_ERR_ARG, "path '%s' must be relative to the run's directory", rel ? rel : "");
    for (const char *p = rel; *p;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return spak_errf(err, SPAK_ERR_ARG, "path '%s' leaves the run's directory", rel);
        p += l + (slash ? 1 : 0);
    }
    if (!spak_snprintf(out, n, "%s/%s", a->dir, rel))
        return spak_errf(err, SPAK_ERR_LIMIT, "path too long");
    /* the parent, resolved, must still be inside (a symlink made by tool.run could point out) */
    char parent[PATH_MAX], real[PATH_MAX];
    spak_snprintf(parent, sizeof parent, "%s", out);
    char *sl = strrchr(parent, '/');
    if (sl)
        *sl = '\0';
    (void)spak_mkdirs(parent, NULL);  /* realpath below fails when it could not be made */
    if (!realpath(parent, real) || strncmp(real, a->dir, strlen(a->dir)) != 0)
        return spak_errf(err, SPAK_ERR_ARG, "path '%s' resolves outside the run's directory", rel);
    return SPAK_OK;
}

static void set_var(agent *a, const char *name, const char *value, bool tainted)
{
    json_object_set_new(a->vars, name, json_string(value ? value : ""));
    if (tainted)
        json_object_set_new(a->tainted, name, json_true());
    else
        json_object_del(a->tainted, name);
}

/* ---- statements ---- */

static spak_status stmt_llm(agent *a, const spak_entry *s, json_t *rec, spak_err *err)
{
    const char *prompt = str(s, "prompt");
    spak_buf p;
    spak_buf_init(&p, (size_t)4 << 20);
    spak_status st = expand(a, prompt ? prompt : "", &p, NULL, err);
    /* input: file("x") adds a file of the run's directory */
    const spak_entry *in = s->body ? spak_block_find(s->body, "input") : NULL;
    if (st == SPAK_OK && in && in->value && in->value->kind == SPAK_EX_CALL && strcmp(in->value->text, "file") == 0 &&
        in->value->n_items == 1 && in->value->items[0]->kind == SPAK_EX_STRING) {
        char path[PATH_MAX];
        char *txt = NULL;
        size_t len;
        st = confine(a, in->value->items[0]->text, path, sizeof path, err);
        if (st == SPAK_OK)
            st = spak_read_file(path, AGENT_MAX_FILE, &txt, &len, err);
        if (st == SPAK_OK) {
            spak_buf_printf(&p, "\n\n--- %s ---\n", in->value->items[0]->text);
            spak_buf_append(&p, txt, len);
        }
        free(txt);
    }
    if (st != SPAK_OK) {
        spak_buf_free(&p);
        return st;
    }
    char tag[64];
    spak_snprintf(tag, sizeof tag, "agent-%04ld", a->k + 1);
    spak_llm_config cfg = a->llm.cfg;
    char mdir[PATH_MAX + 8];
    spak_snprintf(mdir, sizeof mdir, "%s/llm", a->dir);
    cfg.manual_dir = mdir;
    spak_llm_request rq = {.system = "You are a performance engineer working inside an engineering loop.",
                           .user = p.data ? p.data : "", .tag = tag};
    spak_llm_reply rep;
    spak_err e2 = {0};
    (void)spak_llm_complete(&cfg, &rq, &rep, &e2);  /* rep says how it went (a failure is a recorded statement) */
    spak_buf_free(&p);
    json_object_set_new(rec, "outcome", json_string(spak_llm_outcome_name(rep.outcome)));
    json_object_set_new(rec, "model", json_string(rep.model[0] ? rep.model : (cfg.model ? cfg.model : "")));
    json_object_set_new(rec, "latency_s", json_real(rep.latency_s));
    json_object_set_new(rec, "prompt_tokens", json_integer(rep.prompt_tokens));
    json_object_set_new(rec, "completion_tokens", json_integer(rep.completion_tokens));
    if (rep.outcome == SPAK_LLM_SUSPENDED) {
        json_object_set_new(rec, "waiting_for", json_string(rep.reply_path));
        a->suspended = true;
    } else if (rep.outcome == SPAK_LLM_OK) {
        const char *ov = str(s, "output_var");
        if (ov)
            set_var(a, ov, rep.text, true);
        json_object_set_new(rec, "reply", json_string(rep.text));
    } else {
        json_object_set_new(rec, "error", json_string(rep.detail));
    }
    spak_llm_reply_free(&rep);
    return SPAK_OK;
}

static spak_status stmt_read(agent *a, const spak_entry *s, json_t *rec, spak_err *err)
{
    char path[PATH_MAX];
    spak_buf rel;
    spak_buf_init(&rel, 4096);
    spak_status st = expand(a, str(s, "path") ? str(s, "path") : "", &rel, NULL, err);
    if (st == SPAK_OK)
        st = confine(a, rel.data ? rel.data : "", path, sizeof path, err);
    spak_buf_free(&rel);
    char *txt = NULL;
    size_t len;
    if (st == SPAK_OK)
        st = spak_read_file(path, AGENT_MAX_FILE, &txt, &len, err);
    if (st != SPAK_OK) {
        json_object_set_new(rec, "error", json_string(err->msg));
        return SPAK_OK;
    }
    const char *ov = str(s, "output_var");
    if (ov)
        set_var(a, ov, txt, true);  /* a file of the run may hold what an LLM wrote */
    json_object_set_new(rec, "bytes", json_integer((json_int_t)len));
    free(txt);
    return SPAK_OK;
}

static spak_status stmt_write(agent *a, const spak_entry *s, json_t *rec, spak_err *err)
{
    char path[PATH_MAX];
    spak_buf rel, content;
    spak_buf_init(&rel, 4096);
    spak_buf_init(&content, AGENT_MAX_FILE);
    spak_status st = expand(a, str(s, "path") ? str(s, "path") : "", &rel, NULL, err);
    if (st == SPAK_OK)
        st = confine(a, rel.data ? rel.data : "", path, sizeof path, err);
    if (st == SPAK_OK)
        st = expand(a, str(s, "content") ? str(s, "content") : "", &content, NULL, err);
    if (st == SPAK_OK) {
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
            st = spak_errf(err, SPAK_ERR_ARG, "%s is a symbolic link: not written", rel.data);
        else
            st = spak_write_file_atomic(path, content.data ? content.data : "", content.len, err);
    }
    if (st != SPAK_OK)
        json_object_set_new(rec, "error", json_string(err->msg));
    else
        json_object_set_new(rec, "bytes", json_integer((json_int_t)content.len));
    spak_buf_free(&rel);
    spak_buf_free(&content);
    return SPAK_OK;
}

static spak_status stmt_run(agent *a, const spak_entry *s, json_t *rec, spak_err *err)
{
    spak_buf cmd;
    spak_buf_init(&cmd, 16384);
    bool taint = false;
    spak_status st = expand(a, str(s, "cmd") ? str(s, "cmd") : "", &cmd, &taint, err);
    if (st == SPAK_OK && taint)
        st = spak_errf(err, SPAK_ERR_ARG, "the command names a variable an LLM wrote: refused (LLM output never goes "
                                          "into a command line)");
    if (st != SPAK_OK) {
        json_object_set_new(rec, "error", json_string(err->msg));
        spak_buf_free(&cmd);
        return SPAK_OK;
    }
    /* words split on blanks, quotes group: no shell (template.h, as the engine's measure cmd) */
    char wstore[16384];
    char *words[SPAK_TEMPLATE_MAX_WORDS];
    size_t nw = 0;
    st = spak_template_split(cmd.data ? cmd.data : "", "tool.run cmd", wstore, sizeof wstore, words, &nw, err);
    if (st != SPAK_OK) {
        json_object_set_new(rec, "error", json_string(err->msg));
        spak_buf_free(&cmd);
        return SPAK_OK;
    }
    if (nw == 0) {
        json_object_set_new(rec, "error", json_string("empty command"));
        spak_buf_free(&cmd);
        return SPAK_OK;
    }
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = a->o->eval_timeout_s > 0 ? a->o->eval_timeout_s : 600;
    spak_sandbox_result r;
    st = spak_sandbox_run((const char *const *)words, a->dir, &lim, &r, err);
    spak_buf_free(&cmd);
    if (st != SPAK_OK) {
        json_object_set_new(rec, "error", json_string(err->msg));
        return SPAK_OK;
    }
    json_object_set_new(rec, "exit", json_string(r.why_text));
    json_object_set_new(rec, "ok", json_boolean(r.ok));
    spak_trace_list tl;
    if (spak_trace_scan(r.out, r.out_len, NULL, &tl, NULL) == SPAK_OK) {
        (void)spak_trace_validate_all(&tl, &a->m->schema, NULL);  /* each record keeps its own verdict */
        json_t *valid = json_array();
        for (size_t i = 0; i < tl.n; i++)
            if (tl.items[i].valid && tl.items[i].json)
                json_array_append(valid, tl.items[i].json);
        /* the statement records its counts anyway */
        (void)spak_store_trace_insert_list(a->store, a->run_id, 0, &tl, NULL);
        json_object_set_new(rec, "records", json_integer((json_int_t)tl.n));
        json_object_set_new(rec, "record_errors", json_integer((json_int_t)tl.n_errors));
        if (json_array_size(valid)) {
            json_decref(a->latest);
            a->latest = valid;
        } else {
            json_decref(valid);
        }
    }
    spak_trace_list_free(&tl);
    const char *ov = str(s, "output_var");
    if (ov) {
        char *clean = spak_text_clean(r.out ? r.out : "", r.out_len, (size_t)1 << 20, NULL);
        set_var(a, ov, clean, false);
        free(clean);
    }
    spak_sandbox_result_free(&r);
    return SPAK_OK;
}

static spak_status stmt_eloop(agent *a, const spak_entry *s, json_t *rec, spak_err *err)
{
    const char *name = str(s, "name");
    spak_engine_opts o = *a->o;
    o.loop_name = name;
    o.strategy = NULL;  /* the loop's own strategy: `--llm` chose the agent's LLM, not the tuner's */
    char rid[SPAK_STORE_ID_MAX] = "";
    spak_run run = {0};
    spak_status st = spak_store_run_get(a->store, a->run_id, &run, err);
    const char *spec_path = st == SPAK_OK && run.spec_path ? run.spec_path : "";
    spak_err e2 = {0};
    if (!o.run_loop)
        st = spak_errf(&e2, SPAK_ERR_ARG, "no engine to run engineering loops here");
    else
        st = o.run_loop(&o, spec_path, rid, &e2);
    spak_store_run_free(&run);
    json_object_set_new(rec, "run", json_string(rid));
    if (st != SPAK_OK) {
        json_object_set_new(rec, "error", json_string(e2.msg));
        return SPAK_OK;
    }
    /* the loop's best records become trace.latest for the agent */
    spak_run lr = {0};
    if (spak_store_run_get(a->store, rid, &lr, NULL) == SPAK_OK && lr.summary_json) {
        json_t *sj = json_loads(lr.summary_json, 0, NULL);
        json_int_t best = json_integer_value(json_object_get(json_object_get(sj, "best"), "eval_id"));
        json_object_set(rec, "summary", sj);
        json_decref(sj);
        if (best) {
            json_decref(a->latest);
            a->latest = spak_eval_records(a->store, rid, best);
        }
    }
    spak_store_run_free(&lr);
    char var[160];
    spak_snprintf(var, sizeof var, "%s_run", name ? name : "loop");
    set_var(a, var, rid, false);
    (void)err;
    return SPAK_OK;
}

static const json_t *rec_of(void *ud, const char *case_name)
{
    agent *a = ud;
    const json_t *found = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(a->latest, i, r) {
        if (spak_trace_counts(r, case_name))
            found = r;
    }
    return found;
}

/* every record the tuner's best evaluation gave (trace.latest and trace.best of the agent) */
static const json_t *recs_of(void *ud)
{
    agent *a = ud;
    return a->latest;
}

static spak_status block(agent *a, const spak_block *b, const char *step, spak_err *err);

/* One statement; `if` recurses. Statements before a.skip were run in an
 * earlier session: they are passed over (their if-decisions replayed). */
static spak_status statement(agent *a, const spak_entry *s, const char *step, spak_err *err)
{
    if (a->suspended)
        return SPAK_OK;
    if (s->kind == SPAK_EN_IF) {
        bool take = false;
        json_t *d = json_array_get(a->branches, (size_t)a->n_branch);
        if (d) {
            take = json_is_true(d);  /* decided before the resume */
        } else {
            const spak_expr *cond = s->value;
            const spak_expr *e = cond;
            if (cond->kind == SPAK_EX_STRING) {
                spak_pos at = cond->pos;
                e = spak_parse_expr_text(cond->text, at, spak_spec_arena(a->spec), NULL, true);
            }
            spak_eval_env env = {.model = a->m, .latest = rec_of, .best = rec_of, .ud = a, .latest_all = recs_of,
                                 .best_all = recs_of};
            spak_err ee = {0};
            json_t *rec = json_pack("{s:s,s:s}", "step", step, "statement", "if");
            if (!e || spak_eval_bool(e, &env, &take, &ee) != SPAK_OK) {
                take = false;
                json_object_set_new(rec, "condition", json_string(e ? ee.msg : "prose: not evaluated"));
            }
            json_object_set_new(rec, "taken", json_boolean(take));
            json_array_append_new(a->branches, json_boolean(take));
            spak_status st = journal(a, "agent", NULL, rec, err);
            if (st != SPAK_OK)
                return st;
        }
        a->n_branch++;
        if (take)
            return block(a, s->body, step, err);
        if (s->else_branch) {
            if (s->else_branch->kind == SPAK_EN_IF)
                return statement(a, s->else_branch, step, err);
            return block(a, s->else_branch->body, step, err);
        }
        return SPAK_OK;
    }
    if (a->k < a->skip) {
        a->k++;
        return SPAK_OK;
    }
    const char *h = spak_entry_head(s);
    json_t *rec = json_pack("{s:s,s:s}", "step", step, "statement", h);
    spak_status st = SPAK_OK;
    if (strcmp(h, "llm.query") == 0)
        st = stmt_llm(a, s, rec, err);
    else if (strcmp(h, "tool.read") == 0)
        st = stmt_read(a, s, rec, err);
    else if (strcmp(h, "tool.write") == 0)
        st = stmt_write(a, s, rec, err);
    else if (strcmp(h, "tool.run") == 0)
        st = stmt_run(a, s, rec, err);
    else if (strcmp(h, "tool.engineering_loop") == 0)
        st = stmt_eloop(a, s, rec, err);
    else if (strcmp(h, "emit") == 0) {
        json_object_set_new(rec, "emit", json_string(s->n_words > 1 ? s->words[1].text : ""));
        if (s->n_words > 1 && !s->words[1].is_string) {
            const char *dot = strchr(s->words[1].text, '.');
            const json_t *r = rec_of(a, dot ? dot + 1 : NULL);
            json_object_set_new(rec, "record", r ? json_deep_copy(r) : json_null());
        }
    } else {
        json_object_set_new(rec, "note", json_string("not an executable statement: kept as guidance"));
    }
    if (st != SPAK_OK) {
        json_decref(rec);
        return st;
    }
    if (a->suspended) {
        st = journal(a, "suspended", SPAK_RUN_SUSPENDED, rec, err);
        if (st == SPAK_OK)
            st = save(a, err);
        return st;
    }
    a->k++;
    st = journal(a, "agent", NULL, rec, err);
    if (st == SPAK_OK)
        st = save(a, err);
    return st;
}

static spak_status block(agent *a, const spak_block *b, const char *step, spak_err *err)
{
    for (size_t i = 0; b && i < b->n && !a->suspended; i++) {
        spak_status st = statement(a, b->items[i], step, err);
        if (st != SPAK_OK)
            return st;
    }
    return SPAK_OK;
}

static spak_status execute(agent *a, spak_err *err)
{
    const spak_block *body = a->loop->body;
    for (size_t i = 0; body && i < body->n && !a->suspended; i++) {
        const spak_entry *s = body->items[i];
        spak_status st;
        if (spak_entry_word_is(s, 0, "step"))
            st = block(a, s->body, s->n_words > 1 ? s->words[1].text : "", err);
        else
            st = statement(a, s, "", err);
        if (st != SPAK_OK)
            return st;
    }
    if (a->suspended) {
        if (a->o->on_event) {
            char why[600];
            spak_snprintf(why, sizeof why, "an llm.query waits for its reply in %s/llm; write it, then 'spak resume %s'",
                          a->dir, a->run_id);
            spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .run_id = a->run_id, .why = why};
            a->o->on_event(a->o->ud, &ev);
        }
        return SPAK_OK;
    }
    json_t *s = json_pack("{s:s,s:I,s:O}", "run_id", a->run_id, "statements", (json_int_t)a->k, "vars", a->vars);
    char *sj = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    spak_transition t = {NULL, "done", SPAK_RUN_DONE, "agent loop finished", sj, NULL};
    spak_status st = spak_store_transition(a->store, a->run_id, &t, NULL, err);
    free(sj);
    if (st == SPAK_OK && a->o->on_event) {
        spak_engine_event ev = {.kind = SPAK_EV_RUN_DONE, .run_id = a->run_id, .stop_reason = "agent loop finished",
                                .eval_no = a->k, .metric = NAN, .ratio = NAN, .best_metric = NAN, .best_ratio = NAN};
        a->o->on_event(a->o->ud, &ev);
    }
    return st;
}

static spak_status setup(agent *a, const char *name, spak_err *err)
{
    const spak_model *m = a->m;
    a->loop = NULL;
    for (size_t i = 0; i < m->n_agent_loops && !a->loop; i++)
        if (!name || (m->agent_loops[i]->n_words > 1 && strcmp(m->agent_loops[i]->words[1].text, name) == 0))
            a->loop = m->agent_loops[i];
    if (!a->loop)
        return spak_errf(err, SPAK_ERR_ARG, name ? "the spec has no agent_loop named '%s'" : "the spec has no agent_loop%s",
                         name ? name : "");
    const spak_block *lb = NULL;
    for (size_t i = 0; m->system && i < m->system->n; i++)
        if (spak_entry_word_is(m->system->items[i], 0, "llm") && m->system->items[i]->body)
            lb = m->system->items[i]->body;
    spak_status st = spak_llm_settings_read(lb, spak_spec_file(a->spec)->path, a->o->llm_backend, a->o->llm_endpoint,
                                            a->o->llm_model, &a->llm, err);
    if (st == SPAK_OK)
        spak_llm_settings_override(&a->llm, a->o->llm_temperature, a->o->llm_max_tokens, a->o->llm_timeout_s);
    return st;
}

static void agent_free(agent *a)
{
    json_decref(a->vars);
    json_decref(a->tainted);
    json_decref(a->branches);
    json_decref(a->latest);
    spak_spec_free(a->spec);
    if (a->store) {
        if (a->claimed)  /* let the run go, as the engine does; a claim left behind means a killed owner */
            (void)spak_store_run_claim(a->store, a->run_id, NULL, true, NULL);
        spak_store_close(a->store);
    }
}

/* Hold the run for this process (force: its owner is dead or there is
 * none), so that a kill -9 leaves it 'interrupted' (owner.h). */
static spak_status claim(agent *a, const char *old_owner, spak_err *err)
{
    char owner[200];
    spak_owner_id(owner, sizeof owner);
    spak_status st = spak_store_run_claim(a->store, a->run_id, owner, spak_owner_is_dead(old_owner), err);
    a->claimed = st == SPAK_OK;
    return st;
}

static spak_status run_dir(agent *a, spak_err *err)
{
    const char *home = a->o->home ? a->o->home : ".spak";
    char d[PATH_MAX];
    spak_snprintf(d, sizeof d, "%s/runs/%s/agent", home, a->run_id);
    spak_status st = spak_mkdirs(d, err);
    if (st != SPAK_OK)
        return st;
    if (!realpath(d, a->dir))
        return spak_errf(err, SPAK_ERR_IO, "%s: %s", d, strerror(errno));
    return SPAK_OK;
}

spak_status spak_agent_run(const spak_engine_opts *o, const char *spec_path, const char *name,
                           char run_id[SPAK_STORE_ID_MAX], spak_err *err)
{
    agent a = {.o = o};
    a.vars = json_object();
    a.tainted = json_object();
    a.branches = json_array();
    a.latest = json_array();
    run_id[0] = '\0';
    spak_status st = spak_spec_load(spec_path, &a.spec, err);
    if (st == SPAK_OK) {
        a.m = spak_spec_model(a.spec);
        st = setup(&a, name, err);
    }
    if (st == SPAK_OK)
        st = spak_engine_open_store(o, &a.store, err);
    if (st != SPAK_OK)
        goto out;
    size_t len;
    const char *text = spak_spec_source(a.spec, &len);
    char abs_spec[PATH_MAX];
    if (!realpath(spec_path, abs_spec))
        spak_snprintf(abs_spec, sizeof abs_spec, "%s", spec_path);
    char strat[200];
    spak_snprintf(strat, sizeof strat, "agent:%s", a.loop->n_words > 1 ? a.loop->words[1].text : "");
    spak_run_new nw = {abs_spec, text, strat, 0, NULL, NULL, "agent", NULL};
    st = spak_store_run_create(a.store, &nw, a.run_id, err);
    if (st != SPAK_OK)
        goto out;
    spak_snprintf(run_id, SPAK_STORE_ID_MAX, "%s", a.run_id);
    spak_engine_save_options(a.store, a.run_id, o);
    st = claim(&a, NULL, err);
    if (st == SPAK_OK)
        st = run_dir(&a, err);
    if (st == SPAK_OK && o->on_event) {
        spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .run_id = a.run_id};
        o->on_event(o->ud, &ev);
    }
    if (st == SPAK_OK)
        st = execute(&a, err);
out:
    agent_free(&a);
    return st;
}

spak_status spak_agent_resume(const spak_engine_opts *o, const char *run_id, spak_err *err)
{
    json_t *roj = NULL;
    agent a = {.o = o};
    spak_run run = {0};
    spak_status st = spak_engine_open_store(o, &a.store, err);
    if (st == SPAK_OK)
        st = spak_store_run_get(a.store, run_id, &run, err);
    if (st != SPAK_OK)
        goto out;
    spak_snprintf(a.run_id, sizeof a.run_id, "%s", run.id);
    if ((st = claim(&a, run.owner, err)) != SPAK_OK)
        goto out;  /* another live process holds it */
    st = spak_spec_load_mem(run.spec_path ? run.spec_path : "spec", run.spec_text ? run.spec_text : "",
                            run.spec_text ? strlen(run.spec_text) : 0, &a.spec, err);
    if (st != SPAK_OK)
        goto out;
    a.m = spak_spec_model(a.spec);
    /* the LLM settings the run was started with, unless given again now */
    spak_engine_opts o2 = *o;
    roj = spak_engine_load_options(a.store, run.id, &o2);
    a.o = &o2;
    st = setup(&a, run.strategy && strlen(run.strategy) > 6 ? run.strategy + 6 : NULL, err);
    if (st == SPAK_OK)
        st = run_dir(&a, err);
    if (st != SPAK_OK)
        goto out;
    char *v = NULL;
    (void)spak_store_agent_get(a.store, run.id, &v, NULL);  /* none: the agent starts over */
    json_t *s = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    a.skip = (long)json_integer_value(json_object_get(s, "k"));
    a.vars = json_object_get(s, "vars") ? json_incref(json_object_get(s, "vars")) : json_object();
    a.tainted = json_object_get(s, "tainted") ? json_incref(json_object_get(s, "tainted")) : json_object();
    a.branches = json_object_get(s, "branches") ? json_incref(json_object_get(s, "branches")) : json_array();
    a.latest = json_array();
    json_decref(s);
    st = journal(&a, "agent", SPAK_RUN_RUNNING, json_pack("{s:s,s:I}", "note", "resumed", "done", (json_int_t)a.skip),
                 err);
    if (st == SPAK_OK && o->on_event) {
        spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .run_id = a.run_id, .resumed = true, .eval_no = a.skip};
        o->on_event(o->ud, &ev);
    }
    if (st == SPAK_OK)
        st = execute(&a, err);
out:
    spak_store_run_free(&run);
    agent_free(&a);
    json_decref(roj);
    return st;
}
