/* engine.c - the state machine of engine.h. */
#include "engine.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build.h"
#include "spec/expr.h"
#include "spec/fmt.h"
#include "knowledge/knowledge.h"
#include "knowledge/learn.h"
#include "program/driver_llm.h"
#include "program/agent.h"
#include "analyze/sandbox.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "analyze/trace.h"

#define S_SPECIFY "specify"
#define S_PROGRAM "program"
#define S_BUILD "build"
#define S_ANALYZE "analyze"
#define S_KNOWLEDGE "knowledge"
#define S_DECIDE "decide"
#define S_DONE "done"
#define S_SUSPENDED "suspended"
/* the evaluation budget of an LLM run that was given no budget at all */
#define SPAK_LLM_DEFAULT_EVALUATIONS 50
/* exit_desc of an evaluation that stands for an LLM step that gave no candidate */
#define NO_CANDIDATE "not run: no candidate"

const char *spak_engine_describe(void)
{
    return "spak's loop is one state machine; every arrow is journaled in the store before it is taken.\n"
           "\n"
           "  SPECIFY    parse + check the spec, create the run, record the device\n"
           "     |\n"
           "     v\n"
           "  DECIDE  <------------------------------------------------------+\n"
           "     |  budget spent (evaluations, wall time, device seconds,       |\n"
           "     |  LLM tokens or cost) / stop condition / fraction of the      |\n"
           "     |  roofline / plateau / space exhausted                        |\n"
           "     |        --> DONE: crystallization (lessons, spec v(n+1))      |\n"
           "     v                                                             |\n"
           "  PROGRAM    grid | random | default | rules | llm proposes the     |\n"
           "     |       next candidate (llm: parameters or a new source;       |\n"
           "     |       the manual backend SUSPENDS until its reply file)      |\n"
           "     v                                                             |\n"
           "  BUILD      source + parameters as -D defines -> .so (cached by    |\n"
           "     |       content; the llm-code gate can SUSPEND before it)      |\n"
           "     v                                                             |\n"
           "  ANALYZE    measure cmd in the sandbox: the trusted harness        |\n"
           "     |       checks, times (against the baseline, in the same       |\n"
           "     |       process) and classifies; trace records validated       |\n"
           "     v                                                             |\n"
           "  KNOWLEDGE  predicate facts evaluated on the new records ----------+\n"
           "\n"
           "SUSPENDED waits for a person (a reply file, spak approve / spak reject); spak resume\n"
           "goes on. Resume keeps every finished evaluation; one cut off mid-way is marked\n"
           "'interrupted' and proposed again; the strategies are pure functions of the seed and\n"
           "the finished evaluations, so a resumed run continues where it stopped.\n";
}

typedef struct engine {
    const spak_engine_opts *o;
    spak_store *store;
    spak_spec *spec;
    const spak_model *m;
    const spak_loop_def *loop;
    spak_space space;
    spak_strategy_kind strat;
    const char *strat_name;
    uint64_t seed;
    long max_evals;
    double max_wall;
    char run_id[SPAK_STORE_ID_MAX];
    char state[32];
    char spec_dir[PATH_MAX];
    char home[PATH_MAX];
    const char *target;
    const char *baseline;
    spak_space_eval *done;
    size_t n_done, alloc_done;
    long n_evals;
    long since_best;
    double best_score;
    double best_metric, best_ratio;
    int64_t best_eval_id;
    uint64_t best_index;
    char best_key[2048];
    json_t *fired;    /* the rules that fired for the newest proposal (rules strategy) */
    spak_rule_def *lesson_rules;   /* transfer: the store's lessons as rules */
    size_t n_lesson_rules;
    spak_rule_action *lesson_owned[64];
    size_t n_lesson_owned;
    json_t *lesson_text;
    /* strategy llm */
    spak_llm_settings llm;
    long llm_steps;
    long llm_tokens;
    double llm_cost;
    bool llm_cost_unknown;
    long llm_failed_in_a_row; /* Programming steps in a row that gave no candidate */
    const char *code_source;  /* the LLM's source of the candidate being evaluated, or NULL */
    unsigned gates;           /* SPAK_GATE_* */
    double device_s;          /* seconds the measure commands ran */
    json_t *llm_step;         /* the step that proposed it */
    double llm_predicted;
    json_t *latest;   /* array of the newest evaluation's valid records */
    json_t *best;     /* array of the best evaluation's valid records */
    double elapsed_before, t0;
    uint64_t next_index;
    bool have_next;
} engine;

static double elapsed(const engine *e)
{
    return e->elapsed_before + (spak_now_monotonic() - e->t0);
}

static void emit(engine *e, spak_engine_event *ev)
{
    ev->run_id = e->run_id;
    ev->elapsed_s = elapsed(e);
    if (e->o->on_event)
        e->o->on_event(e->o->ud, ev);
}

/* Journal the transition, then take it. */
static spak_status go(engine *e, const char *to, json_t *detail, spak_err *err)
{
    char *d = NULL;
    if (detail) {
        json_object_set_new(detail, "elapsed_s", json_real(elapsed(e)));
        d = json_dumps(detail, JSON_COMPACT);
        json_decref(detail);
    }
    spak_transition t = {e->state, to, NULL, NULL, NULL, d};
    spak_status st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    free(d);
    if (st != SPAK_OK)
        return st;
    spak_snprintf(e->state, sizeof e->state, "%s", to);
    spak_engine_event ev = {.kind = SPAK_EV_PHASE, .phase = to, .eval_no = e->n_evals, .budget = e->max_evals,
                            .total = e->space.total, .metric_name = e->loop->metric, .best_metric = e->best_metric,
                            .best_ratio = e->best_ratio, .baseline = e->baseline};
    emit(e, &ev);
    return SPAK_OK;
}

spak_status spak_engine_open_store(const spak_engine_opts *o, spak_store **out, spak_err *err)
{
    const char *home = o->home ? o->home : ".spak";
    spak_status st = spak_mkdirs(home, err);
    if (st != SPAK_OK)
        return st;
    char path[PATH_MAX];
    if (!spak_snprintf(path, sizeof path, "%s/spak.db", home))
        return spak_errf(err, SPAK_ERR_ARG, "state directory path too long");
    return spak_store_open(path, out, err);
}

/* ---- the record views that expressions read ---- */

/* The last record of a case (any case when NULL) among those that count
 * (spak_trace_counts_heldout: held-out ones never steer the loop). */
static const json_t *find_case(const json_t *arr, const char *case_name)
{
    const bool heldout = spak_trace_counts_heldout(arr, case_name);
    const json_t *found = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        if (spak_trace_record_counts(r, case_name, heldout))
            found = r;
    }
    return found;
}

static const json_t *cb_latest(void *ud, const char *case_name)
{
    engine *e = ud;
    return e->latest ? find_case(e->latest, case_name) : NULL;
}

static const json_t *cb_best(void *ud, const char *case_name)
{
    engine *e = ud;
    return e->best ? find_case(e->best, case_name) : NULL;
}

/* Parameters in conditions read the values of the best candidate so far. */
static bool cb_param(void *ud, const char *name, spak_value *out)
{
    engine *e = ud;
    if (isnan(e->best_score) || e->best_index >= e->space.total)
        return false;
    size_t d[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(&e->space, e->best_index, d);
    for (size_t i = 0; i < e->space.n; i++) {
        if (strcmp(e->space.params[i].name, name) != 0)
            continue;
        const spak_expr *v = e->space.params[i].values[d[i]];
        memset(out, 0, sizeof *out);
        if (v->kind == SPAK_EX_NUMBER) {
            out->kind = SPAK_VAL_NUM;
            out->num = v->num;
        } else if (v->kind == SPAK_EX_UNARY) {
            out->kind = SPAK_VAL_NUM;
            out->num = -v->lhs->num;
        } else if (v->kind == SPAK_EX_BOOL) {
            out->kind = SPAK_VAL_BOOL;
            out->b = v->boolean;
        } else {
            out->kind = SPAK_VAL_STR;
            out->str = spak_value_text(v);
        }
        return true;
    }
    return false;
}

static const json_t *cb_latest_all(void *ud)
{
    return ((engine *)ud)->latest;
}

static const json_t *cb_best_all(void *ud)
{
    return ((engine *)ud)->best;
}

static spak_eval_env eval_env(engine *e)
{
    spak_eval_env env = {.model = e->m, .latest = cb_latest, .best = cb_best, .param = cb_param, .ud = e,
                         .latest_all = cb_latest_all, .best_all = cb_best_all};
    return env;
}

/* ---- setup ---- */

static spak_status load_spec(engine *e, const char *path, const char *text, spak_err *err)
{
    spak_status st = text ? spak_spec_load_mem(path, text, strlen(text), &e->spec, err)
                          : spak_spec_load(path, &e->spec, err);
    if (st != SPAK_OK) {
        if (e->spec) {
            spak_buf b;
            spak_buf_init(&b, 8192);
            spak_diags_format(spak_spec_diags(e->spec), &b);
            spak_errf(err, st, "%s is not a valid spec:\n%s", path, b.data ? b.data : "");
            spak_buf_free(&b);
        }
        return st;
    }
    e->m = spak_spec_model(e->spec);
    if (e->m->n_loops == 0)
        return spak_errf(err, SPAK_ERR_CHECK, "%s has no engineering_loop to run", path);
    e->loop = &e->m->loops[0];
    if (e->o->loop_name) {
        e->loop = spak_model_loop(e->m, e->o->loop_name);
        if (!e->loop)
            return spak_errf(err, SPAK_ERR_ARG, "%s has no engineering_loop named '%s'", path, e->o->loop_name);
    }
    if (!e->loop->has_measure)
        return spak_errf(err, SPAK_ERR_CHECK, "engineering_loop %s has no measure block", e->loop->name);
    char tmp[PATH_MAX];
    spak_snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash)
        *slash = '\0';
    else
        spak_snprintf(tmp, sizeof tmp, ".");
    if (!realpath(tmp, e->spec_dir))
        spak_snprintf(e->spec_dir, sizeof e->spec_dir, "%s", tmp);
    e->target = e->m->problem ? spak_block_string(e->m->problem, "target") : NULL;
    if (!e->target)
        e->target = "cpu";
    e->baseline = e->m->problem ? spak_block_string(e->m->problem, "baseline") : NULL;
    st = spak_space_init(&e->space, e->loop->params, e->loop->n_params, err);
    if (st != SPAK_OK)
        return st;
    const char *sn = e->o->strategy ? e->o->strategy : e->loop->strategy;
    if (!spak_strategy_parse(sn, &e->strat))
        return spak_errf(err, SPAK_ERR_ARG,
                         "strategy '%s' is not available in this version (use default, grid, random, rules or llm)", sn);
    e->strat_name = sn;
    if (e->strat == SPAK_STRAT_LLM) {
        const spak_block *lb = NULL;
        for (size_t i = 0; e->m->system && i < e->m->system->n; i++)
            if (spak_entry_word_is(e->m->system->items[i], 0, "llm") && e->m->system->items[i]->body)
                lb = e->m->system->items[i]->body;
        spak_status ls =
            spak_llm_settings_read(lb, path, e->o->llm_backend, e->o->llm_endpoint, e->o->llm_model, &e->llm, err);
        if (ls != SPAK_OK)
            return ls;
        spak_llm_settings_override(&e->llm, e->o->llm_temperature, e->o->llm_max_tokens, e->o->llm_timeout_s);
        if ((e->llm.budget_usd > 0 || e->loop->max_cost_usd > 0) && !e->llm.cfg.backend->unpriced &&
            (e->llm.cfg.price_in < 0 || e->llm.cfg.price_out < 0))
            return spak_errf(err, SPAK_ERR_ARG,
                             "a cost budget needs prices: set price_in and price_out (USD per million tokens) in "
                             "the llm block, or a price_table with an entry for model '%s'",
                             e->llm.cfg.model ? e->llm.cfg.model : "(none)");
    }
    e->gates = e->loop->approve | e->o->approve;
    e->max_evals = e->o->max_evaluations > 0 ? e->o->max_evaluations : e->loop->max_evaluations;
    e->max_wall = e->o->max_wall_s > 0 ? e->o->max_wall_s : e->loop->max_wall_s;
    /* An LLM run has no end of its own (written sources are not points of a
     * finite space): with no budget of any kind it gets one, shown in the
     * start line and kept with the run. */
    if (e->strat == SPAK_STRAT_LLM && e->max_evals <= 0 && e->max_wall <= 0 && e->loop->max_device_s <= 0 &&
        e->loop->max_tokens <= 0 && e->llm.budget_tokens <= 0 && e->loop->max_cost_usd <= 0 && e->llm.budget_usd <= 0)
        e->max_evals = SPAK_LLM_DEFAULT_EVALUATIONS;
    return SPAK_OK;
}

