/* reach.c - does a parameter reach the candidate (reach.h). */
#include "build/reach.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_key.h"

#define REACH_MAX_ALTS 64  /* values of one parameter compared; more: P counts as reaching */

/* Whether template t names {{name}}. */
static bool template_names(const char *t, const char *name)
{
    for (const char *s = t ? strstr(t, "{{") : NULL; s; s = strstr(s + 2, "{{")) {
        const char *b;
        size_t n;
        if (!spak_template_name(s, &b, &n))
            return false;
        if (n == strlen(name) && strncmp(b, name, n) == 0)
            return true;
    }
    return false;
}

/* Whether a template of the problem or of a loop's measure command, or an
 * expression of a declared kernel, names the parameter: it then reaches
 * the candidate by another way than its source's defines. */
static bool named_by_templates(const spak_model *m, const char *name)
{
    static const char *const keys[] = {"source", "baseline_source"};
    for (size_t i = 0; m->problem && i < SPAK_ARRAY_LEN(keys); i++)
        if (template_names(spak_block_string(m->problem, keys[i]), name))
            return true;
    for (size_t i = 0; i < m->n_loops; i++)
        if (template_names(m->loops[i].cmd, name))
            return true;
    /* a declared kernel's grid, block, counts, ...: through the decl file */
    return spak_kernel_names_param(m->kernel, name);
}

/* The path of the compiler a build runs (found on PATH), into out. */
static bool compiler_path(const char *source, char *out, size_t n)
{
    const char *cc = spak_build_compiler_for(source);
    if (strchr(cc, '/'))
        return spak_snprintf(out, n, "%s", cc);
    const char *path = getenv("PATH");
    char dir[PATH_MAX];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t k = strcspn(p, ":");
        if (k && k < sizeof dir) {
            memcpy(dir, p, k);
            dir[k] = '\0';
            if (spak_snprintf(out, n, "%s/%s", dir, cc) && access(out, X_OK) == 0)
                return true;
        }
        p += k + (p[k] == ':');
    }
    return false;
}

/* What one parameter's verdict is compared over: the point's defines (set
 * 0) and one set per other value of P. */
typedef struct reach_param {
    size_t p;
    size_t n_sets;                 /* 1 + the alternatives */
    size_t first;                  /* its sets start here in the shared list */
    char key[17];
    bool cached, verdict_known, unreached;
} reach_param;

/* The shared define sets of a check: set 0 is the point's own. */
typedef struct reach_sets {
    char (*defs)[SPAK_BUILD_MAX_DEFINES][SPAK_CAND_DEFINE_MAX];
    const char *(*ptrs)[SPAK_BUILD_MAX_DEFINES];
    size_t *nd;
    size_t n, cap;
    bool keep_case; /* a declared kernel's defines keep their names */
    const spak_model *m; /* its compiler and flags enter the key */
} reach_sets;

static bool sets_add(reach_sets *rs, const spak_space *sp, const size_t *digits)
{
    if (rs->n == rs->cap)
        return false;
    rs->nd[rs->n] = spak_cand_defines(sp, digits, rs->keep_case, rs->defs[rs->n], rs->ptrs[rs->n]);
    rs->n++;
    return true;
}

/* The cache key of one verdict: the define sets compared (the point's, then
 * P's alternatives), the source and the files beside it, the compiler. */
