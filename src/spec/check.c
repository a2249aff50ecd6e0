/*
 * check.c - the checker: syntax tree -> model, with semantic diagnostics.
 *
 * What each block means is documented in docs/language.md; this file is its
 * executable form. Unknown blocks are kept (the formatter prints them) with a
 * warning; semiformal strings that are not expressions over known names are
 * kept as prose guidance.
 */
#include "spec/check.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spec/expr.h"
#include "spec/kernel.h"
#include "analyze/executor_names.h"
#include "knowledge/knowledge.h"
#include "program/llm/llm.h"
#include "program/strategies.h"
#include "spec/parse.h"
#include "spec/suggest.h"
#include "template.h"

typedef struct checker {
    const spak_file *file;
    spak_model *m;
    spak_diags *d;
    spak_arena *a;
    bool oom;
} checker;

#define ERR(c, pos, ...) spak_diags_add((c)->d, SPAK_DIAG_ERROR, (pos).line, (pos).col, __VA_ARGS__)
#define WARN(c, pos, ...) spak_diags_add((c)->d, SPAK_DIAG_WARNING, (pos).line, (pos).col, __VA_ARGS__)

static void *calloc_arena(checker *c, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = spak_arena_alloc(c->a, n * size);
    if (!p)
        c->oom = true;
    return p;
}

/* ---- helpers ---- */

static const char *entry_name(const spak_entry *e, size_t i)
{
    return i < e->n_words ? e->words[i].text : NULL;
}

static bool is_literal(const spak_expr *v)
{
    switch (v->kind) {
    case SPAK_EX_STRING: case SPAK_EX_NUMBER: case SPAK_EX_BOOL: case SPAK_EX_NAME:
        return true;
    case SPAK_EX_UNARY:
        return v->op == SPAK_OP_NEG && v->lhs->kind == SPAK_EX_NUMBER;
    default:
        return false;
    }
}

/* A key: value entry with exactly one word (the key). */
static bool is_field(const spak_entry *e)
{
    return e->kind == SPAK_EN_PLAIN && e->n_words == 1 && !e->words[0].is_string && !e->has_params;
}

static const char *string_value(checker *c, const spak_entry *e, const char *what)
{
    if (e->value && (e->value->kind == SPAK_EX_STRING || e->value->kind == SPAK_EX_NAME))
        return e->value->text;
    ERR(c, e->value ? e->value->pos : e->pos, "%s: expected a string", what);
    return NULL;
}

static bool number_value(checker *c, const spak_entry *e, const char *what, double lo, double hi, double *out)
{
    const spak_expr *v = e->value;
    if (v && v->kind == SPAK_EX_NUMBER && v->num >= lo && v->num <= hi) {
        *out = v->num;
        return true;
    }
    if (v && v->kind == SPAK_EX_NUMBER)
        ERR(c, v->pos, "%s: %s is out of range [%g, %g]", what, v->text, lo, hi);
    else
        ERR(c, v ? v->pos : e->pos, "%s: expected a number", what);
    return false;
}

static bool int_value(checker *c, const spak_entry *e, const char *what, long lo, long hi, long *out)
{
    const spak_expr *v = e->value;
    if (v && v->kind == SPAK_EX_NUMBER && v->is_int && v->num >= (double)lo && v->num <= (double)hi) {
        *out = (long)v->num;
        return true;
    }
    ERR(c, v ? v->pos : e->pos, "%s: expected a whole number in [%ld, %ld]", what, lo, hi);
    return false;
}

/* ---- typos (docs/language.md 4.0) ---- */

/* The closest of the words of a list that a names() function writes
 * ("a b c"), or NULL. */
static const char *suggest_words(const char *name, void (*names)(char *, size_t, const char *, const char *),
                                 char *words, size_t n)
{
    const char *cands[32];
    size_t nc = 0;
    char *save = NULL;
    names(words, n, " ", " ");
    for (char *w = strtok_r(words, " ", &save); w && nc < SPAK_ARRAY_LEN(cands); w = strtok_r(NULL, " ", &save))
        cands[nc++] = w;
    return nc ? spak_suggest_list(name, cands, nc) : NULL;
}

/* An unknown key of a block whose keys are all known (`what`: the block, as
 * the message names it): an error, with the closest known key as "did you
 * mean" or else the list of keys the block takes. A key that is ignored
 * would change what the spec means without a word. */
static void unknown_key(checker *c, const spak_entry *f, const char *what, const char *const *keys, size_t n)
{
    const char *h = spak_entry_head(f);
    const char *best = spak_suggest_list(h, keys, n);
    char list[400];
    if (best)
        ERR(c, f->pos, "%s: unknown key '%s' (did you mean '%s'?)", what, h, best);
    else
        ERR(c, f->pos, "%s: unknown key '%s' (expected %s)", what, h, spak_join_names(keys, n, list, sizeof list));
}

/* In a place that keeps unknown entries as free-form text: an entry whose
 * name is close to a known one is a typo of it, an error (true returned);
 * any other name stays free-form (false). */
static bool typo_of(checker *c, spak_pos pos, const char *what, const char *name, const char *const *known, size_t n)
{
    const char *best = spak_suggest_list(name, known, n);
    if (!best)
        return false;
    ERR(c, pos, "%s '%s' (did you mean '%s'?)", what, name, best);
    return true;
}

/* " (did you mean 'C'?)" for a case name of the schema, into buf. */
static const char *dym_case(const spak_trace_schema *sc, const char *name, char *buf, size_t n)
{
    spak_suggest s;
    spak_suggest_init(&s, name);
    for (size_t i = 0; i < sc->n_cases; i++)
        spak_suggest_try(&s, sc->cases[i].name);
    return spak_suggest_text(s.best, buf, n);
}

/* ---- design_space / tuning_space ---- */

/* Caps on what one spec may declare. Real specs hold tens of each; the caps
 * keep the checker's duplicate checks and name lookups (linear scans) from
 * going quadratic on a 4 MiB file of nothing but declarations. */
#define MAX_PARAMS 1024        /* per design_space, tuning_space or loop */
#define MAX_FACTS 1024
#define MAX_RULES 1024         /* rules and hints together */
#define MAX_LOOPS 64
#define MAX_CASES 256          /* trace_schema cases */
#define MAX_FIELDS 256         /* fields per case */

typedef struct pvec {
    spak_param_def *v;
    size_t n, alloc;
    bool full;
} pvec;

/* Room for one more element (element n) of an array the checker grows in
 * its arena: v itself, or a larger copy of it. NULL when the array already
 * holds max elements (too_many, a format taking max, is reported once, at
 * pos) or without memory. The caller stores the result back. */
static void *vec_room(checker *c, void *v, size_t n, size_t *alloc, bool *full, int max, size_t size, spak_pos pos,
                      const char *too_many)
{
    if (n >= (size_t)max) {
        if (!*full)
            ERR(c, pos, too_many, max);
        *full = true;
        return NULL;
    }
    if (n < *alloc)
        return v;
    size_t na = *alloc ? *alloc * 2 : 8;
    void *q = calloc_arena(c, na, size);
    if (!q)
        return NULL;
    if (n)
        memcpy(q, v, n * size);
    *alloc = na;
    return q;
}

static spak_param_def *pvec_push(checker *c, pvec *pv, spak_pos pos)
{
    spak_param_def *q = vec_room(c, pv->v, pv->n, &pv->alloc, &pv->full, MAX_PARAMS, sizeof *q, pos,
                                 "too many parameters (more than %d in one space or loop)");
    if (!q)
        return NULL;
    pv->v = q;
    return &pv->v[pv->n++];
}

static void dup_param_check(checker *c, const pvec *pv, const char *name, spak_pos pos, const spak_model *m)
{
    for (size_t i = 0; i + 1 < pv->n; i++)
        if (strcmp(pv->v[i].name, name) == 0) {
            ERR(c, pos, "duplicate parameter '%s' (first defined at line %d)", name, pv->v[i].pos.line);
            return;
        }
    if (m) {
        const spak_param_def *p = spak_model_param(m, name);
        if (p)
            ERR(c, pos, "duplicate parameter '%s' (also in %s at line %d)", name, p->origin, p->pos.line);
    }
}

/* Order values by kind, text, then position (qsort is not stable). */
static int value_cmp(const void *a, const void *b)
{
    const spak_expr *x = *(const spak_expr *const *)a, *y = *(const spak_expr *const *)b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int d = strcmp(x->text, y->text);
    if (d)
        return d;
    if (x->pos.line != y->pos.line)
        return x->pos.line < y->pos.line ? -1 : 1;
    return (x->pos.col > y->pos.col) - (x->pos.col < y->pos.col);
}

/* `name: [values] { when: COND }`: the parameter's condition (typed later,
 * once the loop's parameters are known: loop_conditions). */
static void param_condition(checker *c, spak_param_def *p, const spak_entry *e, const char *origin, const char *name)
{
    if (!e->body)
        return;
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *x = e->body->items[i];
        if (!spak_entry_word_is(x, 0, "when") || x->n_words != 1 || !x->value || x->body) {
            char dym[160];
            const char *h = spak_entry_head(x);
            ERR(c, x->pos, "%s '%s': expected '{ when: CONDITION }' after the values, near '%s'%s", origin, name, h,
                spak_suggest_text(strcmp(h, "when") && spak_suggest_close(h, "when", NULL) ? "when" : NULL, dym,
                                  sizeof dym));
            continue;
        }
        if (p->when)
            ERR(c, x->pos, "%s '%s': more than one condition (join them with &&)", origin, name);
        else
            p->when = x->value;
    }
}

/* The type of a literal value, as parameters' values are compared: names
 * and strings are one type (a bare name is a string), numbers one, booleans
 * one. */
static const char *value_type(const spak_expr *v)
{
    switch (v->kind) {
    case SPAK_EX_NUMBER: case SPAK_EX_UNARY: return "number";
    case SPAK_EX_BOOL: return "boolean";
    default: return "string";
    }
}

/* A literal as written, into buf ("-1", "two", "true"); strings quoted. */
static const char *lit_text(const spak_expr *v, char *buf, size_t n)
{
    if (v->kind == SPAK_EX_UNARY)
        spak_snprintf(buf, n, "-%s", v->lhs->text ? v->lhs->text : "");
    else if (v->kind == SPAK_EX_BOOL)
        spak_snprintf(buf, n, "%s", v->boolean ? "true" : "false");
    else if (v->kind == SPAK_EX_STRING)
        spak_snprintf(buf, n, "\"%s\"", v->text);
    else
        spak_snprintf(buf, n, "%s", v->text ? v->text : "");
    return buf;
}

