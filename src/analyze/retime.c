/* retime.c - the winner decided side by side (retime.h). */
#include "analyze/retime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/counters.h"
#include "analyze/evaluate.h"
#include "analyze/records.h"
#include "analyze/stats.h"
#include "analyze/trace.h"
#include "analyze/views.h"
#include "store/scopes.h"

/* one candidate of the session */
typedef struct rt_cand {
    int64_t eval_id;
    uint64_t index;
    char *key;               /* the store's, owned */
    spak_cand_vars *v;       /* its build and {{names}} */
    spak_cand_argv av;       /* its measure command */
    int cpos;                /* where its --candidate value is in av */
} rt_cand;

typedef struct rt_set {
    rt_cand c[SPAK_RETIME_MAX];
    size_t n;
    json_t *left_out;        /* eval ids not re-timed, with why */
} rt_set;

static void set_free(rt_set *s)
{
    for (size_t k = 0; k < s->n; k++) {
        if (s->c[k].v)
            spak_cand_release(s->c[k].v);
        free(s->c[k].v);
        spak_cand_argv_free(&s->c[k].av);
        free(s->c[k].key);
    }
    json_decref(s->left_out);
}

static json_t *skipped(const char *status, const char *why)
{
    return json_pack("{s:s,s:s}", "status", status, "why", why);
}

/* Add eval_id to the set when it is a point of the space (an LLM-written
 * source is not: its build is not a template's) and its evaluation is done
 * (a candidate stopped early is censored: its time was never measured to
 * the end, so it is no rival for a winner). */
static void add_cand(const spak_retime_job *job, const spak_eval *ev, size_t n, int64_t id, rt_set *s)
{
    for (size_t i = 0; i < n; i++) {
        if (ev[i].eval_id != id || !ev[i].cand_key || !ev[i].status || strcmp(ev[i].status, SPAK_EVAL_DONE) != 0)
            continue;
        uint64_t idx;
        const char *why = NULL;
        if (!spak_space_find(job->site->space, ev[i].cand_key, &idx))
            why = "not a point of the space (an LLM-written source)";
        else if (s->n >= SPAK_RETIME_MAX)
            why = "more candidates than one session takes";
        if (why) {
            json_array_append_new(s->left_out, json_pack("{s:I,s:s,s:s}", "eval_id", (json_int_t)id, "candidate",
                                                         ev[i].cand_key, "why", why));
            return;
        }
        s->c[s->n].eval_id = id;
        s->c[s->n].index = idx;
        s->c[s->n].key = strdup(ev[i].cand_key);
        if (s->c[s->n].key)
            s->n++;
        return;
    }
}

/* The best, then the candidates whose intervals overlap it. */
static spak_status pick(const spak_retime_job *job, rt_set *s, spak_err *err)
{
    spak_eval *ev = NULL;
    size_t n = 0;
    spak_status st = spak_store_eval_list(job->store, job->run_id, &ev, &n, err);
    if (st != SPAK_OK)
        return st;
    json_t *tied;
    (void)spak_progress_decision(job->pr, &tied);  /* only the tied ids are wanted here */
    add_cand(job, ev, n, job->pr->best_eval_id, s);
    /* the runner-up too, whatever its interval: intervals taken at different
     * moments of a loaded machine do not compare (two builds of one source
     * measured 0.42x [0.30-0.58] and 1.07x [0.68-1.66] of OpenBLAS one after
     * the other); only a session puts them side by side */
    /* ranked as the best was (spak_progress_above: on the ratio where both
     * have one to the same baseline, else on the score), so the runner-up is
     * the second on the rule that picked the best */
    const spak_progress *p = job->pr;
    const spak_progress_ci *second = NULL;
    for (size_t k = 0; k < p->n_done; k++)
        if (p->ci[k].eval_id != p->best_eval_id && !isnan(p->ci[k].score) &&
            (!second || spak_progress_above(&p->ci[k], second)))
            second = &p->ci[k];
    bool in_tied = false;
    size_t i;
    json_t *t;
    json_array_foreach(tied, i, t) in_tied = in_tied || (second && json_integer_value(t) == second->eval_id);
    if (second && !in_tied)
        add_cand(job, ev, n, second->eval_id, s);
    json_array_foreach(tied, i, t) add_cand(job, ev, n, (int64_t)json_integer_value(t), s);
    json_decref(tied);
    spak_store_evals_free(ev, n);
    return SPAK_OK;
}