static spak_status setup_home(engine *e, spak_err *err)
{
    const char *home = e->o->home ? e->o->home : ".spak";
    spak_status st = spak_mkdirs(home, err);
    if (st != SPAK_OK)
        return st;
    if (!realpath(home, e->home))
        return spak_errf(err, SPAK_ERR_IO, "%s: %s", home, strerror(errno));
    char dev[PATH_MAX + 32];
    spak_snprintf(dev, sizeof dev, "%s/cache/device", e->home);
    st = spak_mkdirs(dev, err);
    if (st != SPAK_OK)
        return st;
    /* the harness measures device ceilings once and caches them here; it
     * runs as an unprivileged user in the sandbox, hence the sticky 1777 */
    chmod(dev, 01777);
    return SPAK_OK;
}

/* The GPU's name and driver from nvidia-smi (no shell), or NULL. */
static json_t *gpu_json(void)
{
    const char *argv[] = {"nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm", "--format=csv,noheader",
                          NULL};
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = 20;
    lim.run_as_uid = lim.run_as_gid = -1;
    lim.isolation_off = ~0u;
    lim.address_space_bytes = 0;
    spak_sandbox_result r;
    json_t *g = NULL;
    if (spak_sandbox_run(argv, "/tmp", &lim, &r, NULL) != SPAK_OK)
        return NULL;
    if (r.ok && r.out && r.out_len) {
        char line[512];
        spak_snprintf(line, sizeof line, "%.*s", (int)strcspn(r.out, "\n"), r.out);
        char *f2 = strchr(line, ',');
        char *f3 = f2 ? strchr(f2 + 1, ',') : NULL;
        if (f2)
            *f2++ = '\0';
        if (f3)
            *f3++ = '\0';
        while (f2 && *f2 == ' ')
            f2++;
        while (f3 && *f3 == ' ')
            f3++;
        g = json_pack("{s:s,s:s?,s:s?}", "gpu", line, "driver", f2, "sm_clock_max", f3);
    }
    spak_sandbox_result_free(&r);
    return g;
}

static json_t *device_json(void)
{
    json_t *d = json_object();
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    spak_snprintf(model, sizeof model, "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_object_set_new(d, "cpu", json_string(model));
    json_object_set_new(d, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(d, "host", json_string(host));
    return d;
}

/* ---- candidates ---- */

static void upper_ident(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++) {
        unsigned char c = (unsigned char)*in;
        out[k++] = (char)((c >= 'a' && c <= 'z') ? c - 32 : ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_');
    }
    out[k] = '\0';
}

static void value_string(const spak_expr *v, char *buf, size_t n)
{
    spak_snprintf(buf, n, "%s%s", v->kind == SPAK_EX_UNARY ? "-" : "", spak_value_text(v));
}

/* Substitute {{name}} in s using the candidate's parameters and builtins. */
typedef struct subst {
    engine *e;
    size_t *digits;
    const char *candidate, *source, *harness, *workdir, *ceilings, *baseline_so;
    char seed[32], eval_id[32];
} subst;

static bool lookup(const subst *sb, const char *name, char *out, size_t n)
{
    engine *e = sb->e;
    for (size_t i = 0; i < e->space.n; i++)
        if (strcmp(e->space.params[i].name, name) == 0) {
            value_string(e->space.params[i].values[sb->digits[i]], out, n);
            return true;
        }
    const char *v = NULL;
    if (strcmp(name, "candidate") == 0)
        v = sb->candidate;
    else if (strcmp(name, "source") == 0)
        v = sb->source;
    else if (strcmp(name, "harness") == 0)
        v = sb->harness;
    else if (strcmp(name, "workdir") == 0)
        v = sb->workdir;
    else if (strcmp(name, "ceilings") == 0)
        v = sb->ceilings;
    else if (strcmp(name, "baseline_so") == 0)
        v = sb->baseline_so;
    else if (strcmp(name, "seed") == 0)
        v = sb->seed;
    else if (strcmp(name, "eval_id") == 0)
        v = sb->eval_id;
    else if (strcmp(name, "run_id") == 0)
        v = e->run_id;
    else if (strcmp(name, "root") == 0)
        v = e->spec_dir;
    else if ((strcmp(name, "shapes") == 0 || strcmp(name, "heldout") == 0) && e->m->problem) {
        const spak_entry *x = spak_block_find(e->m->problem, name);
        if (x && x->value && x->value->kind == SPAK_EX_LIST) {
            size_t off = 0;
            out[0] = '\0';
            for (size_t i = 0; i < x->value->n_items; i++) {
                const char *t = spak_value_text(x->value->items[i]);
                if (!spak_snprintf(out + off, n - off, "%s%s", i ? "," : "", t))
                    return false;
                off += strlen(out + off);
            }
            return true;
        }
    }
    if (!v)
        return false;
    return spak_snprintf(out, n, "%s", v);
}

static spak_status expand(const subst *sb, const char *s, char *out, size_t n, spak_err *err)
{
    size_t k = 0;
    while (*s) {
        if (s[0] == '{' && s[1] == '{') {
            const char *end = strstr(s + 2, "}}");
            if (!end)
                return spak_errf(err, SPAK_ERR_ARG, "'{{' without '}}' in '%s'", s);
            char name[128];
            const char *b = s + 2, *z = end;
            while (b < z && *b == ' ')
                b++;
            while (z > b && z[-1] == ' ')
                z--;
            spak_snprintf(name, sizeof name, "%.*s", (int)(z - b), b);
            char val[4096];
            if (!lookup(sb, name, val, sizeof val))
                return spak_errf(err, SPAK_ERR_ARG, "template {{%s}} has no value here", name);
            size_t vl = strlen(val);
            if (k + vl + 1 > n)
                return spak_errf(err, SPAK_ERR_LIMIT, "expanded command argument too long");
            memcpy(out + k, val, vl);
            k += vl;
            s = end + 2;
            continue;
        }
        if (k + 2 > n)
            return spak_errf(err, SPAK_ERR_LIMIT, "expanded command argument too long");
        out[k++] = *s++;
    }
    out[k] = '\0';
    return SPAK_OK;
}

/* Split a command line into words: blanks separate, '...' and "..." quote.
 * No expansions of any kind: this is not a shell. */
#define MAX_ARGS 128
static spak_status split_words(const char *cmd, char *store, size_t store_n, char *words[MAX_ARGS], size_t *nw,
                               spak_err *err)
{
    size_t k = 0, n = 0;
    const char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (n + 1 >= MAX_ARGS)
            return spak_errf(err, SPAK_ERR_LIMIT, "measure cmd has more than %d words", MAX_ARGS - 1);
        words[n++] = store + k;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p && *p != q) {
                    if (k + 2 > store_n)
                        return spak_errf(err, SPAK_ERR_LIMIT, "measure cmd too long");
                    store[k++] = *p++;
                }
                if (*p != q)
                    return spak_errf(err, SPAK_ERR_ARG, "measure cmd: unterminated quote");
                p++;
                continue;
            }
            if (k + 2 > store_n)
                return spak_errf(err, SPAK_ERR_LIMIT, "measure cmd too long");
            store[k++] = *p++;
        }
        store[k++] = '\0';
    }
    words[n] = NULL;
    *nw = n;
    return SPAK_OK;
}

/* ---- one evaluation ---- */

typedef struct outcome {
    bool ok;
    int correct;          /* -1 unknown */
    double metric, ratio;
    char why[512];
    char bottleneck[64];
    char *build_log;
    spak_sandbox_result sr;
    bool ran;
    spak_trace_list traces;
    json_t *valid;        /* array of valid records */
} outcome;

static double geomean_field(const json_t *recs, const char *field, size_t *n_out)
{
    double s = 0;
    size_t n = 0;
    size_t i;
    json_t *r;
    /* held-out shapes are for checking: a harness may time them, but they
     * never steer the search */
    json_array_foreach(recs, i, r) {
        json_t *v = json_object_get(r, field);
        if (json_is_number(v) && json_number_value(v) > 0 && !json_is_true(json_object_get(r, "heldout"))) {
            s += log(json_number_value(v));
            n++;
        }
    }
    if (n_out)
        *n_out = n;
    if (n == 1) {  /* exact, not exp(log(x)) */
        json_array_foreach(recs, i, r) {
            json_t *v = json_object_get(r, field);
            if (json_is_number(v) && json_number_value(v) > 0 && !json_is_true(json_object_get(r, "heldout")))
                return json_number_value(v);
        }
    }
    return n ? exp(s / (double)n) : NAN;
}

static void read_outcome(engine *e, outcome *oc)
{
    /* correctness: every record carrying a boolean "passed" must say true */
    size_t i;
    json_t *r;
    int correct = -1;
    const char *fail_reason = NULL;
    json_array_foreach(oc->valid, i, r) {
        json_t *p = json_object_get(r, "passed");
        if (json_is_boolean(p)) {
            if (json_is_true(p)) {
                if (correct == -1)
                    correct = 1;
            } else {
                correct = 0;
                if (!fail_reason) {
                    const char *reason = json_string_value(json_object_get(r, "reason"));
                    const char *shape = json_string_value(json_object_get(r, "shape"));
                    static char buf[400];
                    spak_snprintf(buf, sizeof buf, "wrong%s%s%s%s", shape ? " at " : "", shape ? shape : "",
                                  reason ? ": " : "", reason ? reason : "");
                    fail_reason = buf;
                }
            }
        }
        json_t *b = json_object_get(r, "bottleneck");
        if (json_is_string(b))
            spak_snprintf(oc->bottleneck, sizeof oc->bottleneck, "%s", json_string_value(b));
    }
    oc->correct = correct;
    size_t nm = 0;
    oc->metric = geomean_field(oc->valid, e->loop->metric, &nm);
    oc->ratio = geomean_field(oc->valid, "ratio", NULL);
    if (correct == 0) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "%s", fail_reason);
        oc->metric = NAN;
        oc->ratio = NAN;
    } else if (nm == 0) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "no valid record with metric '%s'%s", e->loop->metric,
                      oc->traces.n_errors ? " (some trace records did not fit the schema)" : "");
    } else {
        oc->ok = true;
    }
}

/* The candidate's parameters as -D defines: numbers and booleans as
 * NAME=value (NAME upper-cased), strings as SPAK_<NAME>_<VALUE>=1. */
static size_t candidate_defines(engine *e, const size_t *digits, char defs[][300], const char **dp)
{
    size_t nd = 0;
    for (size_t i = 0; i < e->space.n && nd < SPAK_BUILD_MAX_DEFINES; i++) {
        char up[200], val[200], upv[200];
        upper_ident(e->space.params[i].name, up, sizeof up);
        const spak_expr *v = e->space.params[i].values[digits[i]];
        value_string(v, val, sizeof val);
        if (v->kind == SPAK_EX_STRING || v->kind == SPAK_EX_NAME) {
            upper_ident(val, upv, sizeof upv);
            spak_snprintf(defs[nd], 300, "SPAK_%s_%s=1", up, upv);
        } else {
            spak_snprintf(defs[nd], 300, "%s=%s", up, v->kind == SPAK_EX_BOOL ? (v->boolean ? "1" : "0") : val);
        }
        dp[nd] = defs[nd];
        nd++;
    }
    return nd;
}