static bool verdict_key(const reach_sets *rs, const reach_param *rp, const char *source, const char *cc,
                        char key[17])
{
    uint64_t h = spak_hash64("spak-reach-1", 13, 0);
    size_t idx[REACH_MAX_ALTS + 1];
    idx[0] = 0;
    for (size_t k = 1; k < rp->n_sets; k++)
        idx[k] = rp->first + k - 1;
    for (size_t k = 0; k < rp->n_sets; k++) {
        for (size_t d = 0; d < rs->nd[idx[k]]; d++)
            h = spak_hash64(rs->ptrs[idx[k]][d], strlen(rs->ptrs[idx[k]][d]) + 1, h);
        h = spak_hash64("|", 1, h);
    }
    spak_build_request kf = {0};
    spak_cand_kernel_flags(rs->m, &kf);
    for (size_t f = 0; f < kf.n_flags; f++)
        h = spak_hash64(kf.flags[f], strlen(kf.flags[f]) + 1, h);
    if (kf.compiler)
        h = spak_hash64(kf.compiler, strlen(kf.compiler) + 1, h);
    spak_key_walk w;
    spak_key_walk_init(&w, h, geteuid() == 0);
    spak_key_file(&w, cc);
    spak_key_file(&w, source);
    char dir[PATH_MAX], common[PATH_MAX + 16];
    struct stat sb;
    if (spak_snprintf(dir, sizeof dir, "%s", source) && strrchr(dir, '/')) {
        *strrchr(dir, '/') = '\0';
        spak_key_tree(&w, dir);
        if (spak_snprintf(common, sizeof common, "%s/../common", dir) && stat(common, &sb) == 0 &&
            S_ISDIR(sb.st_mode))
            spak_key_tree(&w, common);
    } else {
        w.complete = false;
    }
    spak_snprintf(key, 17, "%016llx", (unsigned long long)w.h);
    return w.complete;
}

/* The parameters of the point to compare (rp, *n_rp), their alternative
 * define sets appended to rs. A parameter that a template names, that
 * gates another's existence, or that has too many values is left out: it
 * reaches. */
static void plan(const spak_cand_vars *v, reach_sets *rs, reach_param *rp, size_t *n_rp)
{
    const spak_space *sp = v->site->space;
    bool act[SPAK_SPACE_MAX_PARAMS], act2[SPAK_SPACE_MAX_PARAMS];
    spak_space_active(sp, v->digits, act);
    *n_rp = 0;
    for (size_t p = 0; p < sp->n; p++) {
        const spak_param_def *pd = &sp->params[p];
        if (!act[p] || pd->n_values < 2 || pd->n_values > REACH_MAX_ALTS + 1 ||
            named_by_templates(v->site->m, pd->name))
            continue;
        reach_param *r = &rp[*n_rp];
        memset(r, 0, sizeof *r);
        r->p = p;
        r->first = rs->n;
        r->n_sets = 1;
        bool gates = false;
        size_t d2[SPAK_SPACE_MAX_PARAMS];
        for (size_t w = 0; w < pd->n_values && !gates; w++) {
            if (w == v->digits[p])
                continue;
            memcpy(d2, v->digits, sizeof d2);
            d2[p] = w;
            spak_space_active(sp, d2, act2);
            for (size_t q = 0; q < sp->n; q++)
                gates |= q != p && act[q] != act2[q];
            if (!gates && sets_add(rs, sp, d2))
                r->n_sets++;
            else
                gates = true;
        }
        if (gates) {
            rs->n = r->first;  /* it reaches: drop what was planned for it */
            continue;
        }
        (*n_rp)++;
    }
}

/* Read or compute the verdicts of rp: cached ones from cache_dir, the rest
 * by one preprocessing of every set in the build's sandbox. */