bool spak_retime_session_judge(const char *name)
{
    static const char *const judges[] = {"spak-harness-cpu", "spak-harness-cuda", "spak-harness-cuda-fmha",
                                         "spak-judge-cuda"};
    for (size_t i = 0; name && i < sizeof judges / sizeof judges[0]; i++)
        if (strcmp(name, judges[i]) == 0)
            return true;
    return false;
}

/* the word after flag in a (its index), or -1 */
static int after(const spak_cand_argv *a, const char *flag)
{
    for (size_t i = 0; i + 1 < a->n; i++)
        if (strcmp(a->argv[i], flag) == 0)
            return (int)i + 1;
    return -1;
}

/* Whether a and b name two regular files of the same bytes: a file each
 * candidate's command names in its own folder (the baseline's .so that
 * baseline_source builds, content-addressed, into each candidate's lib
 * folder) is the same argument wherever it lies. */
static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fa ? fopen(b, "rb") : NULL;
    bool same = fa && fb;
    while (same) {
        char ba[8192], bb[8192];
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        same = na == nb && memcmp(ba, bb, na) == 0;
        if (na < sizeof ba)
            break;
    }
    same = same && !ferror(fa) && !ferror(fb);
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* A declared kernel's decl file (build/decl.h) as a session sees it: without
 * its candidate (each one's --candidate), its drawn held-out shapes (drawn
 * for each evaluation; the session checks the first's) and its reference's
 * path (compared by the file's bytes). NULL when it cannot be read. */
static json_t *decl_for_session(const char *path, char *ref, size_t nref)
{
    json_t *d = json_load_file(path, 0, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        return NULL;
    }
    json_object_del(d, "candidate");
    json_t *rf = json_object_get(d, "reference");
    spak_snprintf(ref, nref, "%s", json_is_string(json_object_get(rf, "path")) ? json_string_value(json_object_get(rf, "path")) : "");
    if (json_is_object(rf))
        json_object_del(rf, "path");
    json_t *shapes = json_object_get(d, "shapes"), *kept = json_array(), *x;
    size_t i;
    json_array_foreach(shapes, i, x) if (!json_is_true(json_object_get(x, "drawn"))) json_array_append(kept, x);
    json_object_set_new(d, "shapes", kept);
    return d;
}

bool spak_retime_decl_session_ok(const char *a, const char *b, char *what, size_t n)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    json_t *da = decl_for_session(a, ra, sizeof ra), *db = decl_for_session(b, rb, sizeof rb);
    bool ok = da && db;
    if (!ok)
        spak_snprintf(what, n, "a decl file cannot be read");
    const char *k;
    json_t *v;
    if (ok)
        json_object_foreach(da, k, v) if (ok && !json_equal(v, json_object_get(db, k))) {
            ok = false;
            spak_snprintf(what, n, "%s", strcmp(k, "shapes") == 0 ? "their launches or sizes (the decls' shapes)" : k);
        }
    if (ok && json_object_size(da) != json_object_size(db))
        ok = false, spak_snprintf(what, n, "their decls' fields");
    if (ok && (ra[0] || rb[0]) && !same_file(ra, rb))
        ok = false, spak_snprintf(what, n, "their references' builds");
    json_decref(da);
    json_decref(db);
    return ok;
}

/* Build each candidate (a cache hit: each was built for its evaluation)
 * and expand its command; why says what prevents a session. */
static spak_status prepare(const spak_retime_job *job, rt_set *s, char *why, size_t why_n, spak_err *err)
{
    for (size_t k = 0; k < s->n; k++) {
        rt_cand *c = &s->c[k];
        if (!(c->v = calloc(1, sizeof *c->v)))
            return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        spak_cand_vars_init(c->v, job->site, c->index);
        char wd[32];
        spak_snprintf(wd, sizeof wd, "retime-%zu", k);
        /* one eval id for all: {{seed}} and {{eval_id}} the same in every command */
        spak_cand_job cj = {.index = c->index, .eval_id = s->c[0].eval_id, .seed = job->seed,
                            .bin_dir = job->bin_dir, .target = job->target, .workdir_name = wd};
        char *log = NULL;
        bool built = false;
        spak_status st = spak_cand_prepare(c->v, &cj, &log, &built, why, why_n, err);
        free(log);
        if (st != SPAK_OK)
            return st;
        if (!built) {
            spak_snprintf(why, why_n, "%s no longer builds", c->key);
            return SPAK_OK;
        }
        if ((st = spak_cand_argv_make(c->v, job->cmd, &c->av, err)) != SPAK_OK)
            return st;
        c->cpos = after(&c->av, "--candidate");
    }
    const spak_cand_argv *a0 = &s->c[0].av;
    const char *exe = a0->n ? strrchr(a0->argv[0], '/') : NULL;
    if (!exe || !spak_retime_session_judge(exe + 1) ||
        !spak_measure_is_judge(a0->argv[0], job->bin_dir, job->target) || s->c[0].cpos < 0) {
        spak_snprintf(why, why_n, "the measure command is not one of spak's judges with --candidate (a session of "
                      "several candidates: spak-harness-cpu, spak-harness-cuda, spak-harness-cuda-fmha, "
                      "spak-judge-cuda)");
        return SPAK_OK;
    }
    int tpos = after(a0, "--traffic"), spos = after(a0, "--seed"), dpos = after(a0, "--decl");
    for (size_t k = 1; k < s->n; k++) {
        const spak_cand_argv *a = &s->c[k].av;
        char what[160];
        if (dpos >= 0 && a->n == a0->n && !spak_retime_decl_session_ok(a0->argv[dpos], a->argv[dpos], what, sizeof what)) {
            spak_snprintf(why, why_n, "the declared kernels of %s and %s differ in %s (a session launches every "
                          "candidate as the first one's decl says)", s->c[0].key, s->c[k].key, what);
            return SPAK_OK;
        }
        for (size_t i = 0; i < a0->n && a->n == a0->n; i++)
            if ((int)i != s->c[0].cpos && (int)i != tpos && (int)i != spos && (int)i != dpos &&
                strcmp(a->argv[i], a0->argv[i]) != 0 &&
                !(strchr(a0->argv[i], '/') && same_file(a0->argv[i], a->argv[i]))) {
                spak_snprintf(why, why_n, "the measure commands of %s and %s differ in '%s' (a session takes one "
                              "command that differs only in --candidate, --traffic, --seed and the folder of a "
                              "file of the same bytes)", s->c[0].key,
                              s->c[k].key, a->argv[i]);
                return SPAK_OK;
            }
        if (a->n != a0->n || s->c[k].cpos != s->c[0].cpos) {
            spak_snprintf(why, why_n, "the measure commands of %s and %s differ in length", s->c[0].key, s->c[k].key);
            return SPAK_OK;
        }
    }
    return SPAK_OK;
}

/* the geometric mean of field over the records of rival k that count */
static double geo(const json_t *recs, const char *field, size_t *n_out)
{
    double s = 0;
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        double x = json_number_value(json_object_get(r, field));
        if (spak_trace_counts(r, NULL) && json_is_number(json_object_get(r, field)) && x > 0)
            s += log(x), n++;
    }
    if (n_out)
        *n_out = n;
    return n ? exp(s / (double)n) : NAN;
}