static void value_list(checker *c, pvec *pv, const char *prefix, const spak_entry *e, const char *origin,
                       const spak_model *m);

/* The members of a group, `g: { a: [..] }` (a map value) or `g { a: [..] }`
 * (a block, the prototype's form): each one parameter named g.a. */
static void value_group(checker *c, pvec *pv, const char *name, const spak_block *b, const char *origin,
                        const spak_model *m)
{
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *x = b->items[i];
        if (!is_field(x)) {
            ERR(c, x->pos, "%s '%s': expected 'name: [values]'", origin, name);
            continue;
        }
        value_list(c, pv, name, x, origin, m);
    }
}

static void value_list(checker *c, pvec *pv, const char *prefix, const spak_entry *e, const char *origin,
                       const spak_model *m)
{
    const char *key = entry_name(e, 0);
    char name[512];
    if (prefix)
        spak_snprintf(name, sizeof name, "%s.%s", prefix, key);
    else
        spak_snprintf(name, sizeof name, "%s", key);
    const spak_expr *v = e->value;
    if (v && v->kind == SPAK_EX_MAP) {
        value_group(c, pv, name, v->map, origin, m);
        return;
    }
    if (!v && e->body) {
        value_group(c, pv, name, e->body, origin, m);
        return;
    }
    /* a single value (`causal: true`) is a parameter fixed to it: a list of one */
    const spak_expr *const *items = v ? (const spak_expr *const *)v->items : NULL;
    size_t n_items = v ? v->n_items : 0;
    if (v && v->kind != SPAK_EX_LIST && is_literal(v)) {
        spak_expr **one = calloc_arena(c, 1, sizeof *one);
        if (!one)
            return;
        one[0] = (spak_expr *)v;
        items = (const spak_expr *const *)one;
        n_items = 1;
    } else if (!v || v->kind != SPAK_EX_LIST) {
        ERR(c, v ? v->pos : e->pos, "%s '%s': expected a list of values like [1, 2] or one value", origin, name);
        return;
    }
    if (n_items == 0) {
        ERR(c, v->pos, "%s '%s': the list of values is empty", origin, name);
        return;
    }
    bool literals = true;
    for (size_t i = 0; i < n_items; i++)
        if (!is_literal(items[i])) {
            ERR(c, items[i]->pos, "%s '%s': values must be numbers, strings, booleans or names", origin, name);
            literals = false;
        }
    /* one type per parameter: conditions, defines and comparisons read a
     * value by its type, so [1, "two"] is a typo, not a choice */
    for (size_t i = 1; literals && i < n_items; i++)
        if (strcmp(value_type(items[i]), value_type(items[0])) != 0) {
            char a[80], b[80];
            ERR(c, items[i]->pos, "%s '%s': value %s is a %s, but the first value %s is a %s (a parameter's values "
                "have one type)", origin, name, lit_text(items[i], a, sizeof a), value_type(items[i]),
                lit_text(items[0], b, sizeof b), value_type(items[0]));
            break;
        }
    /* duplicate values are almost always a mistake in a search space; found
     * by sorting, since a list may hold hundreds of thousands of values */
    const spak_expr **sorted = calloc_arena(c, n_items, sizeof *sorted);
    size_t ns = 0;
    for (size_t i = 0; sorted && i < n_items; i++)
        if (items[i]->text)
            sorted[ns++] = items[i];
    if (ns > 1)
        qsort(sorted, ns, sizeof *sorted, value_cmp);
    for (size_t i = 1; i < ns; i++)
        if (sorted[i]->kind == sorted[i - 1]->kind && strcmp(sorted[i]->text, sorted[i - 1]->text) == 0)
            WARN(c, sorted[i]->pos, "%s '%s': value %s appears twice", origin, name, sorted[i]->text);
    spak_param_def *p = pvec_push(c, pv, e->pos);
    if (!p)
        return;
    p->name = spak_arena_strdup(c->a, name);
    p->values = (spak_expr **)items;
    p->n_values = n_items;
    p->origin = origin;
    p->pos = e->pos;
    param_condition(c, p, e, origin, name);
    if (!p->name)
        c->oom = true;
    else
        dup_param_check(c, pv, p->name, e->pos, m);
}

/* `restrict: [COND, ...]` (or one COND; a string is parsed as one) in
 * design_space or tuning_space: conditions every point must satisfy,
 * collected into the model and checked once both spaces are read
 * (check_restricts). The name is the rules' `restrict` action's: in spak
 * `restrict` always limits which points are proposed. */
static void restrict_entry(checker *c, const spak_entry *e, const char *origin)
{
    const spak_expr *v = e->value;
    if (!v || e->body) {
        ERR(c, e->pos, "%s: expected 'restrict: [CONDITION, ...]'", origin);
        return;
    }
    const spak_expr *const *items = v->kind == SPAK_EX_LIST ? (const spak_expr *const *)v->items : &v;
    size_t k = v->kind == SPAK_EX_LIST ? v->n_items : 1;
    if (k == 0) {
        ERR(c, v->pos, "%s: restrict: the list of conditions is empty", origin);
        return;
    }
    const spak_expr **all = calloc_arena(c, c->m->n_restricts + k, sizeof *all);
    if (!all)
        return;
    if (c->m->n_restricts)
        memcpy(all, c->m->restricts, c->m->n_restricts * sizeof *all);
    for (size_t i = 0; i < k; i++) {
        const spak_expr *x = items[i];
        if (x->kind == SPAK_EX_STRING) {
            spak_pos at = x->pos;
            at.col += x->triple ? 3 : 1;
            x = spak_parse_expr_text(x->text, at, c->a, c->d, false);
        }
        if (x)
            all[c->m->n_restricts++] = x;
    }
    c->m->restricts = all;
}

static void space_block(checker *c, const spak_entry *blk, const char *origin, spak_param_def **out, size_t *n)
{
    pvec pv = {0};
    if (!blk->body) {
        ERR(c, blk->pos, "%s needs a body: %s { name: [values] }", origin, origin);
        return;
    }
    for (size_t i = 0; i < blk->body->n; i++) {
        const spak_entry *e = blk->body->items[i];
        if (!is_field(e)) {
            ERR(c, e->pos, "%s: expected 'name: [values]', near '%s'", origin, spak_entry_head(e));
            continue;
        }
        if (strcmp(entry_name(e, 0), "restrict") == 0)
            restrict_entry(c, e, origin);
        else
            value_list(c, &pv, NULL, e, origin, strcmp(origin, "tuning_space") == 0 ? c->m : NULL);
    }
    *out = pv.v;
    *n = pv.n;
}

/* ---- trace_schema ---- */

static void field_def(checker *c, spak_trace_field *f, const spak_entry *e, const char *case_name)
{
    f->name = entry_name(e, 0);
    const spak_expr *t = e->value;
    if (!t) {
        ERR(c, e->pos, "field '%s' of case %s needs a type, e.g. '%s: float'", f->name, case_name, f->name);
        return;
    }
    if (t->kind == SPAK_EX_NAME) {
        const char *n = t->text;
        if (strcmp(n, "string") == 0 || strcmp(n, "str") == 0)
            f->type = SPAK_FIELD_STRING;
        else if (strcmp(n, "int") == 0)
            f->type = SPAK_FIELD_INT;
        else if (strcmp(n, "float") == 0)
            f->type = SPAK_FIELD_FLOAT;
        else if (strcmp(n, "boolean") == 0 || strcmp(n, "bool") == 0)
            f->type = SPAK_FIELD_BOOL;
        else {
            static const char *const types[] = {"string", "int", "float", "bool", "boolean", "str"};
            const char *best = spak_suggest_list(n, types, SPAK_ARRAY_LEN(types));
            if (best)
                ERR(c, t->pos, "unknown type '%s' for field '%s' (did you mean '%s'?)", n, f->name, best);
            else
                ERR(c, t->pos, "unknown type '%s' for field '%s' (expected string, int, float, bool or \"A\" | \"B\")",
                    n, f->name);
        }
        return;
    }
    /* "A" | "B" | ... */
    size_t n = 0;
    const spak_expr *x = t;
    while (x->kind == SPAK_EX_BINARY && x->op == SPAK_OP_UNION) {
        n++;
        x = x->lhs;
    }
    n++;
    const char **vals = calloc_arena(c, n, sizeof *vals);
    if (!vals)
        return;
    size_t k = n;
    bool ok = true;
    x = t;
    while (k > 0) {
        const spak_expr *leaf = (x->kind == SPAK_EX_BINARY && x->op == SPAK_OP_UNION) ? x->rhs : x;
        if (leaf->kind != SPAK_EX_STRING) {
            ERR(c, leaf->pos, "field '%s': a union type lists string literals, like \"A\" | \"B\"", f->name);
            ok = false;
            break;
        }
        vals[--k] = leaf->text;
        if (x->kind == SPAK_EX_BINARY && x->op == SPAK_OP_UNION)
            x = x->lhs;
    }
    if (!ok)
        return;
    if (n < 2 && t->kind == SPAK_EX_STRING) {
        /* a single string literal is a one-value union */
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(vals[i], vals[j]) == 0)
                ERR(c, t->pos, "field '%s': duplicate value \"%s\" in the union", f->name, vals[i]);
    f->type = SPAK_FIELD_ENUM;
    f->enum_values = vals;
    f->n_enum_values = n;
}

