/* knowledge.c - rule actions, rule firing and the rules strategy (knowledge.h). */
#include "knowledge/knowledge.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- action parsing ---- */

typedef struct cursor {
    const char *p;
} cursor;

static void skip_ws(cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

static bool word(cursor *c, char *buf, size_t n)
{
    skip_ws(c);
    size_t k = 0;
    while ((isalnum((unsigned char)*c->p) || *c->p == '_' || *c->p == '.' || *c->p == '-') && k + 1 < n)
        buf[k++] = *c->p++;
    buf[k] = '\0';
    return k > 0;
}

static bool value_token(cursor *c, char *buf, size_t n)
{
    skip_ws(c);
    if (*c->p == '\'' || *c->p == '"') {
        char q = *c->p++;
        size_t k = 0;
        while (*c->p && *c->p != q && k + 1 < n)
            buf[k++] = *c->p++;
        buf[k] = '\0';
        if (*c->p != q)
            return false;
        c->p++;
        return true;
    }
    return word(c, buf, n);
}

static bool find_value(const spak_param_def *p, const char *v, size_t *idx)
{
    for (size_t i = 0; i < p->n_values; i++) {
        char txt[300];
        const spak_expr *e = p->values[i];
        spak_snprintf(txt, sizeof txt, "%s%s", e->kind == SPAK_EX_UNARY ? "-" : "", spak_value_text(e));
        if (strcmp(txt, v) == 0) {
            *idx = i;
            return true;
        }
        /* 64 and 64.0 name the same number */
        double a, b;
        if (e->kind == SPAK_EX_NUMBER && spak_parse_double(v, &a) && spak_parse_double(txt, &b) && a == b) {
            *idx = i;
            return true;
        }
    }
    return false;
}

static bool find_param(const spak_space *s, const char *name, size_t *idx)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->params[i].name, name) == 0) {
            *idx = i;
            return true;
        }
    return false;
}

#define WHY(...)                                   \
    do {                                           \
        if (why)                                   \
            spak_snprintf(why, why_n, __VA_ARGS__); \
    } while (0)

/* A value of p (the parameter name) at the cursor: its index in *vi; false,
 * with why filled, when no value is there (no_value says so) or the value
 * is not one of p's. */
static bool param_value(cursor *c, const spak_param_def *p, const char *name, const char *no_value, size_t *vi,
                        char *why, size_t why_n)
{
    char val[300];
    if (!value_token(c, val, sizeof val)) {
        WHY("%s", no_value);
        return false;
    }
    if (!find_value(p, val, vi)) {
        WHY("'%s' is not a value of %s", val, name);
        return false;
    }
    return true;
}

bool spak_action_parse(const char *text, const char *key, const spak_space *space, spak_action *out, char *why,
                       size_t why_n)
{
    memset(out, 0, sizeof *out);
    cursor c = {text};
    char w1[128], name[128];
    if (!word(&c, w1, sizeof w1)) {
        WHY("does not start with a word");
        return false;
    }
    bool verb = true;
    if (strcmp(w1, "set") == 0 || strcmp(w1, "select") == 0)
        out->kind = SPAK_ACT_SET;
    else if (strcmp(w1, "prefer") == 0)
        out->kind = SPAK_ACT_PREFER;
    else if (strcmp(w1, "exclude") == 0 || strcmp(w1, "avoid") == 0)
        out->kind = SPAK_ACT_EXCLUDE;
    else if (strcmp(w1, "restrict") == 0)
        out->kind = SPAK_ACT_RESTRICT;
    else {
        verb = false;
        /* a recommendation or a hint's suggestion is soft; apply/action is hard */
        out->kind = key && (strcmp(key, "recommend") == 0 || strcmp(key, "suggestion") == 0) ? SPAK_ACT_PREFER
                                                                                              : SPAK_ACT_SET;
    }
    if (verb) {
        if (!word(&c, name, sizeof name)) {
            WHY("expected a parameter after '%s'", w1);
            return false;
        }
    } else {
        spak_snprintf(name, sizeof name, "%s", w1);
    }
    if (!find_param(space, name, &out->param)) {
        WHY("'%s' is not a parameter of the loop", name);
        return false;
    }
    const spak_param_def *p = &space->params[out->param];
    skip_ws(&c);
    if (out->kind == SPAK_ACT_RESTRICT) {
        char in[8];
        if (!word(&c, in, sizeof in) || strcmp(in, "in") != 0) {
            WHY("expected 'restrict %s in [values]'", name);
            return false;
        }
        skip_ws(&c);
        if (*c.p != '[') {
            WHY("expected '[' after 'in'");
            return false;
        }
        c.p++;
        for (;;) {
            skip_ws(&c);
            if (*c.p == ']') {
                c.p++;
                break;
            }
            size_t vi;
            if (!param_value(&c, p, name, "bad value in the list", &vi, why, why_n))
                return false;
            if (out->n_values < SPAK_ACTION_MAX_VALUES)
                out->values[out->n_values++] = vi;
            skip_ws(&c);
            if (*c.p == ',')
                c.p++;
        }
    } else {
        if (c.p[0] == '=' && c.p[1] == '=')
            c.p += 2;
        else if (c.p[0] == '=')
            c.p++;
        else {
            WHY("expected '=' after %s", name);
            return false;
        }
        size_t vi;
        if (!param_value(&c, p, name, "expected a value after '='", &vi, why, why_n))
            return false;
        out->values[0] = vi;
        out->n_values = 1;
    }
    skip_ws(&c);
    if (*c.p) {
        WHY("unexpected text after the action: '%s'", c.p);
        return false;
    }
    return true;
}

