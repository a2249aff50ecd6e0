/* space.c - see space.h. */
#include "spec/space.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t spak_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

spak_status spak_space_init(spak_space *s, const spak_param_def *params, size_t n, spak_err *err)
{
    /* every field set here: callers declare the space on the stack */
    s->params = params;
    s->n = n;
    s->total = 1;
    s->points = 0;
    s->conditional = false; /* callers need not zero *s: set every member */
    s->restricts = NULL;
    s->n_restricts = 0;
    if (n > SPAK_SPACE_MAX_PARAMS)
        return spak_errf(err, SPAK_ERR_LIMIT, "the search space has %zu parameters; at most %d are supported", n,
                         SPAK_SPACE_MAX_PARAMS);
    for (size_t i = 0; i < n; i++) {
        if (params[i].n_values == 0)
            return spak_errf(err, SPAK_ERR_ARG, "parameter %s has no values", params[i].name);
        s->total *= params[i].n_values;
        if (s->total > SPAK_SPACE_MAX_POINTS)
            return spak_errf(err, SPAK_ERR_LIMIT, "the search space has more than %d points; restrict it",
                             SPAK_SPACE_MAX_POINTS);
        if (params[i].when)
            s->conditional = true;
    }
    s->points = s->total;
    if (s->conditional) {
        s->points = 0;
        for (uint64_t i = 0; i < s->total; i++)
            s->points += spak_space_exists(s, i);
    }
    return SPAK_OK;
}

spak_status spak_space_init_loop(spak_space *s, const spak_loop_def *loop, spak_err *err)
{
    spak_status st = spak_space_init(s, loop->params, loop->n_params, err);
    if (st != SPAK_OK || !loop->n_restricts)
        return st;
    s->restricts = loop->restricts;
    s->n_restricts = loop->n_restricts;
    s->points = 0;
    for (uint64_t i = 0; i < s->total; i++)
        s->points += spak_space_exists(s, i);
    return SPAK_OK;
}

void spak_space_value(const spak_expr *v, spak_value *out)
{
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
}

/* What a condition sees: the values of the parameters before it that exist. */
typedef struct cond_scope {
    const spak_space *s;
    const size_t *digits;
    const bool *act;
    size_t upto;
} cond_scope;

static bool cond_param(void *ud, const char *name, spak_value *out)
{
    const cond_scope *c = ud;
    for (size_t j = 0; j < c->upto; j++)
        if (c->act[j] && strcmp(c->s->params[j].name, name) == 0) {
            spak_space_value(c->s->params[j].values[c->digits[j]], out);
            return true;
        }
    return false;
}

void spak_space_active(const spak_space *s, const size_t *digits, bool act[SPAK_SPACE_MAX_PARAMS])
{
    for (size_t i = 0; i < s->n; i++) {
        act[i] = true;
        if (!s->params[i].when)
            continue;
        cond_scope c = {s, digits, act, i};
        spak_eval_env env = {.param = cond_param, .ud = &c};
        bool b = false;
        spak_err err = {0};
        act[i] = spak_eval_bool(s->params[i].when, &env, &b, &err) == SPAK_OK && b;
    }
}

uint64_t spak_space_canonical(const spak_space *s, uint64_t index)
{
    if (!s->conditional)
        return index;
    size_t d[SPAK_SPACE_MAX_PARAMS];
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, index, d);
    spak_space_active(s, d, act);
    uint64_t idx = 0;
    for (size_t i = 0; i < s->n; i++)
        idx = idx * s->params[i].n_values + (act[i] ? d[i] : 0);
    return idx;
}