static void trace_schema(checker *c, const spak_entry *blk)
{
    if (!blk->body) {
        ERR(c, blk->pos, "trace_schema needs a body: trace_schema { variant TraceItem { ... } }");
        return;
    }
    bool seen_variant = false;
    for (size_t i = 0; i < blk->body->n; i++) {
        const spak_entry *v = blk->body->items[i];
        if (!spak_entry_word_is(v, 0, "variant") || v->n_words != 2 || !v->body) {
            ERR(c, v->pos, "trace_schema: expected 'variant Name { case ... }', near '%s'", spak_entry_head(v));
            continue;
        }
        if (seen_variant) {
            ERR(c, v->pos, "trace_schema: only one variant is supported (the first is %s)", c->m->schema.variant_name);
            continue;
        }
        seen_variant = true;
        c->m->schema.variant_name = entry_name(v, 1);
        size_t nc = v->body->n;
        if (nc > MAX_CASES) {
            ERR(c, v->body->items[MAX_CASES]->pos, "too many cases in variant %s (more than %d)",
                c->m->schema.variant_name, MAX_CASES);
            nc = MAX_CASES;
        }
        spak_trace_case *cases = calloc_arena(c, nc, sizeof *cases);
        size_t k = 0;
        for (size_t j = 0; j < nc && cases; j++) {
            const spak_entry *ce = v->body->items[j];
            if (!spak_entry_word_is(ce, 0, "case") || ce->n_words != 2 || ce->words[1].is_string) {
                ERR(c, ce->pos, "variant %s: expected 'case Name { field: type ... }', near '%s'",
                    c->m->schema.variant_name, spak_entry_head(ce));
                continue;
            }
            spak_trace_case *tc = &cases[k];
            tc->name = entry_name(ce, 1);
            bool dup = false;
            for (size_t q = 0; q < k; q++)
                if (strcmp(cases[q].name, tc->name) == 0) {
                    ERR(c, ce->words[1].pos, "duplicate case '%s' in variant %s", tc->name, c->m->schema.variant_name);
                    dup = true;
                }
            if (dup)
                continue;
            size_t nf = ce->body ? ce->body->n : 0;
            if (nf > MAX_FIELDS) {
                ERR(c, ce->body->items[MAX_FIELDS]->pos, "too many fields in case %s (more than %d)", tc->name,
                    MAX_FIELDS);
                nf = MAX_FIELDS;
            }
            spak_trace_field *fields = calloc_arena(c, nf, sizeof *fields);
            size_t m = 0;
            for (size_t q = 0; q < nf && fields; q++) {
                const spak_entry *fe = ce->body->items[q];
                if (!is_field(fe)) {
                    ERR(c, fe->pos, "case %s: expected 'field: type', near '%s'", tc->name, spak_entry_head(fe));
                    continue;
                }
                bool fdup = false;
                for (size_t r = 0; r < m; r++)
                    if (strcmp(fields[r].name, entry_name(fe, 0)) == 0) {
                        ERR(c, fe->pos, "duplicate field '%s' in case %s", entry_name(fe, 0), tc->name);
                        fdup = true;
                    }
                if (fdup)
                    continue;
                field_def(c, &fields[m++], fe, tc->name);
            }
            tc->fields = fields;
            tc->n_fields = m;
            k++;
        }
        c->m->schema.cases = cases;
        c->m->schema.n_cases = k;
    }
}

/* ---- model { type X matches {...}; state s: T = v } ---- */

static void model_block(checker *c, const spak_entry *blk)
{
    if (!blk->body)
        return;
    for (size_t i = 0; i < blk->body->n; i++) {
        const spak_entry *e = blk->body->items[i];
        if (spak_entry_word_is(e, 0, "type")) {
            if (e->n_words != 3 || !spak_entry_word_is(e, 2, "matches") || !e->body)
                ERR(c, e->pos, "model: expected 'type Name matches { field: value, ... }'");
        } else if (spak_entry_word_is(e, 0, "state")) {
            if (e->n_words != 2 || (!e->value && !e->init))
                ERR(c, e->pos, "model: expected 'state name: type' or 'state name: type = value'");
        } else {
            static const char *const kinds[] = {"type", "state"};
            if (!typo_of(c, e->pos, "model: unknown entry", spak_entry_head(e), kinds, SPAK_ARRAY_LEN(kinds)))
                WARN(c, e->pos, "model: unknown entry '%s' kept as free-form", spak_entry_head(e));
        }
    }
}

/* ---- knowledge ---- */

typedef struct fvec {
    spak_fact_def *v;
    size_t n, alloc;
    bool full;
} fvec;

static void check_fact_body(checker *c, spak_fact_def *f);

static void fact_def(checker *c, fvec *fv, const spak_entry *e)
{
    if (e->n_words != 2 || e->words[1].is_string) {
        ERR(c, e->pos, "expected 'fact name(t: %s.Case) { return EXPR }' or 'fact name { key: value ... }'",
            c->m->schema.variant_name ? c->m->schema.variant_name : "TraceItem");
        return;
    }
    spak_fact_def *q = vec_room(c, fv->v, fv->n, &fv->alloc, &fv->full, MAX_FACTS, sizeof *q, e->pos,
                                "too many facts (more than %d)");
    if (!q)
        return;
    fv->v = q;
    spak_fact_def *f = &fv->v[fv->n];
    memset(f, 0, sizeof *f);
    f->name = entry_name(e, 1);
    f->pos = e->words[1].pos;
    f->entry = e;
    f->confidence = -1;
    for (size_t i = 0; i < fv->n; i++)
        if (strcmp(fv->v[i].name, f->name) == 0) {
            ERR(c, f->pos, "duplicate fact '%s' (first defined at line %d)", f->name, fv->v[i].pos.line);
            return;
        }
    fv->n++;
    if (e->has_params) {
        f->predicate = true;
        if (e->n_params != 1 || e->params[0]->n_words != 1 || !e->params[0]->value ||
            e->params[0]->value->kind != SPAK_EX_NAME) {
            ERR(c, e->pos, "fact '%s': expected one parameter like (t: %s.Case)", f->name,
                c->m->schema.variant_name ? c->m->schema.variant_name : "TraceItem");
            f->predicate = false;
            return;
        }
        f->param = entry_name(e->params[0], 0);
        const spak_expr *ty = e->params[0]->value;
        const char *dot = strchr(ty->text, '.');
        const char *variant = c->m->schema.variant_name;
        if (!variant) {
            ERR(c, ty->pos, "fact '%s' reads %s, but the spec has no trace_schema", f->name, ty->text);
            f->predicate = false;
            return;
        }
        size_t vl = strlen(variant);
        if (!dot || (size_t)(dot - ty->text) != vl || strncmp(ty->text, variant, vl) != 0 || strchr(dot + 1, '.')) {
            ERR(c, ty->pos, "fact '%s': parameter type must be %s.Case, near '%s'", f->name, variant, ty->text);
            f->predicate = false;
            return;
        }
        f->tcase = spak_trace_schema_find_case(&c->m->schema, dot + 1);
        if (!f->tcase) {
            char dym[160];
            ERR(c, ty->pos, "fact '%s': trace_schema has no case '%s' in variant %s%s", f->name, dot + 1, variant,
                dym_case(&c->m->schema, dot + 1, dym, sizeof dym));
            f->predicate = false;
            return;
        }
        if (!e->body) {
            ERR(c, e->pos, "fact '%s' needs a body: { return EXPR }", f->name);
            return;
        }
        for (size_t i = 0; i < e->body->n; i++) {
            const spak_entry *s = e->body->items[i];
            if (s->kind == SPAK_EN_RETURN) {
                if (f->body)
                    ERR(c, s->pos, "fact '%s' has more than one return", f->name);
                else
                    f->body = s->value;
            }
        }
        /* Without `return`, a predicate fact written as prose (assert: "...")
         * is kept as guidance; it cannot be evaluated. */
        return;
    }
    /* record form */
    if (!e->body) {
        ERR(c, e->pos, "fact '%s' needs a body", f->name);
        return;
    }
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *x = e->body->items[i];
        if (x->kind == SPAK_EN_RETURN) {
            ERR(c, x->pos, "fact '%s': 'return' needs a parameter, like fact %s(t: %s.Case)", f->name, f->name,
                c->m->schema.variant_name ? c->m->schema.variant_name : "TraceItem");
            continue;
        }
        if (is_field(x) && strcmp(entry_name(x, 0), "confidence") == 0)
            number_value(c, x, "confidence", 0, 1, &f->confidence);
    }
}

static void check_fact_body(checker *c, spak_fact_def *f)
{
    if (!f->predicate || !f->body)
        return;
    spak_type_scope sc = {c->m, f->param, f->tcase, false};
    spak_type t;
    spak_tc_result r = spak_expr_typecheck(f->body, &sc, &t, c->d, true, NULL);
    if (r == SPAK_TC_OK && t.kind != SPAK_TY_BOOL && t.kind != SPAK_TY_ANY)
        ERR(c, f->body->pos, "fact '%s' must return a boolean", f->name);
}

/* Where name (or a call of it) first appears in e; NULL if it does not. */
static const spak_expr *find_name(const spak_expr *e, const char *name)
{
    if (!e)
        return NULL;
    if ((e->kind == SPAK_EX_NAME || e->kind == SPAK_EX_CALL) && e->text && strcmp(e->text, name) == 0)
        return e;
    const spak_expr *r = find_name(e->lhs, name);
    if (!r)
        r = find_name(e->rhs, name);
    for (size_t i = 0; !r && i < e->n_items; i++)
        r = find_name(e->items[i], name);
    return r;
}

/* A condition written as a string or as an expression: typed when it is one
 * over known names, otherwise kept as prose (NULL). */
static const spak_expr *condition(checker *c, const spak_expr *v, const char *what, bool params_visible,
                                  bool must_be_formal)
{
    const spak_expr *e = v;
    if (v->kind == SPAK_EX_STRING) {
        spak_pos at = v->pos;
        at.col += v->triple ? 3 : 1;
        e = spak_parse_expr_text(v->text, at, c->a, c->d, !must_be_formal);
        if (!e)
            return NULL;  /* prose (or, when it must be formal, an error was reported) */
    }
    spak_type_scope sc = {c->m, NULL, NULL, params_visible};
    const char *unknown = NULL;
    spak_tc_result r = spak_expr_typecheck(e, &sc, NULL, c->d, false, &unknown);
    if (r == SPAK_TC_UNKNOWN_NAME) {
        const char *best = spak_expr_suggest(&sc, unknown);
        if (must_be_formal || best)  /* a typo of a known name is no prose */
            spak_expr_typecheck(e, &sc, NULL, c->d, true, NULL);
        else {
            /* at the unknown name; exact unless the string has escapes before it */
            const spak_expr *at = find_name(e, unknown);
            WARN(c, at ? at->pos : v->pos,
                 "%s: '%s' is not a fact, field or parameter; the condition is kept as prose guidance", what, unknown);
        }
        return NULL;
    }
    if (r == SPAK_TC_TYPE_ERROR) {
        spak_expr_typecheck(e, &sc, NULL, c->d, true, NULL);
        return NULL;
    }
    spak_type t;
    spak_expr_typecheck(e, &sc, &t, NULL, false, NULL);
    if (t.kind != SPAK_TY_BOOL && t.kind != SPAK_TY_ANY) {
        ERR(c, v->pos, "%s: the condition must be a boolean", what);
        return NULL;
    }
    return e;
}