static spak_status verdicts(const spak_cand_vars *v, const reach_sets *rs, reach_param *rp, size_t n_rp,
                            const char *cache_dir, spak_err *err)
{
    char cc[PATH_MAX];
    bool have_cc = compiler_path(v->source, cc, sizeof cc);
    bool need = false;
    for (size_t i = 0; i < n_rp; i++) {
        char path[PATH_MAX + 32], *t = NULL;
        size_t tl = 0;
        bool complete = have_cc && verdict_key(rs, &rp[i], v->source, cc, rp[i].key);
        if (!complete)
            rp[i].key[0] = '\0';
        if (complete && spak_snprintf(path, sizeof path, "%s/%s", cache_dir, rp[i].key) &&
            spak_read_file(path, 16, &t, &tl, NULL) == SPAK_OK && tl >= 1 && (t[0] == '0' || t[0] == '1')) {
            rp[i].cached = rp[i].verdict_known = true;
            rp[i].unreached = t[0] == '0';
        }
        free(t);
        need |= !rp[i].cached;
    }
    if (!need)
        return SPAK_OK;
    uint64_t *dig = calloc(rs->n, sizeof *dig);
    bool *ok = calloc(rs->n, sizeof *ok);
    const char *const **sets = calloc(rs->n, sizeof *sets);
    spak_status st = SPAK_OK;
    if (!dig || !ok || !sets) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    char inc[PATH_MAX];
    spak_snprintf(inc, sizeof inc, "%s", v->source);
    if (strrchr(inc, '/'))
        *strrchr(inc, '/') = '\0';
    spak_build_request rq = {.source = v->source, .include_dir = inc};
    spak_cand_kernel_flags(v->site->m, &rq); /* -fopenmp expands the macros of an omp pragma */
    for (size_t k = 0; k < rs->n; k++)
        sets[k] = rs->ptrs[k];
    st = spak_build_preprocess(&rq, sets, rs->nd, rs->n, dig, ok, err);
    if (st != SPAK_OK)
        goto out;
    (void)spak_mkdirs(cache_dir, NULL);
    for (size_t i = 0; i < n_rp; i++) {
        reach_param *r = &rp[i];
        if (r->cached)
            continue;
        bool known = ok[0], same = true;
        for (size_t k = 0; k + 1 < r->n_sets; k++) {
            known &= ok[r->first + k];
            same &= dig[r->first + k] == dig[0];
        }
        r->verdict_known = known;
        r->unreached = known && same;
        char path[PATH_MAX + 32];
        if (known && r->key[0] && spak_snprintf(path, sizeof path, "%s/%s", cache_dir, r->key))
            (void)spak_write_file_atomic(path, r->unreached ? "0\n" : "1\n", 2, NULL);
    }
out:
    free(sets);
    free(dig);
    free(ok);
    return st;
}

spak_status spak_reach_unreached(const spak_cand_vars *v, char *out, size_t n, spak_err *err)
{
    out[0] = '\0';
    const spak_model *m = v->site->m;
    if (!m->problem || !spak_block_string(m->problem, "source") || !v->source || !v->source[0])
        return spak_errf(err, SPAK_ERR_ARG, "no source to preprocess");
    const spak_space *sp = v->site->space;
    size_t cap = 1;
    for (size_t p = 0; p < sp->n; p++)
        cap += sp->params[p].n_values;
    reach_sets rs = {.cap = cap, .keep_case = m->kernel != NULL, .m = m};
    rs.defs = calloc(cap, sizeof *rs.defs);
    rs.ptrs = calloc(cap, sizeof *rs.ptrs);
    rs.nd = calloc(cap, sizeof *rs.nd);
    reach_param *rp = calloc(SPAK_SPACE_MAX_PARAMS, sizeof *rp);
    spak_status st = SPAK_OK;
    if (!rs.defs || !rs.ptrs || !rs.nd || !rp) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    sets_add(&rs, sp, v->digits);
    size_t n_rp = 0;
    plan(v, &rs, rp, &n_rp);
    char cache_dir[PATH_MAX];
    spak_snprintf(cache_dir, sizeof cache_dir, "%s/cache/reach", v->site->home);
    st = verdicts(v, &rs, rp, n_rp, cache_dir, err);
    for (size_t i = 0; st == SPAK_OK && i < n_rp; i++) {
        if (!rp[i].unreached)
            continue;
        size_t L = strlen(out);
        spak_snprintf(out + L, n - L, "%s%s", L ? "," : "", sp->params[rp[i].p].name);
    }
out:
    free(rs.defs);
    free(rs.ptrs);
    free(rs.nd);
    free(rp);
    return st;
}