/* Whether e reads a parameter of the space that is absent at the point. */
static bool reads_absent(const spak_space *s, const bool *act, const spak_expr *e)
{
    if (!e)
        return false;
    if (e->kind == SPAK_EX_NAME && e->text)
        for (size_t j = 0; j < s->n; j++)
            if (!act[j] && strcmp(s->params[j].name, e->text) == 0)
                return true;
    if (reads_absent(s, act, e->lhs) || reads_absent(s, act, e->rhs))
        return true;
    for (size_t i = 0; i < e->n_items; i++)
        if (reads_absent(s, act, e->items[i]))
            return true;
    return false;
}

/* Whether the point satisfies every restriction (space.h). */
static bool restricts_hold(const spak_space *s, uint64_t index)
{
    size_t d[SPAK_SPACE_MAX_PARAMS];
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, index, d);
    spak_space_active(s, d, act);
    cond_scope c = {s, d, act, s->n};
    spak_eval_env env = {.param = cond_param, .ud = &c};
    for (size_t r = 0; r < s->n_restricts; r++) {
        if (reads_absent(s, act, s->restricts[r]))
            continue;  /* it speaks of points where its parameters exist */
        bool b = false;
        spak_err err = {0};
        if (spak_eval_bool(s->restricts[r], &env, &b, &err) != SPAK_OK || !b)
            return false;
    }
    return true;
}

bool spak_space_exists(const spak_space *s, uint64_t index)
{
    return index < s->total && spak_space_canonical(s, index) == index &&
           (!s->n_restricts || restricts_hold(s, index));
}

void spak_space_digits(const spak_space *s, uint64_t index, size_t digits[SPAK_SPACE_MAX_PARAMS])
{
    for (size_t i = s->n; i-- > 0;) {
        digits[i] = (size_t)(index % s->params[i].n_values);
        index /= s->params[i].n_values;
    }
}

static uint64_t index_of(const spak_space *s, const size_t *digits)
{
    uint64_t idx = 0;
    for (size_t i = 0; i < s->n; i++)
        idx = idx * s->params[i].n_values + digits[i];
    return idx;
}

const char *spak_value_text(const spak_expr *v)
{
    if (v->kind == SPAK_EX_BOOL)
        return v->boolean ? "true" : "false";
    if (v->kind == SPAK_EX_UNARY && v->lhs && v->lhs->kind == SPAK_EX_NUMBER)
        return v->lhs->text; /* negative numbers: sign handled by the caller */
    return v->text ? v->text : "";
}

bool spak_space_key(const spak_space *s, uint64_t index, char *buf, size_t n)
{
    size_t d[SPAK_SPACE_MAX_PARAMS];
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, index, d);
    spak_space_active(s, d, act);
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (!act[i])
            continue;
        const spak_expr *v = s->params[i].values[d[i]];
        bool neg = v->kind == SPAK_EX_UNARY;
        if (!spak_snprintf(buf + off, n - off, "%s%s=%s%s", off ? "," : "", s->params[i].name, neg ? "-" : "",
                           spak_value_text(v)))
            return false;
        off += strlen(buf + off);
    }
    return true;
}

bool spak_space_find(const spak_space *s, const char *key, uint64_t *index)
{
    /* spaces are small (<= 1e6 points): compare keys of a digit-wise parse */
    size_t d[SPAK_SPACE_MAX_PARAMS] = {0};
    const char *p = key;
    for (size_t i = 0; i < s->n; i++) {
        size_t nl = strlen(s->params[i].name);
        bool named = strncmp(p, s->params[i].name, nl) == 0 && p[nl] == '=';
        if (s->params[i].when) {
            /* the digits before i are final: whether i exists is known */
            bool act[SPAK_SPACE_MAX_PARAMS];
            spak_space_active(s, d, act);
            if (!act[i]) {
                if (named)
                    return false;  /* a value for a parameter that does not exist there */
                d[i] = 0;
                continue;
            }
        }
        if (!named)
            return false;
        p += nl + 1;
        const char *end = strchr(p, ',');
        size_t vl = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (size_t k = 0; k < s->params[i].n_values && !found; k++) {
            const spak_expr *v = s->params[i].values[k];
            char txt[300];
            spak_snprintf(txt, sizeof txt, "%s%s", v->kind == SPAK_EX_UNARY ? "-" : "", spak_value_text(v));
            if (strlen(txt) == vl && strncmp(txt, p, vl) == 0) {
                d[i] = k;
                found = true;
            }
        }
        if (!found)
            return false;
        p += vl;
        if (*p == ',')
            p++;
    }
    if (*p)
        return false;
    *index = index_of(s, d);
    return !s->n_restricts || restricts_hold(s, *index);
}