/* Build the source named by template src_t (relative to the spec's
 * directory) with the given defines into the build cache. */
static spak_status build_source(engine *e, const subst *sb, const char *src_t, const char *include_dir,
                                const char *const *defines, size_t nd, char *source, size_t sn, char *artifact,
                                size_t an, char **log, bool *ok, spak_err *err)
{
    char rel[PATH_MAX];
    spak_status st = expand(sb, src_t, rel, sizeof rel, err);
    if (st != SPAK_OK)
        return st;
    if (rel[0] == '/')
        spak_snprintf(source, sn, "%s", rel);
    else
        spak_snprintf(source, sn, "%s/%s", e->spec_dir, rel);
    spak_build_request rq = {.source = source};
    for (size_t i = 0; i < nd && i < SPAK_BUILD_MAX_DEFINES; i++)
        rq.defines[i] = defines[i];
    rq.n_defines = nd;
    char inc[PATH_MAX + 8];
    spak_snprintf(inc, sizeof inc, "%s", include_dir ? include_dir : source);
    char *sl = include_dir ? NULL : strrchr(inc, '/');
    if (sl)
        *sl = '\0';
    rq.include_dir = inc;
    char cache[PATH_MAX + 32];
    spak_snprintf(cache, sizeof cache, "%s/cache/build", e->home);
    rq.cache_dir = cache;
    spak_build_result br;
    st = spak_build_candidate(&rq, &br, err);
    if (st != SPAK_OK)
        return st;
    *ok = br.ok;
    if (br.ok)
        spak_snprintf(artifact, an, "%s", br.artifact);
    if (log)
        *log = br.log;
    else
        spak_build_result_free(&br);
    return SPAK_OK;
}

static spak_status evaluate(engine *e, uint64_t index, int64_t eval_id, outcome *oc, spak_err *err)
{
    memset(oc, 0, sizeof *oc);
    oc->metric = oc->ratio = NAN;
    oc->correct = -1;
    spak_trace_list_init(&oc->traces);
    oc->valid = json_array();
    size_t digits[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(&e->space, index, digits);
    subst sb = {.e = e, .digits = digits, .candidate = "", .source = ""};
    uint64_t sd = e->seed ^ ((uint64_t)eval_id * 0x9E3779B97F4A7C15ULL);
    spak_snprintf(sb.seed, sizeof sb.seed, "%llu", (unsigned long long)(spak_splitmix64(&sd) & 0x7fffffff));
    spak_snprintf(sb.eval_id, sizeof sb.eval_id, "%lld", (long long)eval_id);
    char harness[PATH_MAX], workdir[PATH_MAX], ceilings[PATH_MAX], source[PATH_MAX], artifact[PATH_MAX];
    /* a family's own harness (spak-harness-cuda-fmha) before the target's (spak-harness-cuda) */
    const char *fam = e->m->problem ? spak_block_string(e->m->problem, "family") : NULL;
    spak_snprintf(harness, sizeof harness, "%s/spak-harness-%s-%s", e->o->bin_dir ? e->o->bin_dir : ".", e->target,
                  fam ? fam : "");
    if (!fam || access(harness, X_OK) != 0)
        spak_snprintf(harness, sizeof harness, "%s/spak-harness-%s", e->o->bin_dir ? e->o->bin_dir : ".", e->target);
    spak_snprintf(workdir, sizeof workdir, "%s/runs/%s/e%lld", e->home, e->run_id, (long long)eval_id);
    spak_snprintf(ceilings, sizeof ceilings, "%s/cache/device/ceilings-%s.json", e->home, e->target);
    sb.harness = harness;
    sb.workdir = workdir;
    sb.ceilings = ceilings;
    spak_status st = spak_mkdirs(workdir, err);
    if (st != SPAK_OK)
        return st;

    /* a baseline built from source (e.g. the naive attention rung) */
    const char *base_t = e->m->problem ? spak_block_string(e->m->problem, "baseline_source") : NULL;
    char base_so[PATH_MAX] = "";
    if (base_t) {
        bool ok = false;
        char base_src[PATH_MAX];
        st = build_source(e, &sb, base_t, NULL, NULL, 0, base_src, sizeof base_src, base_so, sizeof base_so, NULL, &ok,
                          err);
        if (st != SPAK_OK)
            return st;
        if (!ok)
            return spak_errf(err, SPAK_ERR_BUILD, "the baseline %s does not build", base_t);
        sb.baseline_so = base_so;
    }

    /* BUILD (when the problem names a source) */
    const char *src_t = e->m->problem ? spak_block_string(e->m->problem, "source") : NULL;
    if (src_t) {
        char defs[SPAK_BUILD_MAX_DEFINES][300];
        const char *dp[SPAK_BUILD_MAX_DEFINES];
        size_t nd = candidate_defines(e, digits, defs, dp);
        bool ok = false;
        char inc[PATH_MAX] = "";
        if (e->code_source) {
            /* the LLM's source, with the ABI headers of the problem's own sources */
            char rel[PATH_MAX];
            st = expand(&sb, src_t, rel, sizeof rel, err);
            if (st != SPAK_OK)
                return st;
            if (rel[0] == '/')
                spak_snprintf(inc, sizeof inc, "%s", rel);
            else
                spak_snprintf(inc, sizeof inc, "%s/%s", e->spec_dir, rel);
            char *sl = strrchr(inc, '/');
            if (sl)
                *sl = '\0';
        }
        st = build_source(e, &sb, e->code_source ? e->code_source : src_t, e->code_source ? inc : NULL, dp, nd,
                          source, sizeof source, artifact, sizeof artifact, &oc->build_log, &ok, err);
        if (st != SPAK_OK)
            return st;
        sb.source = source;
        if (!ok) {
            spak_snprintf(oc->why, sizeof oc->why, "build failed (see build log)");
            return SPAK_OK;
        }
        sb.candidate = artifact;
    }
    json_t *d = json_pack("{s:I}", "eval_id", (json_int_t)eval_id);
    st = go(e, S_ANALYZE, d, err);
    if (st != SPAK_OK)
        return st;
    spak_store_eval_set_status(e->store, e->run_id, eval_id, SPAK_EVAL_RUNNING, NULL);

    /* ANALYZE: the measure command in the sandbox */
    char wstore[16384];
    char *words[MAX_ARGS];
    size_t nw = 0;
    st = split_words(e->loop->cmd, wstore, sizeof wstore, words, &nw, err);
    if (st != SPAK_OK)
        return st;
    static char expanded[MAX_ARGS][4096];
    const char *argv[MAX_ARGS + 1];
    for (size_t i = 0; i < nw; i++) {
        st = expand(&sb, words[i], expanded[i], sizeof expanded[i], err);
        if (st != SPAK_OK)
            return st;
        argv[i] = expanded[i];
    }
    argv[nw] = NULL;
    if (nw == 0)
        return spak_errf(err, SPAK_ERR_ARG, "measure cmd is empty");
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = e->o->eval_timeout_s > 0 ? e->o->eval_timeout_s : 600;
    /* CPU time is the wall limit times the threads a harness may run on
     * (RLIMIT_CPU counts every thread); the wall clock is the real bound */
    lim.cpu_s = lim.wall_timeout_s * 64;
    lim.result_marker = SPAK_TRACE_MARKER;
    /* the harness caches the device's measured ceilings here */
    char devdir[PATH_MAX + 32];
    spak_snprintf(devdir, sizeof devdir, "%s/cache/device", e->home);
    const char *rwv[2] = {devdir, NULL};
    lim.rw_dirs = rwv;
    if (strcmp(e->target, "cuda") == 0)
        lim.address_space_bytes = 0;  /* the CUDA runtime maps far more than it uses */
#if defined(__SANITIZE_ADDRESS__)
    /* a sanitizer build's harness is an ASan binary too: its shadow memory is
     * a reservation of terabytes, which no address-space limit admits; and
     * LeakSanitizer stops the world with ptrace, which the sandbox's syscall
     * filter denies (the harness's leaks are checked outside the sandbox,
     * by tests/suites/cpu_harness.sh) */
    lim.address_space_bytes = 0;
    static const char *const asan_env[] = {"ASAN_OPTIONS=detect_leaks=0", NULL};
    lim.env_extra = asan_env;
#endif
    st = spak_sandbox_run(argv, workdir, &lim, &oc->sr, err);
    if (st != SPAK_OK)
        return st;
    oc->ran = true;
    st = spak_trace_scan(oc->sr.out, oc->sr.out_len, NULL, &oc->traces, err);
    if (st != SPAK_OK)
        return st;
    st = spak_trace_validate_all(&oc->traces, &e->m->schema, err);
    if (st != SPAK_OK)
        return st;
    for (size_t i = 0; i < oc->traces.n; i++)
        if (oc->traces.items[i].valid && oc->traces.items[i].json)
            json_array_append(oc->valid, oc->traces.items[i].json);
    read_outcome(e, oc);
    if (!oc->sr.ok) {
        oc->ok = false;
        spak_snprintf(oc->why, sizeof oc->why, "%s", oc->sr.why_text);
        oc->metric = oc->ratio = NAN;
    }
    return SPAK_OK;
}

static void outcome_free(outcome *oc)
{
    free(oc->build_log);
    if (oc->ran)
        spak_sandbox_result_free(&oc->sr);
    spak_trace_list_free(&oc->traces);
    json_decref(oc->valid);
}

/* ---- bookkeeping of finished evaluations ---- */

static void note_eval(engine *e, uint64_t index, int64_t eval_id, const char *key, double metric, double ratio,
                      json_t *records)
{
    if (e->n_done == e->alloc_done) {
        size_t na = e->alloc_done ? 2 * e->alloc_done : 64;
        spak_space_eval *q = realloc(e->done, na * sizeof *q);
        if (!q)
            return;
        e->done = q;
        e->alloc_done = na;
    }
    double score = isnan(metric) ? NAN : (e->loop->objective == SPAK_OBJ_MAXIMIZE ? metric : -metric);
    e->done[e->n_done].index = index;
    e->done[e->n_done].score = score;
    e->n_done++;
    e->n_evals++;
    if (records) {
        json_decref(e->latest);
        e->latest = json_incref(records);
    }
    if (!isnan(score) && (isnan(e->best_score) || score > e->best_score)) {
        e->best_score = score;
        e->best_metric = metric;
        e->best_ratio = ratio;
        e->best_eval_id = eval_id;
        e->best_index = index;
        spak_snprintf(e->best_key, sizeof e->best_key, "%s", key);
        if (records) {
            json_decref(e->best);
            e->best = json_incref(records);
        }
        e->since_best = 0;
    } else {
        e->since_best++;
    }
}

static json_t *records_of_eval(engine *e, int64_t eval_id)
{
    spak_trace_row *rows = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (spak_store_trace_list(e->store, e->run_id, eval_id, &rows, &n, NULL) != SPAK_OK)
        return arr;
    for (size_t i = 0; i < n; i++)
        if (rows[i].valid && rows[i].record_json) {
            json_t *j = json_loads(rows[i].record_json, 0, NULL);
            if (j)
                json_array_append_new(arr, j);
        }
    spak_store_trace_rows_free(rows, n);
    return arr;
}

/* Rebuild the in-memory view from the store (a resumed run). */
static spak_status replay(engine *e, spak_err *err)
{
    spak_eval *ev = NULL;
    size_t n = 0;
    spak_status st = spak_store_eval_list(e->store, e->run_id, &ev, &n, err);
    if (st != SPAK_OK)
        return st;
    int64_t latest_id = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].status, SPAK_EVAL_DONE) != 0 && strcmp(ev[i].status, SPAK_EVAL_FAILED) != 0)
            continue;
        uint64_t idx;
        if (!ev[i].cand_key)
            continue;
        if (!spak_space_find(&e->space, ev[i].cand_key, &idx))
            idx = UINT64_MAX;  /* an LLM-written source or a failed LLM step */
        double metric = (ev[i].correct != 0 && strcmp(ev[i].status, SPAK_EVAL_DONE) == 0) ? ev[i].metric : NAN;
        note_eval(e, idx, ev[i].eval_id, ev[i].cand_key, metric, ev[i].ratio, NULL);
        if (ev[i].exit_desc && strcmp(ev[i].exit_desc, NO_CANDIDATE) == 0)
            e->llm_failed_in_a_row++;
        else
            e->llm_failed_in_a_row = 0;
        json_t *rj = ev[i].result_json ? json_loads(ev[i].result_json, 0, NULL) : NULL;
        if (json_is_number(json_object_get(rj, "wall_s")))
            e->device_s += json_number_value(json_object_get(rj, "wall_s"));
        json_decref(rj);
        latest_id = ev[i].eval_id;
    }
    spak_store_evals_free(ev, n);
    if (latest_id) {
        json_decref(e->latest);
        e->latest = records_of_eval(e, latest_id);
    }
    if (e->best_eval_id) {
        json_decref(e->best);
        e->best = records_of_eval(e, e->best_eval_id);
    }
    return SPAK_OK;
}