/* the records of rival k, a new array */
static json_t *of_rival(const json_t *valid, size_t k)
{
    json_t *a = json_array(), *r;
    size_t i;
    json_array_foreach(valid, i, r) {
        json_t *rv = json_object_get(r, "rival");
        if (json_is_integer(rv) && json_integer_value(rv) == (json_int_t)k)
            json_array_append(a, r);
    }
    return a;
}

/* The two-sided sign test: the probability, were both sides equal (each
 * round a coin flip), of a split at least as uneven as k of n. */
static double sign_p(long k, long n)
{
    if (n <= 0)
        return 1;
    long m = k < n - k ? k : n - k;
    double p = 0;
    for (long i = 0; i <= m; i++)
        p += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * log(2.0));
    return 2 * p > 1 ? 1 : 2 * p;
}

/* k's paired ratio against rival j over the timed shapes (geometric means
 * of the point and the ends, as spak_views_ratio_ci): t_j / t_k */
static bool versus(const json_t *recs_k, size_t j, double *pt, double *lo, double *hi, long *rounds, long *faster)
{
    double sp = 0, sl = 0, sh = 0;
    int n = 0;
    *rounds = *faster = 0;
    size_t i, m;
    json_t *r, *v;
    json_array_foreach(recs_k, i, r) {
        if (!spak_trace_counts(r, NULL))
            continue;
        json_array_foreach(json_object_get(r, "versus"), m, v) {
            json_t *ci = json_object_get(v, SPAK_FIELD_RATIO_CI);
            double p = json_number_value(json_object_get(v, SPAK_FIELD_RATIO));
            double a = json_number_value(json_array_get(ci, 0)), b = json_number_value(json_array_get(ci, 1));
            if (json_integer_value(json_object_get(v, "rival")) != (json_int_t)j || !(p > 0) || !(a > 0) || !(b >= a))
                continue;
            sp += log(p), sl += log(a), sh += log(b), n++;
            *rounds += (long)json_integer_value(json_object_get(v, "rounds"));
            *faster += (long)json_integer_value(json_object_get(v, "faster_rounds"));
        }
    }
    *pt = n ? exp(sp / n) : NAN, *lo = n ? exp(sl / n) : NAN, *hi = n ? exp(sh / n) : NAN;
    return n > 0;
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* One candidate's figures in the session into a new object; *score: larger
 * is better (the ratio, or the metric under the objective), NAN when it was
 * not correct and measured. */
static json_t *cand_result(const spak_retime_job *job, const rt_cand *c, const json_t *recs, bool *precise,
                           double *score)
{
    int correct = -1;
    size_t i, nm = 0;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_t *p = json_object_get(r, SPAK_FIELD_PASSED);
        if (json_is_boolean(p))
            correct = json_is_true(p) && correct != 0 ? 1 : 0;
    }
    double metric = geo(recs, job->metric, &nm), ratio = geo(recs, SPAK_FIELD_RATIO, NULL), lo = NAN, hi = NAN;
    spak_views_ratio_ci(recs, &lo, &hi, precise);
    bool ok = correct == 1 && nm > 0;
    *score = !ok ? NAN : isfinite(ratio) ? ratio : job->objective == SPAK_OBJ_MINIMIZE ? -metric : metric;
    json_t *o = json_pack("{s:I,s:s,s:b}", "eval_id", (json_int_t)c->eval_id, "candidate", c->key, "correct", ok);
    json_object_set_new(o, job->metric, num(ok ? metric : NAN));
    json_object_set_new(o, SPAK_FIELD_RATIO, num(ok ? ratio : NAN));
    json_object_set_new(o, SPAK_FIELD_RATIO_CI, ok && isfinite(lo) ? json_pack("[f,f]", lo, hi) : json_null());
    json_object_set_new(o, "precise", json_boolean(ok && *precise));
    return o;
}