/* The seeded permutation's k-th element, computed by a Fisher-Yates shuffle
 * of the whole index range (spaces are capped at 1e6 points). */
static uint64_t *permutation(const spak_space *s, uint64_t seed)
{
    uint64_t *perm = malloc(s->total * sizeof *perm);
    if (!perm)
        return NULL;
    for (uint64_t i = 0; i < s->total; i++)
        perm[i] = i;
    uint64_t st = seed ^ 0x5350414B5350414BULL;
    for (uint64_t i = s->total; i > 1; i--) {
        uint64_t j = spak_splitmix64(&st) % i;
        uint64_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    return perm;
}

spak_status spak_space_next(const spak_space *s, spak_strategy_kind kind, uint64_t seed, const spak_space_eval *done,
                            size_t n_done, uint64_t *next, bool *found, spak_err *err)
{
    *found = false;
    unsigned char *tried = calloc((size_t)(s->total + 7) / 8, 1);
    if (!tried)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
#define TRIED(i) (tried[(i) / 8] & (1u << ((i) % 8)))
    for (size_t i = 0; i < n_done; i++)
        if (done[i].index < s->total)
            tried[done[i].index / 8] |= (unsigned char)(1u << (done[i].index % 8));
    spak_status st = SPAK_OK;
    if (kind == SPAK_STRAT_GRID) {
        for (uint64_t i = 0; i < s->total; i++)
            if (!TRIED(i) && spak_space_exists(s, i)) {
                *next = i;
                *found = true;
                break;
            }
        goto out;
    }
    uint64_t *perm = permutation(s, seed);
    if (!perm) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    uint64_t first_random = s->total;
    for (uint64_t k = 0; k < s->total; k++)
        if (!TRIED(perm[k]) && spak_space_exists(s, perm[k])) {
            first_random = perm[k];
            break;
        }
    free(perm);
    if (first_random == s->total)
        goto out;  /* everything tried */
    *next = first_random;
    *found = true;
    if (kind == SPAK_STRAT_RANDOM)
        goto out;
    /* default: explore first, then climb */
    const size_t n_init = s->points < 3 ? (size_t)s->points : 3;
    if (n_done < n_init || (n_done % 4) == 3)
        goto out;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < n_done; i++)
        if (!isnan(done[i].score) && (best == SIZE_MAX || done[i].score > done[best].score))
            best = i;
    if (best == SIZE_MAX)
        goto out;
    size_t d[SPAK_SPACE_MAX_PARAMS], nd[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, done[best].index, d);
    size_t max_n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->params[i].n_values > max_n)
            max_n = s->params[i].n_values;
    for (size_t dist = 1; dist < max_n; dist++) {
        for (size_t i = 0; i < s->n; i++) {
            for (int sign = 1; sign >= -1; sign -= 2) {
                long v = (long)d[i] + sign * (long)dist;
                if (v < 0 || v >= (long)s->params[i].n_values)
                    continue;
                memcpy(nd, d, s->n * sizeof *d);
                nd[i] = (size_t)v;
                /* a change of an absent parameter lands on the best itself */
                uint64_t idx = spak_space_canonical(s, index_of(s, nd));
                if (!TRIED(idx) && spak_space_exists(s, idx)) {
                    *next = idx;
                    goto out;
                }
            }
        }
    }
out:
#undef TRIED
    free(tried);
    return st;
}