/* ---- DECIDE ---- */

static json_t *summary(engine *e, const char *stop_reason)
{
    json_t *s = json_object();
    json_object_set_new(s, "run_id", json_string(e->run_id));
    json_object_set_new(s, "stop_reason", json_string(stop_reason ? stop_reason : ""));
    json_object_set_new(s, "evaluations", json_integer(e->n_evals));
    json_object_set_new(s, "space_size", json_integer((json_int_t)e->space.total));
    json_object_set_new(s, "strategy", json_string(e->strat_name));
    json_object_set_new(s, "metric", json_string(e->loop->metric));
    json_object_set_new(s, "objective", json_string(e->loop->objective == SPAK_OBJ_MAXIMIZE ? "maximize" : "minimize"));
    if (e->baseline)
        json_object_set_new(s, "baseline", json_string(e->baseline));
    json_object_set_new(s, "ratio", isnan(e->best_ratio) ? json_null() : json_real(e->best_ratio));
    if (e->best_eval_id) {
        json_t *b = json_object();
        json_object_set_new(b, "eval_id", json_integer(e->best_eval_id));
        json_object_set_new(b, "candidate", json_string(e->best_key));
        json_object_set_new(b, e->loop->metric, json_real(e->best_metric));
        json_object_set_new(b, "ratio", isnan(e->best_ratio) ? json_null() : json_real(e->best_ratio));
        json_object_set_new(s, "best", b);
    } else {
        json_object_set_new(s, "best", json_null());
    }
    json_object_set_new(s, "elapsed_s", json_real(elapsed(e)));
    return s;
}

/* Why the run should stop now, or NULL to go on (then e->next_index is set). */
static const char *decide(engine *e, spak_err *err, spak_status *st)
{
    *st = SPAK_OK;
    if (e->max_evals > 0 && e->n_evals >= e->max_evals)
        return "budget: evaluations";
    if (e->max_wall > 0 && elapsed(e) >= e->max_wall)
        return "budget: wall time";
    if (e->loop->max_device_s > 0 && e->device_s >= e->loop->max_device_s)
        return "budget: device seconds";
    long max_tok = e->loop->max_tokens > 0 ? e->loop->max_tokens : e->llm.budget_tokens;
    double max_usd = e->loop->max_cost_usd > 0 ? e->loop->max_cost_usd : e->llm.budget_usd;
    if (max_tok > 0 && e->llm_tokens >= max_tok)
        return "budget: llm tokens";
    if (max_usd > 0 && e->llm_cost >= max_usd)
        return "budget: llm cost";
    if (e->strat == SPAK_STRAT_LLM && e->llm.max_failed_steps > 0 && e->llm_failed_in_a_row >= e->llm.max_failed_steps)
        return "llm: steps in a row without a candidate";
    if (e->loop->stop_roofline > 0 && e->best) {
        /* the best candidate's position under the roofline, averaged over its shapes */
        static const char *const fields[] = {"roofline_frac", "frac_peak_flops", "frac_peak"};
        double sum = 0;
        int n = 0;
        size_t i;
        json_t *r;
        json_array_foreach(e->best, i, r) {
            if (json_is_true(json_object_get(r, "heldout")))
                continue;
            for (size_t k = 0; k < SPAK_ARRAY_LEN(fields); k++) {
                json_t *v = json_object_get(r, fields[k]);
                if (json_is_number(v)) {
                    sum += json_number_value(v);
                    n++;
                    break;
                }
            }
        }
        if (n && sum / n >= e->loop->stop_roofline)
            return "stop: fraction of the roofline";
    }
    if (e->loop->stop_when && e->latest) {
        spak_eval_env env = eval_env(e);
        bool yes = false;
        spak_err ee;
        if (spak_eval_bool(e->loop->stop_when, &env, &yes, &ee) == SPAK_OK && yes)
            return "stop condition";
    }
    if (e->loop->plateau > 0 && e->best_eval_id && e->since_best >= e->loop->plateau)
        return "plateau";
    bool found = false;
    json_decref(e->fired);
    e->fired = NULL;
    if (e->strat == SPAK_STRAT_RULES) {
        spak_firing firings[64];
        spak_eval_env env = eval_env(e);
        size_t nf = spak_rules_fire(e->m, &e->space, &env, firings, SPAK_ARRAY_LEN(firings));
        for (size_t i = 0; i < e->n_lesson_rules && nf < SPAK_ARRAY_LEN(firings); i++) {
            spak_firing *f = &firings[nf++];
            f->rule = &e->lesson_rules[i];
            f->n_actions = 0;
            for (size_t k = 0; k < f->rule->n_actions && f->n_actions < SPAK_ARRAY_LEN(f->actions); k++)
                if (spak_action_parse(f->rule->actions[k].text, "recommend", &e->space, &f->actions[f->n_actions],
                                      NULL, 0))
                    f->n_actions++;
        }
        bool by_rules = false;
        *st = spak_rules_next(&e->space, e->seed, e->done, e->n_done, firings, nf, &e->next_index, &found, &by_rules,
                              err);
        e->fired = json_array();
        for (size_t i = 0; i < nf; i++) {
            json_t *f = json_pack("{s:s,s:s?,s:I}", "rule", firings[i].rule->title, "when", firings[i].rule->when_text,
                                  "machine_actions", (json_int_t)firings[i].n_actions);
            if (e->best_eval_id)
                json_object_set_new(f, "evidence_eval_id", json_integer(e->best_eval_id));
            json_array_append_new(e->fired, f);
        }
        if (!by_rules)
            json_array_append_new(e->fired, json_pack("{s:s}", "note", "no rule constrains the rest: exploring"));
    } else {
        *st = spak_space_next(&e->space, e->strat, e->seed, e->done, e->n_done, &e->next_index, &found, err);
    }
    if (*st != SPAK_OK)
        return NULL;
    if (!found)
        return "search space exhausted";
    return NULL;
}

/* ---- KNOWLEDGE ---- */

static json_t *knowledge(engine *e)
{
    json_t *facts = json_object();
    spak_eval_env env = eval_env(e);
    for (size_t i = 0; i < e->m->n_facts; i++) {
        const spak_fact_def *f = &e->m->facts[i];
        if (!f->predicate || !f->body)
            continue;
        if (!cb_latest(e, f->tcase ? f->tcase->name : NULL))
            continue;
        spak_value v;
        spak_err ee;
        if (spak_eval_fact(f, NULL, &env, &v, &ee) == SPAK_OK)
            json_object_set_new(facts, f->name, json_boolean(v.b));
        else
            json_object_set_new(facts, f->name, json_pack("{s:s}", "error", ee.msg));
    }
    return facts;
}

/* ---- the loop ---- */

static spak_status finish_eval(engine *e, int64_t eval_id, outcome *oc, spak_err *err)
{
    char exit_desc[300];
    if (oc->ran)
        spak_snprintf(exit_desc, sizeof exit_desc, "%s: %s", spak_sandbox_why_name(oc->sr.why), oc->sr.why_text);
    else
        spak_snprintf(exit_desc, sizeof exit_desc, "not run");
    json_t *res = json_object();
    if (oc->ran) {
        json_object_set_new(res, "wall_s", json_real(oc->sr.wall_s));
        json_object_set_new(res, "cpu_s", json_real(oc->sr.cpu_s));
        json_object_set_new(res, "peak_rss_kb", json_integer(oc->sr.peak_rss_kb));
        if (oc->sr.warnings[0])
            json_object_set_new(res, "sandbox_warnings", json_string(oc->sr.warnings));
        json_object_set_new(res, "trace_errors", json_integer((json_int_t)oc->traces.n_errors));
    }
    if (e->llm_step) {
        /* the model's prediction against what was measured */
        json_t *l = json_deep_copy(e->llm_step);
        json_object_set_new(l, "measured_metric", oc->ok ? json_real(oc->metric) : json_null());
        json_object_set_new(res, "llm", l);
    }
    char *rj = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    spak_eval_result r = {
        .status = oc->ok ? SPAK_EVAL_DONE : SPAK_EVAL_FAILED,
        .build_log = oc->build_log,
        .stdout_tail = oc->ran ? oc->sr.out : NULL,
        .stdout_tail_len = oc->ran ? oc->sr.out_len : 0,
        .stderr_tail = oc->ran ? oc->sr.err : NULL,
        .stderr_tail_len = oc->ran ? oc->sr.err_len : 0,
        .exit_desc = exit_desc,
        .correct = oc->correct,
        .metric = oc->ok ? oc->metric : NAN,
        .ratio = oc->ok ? oc->ratio : NAN,
        .bottleneck = oc->bottleneck[0] ? oc->bottleneck : NULL,
        .result_json = rj,
        .error = oc->ok ? NULL : oc->why,
        .traces = oc->ran ? &oc->traces : NULL,
    };
    spak_status st = spak_store_eval_finish(e->store, e->run_id, eval_id, &r, err);
    free(rj);
    return st;
}

/* ---- PROGRAM by an LLM ---- */

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

typedef struct llm_texts {
    spak_buf task, space, analysis, diag, rules;
    char *abi, *best_src;
    char **lessons, **history;
    size_t n_lessons, n_history;
} llm_texts;

static void llm_texts_free(llm_texts *t)
{
    spak_buf_free(&t->task);
    spak_buf_free(&t->space);
    spak_buf_free(&t->analysis);
    spak_buf_free(&t->diag);
    spak_buf_free(&t->rules);
    free(t->abi);
    free(t->best_src);
    for (size_t i = 0; i < t->n_lessons; i++)
        free(t->lessons[i]);
    for (size_t i = 0; i < t->n_history; i++)
        free(t->history[i]);
    free(t->lessons);
    free(t->history);
}