/* Rank the candidates of a session and decide: the first by score is the
 * winner when its paired interval against every other correct candidate
 * lies above 1 (it is faster in every comparison the data can make); the
 * others are tied with it (or, when the session's intervals are wider than
 * asked, the result is inconclusive). A session timed under load (foreign
 * work above SPAK_FOREIGN_LOAD_MAX of the judge's CPUs) is inconclusive
 * whatever its intervals say. */
static void decide(const spak_retime_job *job, const rt_set *s, const json_t *valid, json_t *res)
{
    json_t *cands = json_array(), *recs[SPAK_RETIME_MAX];
    double score[SPAK_RETIME_MAX];
    bool precise[SPAK_RETIME_MAX], all_precise = true;
    size_t top = SIZE_MAX;
    for (size_t k = 0; k < s->n; k++) {
        recs[k] = of_rival(valid, k);
        json_array_append_new(cands, cand_result(job, &s->c[k], recs[k], &precise[k], &score[k]));
        if (!isnan(score[k]) && (top == SIZE_MAX || score[k] > score[top]))
            top = k;
    }
    json_t *tied = json_array();
    for (size_t k = 0; k < s->n; k++) {
        json_t *o = json_array_get(cands, k);
        size_t rank = 0;
        for (size_t j = 0; j < s->n && !isnan(score[k]); j++)
            rank += !isnan(score[j]) && (score[j] > score[k] || (score[j] == score[k] && j < k));
        json_object_set_new(o, "rank", json_integer(isnan(score[k]) ? 0 : (json_int_t)rank + 1));
        double p, lo, hi;
        long nr, nf;
        if (top == SIZE_MAX || k == top || isnan(score[k]))
            continue;
        all_precise = all_precise && precise[k];
        if (versus(recs[top], k, &p, &lo, &hi, &nr, &nf)) {
            double sp = sign_p(nf, nr);
            json_object_set_new(o, "versus_winner", json_pack("{s:f,s:[f,f],s:I,s:I,s:f}", "ratio", p, "ratio_ci", lo,
                                                              hi, "rounds", (json_int_t)nr, "winner_faster_rounds",
                                                              (json_int_t)nf, "sign_test_p", sp));
            /* the winner is faster: its interval says so, and so do the
             * rounds (the sign test at the interval's level, 5%) */
            if (lo > 1 && sp < 0.05 && nf * 2 > nr)
                continue;
        }
        json_array_append_new(tied, json_integer(s->c[k].eval_id));
    }
    json_object_set_new(res, "candidates", cands);
    if (top == SIZE_MAX) {
        json_object_set_new(res, "status", json_string("failed"));
        /* the judge's own reason (a check that failed, interference, ...) */
        const char *first = NULL;
        size_t i;
        json_t *r;
        json_array_foreach(valid, i, r) {
            const char *why = json_string_value(json_object_get(r, SPAK_FIELD_REASON));
            if (!first && json_is_false(json_object_get(r, SPAK_FIELD_PASSED)) && why)
                first = why;
        }
        char why[600];
        snprintf(why, sizeof why, "no candidate was correct and measured in the session%s%.500s",
                 first ? ": " : "", first ? first : "");
        json_object_set_new(res, "why", json_string(why));
        json_decref(tied);
    } else {
        all_precise = all_precise && precise[top];
        /* a session under load decides nothing (views.h, SPAK_FOREIGN_LOAD_MAX) */
        double load = spak_views_foreign_load(valid);
        bool loaded = load > SPAK_FOREIGN_LOAD_MAX;
        const char *d = loaded ? "inconclusive" : json_array_size(tied) == 0 ? "winner" : all_precise ? "tied" : "inconclusive";
        if (loaded)
            json_object_set_new(res, "foreign_load", json_real(load));
        json_object_set_new(res, "decision", json_string(d));
        json_object_set_new(res, "winner", json_integer(s->c[top].eval_id));
        json_object_set_new(res, "tied_with", tied);
    }
    for (size_t k = 0; k < s->n; k++)
        json_decref(recs[k]);
}