/* ---- firing ---- */

size_t spak_rules_fire(const spak_model *m, const spak_space *space, const spak_eval_env *env, spak_firing *out,
                       size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_rules && n < max; i++) {
        const spak_rule_def *r = &m->rules[i];
        bool fires;
        if (r->when) {
            spak_err e;
            if (spak_eval_bool(r->when, env, &fires, &e) != SPAK_OK)
                fires = false;  /* e.g. no record yet: the rule cannot speak */
        } else {
            fires = r->when_text == NULL;  /* no condition: always; prose: never by itself */
        }
        if (!fires)
            continue;
        spak_firing *f = &out[n++];
        f->rule = r;
        f->n_actions = 0;
        for (size_t k = 0; k < r->n_actions && f->n_actions < SPAK_ARRAY_LEN(f->actions); k++)
            if (spak_action_parse(r->actions[k].text, r->actions[k].key, space, &f->actions[f->n_actions], NULL, 0))
                f->n_actions++;
    }
    return n;
}

/* ---- the rules strategy ---- */

typedef struct allow {
    unsigned char ok[SPAK_SPACE_MAX_PARAMS][256];   /* value allowed */
    unsigned char pref[SPAK_SPACE_MAX_PARAMS][256]; /* value preferred */
    bool constrained;
} allow;

static void build_allow(const spak_space *s, const spak_firing *f, size_t nf, allow *a)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < s->n; i++)
        for (size_t v = 0; v < s->params[i].n_values && v < 256; v++)
            a->ok[i][v] = 1;
    for (size_t k = 0; k < nf; k++)
        for (size_t j = 0; j < f[k].n_actions; j++) {
            const spak_action *ac = &f[k].actions[j];
            size_t p = ac->param;
            switch (ac->kind) {
            case SPAK_ACT_SET:
            case SPAK_ACT_RESTRICT: {
                unsigned char keep[256] = {0};
                for (size_t v = 0; v < ac->n_values; v++)
                    if (ac->values[v] < 256)
                        keep[ac->values[v]] = 1;
                for (size_t v = 0; v < 256; v++)
                    a->ok[p][v] &= keep[v];
                a->constrained = true;
                break;
            }
            case SPAK_ACT_EXCLUDE:
                if (ac->values[0] < 256)
                    a->ok[p][ac->values[0]] = 0;
                a->constrained = true;
                break;
            case SPAK_ACT_PREFER:
                if (ac->values[0] < 256)
                    a->pref[p][ac->values[0]] = 1;
                a->constrained = true;
                break;
            }
        }
}

spak_status spak_rules_next(const spak_space *s, uint64_t seed, const spak_space_eval *done, size_t n_done,
                            const spak_firing *firings, size_t n_firings, uint64_t *next, bool *found,
                            bool *by_rules, spak_err *err)
{
    *found = false;
    *by_rules = false;
    allow *a = malloc(sizeof *a);
    unsigned char *tried = calloc((size_t)(s->total + 7) / 8, 1);
    if (!a || !tried) {
        free(a);
        free(tried);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_done; i++)
        if (done[i].index < s->total)
            tried[done[i].index / 8] |= (unsigned char)(1u << (done[i].index % 8));
    build_allow(s, firings, n_firings, a);
    /* the best point so far, for closeness */
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < n_done; i++)
        if (!isnan(done[i].score) && (best == SIZE_MAX || done[i].score > done[best].score))
            best = i;
    size_t bd[SPAK_SPACE_MAX_PARAMS] = {0}, d[SPAK_SPACE_MAX_PARAMS];
    if (best != SIZE_MAX)
        spak_space_digits(s, done[best].index, bd);
    /* rank: more preferred values, then closer to the best, then seeded random */
    long best_pref = -1;
    double best_dist = 0;
    uint64_t best_tie = 0, pick = 0;
    bool any = false;
    if (a->constrained) {
        for (uint64_t idx = 0; idx < s->total; idx++) {
            if ((tried[idx / 8] & (1u << (idx % 8))) || !spak_space_exists(s, idx))
                continue;
            spak_space_digits(s, idx, d);
            bool act[SPAK_SPACE_MAX_PARAMS];
            spak_space_active(s, d, act);
            bool ok = true;
            long pref = 0;
            double dist = 0;
            for (size_t i = 0; i < s->n && ok; i++) {
                if (!act[i])
                    continue;  /* a rule about a parameter that does not exist here says nothing */
                size_t v = d[i] < 256 ? d[i] : 255;
                ok = a->ok[i][v];
                pref += a->pref[i][v];
                if (best != SIZE_MAX) {
                    long diff = (long)d[i] - (long)bd[i];
                    dist += diff < 0 ? -diff : diff;
                }
            }
            if (!ok)
                continue;
            uint64_t st = seed ^ (idx * 0x9E3779B97F4A7C15ULL);
            uint64_t tie = spak_splitmix64(&st);
            if (!any || pref > best_pref || (pref == best_pref && dist < best_dist) ||
                (pref == best_pref && dist == best_dist && tie < best_tie)) {
                any = true;
                best_pref = pref;
                best_dist = dist;
                best_tie = tie;
                pick = idx;
            }
        }
    }
    free(a);
    free(tried);
    if (any) {
        *next = pick;
        *found = true;
        *by_rules = true;
        return SPAK_OK;
    }
    /* no rule speaks (or what they allow is all tried): explore */
    return spak_space_next(s, SPAK_STRAT_DEFAULT, seed, done, n_done, next, found, err);
}