/* The source file behind the problem's template for a point of the space. */
static bool source_of(engine *e, uint64_t index, char *out, size_t n)
{
    const char *src_t = e->m->problem ? spak_block_string(e->m->problem, "source") : NULL;
    if (!src_t || index >= e->space.total)
        return false;
    size_t d[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(&e->space, index, d);
    subst sb = {.e = e, .digits = d, .candidate = "", .source = "", .harness = "", .workdir = "", .ceilings = "",
                .baseline_so = ""};
    char rel[PATH_MAX];
    if (expand(&sb, src_t, rel, sizeof rel, NULL) != SPAK_OK)
        return false;
    if (rel[0] == '/')
        return spak_snprintf(out, n, "%s", rel);
    return spak_snprintf(out, n, "%s/%s", e->spec_dir, rel);
}

static void llm_context(engine *e, llm_texts *t, spak_llm_context *c)
{
    memset(t, 0, sizeof *t);
    spak_buf_init(&t->task, 1 << 16);
    spak_buf_init(&t->space, 1 << 16);
    spak_buf_init(&t->analysis, 1 << 16);
    spak_buf_init(&t->diag, 1 << 16);
    spak_buf_init(&t->rules, 1 << 16);
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
            spak_fmt_expr(x->value, &t->task);
            spak_buf_puts(&t->task, ".");
        }
    }
    spak_buf_printf(&t->task,
                    " The metric is %s (%s), measured by a trusted harness that checks every candidate against a "
                    "reference on fresh inputs and held-out shapes, and times it against the baseline in the same "
                    "process. Candidates are built from source with the parameters as -D defines "
                    "(numbers: NAME=value, upper-case; strings: SPAK_<NAME>_<VALUE>=1).",
                    e->loop->metric, e->loop->objective == SPAK_OBJ_MAXIMIZE ? "maximize" : "minimize");
    for (size_t i = 0; i < e->space.n; i++) {
        spak_buf_printf(&t->space, "%s: [", e->space.params[i].name);
        for (size_t k = 0; k < e->space.params[i].n_values; k++) {
            if (k)
                spak_buf_puts(&t->space, ", ");
            spak_fmt_expr(e->space.params[i].values[k], &t->space);
        }
        spak_buf_puts(&t->space, "]\n");
    }
    char path[PATH_MAX];
    if (source_of(e, 0, path, sizeof path)) {
        char *sl = strrchr(path, '/');
        if (sl && spak_snprintf(sl, sizeof path - (size_t)(sl - path), "/abi.h"))
            t->abi = read_capped(path, 32 << 10);
    }
    /* the best candidate's source: the LLM's own file, or the template's */
    if (e->best_eval_id) {
        spak_eval be = {0};
        spak_candidate cand = {0};
        bool found = false;
        if (spak_store_eval_get(e->store, e->run_id, e->best_eval_id, &be, NULL) == SPAK_OK && be.cand_key &&
            spak_store_candidate_get(e->store, e->run_id, be.cand_key, &cand, &found, NULL) == SPAK_OK && found &&
            cand.source_path)
            t->best_src = read_capped(cand.source_path, 64 << 10);
        else if (source_of(e, e->best_index, path, sizeof path))
            t->best_src = read_capped(path, 64 << 10);
        spak_store_candidate_free(&cand);
        spak_store_eval_free(&be);
    }
    /* history, the latest analysis and its diagnostics */
    spak_eval *ev = NULL;
    size_t n = 0;
    if (spak_store_eval_list(e->store, e->run_id, &ev, &n, NULL) == SPAK_OK) {
        t->history = calloc(n ? n : 1, sizeof *t->history);
        for (size_t i = 0; t->history && i < n; i++) {
            char line[1024];
            if (strcmp(ev[i].status, SPAK_EVAL_DONE) == 0)
                spak_snprintf(line, sizeof line, "%s: %s %.4g, %.3fx the baseline%s%s", ev[i].cand_key,
                              e->loop->metric, ev[i].metric, ev[i].ratio, ev[i].bottleneck ? ", " : "",
                              ev[i].bottleneck ? ev[i].bottleneck : "");
            else
                spak_snprintf(line, sizeof line, "%s: %s %s", ev[i].cand_key, ev[i].status,
                              ev[i].error ? ev[i].error : "");
            t->history[t->n_history] = strdup(line);
            if (t->history[t->n_history])
                t->n_history++;
        }
        if (n) {
            spak_eval *l = &ev[n - 1];
            spak_buf_printf(&t->analysis, "latest candidate %s: %s", l->cand_key, l->status);
            if (strcmp(l->status, SPAK_EVAL_DONE) == 0)
                spak_buf_printf(&t->analysis, ", %s %.4g, %.3fx the baseline, bottleneck %s", e->loop->metric,
                                l->metric, l->ratio, l->bottleneck ? l->bottleneck : "unknown");
            else if (l->error)
                spak_buf_printf(&t->analysis, ": %s", l->error);
            if (l->build_log && (!l->correct || strcmp(l->status, SPAK_EVAL_FAILED) == 0))
                spak_buf_puts(&t->diag, l->build_log);
            if (l->stderr_tail && strcmp(l->status, SPAK_EVAL_FAILED) == 0)
                spak_buf_puts(&t->diag, l->stderr_tail);
        }
        if (!isnan(e->best_metric))
            spak_buf_printf(&t->analysis, "\nbest so far: %s with %s %.4g (%.3fx the baseline)", e->best_key,
                            e->loop->metric, e->best_metric, e->best_ratio);
        spak_store_evals_free(ev, n);
    }
    /* rules: those whose condition holds now, then the prose guidance (a
     * condition nobody can evaluate), then the lessons */
    spak_firing firings[64];
    spak_eval_env env = eval_env(e);
    size_t nf = spak_rules_fire(e->m, &e->space, &env, firings, SPAK_ARRAY_LEN(firings));
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
    spak_lesson *ls = NULL;
    size_t nl = 0;
    const char *famv = fam ? fam : "";
    if (spak_store_lesson_list(e->store, NULL, famv, NULL, &ls, &nl, NULL) == SPAK_OK) {
        t->lessons = calloc(nl ? nl : 1, sizeof *t->lessons);
        for (size_t i = nl; t->lessons && i-- > 0;)  /* newest first */
            if (ls[i].text && (t->lessons[t->n_lessons] = strdup(ls[i].text)))
                t->n_lessons++;
        spak_store_lessons_free(ls, nl);
    }
    c->task = t->task.data;
    c->abi_header = t->abi;
    char sym[64];
    spak_snprintf(sym, sizeof sym, "spak_%s", fam ? fam : "kernel");
    static char sym_keep[64];
    memcpy(sym_keep, sym, sizeof sym);
    c->abi_symbol = sym_keep;
    c->language = strcmp(e->target, "cuda") == 0 ? "cuda" : "c";
    c->space = t->space.data;
    c->best_source = t->best_src;
    c->analysis = t->analysis.data;
    c->diagnostics = t->diag.data;
    c->rules = t->rules.data;
    c->lessons = (const char *const *)t->lessons;
    c->n_lessons = t->n_lessons;
    size_t keep = t->n_history > 20 ? t->n_history - 20 : 0;  /* the last 20 */
    c->history = (const char *const *)t->history + keep;
    c->n_history = t->n_history - keep;
    c->metric = e->loop->metric;
}

/* One LLM Programming step: returns the proposal (the caller owns prop->step). */
static spak_status llm_program(engine *e, spak_llm_proposal *prop, char *tag, size_t tag_n, spak_err *err)
{
    llm_texts t;
    spak_llm_context c;
    llm_context(e, &t, &c);
    spak_snprintf(tag, tag_n, "step-%04ld", e->llm_steps + 1);
    unsigned char *tried = calloc((size_t)(e->space.total + 7) / 8, 1);
    if (!tried) {
        llm_texts_free(&t);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < e->n_done; i++)
        if (e->done[i].index < e->space.total)
            tried[e->done[i].index / 8] |= (unsigned char)(1u << (e->done[i].index % 8));
    bool code = e->llm.mode == SPAK_LLM_MODE_CODE || (e->llm.mode == SPAK_LLM_MODE_ALTERNATE && e->llm_steps % 2 == 1);
    char dir[PATH_MAX + 64];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s/llm", e->home, e->run_id);
    uint64_t base = e->best_eval_id && e->best_index < e->space.total ? e->best_index : e->next_index;
    spak_status st = spak_llm_propose(&e->llm, &c, &e->space, tried, base, code, dir, tag, prop, err);
    free(tried);
    llm_texts_free(&t);
    if (st != SPAK_OK)
        return st;
    if (prop->kind != SPAK_PROPOSE_SUSPENDED) {
        e->llm_steps++;
        e->llm_tokens += prop->tokens;
        if (isnan(prop->cost))
            e->llm_cost_unknown = true;
        else
            e->llm_cost += prop->cost;
    }
    /* every prompt and reply is kept, with model, parameters and timing */
    char scope[64];
    spak_snprintf(scope, sizeof scope, "llm:%s", e->run_id);
    char *sj = json_dumps(prop->step, JSON_COMPACT);
    if (sj)
        spak_store_kv_put(e->store, scope, tag, sj, NULL);
    free(sj);
    return SPAK_OK;
}

/* A Programming step that gave no candidate is an evaluation that failed:
 * recorded, counted against the budget, and shown to the next prompt. */
static spak_status record_failed_step(engine *e, const char *tag, const char *why, json_t *summary, spak_err *err)
{
    e->llm_failed_in_a_row++;
    char key[128];
    spak_snprintf(key, sizeof key, "llm:%s", tag);
    int64_t cand_id, eval_id;
    spak_status st = spak_store_candidate_upsert(e->store, e->run_id, key, "{}", NULL, NULL, &cand_id, NULL, err);
    if (st == SPAK_OK)
        st = spak_store_eval_begin(e->store, e->run_id, cand_id, SPAK_EVAL_BUILDING, &eval_id, err);
    if (st != SPAK_OK)
        return st;
    st = go(e, S_BUILD, json_pack("{s:I,s:s,s:b}", "eval_id", (json_int_t)eval_id, "candidate", key, "skipped", 1), err);
    if (st == SPAK_OK)
        st = go(e, S_ANALYZE, json_pack("{s:I,s:b}", "eval_id", (json_int_t)eval_id, "skipped", 1), err);
    if (st != SPAK_OK)
        return st;
    char *rj = json_dumps(summary, JSON_COMPACT);
    spak_eval_result r = {.status = SPAK_EVAL_FAILED, .exit_desc = NO_CANDIDATE, .correct = -1,
                          .metric = NAN, .ratio = NAN, .result_json = rj, .error = why};
    st = spak_store_eval_finish(e->store, e->run_id, eval_id, &r, err);
    free(rj);
    if (st != SPAK_OK)
        return st;
    note_eval(e, UINT64_MAX, eval_id, key, NAN, NAN, NULL);
    spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = e->n_evals, .budget = e->max_evals,
                            .total = e->space.total, .key = key, .ok = false, .why = why,
                            .metric_name = e->loop->metric, .metric = NAN, .ratio = NAN, .baseline = e->baseline,
                            .best_metric = e->best_metric, .best_ratio = e->best_ratio};
    emit(e, &ev);
    st = go(e, S_KNOWLEDGE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st == SPAK_OK)
        st = go(e, S_DECIDE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    return st;
}

/* ---- options that outlive a command ---- */

void spak_engine_save_options(spak_store *st, const char *run_id, const spak_engine_opts *o)
{
    if (!o->llm_backend && !o->llm_endpoint && !o->llm_model && !o->approve && o->llm_temperature < 0 &&
        o->llm_max_tokens <= 0 && o->llm_timeout_s <= 0)
        return;
    json_t *lo = json_pack("{s:s?,s:s?,s:s?,s:i,s:f,s:I,s:f}", "llm_backend", o->llm_backend, "llm_endpoint",
                           o->llm_endpoint, "llm_model", o->llm_model, "approve", (int)o->approve, "llm_temperature",
                           o->llm_temperature, "llm_max_tokens", (json_int_t)o->llm_max_tokens, "llm_timeout_s",
                           o->llm_timeout_s);
    char *lj = json_dumps(lo, JSON_COMPACT);
    json_decref(lo);
    if (lj)
        spak_store_kv_put(st, "run-options", run_id, lj, NULL);
    free(lj);
}