typedef struct rvec {
    spak_rule_def *v;
    size_t n, alloc;
    bool full;
} rvec;

/* The word at *p (letters, digits, '_', '.', '-') into buf; *p moves past it
 * and the blanks after it. */
static void action_word(const char **p, char *buf, size_t n)
{
    size_t k = 0;
    const char *q = *p;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q == '\'' || *q == '"') {  /* a quoted value */
        char quote = *q++;
        while (*q && *q != quote && k + 1 < n)
            buf[k++] = *q++;
        if (*q == quote)
            q++;
    } else {
        while ((isalnum((unsigned char)*q) || *q == '_' || *q == '.' || *q == '-') && k + 1 < n)
            buf[k++] = *q++;
    }
    buf[k] = '\0';
    while (*q == ' ' || *q == '\t')
        q++;
    *p = q;
}

/* An action (`apply: "set P = V"`, `recommend: "P = V"`, docs/language.md
 * 4.6) checked against the first loop's space. One that names a parameter
 * of the space but does not parse (a value the parameter does not have,
 * `rung = 'pakced'`) is an error, and so is one whose parameter is a typo of
 * a parameter's name (and of none of the spec's other parameters); text
 * that only starts like an action (`set up the tiles`) stays prose, with a
 * warning when it starts with a verb. */
static void check_action(checker *c, const char *kw, const char *title, const spak_rule_action *a)
{
    static const char *const verbs[] = {"set", "select", "prefer", "exclude", "avoid", "restrict"};
    if (c->m->n_loops == 0)
        return;
    spak_space sp;
    if (spak_space_init(&sp, c->m->loops[0].params, c->m->loops[0].n_params, NULL) != SPAK_OK)
        return;
    const char *p = a->text;
    char w1[128], name[128], val[128];
    action_word(&p, w1, sizeof w1);
    bool verb = false;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(verbs); i++)
        verb |= strcmp(w1, verbs[i]) == 0;
    if (verb)
        action_word(&p, name, sizeof name);
    else if (*p == '=')
        spak_snprintf(name, sizeof name, "%s", w1);
    else
        return;  /* neither a verb nor `P =`: prose */
    const spak_param_def *param = NULL;
    spak_suggest sn;
    spak_suggest_init(&sn, name);
    for (size_t i = 0; i < sp.n; i++) {
        if (strcmp(sp.params[i].name, name) == 0)
            param = &sp.params[i];
        spak_suggest_try(&sn, sp.params[i].name);
    }
    spak_action act;
    char why[300];
    if (param && spak_action_parse(a->text, a->key, &sp, &act, why, sizeof why))
        return;
    /* a parameter of the spec outside the first loop's space is prose, not a typo */
    if (!param && sn.best && !spak_model_param(c->m, name)) {
        ERR(c, a->pos, "%s \"%s\": %s '%s': '%s' is not a parameter of loop %s (did you mean '%s'?)", kw, title,
            a->key, a->text, name, c->m->loops[0].name, sn.best);
        return;
    }
    if (!param) {
        if (verb)
            WARN(c, a->pos, "%s \"%s\": %s '%s' is not a machine-readable action ('%s' is not a parameter of loop "
                 "%s); kept as prose", kw, title, a->key, a->text, name, c->m->loops[0].name);
        return;
    }
    /* the parameter exists: the action was meant; say what is wrong with it */
    spak_suggest sv;
    if (*p == '=')
        p += p[1] == '=' ? 2 : 1;
    action_word(&p, val, sizeof val);
    spak_suggest_init(&sv, val);
    for (size_t i = 0; i < param->n_values; i++)
        if (param->values[i]->kind == SPAK_EX_STRING || param->values[i]->kind == SPAK_EX_NAME)
            spak_suggest_try(&sv, param->values[i]->text);
    char dym[160];
    ERR(c, a->pos, "%s \"%s\": %s '%s': %s%s", kw, title, a->key, a->text, why,
        spak_suggest_text(sv.best, dym, sizeof dym));
}

static void rule_def(checker *c, rvec *rv, const spak_entry *e, bool hint)
{
    const char *kw = hint ? "hint" : "rule";
    if (e->n_words != 2 || !e->body) {
        ERR(c, e->pos, "expected '%s \"Title\" { %s: ..., %s: ... }'", kw, hint ? "trigger" : "when",
            hint ? "suggestion" : "apply");
        return;
    }
    spak_rule_def *q = vec_room(c, rv->v, rv->n, &rv->alloc, &rv->full, MAX_RULES, sizeof *q, e->pos,
                                "too many rules and hints (more than %d)");
    if (!q)
        return;
    rv->v = q;
    spak_rule_def *r = &rv->v[rv->n];
    memset(r, 0, sizeof *r);
    r->title = entry_name(e, 1);
    r->pos = e->pos;
    r->entry = e;
    r->is_hint = hint;
    r->confidence = -1;
    for (size_t i = 0; i < rv->n; i++)
        if (strcmp(rv->v[i].title, r->title) == 0)
            WARN(c, e->words[1].pos, "%s \"%s\" is defined twice (first at line %d)", kw, r->title, rv->v[i].pos.line);
    rv->n++;
    size_t n_actions = 0;
    for (size_t i = 0; i < e->body->n; i++)
        n_actions++;
    r->actions = calloc_arena(c, n_actions, sizeof *r->actions);
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *x = e->body->items[i];
        if (!is_field(x) || !x->value) {
            WARN(c, x->pos, "%s \"%s\": expected 'key: value', near '%s'; kept as free-form", kw, r->title,
                 spak_entry_head(x));
            continue;
        }
        const char *k = entry_name(x, 0);
        if (strcmp(k, "when") == 0 || strcmp(k, "trigger") == 0) {
            if (r->when_text || r->when) {
                ERR(c, x->pos, "%s \"%s\" has more than one %s", kw, r->title, k);
                continue;
            }
            if (x->value->kind == SPAK_EX_STRING)
                r->when_text = x->value->text;
            else
                r->when_text = "";
            char what[300];
            spak_snprintf(what, sizeof what, "%s \"%s\"", kw, r->title);
            r->when = condition(c, x->value, what, true, false);
        } else if (strcmp(k, "confidence") == 0) {
            number_value(c, x, "confidence", 0, 1, &r->confidence);
        } else if (strcmp(k, "apply") == 0 || strcmp(k, "recommend") == 0 || strcmp(k, "action") == 0 ||
                   strcmp(k, "suggestion") == 0) {
            if (x->value->kind != SPAK_EX_STRING) {
                ERR(c, x->value->pos, "%s \"%s\": %s must be a string", kw, r->title, k);
                continue;
            }
            if (r->actions) {
                spak_rule_action *a = &r->actions[r->n_actions++];
                a->key = k;
                a->text = x->value->text;
                a->pos = x->value->pos;
                check_action(c, kw, r->title, a);
            }
        } else {
            /* other keys (reason, source, evidence, logic ...) are free-form,
             * unless they are a typo of one that acts */
            static const char *const keys[] = {"when", "trigger", "confidence", "apply", "recommend", "action",
                                               "suggestion"};
            char what[300];
            spak_snprintf(what, sizeof what, "%s \"%s\": unknown key", kw, r->title);
            typo_of(c, x->pos, what, k, keys, SPAK_ARRAY_LEN(keys));
        }
    }
}

/* Rules, hints and invariants of a knowledge block (facts were read first). */
static void knowledge(checker *c, const spak_entry *blk, rvec *rv)
{
    if (!blk->body)
        return;
    for (size_t i = 0; i < blk->body->n; i++) {
        const spak_entry *e = blk->body->items[i];
        if (spak_entry_word_is(e, 0, "fact"))
            continue;
        else if (spak_entry_word_is(e, 0, "rule"))
            rule_def(c, rv, e, false);
        else if (spak_entry_word_is(e, 0, "hint"))
            rule_def(c, rv, e, true);
        else if (spak_entry_word_is(e, 0, "invariant")) {
            if (e->n_words != 2 || !e->body)
                ERR(c, e->pos, "expected 'invariant Name { assert: \"...\" }'");
        } else {
            static const char *const kinds[] = {"fact", "rule", "hint", "invariant"};
            if (!typo_of(c, e->pos, "knowledge: unknown entry", spak_entry_head(e), kinds, SPAK_ARRAY_LEN(kinds)))
                WARN(c, e->pos, "knowledge: unknown entry '%s' kept as free-form", spak_entry_head(e));
        }
    }
}

/* ---- engineering_loop ---- */

/* Templates every measure command may use besides its loop's parameters
 * (docs/language.md, "Templates"). */
static const char *const builtin_vars[] = {"candidate", "source", "harness", "seed",    "workdir", "root",
                                           "run_id",    "eval_id", "shapes", "heldout", "ceilings", "baseline_so", "decl"};

static bool loop_has_param(const spak_loop_def *l, const char *name)
{
    for (size_t i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0)
            return true;
    return false;
}