bool spak_retime_profiling_flag(const char *a)
{
    return spak_counters_flag(a) || (a && strcmp(a, "--profile-one") == 0);
}

/* The session's command: the first candidate's without its profiling
 * flags, and --candidate PATH of each other one. */
static spak_status session(const spak_retime_job *job, rt_set *s, json_t *res, spak_err *err)
{
    const char *argv[SPAK_TEMPLATE_MAX_WORDS + 2 * SPAK_RETIME_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < s->c[0].av.n; i++)
        if (i == 0 || !spak_retime_profiling_flag(s->c[0].av.argv[i]))
            argv[n++] = s->c[0].av.argv[i];
    for (size_t k = 1; k < s->n; k++) {
        argv[n++] = "--candidate";
        argv[n++] = s->c[k].av.argv[s->c[k].cpos];
    }
    argv[n] = NULL;
    /* a session times every candidate: n times one evaluation's limit */
    double to = job->timeout_s > 0 ? job->timeout_s * (double)s->n : 0;
    spak_measure_job mj = {.argv = argv, .workdir = s->c[0].v->workdir, .home = job->home, .target = job->target,
                           .timeout_s = to, .schema = &job->m->schema, .metric = job->metric,
                           .bin_dir = job->bin_dir, .model = job->m, .cmd_template = job->cmd,
                           .allow_weak_isolation = job->allow_weak_isolation, .lock_dir = job->lock_dir,
                           .cuda_device = job->cuda_device};
    if (job->base)
        mj.executor = job->base->executor, mj.slurm = job->base->slurm;
    spak_outcome oc;
    spak_outcome_init(&oc);
    spak_status st = spak_measure(&mj, &oc, err);
    if (st == SPAK_OK && (!oc.ran || !oc.trusted || !json_array_size(oc.valid))) {
        json_object_set_new(res, "status", json_string("failed"));
        json_object_set_new(res, "why", json_string(oc.why[0] ? oc.why : "the session gave no trusted record"));
    } else if (st == SPAK_OK) {
        const char *sid = json_string_value(json_object_get(json_array_get(oc.valid, 0), "session"));
        json_object_set_new(res, "status", json_string("done"));
        json_object_set_new(res, "session", json_string(sid ? sid : ""));
        json_object_set_new(res, "wall_s", json_real(oc.sr.wall_s));
        decide(job, s, oc.valid, res);
        json_object_set(res, "records", oc.valid);
    }
    spak_outcome_free(&oc);
    return st;
}