json_t *spak_engine_load_options(spak_store *st, const char *run_id, spak_engine_opts *o)
{
    char *ro = NULL;
    spak_store_kv_get(st, "run-options", run_id, &ro, NULL);
    json_t *j = ro ? json_loads(ro, 0, NULL) : NULL;
    free(ro);
    if (!o->llm_backend)
        o->llm_backend = json_string_value(json_object_get(j, "llm_backend"));
    if (!o->llm_endpoint)
        o->llm_endpoint = json_string_value(json_object_get(j, "llm_endpoint"));
    if (!o->llm_model)
        o->llm_model = json_string_value(json_object_get(j, "llm_model"));
    o->approve |= (unsigned)json_integer_value(json_object_get(j, "approve"));
    if (o->llm_temperature < 0 && json_is_number(json_object_get(j, "llm_temperature")))
        o->llm_temperature = json_number_value(json_object_get(j, "llm_temperature"));
    if (o->llm_max_tokens <= 0)
        o->llm_max_tokens = (long)json_integer_value(json_object_get(j, "llm_max_tokens"));
    if (o->llm_timeout_s <= 0 && json_is_number(json_object_get(j, "llm_timeout_s")))
        o->llm_timeout_s = json_number_value(json_object_get(j, "llm_timeout_s"));
    return j;
}

/* ---- approval gates ---- */

#define KV_APPROVAL "approval"

/* Pass a gate: 1 approved, 0 rejected, -1 the run is now suspended waiting
 * for `spak approve` / `spak reject`. payload (borrowed) is kept with the
 * pending approval so that a resumed run continues with it. */
static int gate(engine *e, const char *name, const char *what, json_t *payload, spak_status *st, spak_err *err)
{
    *st = SPAK_OK;
    char *v = NULL;
    spak_store_kv_get(e->store, KV_APPROVAL, e->run_id, &v, NULL);
    json_t *p = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    const char *g = json_string_value(json_object_get(p, "gate"));
    const char *dec = json_string_value(json_object_get(p, "decision"));
    int answer = -1;
    if (g && strcmp(g, name) == 0 && dec)
        answer = strcmp(dec, "approve") == 0;
    else if (e->o->on_approve)
        answer = e->o->on_approve(e->o->ud, name, what);
    json_decref(p);
    if (answer >= 0) {
        spak_store_kv_delete(e->store, KV_APPROVAL, e->run_id, NULL);
        json_t *d = json_pack("{s:s,s:s,s:s}", "gate", name, "decision", answer ? "approve" : "reject", "what", what);
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        /* the decision is journaled (a transition of the state to itself) */
        spak_transition t = {e->state, e->state, NULL, NULL, NULL, dj};
        *st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
        free(dj);
        return answer;
    }
    json_t *pend = json_pack("{s:s,s:s,s:O?}", "gate", name, "what", what, "payload", payload);
    char *pj = json_dumps(pend, JSON_COMPACT);
    json_decref(pend);
    *st = spak_store_kv_put(e->store, KV_APPROVAL, e->run_id, pj ? pj : "{}", err);
    if (*st == SPAK_OK) {
        spak_transition t = {e->state, S_SUSPENDED, SPAK_RUN_SUSPENDED, NULL, NULL, pj};
        *st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
    }
    free(pj);
    if (*st != SPAK_OK)
        return -1;
    spak_snprintf(e->state, sizeof e->state, "%s", S_SUSPENDED);
    char why[1200];
    spak_snprintf(why, sizeof why, "approval needed (%s): %s; answer with 'spak approve %s' or 'spak reject %s'", name,
                  what, e->run_id, e->run_id);
    spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .why = why, .eval_no = e->n_evals};
    emit(e, &ev);
    return -1;
}

spak_run_llm_usage spak_engine_llm_usage(spak_store *st, const char *run_id, bool with_suspended)
{
    spak_run_llm_usage u = {0};
    char scope[64];
    spak_snprintf(scope, sizeof scope, "llm:%s", run_id);
    for (long k = 1; k < 1000000; k++) {
        char tag[32], *v = NULL;
        spak_snprintf(tag, sizeof tag, "step-%04ld", k);
        if (spak_store_kv_get(st, scope, tag, &v, NULL) != SPAK_OK || !v)
            break;
        json_t *step = json_loads(v, 0, NULL);
        free(v);
        const char *oc = json_string_value(json_object_get(step, "outcome"));
        if (with_suspended || (oc && strcmp(oc, "suspended") != 0)) {
            u.steps++;
            json_int_t pt = json_integer_value(json_object_get(step, "prompt_tokens"));
            json_int_t ct = json_integer_value(json_object_get(step, "completion_tokens"));
            u.tokens += (pt > 0 ? pt : 0) + (ct > 0 ? ct : 0);
            json_t *c = json_object_get(step, "cost_usd");
            if (json_is_number(c))
                u.cost_usd += json_number_value(c);
            else
                u.cost_unknown = true;
        }
        json_decref(step);
    }
    return u;
}

char *spak_engine_pending(spak_store *st, const char *run_id)
{
    char *v = NULL;
    spak_store_kv_get(st, KV_APPROVAL, run_id, &v, NULL);
    return v;
}

spak_status spak_engine_answer(const spak_engine_opts *o, const char *run_id, bool approve, char *what, size_t what_n,
                               spak_err *err)
{
    spak_store *st = NULL;
    spak_status s = spak_engine_open_store(o, &st, err);
    if (s != SPAK_OK)
        return s;
    char *v = spak_engine_pending(st, run_id);
    json_t *p = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    if (!p || json_object_get(p, "decision")) {
        s = spak_errf(err, SPAK_ERR_STATE, "run %s has no pending approval", run_id);
    } else {
        spak_snprintf(what, what_n, "%s: %s", json_string_value(json_object_get(p, "gate")),
                      json_string_value(json_object_get(p, "what")));
        json_object_set_new(p, "decision", json_string(approve ? "approve" : "reject"));
        char *pj = json_dumps(p, JSON_COMPACT);
        s = spak_store_kv_put(st, KV_APPROVAL, run_id, pj ? pj : "{}", err);
        free(pj);
    }
    json_decref(p);
    spak_store_close(st);
    return s;
}

/* End of run: lessons into the store; v(n+1) and the insights log into the
 * run's directory (`spak learn RUN` writes v(n+1) next to the original). A
 * failure here is journaled, not fatal: the measurements are already safe. */
static void crystallize(engine *e)
{
    char dir[PATH_MAX + 64], out[PATH_MAX + 128], ins[PATH_MAX + 128];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s", e->home, e->run_id);
    spak_mkdirs(dir, NULL);
    spak_snprintf(out, sizeof out, "%s/spec.next.spak", dir);
    spak_snprintf(ins, sizeof ins, "%s/insights.jsonl", dir);
    spak_learn_opts lo = {.out_path = out, .write_spec = true, .record = true, .insights_path = ins};
    spak_learn_result r;
    spak_err err = {0};
    spak_status st = spak_learn(e->store, e->run_id, &lo, &r, &err);
    json_t *d = st == SPAK_OK ? json_pack("{s:s,s:I,s:s}", "crystallized", out, "lessons", (json_int_t)r.n,
                                          "insights", ins)
                              : json_pack("{s:s}", "crystallize_error", err.msg);
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    spak_store_kv_put(e->store, "run", e->run_id, dj ? dj : "{}", NULL);
    free(dj);
    spak_learn_result_free(&r);
}