static void check_templates(checker *c, const spak_loop_def *l)
{
    const char *s = l->cmd;
    /* positions: the cmd is a one-line string; report at the string's start
     * plus the offset, which is exact when the string has no escapes */
    for (const char *p = strstr(s, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *b;
        size_t n;
        spak_pos pos = l->cmd_pos;
        pos.col += 1 + (int)(p - s);
        if (!spak_template_name(p, &b, &n)) {
            ERR(c, pos, "measure cmd: '{{' without a closing '}}'");
            return;
        }
        char name[128];
        if (n == 0 || n >= sizeof name) {
            ERR(c, pos, "measure cmd: empty or over-long template name");
            continue;
        }
        memcpy(name, b, n);
        name[n] = '\0';
        bool ok = loop_has_param(l, name);
        for (size_t i = 0; !ok && i < SPAK_ARRAY_LEN(builtin_vars); i++)
            ok = strcmp(builtin_vars[i], name) == 0;
        if (!ok) {
            spak_suggest sg;
            spak_suggest_init(&sg, name);
            for (size_t i = 0; i < l->n_params; i++)
                spak_suggest_try(&sg, l->params[i].name);
            for (size_t i = 0; i < SPAK_ARRAY_LEN(builtin_vars); i++)
                spak_suggest_try(&sg, builtin_vars[i]);
            char dym[160];
            ERR(c, pos, "measure cmd: '{{%s}}' names no parameter of loop %s%s", name, l->name,
                spak_suggest_text(sg.best, dym, sizeof dym));
        }
    }
}

/* `parameter P: [values]`, or `parameter P` alone, which takes its values
 * from design_space or tuning_space: one more parameter of the loop's own
 * search space. */
static void eloop_param(checker *c, pvec *pv, const spak_entry *x)
{
    if (x->n_words != 2 || x->words[1].is_string) {
        ERR(c, x->pos, "expected 'parameter NAME: [values]'");
        return;
    }
    const char *pname = entry_name(x, 1);
    if (x->value) {
        spak_entry tmp = *x;
        tmp.words = x->words + 1;
        tmp.n_words = 1;
        value_list(c, pv, NULL, &tmp, "parameter", NULL);
        return;
    }
    const spak_param_def *src = NULL;
    for (size_t k = 0; k < c->m->n_design && !src; k++)
        if (strcmp(c->m->design[k].name, pname) == 0)
            src = &c->m->design[k];
    for (size_t k = 0; k < c->m->n_tuning && !src; k++)
        if (strcmp(c->m->tuning[k].name, pname) == 0)
            src = &c->m->tuning[k];
    if (!src) {
        spak_suggest sg;
        spak_suggest_init(&sg, pname);
        for (size_t k = 0; k < c->m->n_design; k++)
            spak_suggest_try(&sg, c->m->design[k].name);
        for (size_t k = 0; k < c->m->n_tuning; k++)
            spak_suggest_try(&sg, c->m->tuning[k].name);
        char dym[160];
        ERR(c, x->words[1].pos, "parameter '%s' has no values and is not in design_space or tuning_space%s", pname,
            spak_suggest_text(sg.best, dym, sizeof dym));
        return;
    }
    spak_param_def *p = pvec_push(c, pv, x->pos);
    if (p) {
        *p = *src;
        p->pos = x->pos;
        dup_param_check(c, pv, pname, x->words[1].pos, NULL);
    }
}

/* measure { cmd, metric, objective }: how a candidate is timed and which
 * trace field is optimized. *metric_pos is set to where a metric that the
 * schema does not have is reported (eloop_metric). */
static void eloop_measure(checker *c, spak_loop_def *l, const spak_entry *x, spak_pos *metric_pos)
{
    if (l->has_measure) {
        ERR(c, x->pos, "loop %s has more than one measure block", l->name);
        return;
    }
    l->has_measure = true;
    const spak_block *mb = x->body;
    if (!mb) {
        ERR(c, x->pos, "measure needs a body: measure { cmd: \"...\", metric: \"...\", objective: maximize }");
        return;
    }
    for (size_t k = 0; k < mb->n; k++) {
        const spak_entry *f = mb->items[k];
        const char *key = is_field(f) ? entry_name(f, 0) : "";
        if (strcmp(key, "cmd") == 0) {
            if (f->value && f->value->kind == SPAK_EX_STRING) {
                l->cmd = f->value->text;
                l->cmd_pos = f->value->pos;
            } else {
                ERR(c, f->pos, "measure cmd: expected a string");
            }
        } else if (strcmp(key, "metric") == 0) {
            l->metric = string_value(c, f, "measure metric");
            *metric_pos = f->value ? f->value->pos : f->pos;
        } else if (strcmp(key, "objective") == 0) {
            const char *o = string_value(c, f, "measure objective");
            if (o && strcmp(o, "maximize") == 0)
                l->objective = SPAK_OBJ_MAXIMIZE;
            else if (o && strcmp(o, "minimize") == 0)
                l->objective = SPAK_OBJ_MINIMIZE;
            else if (o) {
                static const char *const objs[] = {"maximize", "minimize"};
                char dym[160];
                ERR(c, f->value->pos, "measure objective: expected maximize or minimize, near '%s'%s", o,
                    spak_suggest_text(spak_suggest_list(o, objs, 2), dym, sizeof dym));
            }
        } else {
            static const char *const keys[] = {"cmd", "metric", "objective"};
            unknown_key(c, f, "measure", keys, SPAK_ARRAY_LEN(keys));
        }
    }
    if (!l->cmd && c->m->kernel) {
        /* a declared kernel has a judge of its own: this is its command */
        const char *lang = c->m->kernel->language;
        l->cmd = lang && strcmp(lang, "cuda") == 0 ? SPAK_KERNEL_DEFAULT_CMD_CUDA : SPAK_KERNEL_DEFAULT_CMD;
        l->cmd_pos = x->pos;
    }
    if (!l->cmd)
        ERR(c, x->pos, "measure needs a cmd");
    if (!l->metric)
        ERR(c, x->pos, "measure needs a metric (a trace field such as tflops)");
}

/* approve: ["knowledge", "llm-code"]: the gates where the run waits for the
 * supervisor. */
static void eloop_approve(checker *c, spak_loop_def *l, const spak_entry *x)
{
    const spak_expr *v = x->value;
    if (!v || v->kind != SPAK_EX_LIST) {
        ERR(c, x->pos, "approve: expected a list like [\"knowledge\", \"llm-code\"]");
        return;
    }
    for (size_t k = 0; k < v->n_items; k++) {
        const char *g = v->items[k]->kind == SPAK_EX_STRING ? v->items[k]->text : "";
        if (strcmp(g, "knowledge") == 0)
            l->approve |= SPAK_GATE_KNOWLEDGE;
        else if (strcmp(g, "llm-code") == 0)
            l->approve |= SPAK_GATE_LLM_CODE;
        else {
            static const char *const gates[] = {"knowledge", "llm-code"};
            const char *best = *g ? spak_suggest_list(g, gates, 2) : NULL;
            if (best)
                ERR(c, v->items[k]->pos, "approve: unknown gate '%s' (did you mean '%s'?)", g, best);
            else
                ERR(c, v->items[k]->pos, "approve: unknown gate (expected \"knowledge\" or \"llm-code\")");
        }
    }
}

/* budget { ... }: what the run may spend before it stops. */
static void eloop_budget(checker *c, spak_loop_def *l, const spak_entry *x)
{
    for (size_t k = 0; x->body && k < x->body->n; k++) {
        const spak_entry *f = x->body->items[k];
        const char *key = is_field(f) ? entry_name(f, 0) : "";
        if (strcmp(key, "evaluations") == 0)
            int_value(c, f, "budget evaluations", 1, 1000000, &l->max_evaluations);
        else if (strcmp(key, "wall_time_s") == 0)
            number_value(c, f, "budget wall_time_s", 1e-3, 1e9, &l->max_wall_s);
        else if (strcmp(key, "device_s") == 0)
            number_value(c, f, "budget device_s", 1e-3, 1e9, &l->max_device_s);
        else if (strcmp(key, "tokens") == 0)
            int_value(c, f, "budget tokens", 1, 2000000000L, &l->max_tokens);
        else if (strcmp(key, "cost_usd") == 0)
            number_value(c, f, "budget cost_usd", 1e-9, 1e9, &l->max_cost_usd);
        else {
            static const char *const keys[] = {"evaluations", "wall_time_s", "device_s", "tokens", "cost_usd"};
            unknown_key(c, f, "budget", keys, SPAK_ARRAY_LEN(keys));
        }
    }
}

/* stop { ... }: when the run has found enough. Its `when` must be a formal
 * condition (prose could never stop the run). */
static void eloop_stop(checker *c, spak_loop_def *l, const spak_entry *x)
{
    for (size_t k = 0; x->body && k < x->body->n; k++) {
        const spak_entry *f = x->body->items[k];
        const char *key = is_field(f) ? entry_name(f, 0) : "";
        if (strcmp(key, "when") == 0 && f->value) {
            char what[200];
            spak_snprintf(what, sizeof what, "stop condition of loop %s", l->name);
            l->stop_when = condition(c, f->value, what, false, true);
        } else if (strcmp(key, "plateau") == 0) {
            int_value(c, f, "stop plateau", 1, 1000000, &l->plateau);
        } else if (strcmp(key, "roofline_fraction") == 0) {
            number_value(c, f, "stop roofline_fraction", 1e-6, 10, &l->stop_roofline);
        } else if (strcmp(key, "early_stop") == 0) {
            /* a factor: 0 turns the early stop off; below 2 it would stop
             * candidates that the noise alone puts behind the best */
            double fx = 0;
            if (number_value(c, f, "stop early_stop", 0, 1e6, &fx)) {
                if (fx != 0 && fx < 2)
                    ERR(c, f->value->pos, "stop early_stop: %s is below 2 (0 turns the early stop off)",
                        f->value->text);
                else
                    l->early_stop = fx, l->early_stop_set = true;
            }
        } else {
            static const char *const keys[] = {"when", "plateau", "roofline_fraction"};
            unknown_key(c, f, "stop", keys, SPAK_ARRAY_LEN(keys));
        }
    }
}

/* slurm { partition: ..., time: ..., account: ..., gpus: ... }: the sbatch
 * options of the jobs of the slurm executor (analyze/executor_names.h). A
 * number is taken as written (time: 10 is ten minutes, gpus: 1). */
static void eloop_slurm(checker *c, spak_loop_def *l, const spak_entry *x)
{
    static const char *const keys[] = {"partition", "time", "account", "gpus"};
    const char **slots[] = {&l->slurm.partition, &l->slurm.time, &l->slurm.account, &l->slurm.gpus};
    for (size_t k = 0; x->body && k < x->body->n; k++) {
        const spak_entry *f = x->body->items[k];
        const char *key = is_field(f) ? entry_name(f, 0) : "";
        size_t i = 0;
        while (i < SPAK_ARRAY_LEN(keys) && strcmp(key, keys[i]) != 0)
            i++;
        if (i == SPAK_ARRAY_LEN(keys)) {
            unknown_key(c, f, "slurm", keys, SPAK_ARRAY_LEN(keys));
            continue;
        }
        char what[32], why[96];
        spak_snprintf(what, sizeof what, "slurm %s", key);
        const char *v = f->value && f->value->kind == SPAK_EX_NUMBER ? f->value->text : string_value(c, f, what);
        if (v && !spak_slurm_value_ok(key, v, why, sizeof why))
            ERR(c, f->value->pos, "slurm %s: '%s' is not %s", key, v, why);
        else if (v)
            *slots[i] = v;
    }
}

/* executor: "local" | "slurm": where the measurements run. */
static void eloop_executor(checker *c, spak_loop_def *l, const spak_entry *x)
{
    const char *s = string_value(c, x, "executor");
    if (s && !spak_executor_known(s)) {
        char names[128];
        spak_executor_names(names, sizeof names);
        ERR(c, x->value->pos, "unknown executor '%s' (expected %s)", s, names);
    } else if (s) {
        l->executor = s;
    }
}

/* cpus: ["0-3", "4-7"]: a core set per job, pairwise disjoint (checked when
 * the run starts: engine_sched.c), for measurements side by side. */
static void eloop_cpus(checker *c, spak_loop_def *l, const spak_entry *x)
{
    const spak_expr *v = x->value;
    if (!v || v->kind != SPAK_EX_LIST || v->n_items == 0) {
        ERR(c, v ? v->pos : x->pos, "cpus: expected a list of core sets, e.g. [\"0-3\", \"4-7\"]");
        return;
    }
    for (size_t i = 0; i < v->n_items; i++) {
        const char *t = v->items[i]->kind == SPAK_EX_STRING ? v->items[i]->text : NULL;
        if (!spak_cpulist_parse(t, NULL)) {
            ERR(c, v->items[i]->pos, "cpus: '%s' is not a core set (N, N-M, comma-separated, e.g. \"0-3\")",
                t ? t : "?");
            return;
        }
        if (i < SPAK_ARRAY_LEN(l->cpus) - 1)
            l->cpus[l->n_cpus++] = t;
    }
}

/* One entry of an engineering_loop body. */
static void eloop_entry(checker *c, spak_loop_def *l, pvec *pv, const spak_entry *x, spak_pos *metric_pos)
{
    const char *key = is_field(x) ? entry_name(x, 0) : "";
    bool block = x->n_words == 1;  /* budget { ... } and stop { ... } */
    if (spak_entry_word_is(x, 0, "parameter")) {
        eloop_param(c, pv, x);
    } else if (spak_entry_word_is(x, 0, "measure")) {
        eloop_measure(c, l, x, metric_pos);
    } else if (strcmp(key, "strategy") == 0) {
        /* the names come from the strategies' list (program/strategies.h) */
        const char *s = string_value(c, x, "strategy");
        if (s && !spak_strategy_known(s)) {
            char names[256];
            spak_strategy_names(names, sizeof names, ", ", " or ");
            char words[256];
            const char *best = suggest_words(s, spak_strategy_names, words, sizeof words);
            if (best)
                ERR(c, x->value->pos, "unknown strategy '%s' (did you mean '%s'?)", s, best);
            else
                ERR(c, x->value->pos, "unknown strategy '%s' (expected %s)", s, names);
        } else if (s)
            l->strategy = s;
    } else if (strcmp(key, "seed") == 0) {
        int_value(c, x, "seed", 0, 2147483647L, &l->seed);
    } else if ((spak_entry_word_is(x, 0, "budget") || spak_entry_word_is(x, 0, "stop")) && block && !x->body) {
        ERR(c, x->pos, "%s is a block: write '%s { ... }' (without ':')", entry_name(x, 0), entry_name(x, 0));
    } else if (strcmp(key, "jobs") == 0) {
        int_value(c, x, "jobs", 1, 256, &l->jobs);
    } else if (strcmp(key, "cpus") == 0) {
        eloop_cpus(c, l, x);
    } else if (strcmp(key, "approve") == 0) {
        eloop_approve(c, l, x);
    } else if (spak_entry_word_is(x, 0, "budget") && block) {
        eloop_budget(c, l, x);
    } else if (spak_entry_word_is(x, 0, "stop") && block) {
        eloop_stop(c, l, x);
    } else if (strcmp(key, "executor") == 0) {
        eloop_executor(c, l, x);
    } else if (spak_entry_word_is(x, 0, "slurm") && block && x->body) {
        eloop_slurm(c, l, x);
    } else {
        static const char *const keys[] = {"parameter", "measure", "strategy", "seed", "budget", "stop",
                                           "approve",   "jobs",    "cpus",     "executor", "slurm"};
        char what[200];
        spak_snprintf(what, sizeof what, "engineering_loop %s", l->name);
        unknown_key(c, x, what, keys, SPAK_ARRAY_LEN(keys));
    }
}

/* Where an expression starts (a binary one's position is its operator's). */
static spak_pos expr_start(const spak_expr *e)
{
    while (e->kind == SPAK_EX_BINARY && e->lhs)
        e = e->lhs;
    return e->pos;
}

/* The first name in e that is not a parameter before params[upto]. */
static const spak_expr *foreign_name(const spak_expr *e, const spak_param_def *params, size_t upto)
{
    if (!e)
        return NULL;
    if (e->kind == SPAK_EX_NAME) {
        for (size_t j = 0; j < upto; j++)
            if (strcmp(params[j].name, e->text) == 0)
                return NULL;
        return e;
    }
    const spak_expr *r = foreign_name(e->lhs, params, upto);
    if (!r)
        r = foreign_name(e->rhs, params, upto);
    for (size_t i = 0; !r && i < e->n_items; i++)
        r = foreign_name(e->items[i], params, upto);
    return r;
}

/* The conditions of a loop's parameters: each reads only parameters declared
 * before it (so a point's parameters are decided in order, never in a
 * cycle), is a boolean, and holds at some point of the space; a condition
 * that no point satisfies leaves its parameter in no candidate at all. */
static void loop_conditions(checker *c, const spak_loop_def *l)
{
    bool any = false, bad[SPAK_SPACE_MAX_PARAMS] = {0};
    for (size_t i = 0; i < l->n_params && i < SPAK_SPACE_MAX_PARAMS; i++) {
        const spak_expr *w = l->params[i].when;
        if (!w)
            continue;
        any = true;
        const spak_expr *f = foreign_name(w, l->params, i);
        if (f) {
            ERR(c, f->pos, "condition of '%s': '%s' is not a parameter declared before it", l->params[i].name,
                f->text);
            bad[i] = true;
            continue;
        }
        spak_type_scope sc = {.model = c->m, .allow_params = true};
        spak_type t;
        if (spak_expr_typecheck(w, &sc, &t, c->d, true, NULL) != SPAK_TC_OK) {
            bad[i] = true;
            continue;
        }
        if (t.kind != SPAK_TY_BOOL && t.kind != SPAK_TY_ANY) {
            ERR(c, w->pos, "condition of '%s' must be a boolean", l->params[i].name);
            bad[i] = true;
        }
    }
    spak_space sp;
    if (!any || spak_space_init(&sp, l->params, l->n_params, NULL) != SPAK_OK)
        return;
    for (size_t i = 0; i < l->n_params; i++) {
        if (!l->params[i].when || bad[i])
            continue;
        bool holds = false;
        for (uint64_t k = 0; k < sp.total && !holds; k++) {
            size_t d[SPAK_SPACE_MAX_PARAMS];
            bool act[SPAK_SPACE_MAX_PARAMS];
            spak_space_digits(&sp, k, d);
            spak_space_active(&sp, d, act);
            holds = act[i];
        }
        if (!holds)
            ERR(c, expr_start(l->params[i].when), "condition of '%s' holds at no point of loop %s's space: '%s' would exist "
                "in no candidate", l->params[i].name, l->name, l->params[i].name);
    }
}

/* The first name of e that is not a parameter of design_space or
 * tuning_space, or the first call (a fact): a restriction reads only the
 * point's parameters. NULL when there is none. */
static const spak_expr *restrict_foreign(const spak_model *m, const spak_expr *e)
{
    if (!e)
        return NULL;
    if (e->kind == SPAK_EX_CALL)
        return e;
    if (e->kind == SPAK_EX_NAME) {
        for (size_t j = 0; j < m->n_design; j++)
            if (strcmp(m->design[j].name, e->text) == 0)
                return NULL;
        for (size_t j = 0; j < m->n_tuning; j++)
            if (strcmp(m->tuning[j].name, e->text) == 0)
                return NULL;
        return e;
    }
    const spak_expr *r = restrict_foreign(m, e->lhs);
    if (!r)
        r = restrict_foreign(m, e->rhs);
    for (size_t i = 0; !r && i < e->n_items; i++)
        r = restrict_foreign(m, e->items[i]);
    return r;
}

/* The restrictions of both spaces: each over their parameters only (no
 * trace, fact or loop parameter: it is decided before anything runs) and a
 * boolean. Those that fail are reported and dropped from the model. */
static void check_restricts(checker *c)
{
    spak_model *m = c->m;
    size_t kept = 0;
    for (size_t i = 0; i < m->n_restricts; i++) {
        const spak_expr *e = m->restricts[i];
        const spak_expr *f = restrict_foreign(m, e);
        if (f && f->kind == SPAK_EX_CALL) {
            ERR(c, f->pos, "restrict: '%s(...)': a restriction reads only the parameters (no fact or function)",
                f->text);
            continue;
        }
        if (f) {
            spak_suggest sg;
            spak_suggest_init(&sg, f->text);
            for (size_t j = 0; j < m->n_design; j++)
                spak_suggest_try(&sg, m->design[j].name);
            for (size_t j = 0; j < m->n_tuning; j++)
                spak_suggest_try(&sg, m->tuning[j].name);
            char dym[160];
            ERR(c, f->pos, "restrict: '%s' is not a parameter of design_space or tuning_space%s", f->text,
                spak_suggest_text(sg.best, dym, sizeof dym));
            continue;
        }
        spak_type_scope sc = {.model = m, .allow_params = true};
        spak_type t;
        if (spak_expr_typecheck(e, &sc, &t, c->d, true, NULL) != SPAK_TC_OK)
            continue;
        if (t.kind != SPAK_TY_BOOL && t.kind != SPAK_TY_ANY) {
            ERR(c, expr_start(e), "restrict: the condition must be a boolean");
            continue;
        }
        m->restricts[kept++] = e;
    }
    m->n_restricts = kept;
}

/* The restrictions a loop's space keeps (those whose every name is one of
 * its parameters), and a space they leave without a point is an error:
 * at the restriction that alone excludes every point, else at the first. */
static void loop_restricts(checker *c, spak_loop_def *l)
{
    const spak_expr **mine = calloc_arena(c, c->m->n_restricts, sizeof *mine);
    size_t n = 0;
    for (size_t i = 0; mine && i < c->m->n_restricts; i++)
        if (!foreign_name(c->m->restricts[i], l->params, l->n_params))
            mine[n++] = c->m->restricts[i];
    l->restricts = mine;
    l->n_restricts = n;
    spak_space sp;
    if (!n || spak_space_init_loop(&sp, l, NULL) != SPAK_OK || sp.points)
        return;
    for (size_t i = 0; i < n; i++) {
        spak_loop_def one = *l;
        one.restricts = &mine[i];
        one.n_restricts = 1;
        if (spak_space_init_loop(&sp, &one, NULL) == SPAK_OK && !sp.points) {
            ERR(c, expr_start(mine[i]), "restrict: this condition holds at no point of loop %s's space", l->name);
            return;
        }
    }
    ERR(c, expr_start(mine[0]), "restrict: the restrictions together hold at no point of loop %s's space",
        l->name);
}

/* The loop's search space: its own parameters or, when it declares none,
 * design_space x tuning_space. */
static void eloop_space(checker *c, spak_loop_def *l, const pvec *pv)
{
    if (pv->n) {
        l->params = pv->v;
        l->n_params = pv->n;
        return;
    }
    size_t n = c->m->n_design + c->m->n_tuning;
    spak_param_def *all = calloc_arena(c, n, sizeof *all);
    if (all) {
        if (c->m->n_design)
            memcpy(all, c->m->design, c->m->n_design * sizeof *all);
        if (c->m->n_tuning)
            memcpy(all + c->m->n_design, c->m->tuning, c->m->n_tuning * sizeof *all);
    }
    l->params = all;
    l->n_params = all ? n : 0;
}

/* The metric is what the loop optimizes: a numeric field of some case of
 * the trace_schema (when the spec has one). */
static void eloop_metric(checker *c, const spak_loop_def *l, spak_pos metric_pos)
{
    if (!l->metric || !c->m->schema.n_cases)
        return;
    for (size_t k = 0; k < c->m->schema.n_cases; k++)
        for (size_t q = 0; q < c->m->schema.cases[k].n_fields; q++) {
            const spak_trace_field *f = &c->m->schema.cases[k].fields[q];
            if (strcmp(f->name, l->metric) != 0)
                continue;
            if (f->type != SPAK_FIELD_INT && f->type != SPAK_FIELD_FLOAT)
                ERR(c, metric_pos, "loop %s: metric '%s' is a %s field; it must be int or float", l->name, l->metric,
                    spak_field_type_name(f->type));
            return;
        }
    spak_suggest sg;
    spak_suggest_init(&sg, l->metric);
    for (size_t k = 0; k < c->m->schema.n_cases; k++)
        for (size_t q = 0; q < c->m->schema.cases[k].n_fields; q++)
            spak_suggest_try(&sg, c->m->schema.cases[k].fields[q].name);
    char dym[160];
    ERR(c, metric_pos, "loop %s: metric '%s' is not a field of any trace_schema case%s", l->name, l->metric,
        spak_suggest_text(sg.best, dym, sizeof dym));
}

static void eloop(checker *c, spak_loop_def *l, const spak_entry *e)
{
    l->name = entry_name(e, 1);
    l->pos = e->pos;
    l->entry = e;
    l->objective = SPAK_OBJ_MAXIMIZE;
    l->strategy = "default";
    l->seed = 1;
    spak_pos metric_pos = e->pos;  /* where a bad metric is reported: its value */
    pvec pv = {0};
    if (!e->body)
        return;
    for (size_t i = 0; i < e->body->n; i++)
        eloop_entry(c, l, &pv, e->body->items[i], &metric_pos);
    eloop_space(c, l, &pv);
    loop_conditions(c, l);
    loop_restricts(c, l);
    if (!l->has_measure)
        ERR(c, e->pos, "engineering_loop %s has no measure block: measure { cmd: \"...\", metric: \"...\" }", l->name);
    if (l->cmd)
        check_templates(c, l);
    eloop_metric(c, l, metric_pos);
}

/* ---- agent_loop ---- */

static void agent_stmt(checker *c, const spak_entry *s, const char *loop);

static void agent_stmts(checker *c, const spak_block *b, const char *loop)
{
    for (size_t i = 0; b && i < b->n; i++)
        agent_stmt(c, b->items[i], loop);
}

static const char *const tools[] = {"llm.query", "tool.run", "tool.read", "tool.write", "tool.engineering_loop"};

static void agent_stmt(checker *c, const spak_entry *s, const char *loop)
{
    if (s->kind == SPAK_EN_IF || s->kind == SPAK_EN_ELSE) {
        if (s->kind == SPAK_EN_IF) {
            char what[200];
            spak_snprintf(what, sizeof what, "if in agent_loop %s", loop);
            condition(c, s->value, what, true, false);
        }
        agent_stmts(c, s->body, loop);
        if (s->else_branch)
            agent_stmt(c, s->else_branch, loop);
        return;
    }
    const char *h = spak_entry_head(s);
    if (strcmp(h, "emit") == 0) {
        if (s->n_words != 2)
            ERR(c, s->pos, "expected 'emit %s.Case' or 'emit \"message\"'",
                c->m->schema.variant_name ? c->m->schema.variant_name : "TraceItem");
        else if (!s->words[1].is_string && c->m->schema.variant_name) {
            const char *t = s->words[1].text;
            const char *dot = strchr(t, '.');
            if (dot && !spak_trace_schema_find_case(&c->m->schema, dot + 1)) {
                char dym[160];
                ERR(c, s->words[1].pos, "emit: trace_schema has no case '%s'%s", dot + 1,
                    dym_case(&c->m->schema, dot + 1, dym, sizeof dym));
            }
        }
        return;
    }
    if (strcmp(h, "apply") == 0)
        return;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(tools); i++) {
        if (strcmp(h, tools[i]) == 0) {
            if (!s->body) {
                ERR(c, s->pos, "%s needs a body: %s { ... }", h, h);
                return;
            }
            const char *need = i == 0 ? "prompt" : i == 1 ? "cmd" : i == 4 ? "name" : "path";
            if (!spak_block_find(s->body, need))
                ERR(c, s->pos, "%s needs '%s'", h, need);
            if (i == 4) {
                const char *n = spak_block_string(s->body, "name");
                if (n && !spak_model_loop(c->m, n)) {
                    spak_suggest sg;
                    spak_suggest_init(&sg, n);
                    for (size_t k = 0; k < c->m->n_loops; k++)
                        spak_suggest_try(&sg, c->m->loops[k].name);
                    char dym[160];
                    ERR(c, spak_block_find(s->body, "name")->value->pos, "no engineering_loop named '%s'%s", n,
                        spak_suggest_text(sg.best, dym, sizeof dym));
                }
            }
            return;
        }
    }
    static const char *const stmts[] = {"emit", "apply", "step", "llm.query", "tool.run", "tool.read", "tool.write",
                                        "tool.engineering_loop"};
    char what[200];
    spak_snprintf(what, sizeof what, "agent_loop %s: unknown step statement", loop);
    if (!typo_of(c, s->pos, what, h, stmts, SPAK_ARRAY_LEN(stmts)))
        WARN(c, s->pos, "agent_loop %s: unknown step statement '%s' kept as free-form", loop, h);
}