spak_status spak_retime_final(const spak_retime_job *job, json_t **out, spak_err *err)
{
    *out = NULL;
    char *kv = NULL;
    spak_status st = spak_store_retime_get(job->store, job->run_id, &kv, err);
    if (st != SPAK_OK || kv) {  /* done before the run was interrupted: not timed twice */
        *out = kv ? json_loads(kv, 0, NULL) : NULL;
        free(kv);
        return st;
    }
    rt_set s = {.n = 0, .left_out = json_array()};
    /* a run whose best has no interval did not decide on intervals: its
     * measure command is not a judge that reports them, and no session of
     * it could say more (docs/language.md, "Intervals") */
    if (isnan(job->pr->best_ratio_lo))
        goto out;
    if (job->pr->best_eval_id && (st = pick(job, &s, err)) != SPAK_OK)
        goto out;
    if (s.n + json_array_size(s.left_out) < 2)
        goto out;  /* nothing overlaps the best: the run decided already */
    json_t *ids = json_array();
    for (size_t k = 0; k < s.n; k++)
        json_array_append_new(ids, json_integer(s.c[k].eval_id));
    if ((st = job->enter(job->ud, json_pack("{s:o}", "retime", ids), err)) != SPAK_OK)
        goto out;
    char why[1200] = "";
    if (s.n < 2)
        spak_snprintf(why, sizeof why, "fewer than two of the leading candidates can be timed again");
    else if ((st = prepare(job, &s, why, sizeof why, err)) != SPAK_OK)
        goto out;
    json_t *res = why[0] ? skipped("skipped", why) : json_object();
    const char *exe = s.n && s.c[0].av.n ? strrchr(s.c[0].av.argv[0], '/') : NULL;
    if (exe)
        json_object_set_new(res, "judge", json_string(exe + 1));
    if (json_array_size(s.left_out))
        json_object_set(res, "left_out", s.left_out);
    if (!why[0] && (st = session(job, &s, res, err)) != SPAK_OK) {
        json_decref(res);
        goto out;
    }
    char *txt = json_dumps(res, JSON_COMPACT);
    st = txt ? spak_store_retime_put(job->store, job->run_id, txt, err) : spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    free(txt);
    if (st == SPAK_OK)
        *out = res;
    else
        json_decref(res);
out:
    set_free(&s);
    return st;
}

void spak_retime_apply(json_t *summary, const json_t *rt, const char *metric, spak_progress *pr)
{
    if (!rt)
        return;
    json_t *copy = json_deep_copy(rt);
    json_object_del(copy, "records");
    json_object_set_new(summary, "retime", copy);
    json_t *w = json_object_get(rt, "winner");
    if (!json_is_integer(w))
        return;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(rt, "candidates"), i, c) {
        if (!json_equal(json_object_get(c, "eval_id"), w))
            continue;
        json_t *b = json_pack("{s:O,s:O,s:O,s:O,s:O}", "eval_id", w, "candidate", json_object_get(c, "candidate"),
                              metric, json_object_get(c, metric), SPAK_FIELD_RATIO, json_object_get(c, SPAK_FIELD_RATIO),
                              SPAK_FIELD_RATIO_CI, json_object_get(c, SPAK_FIELD_RATIO_CI));
        json_object_set_new(b, "measured_in", json_string("re-time session"));
        json_object_set_new(summary, "best", b);
        json_object_set(summary, SPAK_FIELD_RATIO, json_object_get(c, SPAK_FIELD_RATIO));
        json_object_set(summary, SPAK_FIELD_RATIO_CI, json_object_get(c, SPAK_FIELD_RATIO_CI));
        json_t *ci = json_object_get(c, SPAK_FIELD_RATIO_CI), *r = json_object_get(c, SPAK_FIELD_RATIO);
        pr->best_eval_id = (int64_t)json_integer_value(w);
        spak_snprintf(pr->best_key, sizeof pr->best_key, "%s", json_string_value(json_object_get(c, "candidate")));
        pr->best_metric = json_is_number(json_object_get(c, metric)) ? json_number_value(json_object_get(c, metric)) : NAN;
        pr->best_ratio = json_is_number(r) ? json_number_value(r) : NAN;
        pr->best_ratio_lo = json_is_array(ci) ? json_number_value(json_array_get(ci, 0)) : NAN;
        pr->best_ratio_hi = json_is_array(ci) ? json_number_value(json_array_get(ci, 1)) : NAN;
    }
    json_object_set(summary, "decision", json_object_get(rt, "decision"));
    json_object_set(summary, "tied_with", json_object_get(rt, "tied_with"));
    json_object_set_new(summary, "decided_by", json_string("re-time"));
}