static spak_status loop(engine *e, spak_err *err)
{
    for (;;) {
        spak_status st;
        const char *reason = decide(e, err, &st);
        if (st != SPAK_OK)
            return st;
        if (reason) {
            bool learn = !e->o->no_learn;
            if (learn && (e->gates & SPAK_GATE_KNOWLEDGE)) {
                char what[600];
                spak_snprintf(what, sizeof what,
                              "crystallize run %s (%s): lessons into the store, spec v(n+1) and insights into %s/runs/%s",
                              e->run_id, reason, e->home, e->run_id);
                int a = gate(e, "knowledge", what, NULL, &st, err);
                if (st != SPAK_OK || a < 0)
                    return st;
                learn = a == 1;
            }
            json_t *s = summary(e, reason);
            char *sj = json_dumps(s, JSON_COMPACT);
            json_decref(s);
            json_t *d = json_pack("{s:s}", "stop_reason", reason);
            char *dj = json_dumps(d, JSON_COMPACT);
            json_decref(d);
            spak_transition t = {e->state, S_DONE, SPAK_RUN_DONE, reason, sj, dj};
            st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
            free(dj);
            if (st == SPAK_OK && learn)
                crystallize(e);
            if (st == SPAK_OK) {
                spak_snprintf(e->state, sizeof e->state, "%s", S_DONE);
                spak_engine_event ev = {.kind = SPAK_EV_RUN_DONE, .stop_reason = reason, .summary_json = sj,
                                        .eval_no = e->n_evals, .best_metric = e->best_metric,
                                        .best_ratio = e->best_ratio, .metric_name = e->loop->metric,
                                        .baseline = e->baseline};
                emit(e, &ev);
            }
            free(sj);
            return st;
        }
        char key[2048];
        char code_key[2200];
        json_decref(e->llm_step);
        e->llm_step = NULL;
        e->code_source = NULL;
        e->llm_predicted = NAN;
        spak_llm_proposal prop;
        char tag[32] = "";
        if (e->strat == SPAK_STRAT_LLM) {
            /* a proposal that waited for approval comes back from the store */
            char *pv = spak_engine_pending(e->store, e->run_id);
            json_t *pend = pv ? json_loads(pv, 0, NULL) : NULL;
            free(pv);
            json_t *pay = json_object_get(pend, "payload");
            if (pend && strcmp(json_string_value(json_object_get(pend, "gate")) ? json_string_value(json_object_get(pend, "gate")) : "", "llm-code") == 0 && pay) {
                memset(&prop, 0, sizeof prop);
                prop.kind = SPAK_PROPOSE_CODE;
                prop.index = (uint64_t)json_integer_value(json_object_get(pay, "index"));
                spak_snprintf(prop.code_path, sizeof prop.code_path, "%s",
                              json_string_value(json_object_get(pay, "code_path")));
                spak_snprintf(tag, sizeof tag, "%s", json_string_value(json_object_get(pay, "tag")));
                prop.predicted = json_is_number(json_object_get(pay, "predicted"))
                                     ? json_number_value(json_object_get(pay, "predicted")) : NAN;
                prop.step = json_deep_copy(json_object_get(pay, "step"));
                prop.cost = NAN;
                json_decref(pend);
                if (strcmp(e->state, S_PROGRAM) != 0 && (st = go(e, S_PROGRAM, json_pack("{s:s}", "strategy", "llm"), err)) != SPAK_OK)
                    return st;
            } else {
                json_decref(pend);
                st = go(e, S_PROGRAM, json_pack("{s:s}", "strategy", "llm"), err);
                if (st != SPAK_OK)
                    return st;
                st = llm_program(e, &prop, tag, sizeof tag, err);
                if (st != SPAK_OK)
                    return st;
            }
            if (prop.kind == SPAK_PROPOSE_CODE && (e->gates & SPAK_GATE_LLM_CODE)) {
                json_t *pay2 = json_pack("{s:s,s:s,s:I,s:O?}", "tag", tag, "code_path", prop.code_path, "index",
                                         (json_int_t)prop.index, "step", prop.step);
                if (!isnan(prop.predicted))
                    json_object_set_new(pay2, "predicted", json_real(prop.predicted));
                char what[4300];
                spak_snprintf(what, sizeof what, "build and run the LLM's kernel %s", prop.code_path);
                int a = gate(e, "llm-code", what, pay2, &st, err);
                json_decref(pay2);
                if (st != SPAK_OK || a < 0) {
                    json_decref(prop.step);
                    return st;
                }
                if (a == 0) {
                    prop.kind = SPAK_PROPOSE_FAILED;
                    spak_snprintf(prop.why, sizeof prop.why, "the supervisor rejected the LLM's kernel %s",
                                  prop.code_path);
                }
            }
            json_t *summ = json_pack("{s:s,s:O?,s:O?,s:O?,s:O?,s:O?,s:I}", "llm_step", tag, "outcome",
                                     json_object_get(prop.step, "outcome"), "verdict",
                                     json_object_get(prop.step, "verdict"), "model", json_object_get(prop.step, "model"),
                                     "predicted_metric", json_object_get(prop.step, "predicted_metric"),
                                     "prediction_why", json_object_get(prop.step, "prediction_why"), "tokens",
                                     (json_int_t)prop.tokens);
            json_object_set_new(summ, "cost_usd", isnan(prop.cost) ? json_null() : json_real(prop.cost));
            if (prop.kind == SPAK_PROPOSE_SUSPENDED) {
                json_object_set_new(summ, "waiting", json_string(prop.why));
                char *dj = json_dumps(summ, JSON_COMPACT);
                spak_transition t = {e->state, S_SUSPENDED, SPAK_RUN_SUSPENDED, NULL, NULL, dj};
                st = spak_store_transition(e->store, e->run_id, &t, NULL, err);
                free(dj);
                json_decref(summ);
                json_decref(prop.step);
                if (st != SPAK_OK)
                    return st;
                spak_snprintf(e->state, sizeof e->state, "%s", S_SUSPENDED);
                char why[700];
                spak_snprintf(why, sizeof why, "%s; write it, then 'spak resume %s'", prop.why, e->run_id);
                spak_engine_event ev = {.kind = SPAK_EV_SUSPENDED, .why = why, .eval_no = e->n_evals};
                emit(e, &ev);
                return SPAK_OK;
            }
            const char *oc_name = json_string_value(json_object_get(prop.step, "outcome"));
            if (prop.kind == SPAK_PROPOSE_FAILED && oc_name &&
                (strcmp(oc_name, "config") == 0 || strcmp(oc_name, "auth") == 0)) {
                /* a setup problem, not a proposal: stop (resumable) rather than burn the budget */
                st = spak_errf(err, SPAK_ERR_ARG, "%s (fix the llm settings, then 'spak resume %s')", prop.why,
                               e->run_id);
                json_decref(summ);
                json_decref(prop.step);
                return st;
            }
            if (prop.kind == SPAK_PROPOSE_FAILED) {
                st = record_failed_step(e, tag, prop.why, summ, err);
                json_decref(summ);
                json_decref(prop.step);
                if (st != SPAK_OK)
                    return st;
                continue;
            }
            e->llm_step = summ;
            e->llm_predicted = prop.predicted;
            json_decref(prop.step);
            e->next_index = prop.index;
            if (!spak_space_key(&e->space, e->next_index, key, sizeof key))
                return spak_errf(err, SPAK_ERR_LIMIT, "candidate key too long");
            if (prop.kind == SPAK_PROPOSE_CODE) {
                e->code_source = strdup(prop.code_path);
                spak_snprintf(code_key, sizeof code_key, "code:%s|%s", tag, key);
                spak_snprintf(key, sizeof key, "%s", code_key);
            }
        } else {
            if (!spak_space_key(&e->space, e->next_index, key, sizeof key))
                return spak_errf(err, SPAK_ERR_LIMIT, "candidate key too long");
            json_t *pd = json_pack("{s:s,s:s}", "candidate", key, "strategy", e->strat_name);
            if (e->fired)
                json_object_set(pd, "fired", e->fired);
            st = go(e, S_PROGRAM, pd, err);
            if (st != SPAK_OK)
                return st;
        }
        /* the candidate's parameters as JSON */
        json_t *params = json_object();
        size_t digits[SPAK_SPACE_MAX_PARAMS];
        spak_space_digits(&e->space, e->next_index, digits);
        for (size_t i = 0; i < e->space.n; i++) {
            const spak_expr *v = e->space.params[i].values[digits[i]];
            json_t *jv;
            if (v->kind == SPAK_EX_NUMBER)
                jv = v->is_int ? json_integer((json_int_t)v->num) : json_real(v->num);
            else if (v->kind == SPAK_EX_UNARY)
                jv = json_real(-v->lhs->num);
            else if (v->kind == SPAK_EX_BOOL)
                jv = json_boolean(v->boolean);
            else
                jv = json_string(spak_value_text(v));
            json_object_set_new(params, e->space.params[i].name, jv);
        }
        char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(params);
        int64_t cand_id, eval_id;
        st = spak_store_candidate_upsert(e->store, e->run_id, key, pj, e->code_source, NULL, &cand_id, NULL, err);
        free(pj);
        if (st != SPAK_OK)
            return st;
        st = spak_store_eval_begin(e->store, e->run_id, cand_id, SPAK_EVAL_BUILDING, &eval_id, err);
        if (st != SPAK_OK)
            return st;
        json_t *bd = json_pack("{s:I,s:s}", "eval_id", (json_int_t)eval_id, "candidate", key);
        if (e->llm_step) {
            /* what the LLM proposed and predicted, journaled as PROGRAM ends */
            json_object_set(bd, "llm_step", json_object_get(e->llm_step, "llm_step"));
            json_object_set(bd, "model", json_object_get(e->llm_step, "model"));
            if (!isnan(e->llm_predicted)) {
                json_t *pr = json_pack("{s:f}", "metric", e->llm_predicted);
                json_object_set(pr, "why", json_object_get(e->llm_step, "prediction_why"));
                json_object_set_new(bd, "prediction", pr);
            }
        }
        st = go(e, S_BUILD, bd, err);
        if (st != SPAK_OK)
            return st;
        outcome oc;
        st = evaluate(e, e->next_index, eval_id, &oc, err);
        if (st != SPAK_OK) {
            outcome_free(&oc);
            return st;
        }
        if (strcmp(e->state, S_BUILD) == 0) {  /* build failed: analysis skipped */
            st = go(e, S_ANALYZE, json_pack("{s:I,s:b}", "eval_id", (json_int_t)eval_id, "skipped", 1), err);
            if (st != SPAK_OK) {
                outcome_free(&oc);
                return st;
            }
        }
        if (oc.ran)
            e->device_s += oc.sr.wall_s;
        st = finish_eval(e, eval_id, &oc, err);
        if (st != SPAK_OK) {
            outcome_free(&oc);
            return st;
        }
        /* an LLM-written source is not a point of the space: the strategies do
         * not count it as tried */
        note_eval(e, e->code_source ? UINT64_MAX : e->next_index, eval_id, key, oc.ok ? oc.metric : NAN,
                  oc.ok ? oc.ratio : NAN, oc.ran ? oc.valid : NULL);
        e->llm_failed_in_a_row = 0;
        free((char *)e->code_source);
        e->code_source = NULL;
        spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = e->n_evals, .budget = e->max_evals,
                                .total = e->space.total, .key = key, .ok = oc.ok, .why = oc.why,
                                .metric_name = e->loop->metric, .metric = oc.ok ? oc.metric : NAN,
                                .ratio = oc.ok ? oc.ratio : NAN, .baseline = e->baseline,
                                .bottleneck = oc.bottleneck[0] ? oc.bottleneck : NULL,
                                .best_metric = e->best_metric, .best_ratio = e->best_ratio};
        emit(e, &ev);
        outcome_free(&oc);
        st = go(e, S_KNOWLEDGE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
        if (st != SPAK_OK)
            return st;
        json_t *facts = knowledge(e);
        st = go(e, S_DECIDE, json_pack("{s:I,s:o}", "eval_id", (json_int_t)eval_id, "facts", facts), err);
        if (st != SPAK_OK)
            return st;
    }
}

/* How far a lesson's shape class is from this problem's: |K - K'| of the
 * size buckets 2^K, 0 for equal classes without a size ("any"), and far
 * otherwise. */
static long class_distance(const char *mine, const char *theirs)
{
    long a, b;
    if (spak_learn_shape_class_log2(mine, &a) && spak_learn_shape_class_log2(theirs, &b))
        return labs(a - b);
    return mine && theirs && strcmp(mine, theirs) == 0 ? 0 : LONG_MAX / 2;
}

typedef struct lesson_pick {
    const spak_lesson *l;
    long distance;
    size_t order;
} lesson_pick;