static void agent_loop(checker *c, const spak_entry *e)
{
    const char *name = entry_name(e, 1);
    if (!e->body)
        return;
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *st = e->body->items[i];
        if (spak_entry_word_is(st, 0, "step")) {
            if (st->n_words != 2 || !st->body)
                ERR(c, st->pos, "expected 'step \"Name\" { ... }'");
            else
                agent_stmts(c, st->body, name);
        } else {
            agent_stmt(c, st, name);
        }
    }
}

/* ---- llm { ... } ---- */

static void llm_block(checker *c, const spak_entry *e)
{
    if (!e->body) {
        ERR(c, e->pos, "llm needs a body: llm { backend: \"openai\", endpoint: \"...\", model: \"...\" }");
        return;
    }
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *f = e->body->items[i];
        const char *k = is_field(f) && f->value ? entry_name(f, 0) : "";
        double d;
        long l;
        if (strcmp(k, "backend") == 0) {
            /* the names come from the backends' table (program/llm) */
            const char *v = string_value(c, f, k);
            const spak_llm_backend *b;
            if (v && !spak_llm_backend_parse(v, &b)) {
                char names[256], words[256], dym[160];
                spak_llm_backend_names(names, sizeof names, ", ", " or ");
                ERR(c, f->value->pos, "llm backend: expected %s, near '%s'%s", names, v,
                    spak_suggest_text(suggest_words(v, spak_llm_backend_names, words, sizeof words), dym, sizeof dym));
            }
        } else if (strcmp(k, "mode") == 0) {
            const char *v = string_value(c, f, k);
            static const char *const modes[] = {"params", "code", "alternate"};
            bool ok = false;
            for (size_t q = 0; v && q < SPAK_ARRAY_LEN(modes); q++)
                ok |= strcmp(v, modes[q]) == 0;
            char dym[160];
            if (v && !ok)
                ERR(c, f->value->pos, "llm mode: expected %s, %s or %s, near '%s'%s", modes[0], modes[1], modes[2], v,
                    spak_suggest_text(spak_suggest_list(v, modes, SPAK_ARRAY_LEN(modes)), dym, sizeof dym));
        } else if (strcmp(k, "endpoint") == 0 || strcmp(k, "model") == 0 || strcmp(k, "api_key_env") == 0 ||
                   strcmp(k, "price_table") == 0) {
            string_value(c, f, k);
        } else if (strcmp(k, "temperature") == 0) {
            number_value(c, f, "llm temperature", 0, 2, &d);
        } else if (strcmp(k, "timeout_s") == 0) {
            number_value(c, f, "llm timeout_s", 1e-3, 1e6, &d);
        } else if (strcmp(k, "price_in") == 0 || strcmp(k, "price_out") == 0) {
            number_value(c, f, k, 0, 1e9, &d);
        } else if (strcmp(k, "budget_usd") == 0) {
            number_value(c, f, "llm budget_usd", 1e-9, 1e9, &d);
        } else if (strcmp(k, "max_tokens") == 0 || strcmp(k, "budget_tokens") == 0) {
            int_value(c, f, k, 1, 2000000000L, &l);
        } else if (strcmp(k, "context_tokens") == 0) {
            int_value(c, f, "llm context_tokens", 256, 10000000L, &l);
        } else if (strcmp(k, "retries") == 0) {
            int_value(c, f, "llm retries", 0, 100, &l);
        } else if (strcmp(k, "max_failed_steps") == 0) {
            int_value(c, f, "llm max_failed_steps", 0, 1000000L, &l);
        } else {
            static const char *const keys[] = {"backend",     "mode",      "endpoint",      "model",
                                               "api_key_env", "price_table", "temperature", "timeout_s",
                                               "price_in",    "price_out", "budget_usd",    "max_tokens",
                                               "budget_tokens", "context_tokens", "retries", "max_failed_steps"};
            unknown_key(c, f, "llm", keys, SPAK_ARRAY_LEN(keys));
        }
    }
}

/* ---- problem ---- */

/* The problem's keys: all free-form but those spak reads (docs/language.md
 * 4.2), and a key that is a typo of one of those is an error (a misspelt
 * `source` would build nothing, a misspelt `heldout` check no held-out
 * shape). */
static void problem_keys(checker *c, const spak_block *p)
{
    static const char *const keys[] = {"family", "target", "precision", "baseline", "baseline_source",
                                       "source", "shapes", "heldout"};
    for (size_t i = 0; i < p->n; i++) {
        const spak_entry *x = p->items[i];
        const char *h = spak_entry_head(x);
        bool known = false;
        for (size_t k = 0; k < SPAK_ARRAY_LEN(keys); k++)
            known |= strcmp(h, keys[k]) == 0;
        if (!known)
            typo_of(c, x->pos, "problem: unknown key", h, keys, SPAK_ARRAY_LEN(keys));
    }
    const char *t = spak_block_string(p, "target");
    const spak_entry *te = spak_block_find(p, "target");
    if (t && strcmp(t, "cpu") != 0 && strcmp(t, "cuda") != 0) {
        static const char *const targets[] = {"cpu", "cuda"};
        char dym[160];
        ERR(c, te->value->pos, "problem target: expected cpu or cuda, near '%s'%s", t,
            spak_suggest_text(spak_suggest_list(t, targets, 2), dym, sizeof dym));
    }
}