static int by_distance(const void *pa, const void *pb)
{
    const lesson_pick *a = pa, *b = pb;
    if (a->distance != b->distance)
        return a->distance < b->distance ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Transfer: the store's lessons for this device and kernel family become
 * rules of the rules strategy (prefer what helped, exclude what hurt badly,
 * start from the best configuration found before). Shape class: the best
 * configurations come from the nearest class that has one (the same class
 * when it has); effects from every class, the nearest first (at most 64). */
static spak_status load_lessons(engine *e, spak_err *err)
{
    /* lessons are per device: the GPU for a CUDA problem, else the CPU (as learn.c records them) */
    json_t *dev = strcmp(e->target, "cuda") == 0 ? gpu_json() : device_json();
    const char *name = json_string_value(json_object_get(dev, strcmp(e->target, "cuda") == 0 ? "gpu" : "cpu"));
    const char *fam = e->m->problem ? spak_block_string(e->m->problem, "family") : NULL;
    spak_lesson *ls = NULL;
    size_t n = 0;
    spak_status st = spak_store_lesson_list(e->store, name ? name : "unknown", fam ? fam : "", NULL, &ls, &n, err);
    json_decref(dev);
    if (st != SPAK_OK)
        return st;
    char cls[128];
    spak_learn_shape_class(e->m, cls, sizeof cls);
    lesson_pick *pick = calloc(n ? n : 1, sizeof *pick);
    e->lesson_rules = calloc(SPAK_ARRAY_LEN(e->lesson_owned), sizeof *e->lesson_rules);
    e->lesson_text = json_array();
    if (!pick || !e->lesson_rules || !e->lesson_text) {
        free(pick);
        spak_store_lessons_free(ls, n);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    size_t np = 0;
    long nearest_best = LONG_MAX;
    for (size_t i = 0; i < n; i++) {
        const spak_lesson *l = &ls[i];
        if (!l->subject || !l->kind)
            continue;
        bool eff = strcmp(l->kind, "effect") == 0, best = strcmp(l->kind, "best_config") == 0;
        if (!(eff && (l->effect > 1 || l->effect < 0.67)) && !best)
            continue;
        pick[np] = (lesson_pick){l, class_distance(cls, l->shape_class), i};
        if (best && pick[np].distance < nearest_best)
            nearest_best = pick[np].distance;
        np++;
    }
    qsort(pick, np, sizeof *pick, by_distance);
    for (size_t i = 0; i < np && e->n_lesson_rules < SPAK_ARRAY_LEN(e->lesson_owned); i++) {
        const spak_lesson *l = pick[i].l;
        bool eff = strcmp(l->kind, "effect") == 0;
        if (!eff && pick[i].distance > nearest_best)
            continue; /* a best configuration of a farther shape class */
        /* the texts live as long as the engine, in a JSON array it owns */
        json_t *acts = json_array();
        char buf[1024];
        spak_snprintf(buf, sizeof buf, "%s", l->subject);
        char *save = NULL;
        for (char *pair = strtok_r(buf, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(pair, '=');
            if (!eq)
                continue;
            *eq = '\0';
            char act[600];
            spak_snprintf(act, sizeof act, "%s %s = '%s'", eff && l->effect < 1 ? "exclude" : "prefer", pair, eq + 1);
            json_array_append_new(acts, json_string(act));
        }
        json_t *txt = json_pack("{s:s,s:s?,s:o}", "title", l->text ? l->text : l->subject, "shape_class", l->shape_class,
                                "actions", acts);
        json_array_append_new(e->lesson_text, txt);
        size_t na = json_array_size(acts);
        spak_rule_action *ra = calloc(na ? na : 1, sizeof *ra);
        if (!ra)
            continue;
        for (size_t q = 0; q < na; q++) {
            ra[q].key = "recommend";
            ra[q].text = json_string_value(json_array_get(acts, q));
        }
        e->lesson_owned[e->n_lesson_owned++] = ra;
        spak_rule_def *r = &e->lesson_rules[e->n_lesson_rules++];
        r->title = json_string_value(json_object_get(txt, "title"));
        r->confidence = l->confidence;
        r->actions = ra;
        r->n_actions = na;
    }
    free(pick);
    spak_store_lessons_free(ls, n);
    return SPAK_OK;
}

static void engine_init(engine *e, const spak_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    e->best_score = NAN;
    e->best_metric = NAN;
    e->best_ratio = NAN;
    e->t0 = spak_now_monotonic();
}

static void engine_free(engine *e)
{
    json_decref(e->latest);
    json_decref(e->best);
    json_decref(e->fired);
    for (size_t i = 0; i < e->n_lesson_owned; i++)
        free(e->lesson_owned[i]);
    free(e->lesson_rules);
    json_decref(e->lesson_text);
    json_decref(e->llm_step);
    free((char *)e->code_source);
    free(e->done);
    spak_spec_free(e->spec);
    if (e->store) {
        if (e->run_id[0])
            spak_store_run_claim(e->store, e->run_id, NULL, true, NULL);
        spak_store_close(e->store);
    }
}

/* True when owner ("host:pid") is a process of this host that no longer runs. */
static bool owner_is_dead(const char *owner)
{
    if (!owner || !*owner)
        return true;
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    const char *colon = strrchr(owner, ':');
    if (!colon || (size_t)(colon - owner) != strlen(host) || strncmp(owner, host, strlen(host)) != 0)
        return false;  /* another machine: we cannot tell */
    long pid;
    if (!spak_parse_long(colon + 1, 1, 1L << 30, &pid))
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void owner_id(char *buf, size_t n)
{
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    spak_snprintf(buf, n, "%s:%ld", host, (long)getpid());
}

spak_status spak_engine_run(const spak_engine_opts *o, const char *spec_path, char run_id[SPAK_STORE_ID_MAX],
                            spak_err *err)
{
    engine e;
    engine_init(&e, o);
    run_id[0] = '\0';
    spak_status st = load_spec(&e, spec_path, NULL, err);
    if (st == SPAK_OK)
        st = setup_home(&e, err);
    if (st == SPAK_OK)
        st = spak_engine_open_store(o, &e.store, err);
    if (st != SPAK_OK)
        goto out;
    e.seed = (uint64_t)(o->seed >= 0 ? o->seed : e.loop->seed);
    if (o->use_lessons && (st = load_lessons(&e, err)) != SPAK_OK)
        goto out;
    json_t *budget = json_pack("{s:I,s:f}", "evaluations", (json_int_t)e.max_evals, "wall_time_s", e.max_wall);
    json_t *dev = device_json();
    if (strcmp(e.target, "cuda") == 0) {
        json_t *g = gpu_json();
        if (g)
            json_object_update(dev, g);
        else
            json_object_set_new(dev, "gpu", json_null());
        json_decref(g);
    }
    json_object_set_new(dev, "spak_version", json_string(SPAK_VERSION));
    char *bj = json_dumps(budget, JSON_COMPACT), *dj = json_dumps(dev, JSON_COMPACT);
    json_decref(budget);
    json_decref(dev);
    size_t len;
    const char *text = spak_spec_source(e.spec, &len);
    char abs_spec[PATH_MAX];
    if (!realpath(spec_path, abs_spec))
        spak_snprintf(abs_spec, sizeof abs_spec, "%s", spec_path);
    json_t *detail = json_pack("{s:s,s:s,s:I}", "loop", e.loop->name, "target", e.target, "space_size",
                               (json_int_t)e.space.total);
    char *det = json_dumps(detail, JSON_COMPACT);
    json_decref(detail);
    spak_run_new nw = {abs_spec, text, e.strat_name, (int64_t)e.seed, bj, dj, S_SPECIFY, det};
    st = spak_store_run_create(e.store, &nw, e.run_id, err);
    free(bj);
    free(dj);
    free(det);
    if (st != SPAK_OK)
        goto out;
    spak_snprintf(run_id, SPAK_STORE_ID_MAX, "%s", e.run_id);
    spak_engine_save_options(e.store, e.run_id, o);
    char owner[200];
    owner_id(owner, sizeof owner);
    spak_store_run_claim(e.store, e.run_id, owner, false, NULL);
    spak_snprintf(e.state, sizeof e.state, "%s", S_SPECIFY);
    spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .total = e.space.total, .budget = e.max_evals,
                            .metric_name = e.loop->metric, .baseline = e.baseline};
    emit(&e, &ev);
    st = go(&e, S_DECIDE, json_pack("{s:s}", "note", "specified"), err);
    if (st == SPAK_OK)
        st = loop(&e, err);
out:
    if (st != SPAK_OK && e.store && e.run_id[0] && st != SPAK_ERR_STORE) {
        /* keep the run resumable: its state stays where it was; say why it stopped */
        spak_transition t = {NULL, e.state[0] ? e.state : S_SPECIFY, SPAK_RUN_FAILED, "error", NULL, NULL};
        json_t *d = json_pack("{s:s}", "error", err ? err->msg : "");
        char *ej = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        t.detail_json = ej;
        spak_store_transition(e.store, e.run_id, &t, NULL, NULL);
        free(ej);
    }
    engine_free(&e);
    return st;
}

spak_status spak_engine_resume(const spak_engine_opts *o, const char *run_id, bool force, spak_err *err)
{
    json_t *roj = NULL;
    engine e;
    engine_init(&e, o);
    spak_run run = {0};
    spak_status st = spak_engine_open_store(o, &e.store, err);
    if (st != SPAK_OK)
        goto out;
    st = spak_store_run_get(e.store, run_id, &run, err);
    if (st != SPAK_OK)
        goto out;
    spak_snprintf(e.run_id, sizeof e.run_id, "%s", run.id);
    if (run.strategy && strncmp(run.strategy, "agent:", 6) == 0 && strcmp(run.status, SPAK_RUN_DONE) != 0) {
        e.run_id[0] = '\0';
        spak_store_run_free(&run);
        engine_free(&e);
        return spak_agent_resume(o, run_id, err);
    }
    if (strcmp(run.status, SPAK_RUN_DONE) == 0) {
        st = spak_errf(err, SPAK_ERR_STATE, "run %s is already done (%s)", run.id,
                       run.stop_reason ? run.stop_reason : "");
        e.run_id[0] = '\0';
        goto out;
    }
    char owner[200];
    owner_id(owner, sizeof owner);
    if (!force && owner_is_dead(run.owner))
        force = true;  /* the process that held it was killed: take over */
    st = spak_store_run_claim(e.store, run.id, owner, force, err);
    if (st != SPAK_OK) {
        e.run_id[0] = '\0';  /* not ours: do not release the claim */
        goto out;
    }
    /* the LLM settings the run was started with, unless overridden now */
    spak_engine_opts o2 = *o;
    roj = spak_engine_load_options(e.store, run.id, &o2);
    e.o = &o2;
    if (run.strategy && !o->strategy)
        o2.strategy = run.strategy;
    st = load_spec(&e, run.spec_path ? run.spec_path : "spec", run.spec_text, err);
    if (st == SPAK_OK)
        st = setup_home(&e, err);
    if (st != SPAK_OK)
        goto out;
    e.seed = (uint64_t)run.seed;
    if (run.strategy && !o->strategy && spak_strategy_parse(run.strategy, &e.strat))
        e.strat_name = run.strategy;
    if (run.budget_json && o->max_evaluations <= 0) {
        json_t *b = json_loads(run.budget_json, 0, NULL);
        if (b) {
            e.max_evals = (long)json_integer_value(json_object_get(b, "evaluations"));
            e.max_wall = json_number_value(json_object_get(b, "wall_time_s"));
            json_decref(b);
        }
    }
    /* time spent before the interruption, from the newest journal row */
    spak_journal_entry *j = NULL;
    size_t nj = 0;
    if (spak_store_journal_list(e.store, run.id, &j, &nj, NULL) == SPAK_OK) {
        for (size_t i = nj; i-- > 0;) {
            json_t *d = j[i].detail_json ? json_loads(j[i].detail_json, 0, NULL) : NULL;
            json_t *el = d ? json_object_get(d, "elapsed_s") : NULL;
            if (json_is_number(el)) {
                e.elapsed_before = json_number_value(el);
                json_decref(d);
                break;
            }
            json_decref(d);
        }
        spak_store_journal_free(j, nj);
    }
    spak_snprintf(e.state, sizeof e.state, "%s", run.state);
    size_t n_int = 0;
    st = spak_store_eval_interrupt_unfinished(e.store, run.id, &n_int, err);
    if (st == SPAK_OK)
        st = replay(&e, err);
    if (st == SPAK_OK && o->use_lessons)
        st = load_lessons(&e, err);
    if (st != SPAK_OK)
        goto out;
    spak_engine_event ev = {.kind = SPAK_EV_RUN_STARTED, .total = e.space.total, .budget = e.max_evals,
                            .metric_name = e.loop->metric, .baseline = e.baseline, .resumed = true,
                            .eval_no = e.n_evals};
    emit(&e, &ev);
    /* what the LLM steps used so far */
    if (e.strat == SPAK_STRAT_LLM) {
        spak_run_llm_usage u = spak_engine_llm_usage(e.store, run.id, false);
        e.llm_steps = u.steps;
        e.llm_tokens = u.tokens;
        e.llm_cost = u.cost_usd;
        e.llm_cost_unknown = u.cost_unknown;
    }
    {
        json_t *d = json_pack("{s:s,s:I,s:s,s:f}", "note", "resumed", "interrupted", (json_int_t)n_int, "from_state",
                              run.state, "elapsed_s", elapsed(&e));
        char *dj = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        spak_transition t = {e.state, S_DECIDE, SPAK_RUN_RUNNING, NULL, NULL, dj};
        st = spak_store_transition(e.store, e.run_id, &t, NULL, err);
        free(dj);
        if (st == SPAK_OK)
            spak_snprintf(e.state, sizeof e.state, "%s", S_DECIDE);
    }
    if (st == SPAK_OK)
        st = loop(&e, err);
out:
    spak_store_run_free(&run);
    engine_free(&e);
    json_decref(roj);
    return st;
}

spak_status spak_engine_build_all(const spak_engine_opts *o, const char *spec_path, size_t *built, size_t *failed,
                                  spak_err *err)
{
    engine e;
    engine_init(&e, o);
    *built = *failed = 0;
    spak_status st = load_spec(&e, spec_path, NULL, err);
    if (st == SPAK_OK)
        st = setup_home(&e, err);
    const char *src_t = st == SPAK_OK && e.m->problem ? spak_block_string(e.m->problem, "source") : NULL;
    if (st == SPAK_OK && !src_t)
        st = spak_errf(err, SPAK_ERR_ARG, "%s: the problem names no source to build", spec_path);
    for (uint64_t idx = 0; st == SPAK_OK && idx < e.space.total; idx++) {
        size_t digits[SPAK_SPACE_MAX_PARAMS];
        spak_space_digits(&e.space, idx, digits);
        subst sb = {.e = &e, .digits = digits, .candidate = "", .source = "", .baseline_so = ""};
        char defs[SPAK_BUILD_MAX_DEFINES][300], source[PATH_MAX], artifact[PATH_MAX], key[2048];
        const char *dp[SPAK_BUILD_MAX_DEFINES];
        size_t nd = candidate_defines(&e, digits, defs, dp);
        bool ok = false;
        char *log = NULL;
        st = build_source(&e, &sb, src_t, NULL, dp, nd, source, sizeof source, artifact, sizeof artifact, &log, &ok,
                          err);
        if (st != SPAK_OK)
            break;
        spak_space_key(&e.space, idx, key, sizeof key);
        if (ok)
            (*built)++;
        else
            (*failed)++;
        if (o->on_event) {
            spak_engine_event ev = {.kind = SPAK_EV_EVAL_DONE, .eval_no = (long)idx + 1, .total = e.space.total,
                                    .key = key, .ok = ok, .why = ok ? artifact : "build failed", .metric = NAN,
                                    .ratio = NAN, .best_metric = NAN, .best_ratio = NAN};
            o->on_event(o->ud, &ev);
        }
        free(log);
    }
    engine_free(&e);
    return st;
}