/* ---- system ---- */

static const char *const known_blocks[] = {"model",       "design_space",     "tuning_space", "knowledge",
                                           "trace_schema", "agent_loop",      "engineering_loop", "build",
                                           "problem",     "llm",              "kernel"};

/* The kernel block (src/spec/kernel.c): after the spaces, whose parameter
 * names its expressions may use, and before the loops, whose measure
 * command it may supply. At most one. */
static void kernel_block(checker *c, const spak_entry *e)
{
    spak_model *m = c->m;
    if (m->kernel) {
        ERR(c, e->pos, "more than one kernel block (one declared kernel per spec)");
        return;
    }
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < m->n_design && n < SPAK_ARRAY_LEN(names); i++)
        names[n++] = m->design[i].name;
    for (size_t i = 0; i < m->n_tuning && n < SPAK_ARRAY_LEN(names); i++)
        names[n++] = m->tuning[i].name;
    spak_kernel_names kn = {names, n};
    spak_kernel_def *k = calloc_arena(c, 1, sizeof *k);
    if (!k)
        return;
    const char *target = m->problem ? spak_block_string(m->problem, "target") : NULL;
    spak_kernel_check(e, &kn, target, c->a, c->d, k);
    m->kernel = k;
}

static void system_block(checker *c, const spak_entry *sys)
{
    spak_model *m = c->m;
    m->system_name = entry_name(sys, 1);
    m->system_pos = sys->pos;
    m->system = sys->body;
    const spak_block *b = sys->body;
    /* pass 1: spaces and schema first, since the rest refers to them */
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *e = b->items[i];
        const char *h = spak_entry_head(e);
        if (e->kind != SPAK_EN_PLAIN || e->n_words == 0 || e->words[0].is_string) {
            WARN(c, e->pos, "system %s: unexpected entry kept as free-form", m->system_name);
            continue;
        }
        if (strcmp(h, "design_space") == 0) {
            if (m->design)
                ERR(c, e->pos, "more than one design_space");
            else
                space_block(c, e, "design_space", &m->design, &m->n_design);
        } else if (strcmp(h, "trace_schema") == 0) {
            if (m->schema.variant_name)
                ERR(c, e->pos, "more than one trace_schema");
            else
                trace_schema(c, e);
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *e = b->items[i];
        if (spak_entry_word_is(e, 0, "tuning_space")) {
            if (m->tuning)
                ERR(c, e->pos, "more than one tuning_space");
            else
                space_block(c, e, "tuning_space", &m->tuning, &m->n_tuning);
        }
        if (spak_entry_word_is(e, 0, "problem") && e->body && !m->problem)
            m->problem = e->body; /* the kernel block reads its target */
    }
    check_restricts(c);
    for (size_t i = 0; i < b->n; i++)
        if (spak_entry_word_is(b->items[i], 0, "kernel"))
            kernel_block(c, b->items[i]);
    /* pass 2: facts (all names known before any body is typed), then rules */
    fvec fv = {0};
    rvec rv = {0};
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *e = b->items[i];
        if (spak_entry_word_is(e, 0, "knowledge")) {
            for (size_t k = 0; e->body && k < e->body->n; k++)
                if (spak_entry_word_is(e->body->items[k], 0, "fact"))
                    fact_def(c, &fv, e->body->items[k]);
        }
    }
    m->facts = fv.v;
    m->n_facts = fv.n;
    for (size_t i = 0; i < m->n_facts; i++)
        check_fact_body(c, &m->facts[i]);
    /* loops before rules, so that loop parameters are visible in conditions */
    size_t nl = 0;
    for (size_t i = 0; i < b->n; i++)
        if (spak_entry_word_is(b->items[i], 0, "engineering_loop") && ++nl == MAX_LOOPS + 1)
            ERR(c, b->items[i]->pos, "too many engineering loops (more than %d)", MAX_LOOPS);
    if (nl > MAX_LOOPS)
        nl = MAX_LOOPS;
    m->loops = calloc_arena(c, nl, sizeof *m->loops);
    for (size_t i = 0; i < b->n && m->loops && m->n_loops < nl; i++) {
        const spak_entry *e = b->items[i];
        if (!spak_entry_word_is(e, 0, "engineering_loop"))
            continue;
        if (e->n_words != 2 || !e->body) {
            ERR(c, e->pos, "expected 'engineering_loop Name { parameter ...; measure { ... } }'");
            continue;
        }
        for (size_t k = 0; k < m->n_loops; k++)
            if (strcmp(m->loops[k].name, entry_name(e, 1)) == 0)
                ERR(c, e->words[1].pos, "duplicate engineering_loop '%s'", entry_name(e, 1));
        eloop(c, &m->loops[m->n_loops++], e);
    }
    for (size_t i = 0; i < b->n; i++)
        if (spak_entry_word_is(b->items[i], 0, "knowledge"))
            knowledge(c, b->items[i], &rv);
    m->rules = rv.v;
    m->n_rules = rv.n;
    /* pass 3: the rest */
    size_t na = 0, nart = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (spak_entry_word_is(b->items[i], 0, "agent_loop"))
            na++;
        if (spak_entry_word_is(b->items[i], 0, "build") && b->items[i]->body)
            nart += b->items[i]->body->n;
    }
    m->agent_loops = calloc_arena(c, na, sizeof *m->agent_loops);
    m->artifacts = calloc_arena(c, nart, sizeof *m->artifacts);
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *e = b->items[i];
        const char *h = spak_entry_head(e);
        if (strcmp(h, "model") == 0) {
            model_block(c, e);
        } else if (strcmp(h, "agent_loop") == 0) {
            if (e->n_words != 2 || !e->body)
                ERR(c, e->pos, "expected 'agent_loop Name { step \"...\" { ... } }'");
            else {
                agent_loop(c, e);
                if (m->agent_loops)
                    m->agent_loops[m->n_agent_loops++] = e;
            }
        } else if (strcmp(h, "build") == 0) {
            for (size_t k = 0; e->body && k < e->body->n; k++) {
                const spak_entry *a = e->body->items[k];
                if (!spak_entry_word_is(a, 0, "artifact") || a->n_words != 2 || !a->words[1].is_string)
                    ERR(c, a->pos, "build: expected 'artifact \"name\"' (with an optional body)");
                else if (m->artifacts)
                    m->artifacts[m->n_artifacts++] = a->words[1].text;
            }
        } else if (strcmp(h, "llm") == 0) {
            llm_block(c, e);
        } else if (strcmp(h, "kernel") == 0) {
            /* checked in pass 1 */
        } else if (strcmp(h, "problem") == 0) {
            if (m->problem && m->problem != e->body)
                ERR(c, e->pos, "more than one problem block");
            else if (!e->body)
                ERR(c, e->pos, "problem needs a body: problem { family: \"matmul\", target: \"cpu\", ... }");
            else
                m->problem = e->body;
        } else {
            bool known = false;
            for (size_t k = 0; k < SPAK_ARRAY_LEN(known_blocks); k++)
                known |= strcmp(h, known_blocks[k]) == 0;
            if (!known && e->kind == SPAK_EN_PLAIN && e->n_words && !e->words[0].is_string &&
                !typo_of(c, e->pos, "unknown block", h, known_blocks, SPAK_ARRAY_LEN(known_blocks)))
                WARN(c, e->pos, "unknown block '%s' kept as a free-form section", h);
        }
    }
    if (m->problem)
        problem_keys(c, m->problem);
    if (m->problem && m->kernel)
        spak_kernel_check_shapes(m->kernel, m->problem, c->d);
}

static void check_file(checker *c)
{
    const spak_block *top = c->file->top;
    const spak_entry *sys = NULL;
    for (size_t i = 0; i < top->n; i++) {
        const spak_entry *e = top->items[i];
        if (spak_entry_word_is(e, 0, "system")) {
            if (e->n_words != 2 || e->words[1].is_string || !e->body) {
                ERR(c, e->pos, "expected 'system Name { ... }'");
                continue;
            }
            if (sys) {
                ERR(c, e->pos, "only one system per file (the first is %s at line %d)", entry_name(sys, 1),
                    sys->pos.line);
                continue;
            }
            sys = e;
        } else {
            WARN(c, e->pos, "top-level entry '%s' outside the system block kept as free-form", spak_entry_head(e));
        }
    }
    if (!sys) {
        spak_diags_add(c->d, SPAK_DIAG_ERROR, 1, 1, "no 'system Name { ... }' block in the file");
        return;
    }
    system_block(c, sys);
}

spak_status spak_check(const spak_file *file, spak_arena *a, spak_diags *d, spak_model *m)
{
    checker c = {file, m, d, a, false};
    check_file(&c);
    return c.oom ? SPAK_ERR_NOMEM : SPAK_OK;
}
