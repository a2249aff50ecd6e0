/* expr.c - see expr.h. */
#include "spec/expr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze/records.h"
#include "spec/suggest.h"

/* ---- typing -------------------------------------------------------------- */

typedef struct tc {
    const spak_type_scope *sc;
    spak_diags *diags;
    bool report;
    spak_tc_result res;
    const char **first_unknown;
} tc;

static const char *type_name(spak_type t)
{
    switch (t.kind) {
    case SPAK_TY_ANY: return "any";
    case SPAK_TY_NUM: return "number";
    case SPAK_TY_STR: return "string";
    case SPAK_TY_BOOL: return "boolean";
    case SPAK_TY_RECORD: return "record";
    }
    return "?";
}

static spak_type mk(spak_type_kind k)
{
    spak_type t = {k, NULL, NULL, NULL};
    return t;
}

static spak_type type_error(tc *c, spak_pos pos, const char *fmt, const char *a, const char *b)
{
    if (c->res == SPAK_TC_OK)
        c->res = SPAK_TC_TYPE_ERROR;
    if (c->report)
        spak_diags_add(c->diags, SPAK_DIAG_ERROR, pos.line, pos.col, fmt, a, b);
    return mk(SPAK_TY_ANY);
}

/* The fields of case k (NULL: of every case) as candidates of s. */
static void suggest_fields(spak_suggest *s, const spak_model *m, const spak_trace_case *k)
{
    for (size_t i = 0; m && i < m->schema.n_cases; i++) {
        const spak_trace_case *ck = &m->schema.cases[i];
        for (size_t j = 0; (!k || ck == k) && j < ck->n_fields; j++)
            spak_suggest_try(s, ck->fields[j].name);
    }
}

const char *spak_expr_suggest(const spak_type_scope *sc, const char *name)
{
    const spak_model *m = sc->model;
    spak_suggest s;
    const char *dot = strrchr(name, '.');
    if (dot) {
        /* a field of a record: t.f, trace.best.f, trace.latest.f */
        spak_suggest_init(&s, dot + 1);
        suggest_fields(&s, m, NULL);
        return s.best;
    }
    spak_suggest_init(&s, name);
    for (size_t i = 0; m && i < m->n_facts; i++)
        spak_suggest_try(&s, m->facts[i].name);
    for (size_t i = 0; m && sc->allow_params && i < m->n_design; i++)
        spak_suggest_try(&s, m->design[i].name);
    for (size_t i = 0; m && sc->allow_params && i < m->n_tuning; i++)
        spak_suggest_try(&s, m->tuning[i].name);
    for (size_t l = 0; m && sc->allow_params && l < m->n_loops; l++)
        for (size_t i = 0; i < m->loops[l].n_params; i++)
            spak_suggest_try(&s, m->loops[l].params[i].name);
    return s.best;
}

static spak_type unknown_name(tc *c, spak_pos pos, const char *name, const char *why)
{
    if (c->res != SPAK_TC_TYPE_ERROR)
        c->res = SPAK_TC_UNKNOWN_NAME;
    if (c->first_unknown && !*c->first_unknown)
        *c->first_unknown = name;
    if (c->report) {
        char dym[160];
        spak_diags_add(c->diags, SPAK_DIAG_ERROR, pos.line, pos.col, "unknown name '%s'%s%s", name, why,
                       spak_suggest_text(spak_expr_suggest(c->sc, name), dym, sizeof dym));
    }
    return mk(SPAK_TY_ANY);
}

static spak_type field_type(const spak_trace_field *f)
{
    spak_type t = mk(SPAK_TY_ANY);
    switch (f->type) {
    case SPAK_FIELD_STRING: case SPAK_FIELD_ENUM: t.kind = SPAK_TY_STR; break;
    case SPAK_FIELD_INT: case SPAK_FIELD_FLOAT: t.kind = SPAK_TY_NUM; break;
    case SPAK_FIELD_BOOL: t.kind = SPAK_TY_BOOL; break;
    }
    t.field = f;
    return t;
}

static const spak_trace_field *case_field(const spak_trace_case *k, const char *name)
{
    for (size_t i = 0; i < k->n_fields; i++)
        if (strcmp(k->fields[i].name, name) == 0)
            return &k->fields[i];
    return NULL;
}

/* The type of field `name` of a record of case k (NULL = any case: the first
 * case that has the field). */
static spak_type record_field(tc *c, const spak_trace_case *k, const char *name, spak_pos pos, const char *full)
{
    const spak_model *m = c->sc->model;
    if (k) {
        const spak_trace_field *f = case_field(k, name);
        if (!f) {
            spak_suggest s;
            spak_suggest_init(&s, name);
            suggest_fields(&s, m, k);
            char msg[300];
            spak_snprintf(msg, sizeof msg, "case %s has no field '%s'", k->name, name);
            char dym[160];
            return type_error(c, pos, "%s%s", msg, spak_suggest_text(s.best, dym, sizeof dym));
        }
        return field_type(f);
    }
    for (size_t i = 0; m && i < m->schema.n_cases; i++) {
        const spak_trace_field *f = case_field(&m->schema.cases[i], name);
        if (f)
            return field_type(f);
    }
    return unknown_name(c, pos, full, " (no trace case has that field)");
}

static spak_type name_type(tc *c, const spak_expr *e)
{
    const spak_type_scope *sc = c->sc;
    const char *n = e->text;
    const spak_model *m = sc->model;
    if (sc->record_name) {
        size_t rl = strlen(sc->record_name);
        if (strcmp(n, sc->record_name) == 0) {
            spak_type t = mk(SPAK_TY_RECORD);
            t.tcase = sc->record_case;
            return t;
        }
        if (strncmp(n, sc->record_name, rl) == 0 && n[rl] == '.')
            return record_field(c, sc->record_case, n + rl + 1, e->pos, n);
    }
    if (strcmp(n, "trace.latest") == 0 || strcmp(n, "trace.best") == 0)
        return mk(SPAK_TY_RECORD);
    if (strncmp(n, "trace.latest.", 13) == 0)
        return record_field(c, NULL, n + 13, e->pos, n);
    if (strncmp(n, "trace.best.", 11) == 0)
        return record_field(c, NULL, n + 11, e->pos, n);
    if (m) {
        const spak_fact_def *f = spak_model_fact(m, n);
        if (f) {
            if (!f->predicate || !f->body)
                return unknown_name(c, e->pos, n, " (a record fact, not a predicate)");
            return mk(SPAK_TY_BOOL);
        }
        if (sc->allow_params) {
            const spak_param_def *p = spak_model_param(m, n);
            if (p && p->n_values) {
                const spak_expr *v = p->values[0];
                spak_type t = mk(SPAK_TY_STR);
                if (v->kind == SPAK_EX_NUMBER || v->kind == SPAK_EX_UNARY)
                    t.kind = SPAK_TY_NUM;
                else if (v->kind == SPAK_EX_BOOL)
                    t.kind = SPAK_TY_BOOL;
                t.param = p;
                return t;
            }
        }
    }
    return unknown_name(c, e->pos, n, "");
}

static spak_type check(tc *c, const spak_expr *e);

static void check_enum_literal(tc *c, spak_type t, const spak_expr *lit)
{
    if (!t.field || t.field->type != SPAK_FIELD_ENUM || lit->kind != SPAK_EX_STRING)
        return;
    for (size_t i = 0; i < t.field->n_enum_values; i++)
        if (strcmp(t.field->enum_values[i], lit->text) == 0)
            return;
    spak_suggest s;
    spak_suggest_init(&s, lit->text);
    for (size_t i = 0; i < t.field->n_enum_values; i++)
        spak_suggest_try(&s, t.field->enum_values[i]);
    char msg[300], dym[160];
    spak_snprintf(msg, sizeof msg, "'%s' is not one of the values of field '%s'", lit->text, t.field->name);
    type_error(c, lit->pos, "%s%s", msg, spak_suggest_text(s.best, dym, sizeof dym));
}

/* `P == "v"` with P a parameter: v must be one of P's values, else the
 * comparison is false at every point (a typo, like `rung == "pakced"`).
 * Numbers compare by value (64 and 64.0 are one value). */
static void check_param_literal(tc *c, spak_type t, const spak_expr *lit)
{
    const spak_param_def *p = t.param;
    if (!p || (lit->kind != SPAK_EX_STRING && lit->kind != SPAK_EX_NUMBER && lit->kind != SPAK_EX_UNARY))
        return;
    if (lit->kind == SPAK_EX_UNARY && (lit->op != SPAK_OP_NEG || lit->lhs->kind != SPAK_EX_NUMBER))
        return;
    if ((lit->kind == SPAK_EX_STRING) != (t.kind == SPAK_TY_STR))
        return;  /* a type mismatch: reported by the comparison itself */
    double want = lit->kind == SPAK_EX_UNARY ? -lit->lhs->num : lit->num;
    spak_suggest s;
    spak_suggest_init(&s, lit->kind == SPAK_EX_STRING ? lit->text : "");
    for (size_t i = 0; i < p->n_values; i++) {
        const spak_expr *v = p->values[i];
        if (lit->kind == SPAK_EX_STRING && (v->kind == SPAK_EX_STRING || v->kind == SPAK_EX_NAME)) {
            if (strcmp(v->text, lit->text) == 0)
                return;
            spak_suggest_try(&s, v->text);
        } else if (lit->kind != SPAK_EX_STRING && v->kind == SPAK_EX_NUMBER && v->num == want) {
            return;
        } else if (lit->kind != SPAK_EX_STRING && v->kind == SPAK_EX_UNARY && v->lhs->kind == SPAK_EX_NUMBER &&
                   -v->lhs->num == want) {
            return;
        }
    }
    char msg[300], dym[160];
    if (lit->kind == SPAK_EX_STRING)
        spak_snprintf(msg, sizeof msg, "'%s' is not a value of parameter '%s'", lit->text, p->name);
    else
        spak_snprintf(msg, sizeof msg, "%s%s is not a value of parameter '%s'", lit->kind == SPAK_EX_UNARY ? "-" : "",
                      lit->kind == SPAK_EX_UNARY ? lit->lhs->text : lit->text, p->name);
    type_error(c, lit->pos, "%s%s", msg, spak_suggest_text(s.best, dym, sizeof dym));
}

static spak_type check(tc *c, const spak_expr *e)
{
    switch (e->kind) {
    case SPAK_EX_STRING: return mk(SPAK_TY_STR);
    case SPAK_EX_NUMBER: return mk(SPAK_TY_NUM);
    case SPAK_EX_BOOL: return mk(SPAK_TY_BOOL);
    case SPAK_EX_NAME: return name_type(c, e);
    case SPAK_EX_PAREN: return check(c, e->lhs);
    case SPAK_EX_LIST:
    case SPAK_EX_MAP:
        return type_error(c, e->pos, "a %s%s cannot be used in an expression", e->kind == SPAK_EX_LIST ? "list" : "map", "");
    case SPAK_EX_CALL: {
        const spak_fact_def *f = c->sc->model ? spak_model_fact(c->sc->model, e->text) : NULL;
        if (!f)
            return unknown_name(c, e->pos, e->text, " (not a fact)");
        if (!f->predicate || !f->body)
            return type_error(c, e->pos, "fact '%s' is not a predicate%s; it cannot be called", e->text, "");
        if (e->n_items != 1)
            return type_error(c, e->pos, "fact '%s' takes one record argument%s", e->text, "");
        spak_type a = check(c, e->items[0]);
        if (a.kind != SPAK_TY_RECORD && a.kind != SPAK_TY_ANY)
            return type_error(c, e->items[0]->pos, "argument of '%s' must be a record, not a %s", e->text, type_name(a));
        if (a.kind == SPAK_TY_RECORD && a.tcase && f->tcase && a.tcase != f->tcase)
            return type_error(c, e->items[0]->pos, "fact '%s' reads case %s", e->text, f->tcase->name);
        return mk(SPAK_TY_BOOL);
    }
    case SPAK_EX_UNARY: {
        spak_type a = check(c, e->lhs);
        if (e->op == SPAK_OP_NOT) {
            if (a.kind != SPAK_TY_BOOL && a.kind != SPAK_TY_ANY)
                return type_error(c, e->pos, "operator '!' needs a boolean, not a %s%s", type_name(a), "");
            return mk(SPAK_TY_BOOL);
        }
        if (a.kind != SPAK_TY_NUM && a.kind != SPAK_TY_ANY)
            return type_error(c, e->pos, "unary '-' needs a number, not a %s%s", type_name(a), "");
        return mk(SPAK_TY_NUM);
    }
    case SPAK_EX_BINARY: {
        spak_type a = check(c, e->lhs);
        spak_type b = check(c, e->rhs);
        const char *op = spak_op_text(e->op);
        bool any = a.kind == SPAK_TY_ANY || b.kind == SPAK_TY_ANY;
        switch (e->op) {
        case SPAK_OP_AND: case SPAK_OP_OR:
            if ((a.kind != SPAK_TY_BOOL && a.kind != SPAK_TY_ANY) || (b.kind != SPAK_TY_BOOL && b.kind != SPAK_TY_ANY))
                return type_error(c, e->pos, "operator '%s' needs booleans, not a %s", op,
                                  type_name(a.kind != SPAK_TY_BOOL ? a : b));
            return mk(SPAK_TY_BOOL);
        case SPAK_OP_EQ: case SPAK_OP_NE:
            if (!any && a.kind != b.kind) {
                char what[64];
                spak_snprintf(what, sizeof what, "a %s with a %s", type_name(a), type_name(b));
                return type_error(c, e->pos, "cannot compare %s (operator '%s')", what, op);
            }
            if (!any && a.kind == SPAK_TY_RECORD)
                return type_error(c, e->pos, "cannot compare records with '%s'%s", op, "");
            check_enum_literal(c, a, e->rhs);
            check_enum_literal(c, b, e->lhs);
            check_param_literal(c, a, e->rhs);
            check_param_literal(c, b, e->lhs);
            return mk(SPAK_TY_BOOL);
        case SPAK_OP_LT: case SPAK_OP_LE: case SPAK_OP_GT: case SPAK_OP_GE:
            if ((a.kind != SPAK_TY_NUM && a.kind != SPAK_TY_ANY) || (b.kind != SPAK_TY_NUM && b.kind != SPAK_TY_ANY)) {
                char what[64];
                spak_snprintf(what, sizeof what, "a %s with a %s", type_name(a), type_name(b));
                return type_error(c, e->pos, "cannot compare %s (operator '%s' needs numbers)", what, op);
            }
            return mk(SPAK_TY_BOOL);
        case SPAK_OP_ADD: case SPAK_OP_SUB: case SPAK_OP_MUL: case SPAK_OP_DIV: case SPAK_OP_MOD:
            if ((a.kind != SPAK_TY_NUM && a.kind != SPAK_TY_ANY) || (b.kind != SPAK_TY_NUM && b.kind != SPAK_TY_ANY))
                return type_error(c, e->pos, "operator '%s' needs numbers, not a %s", op,
                                  type_name(a.kind != SPAK_TY_NUM ? a : b));
            return mk(SPAK_TY_NUM);
        case SPAK_OP_UNION:
            return type_error(c, e->pos, "operator '%s' builds a type, not a value%s", op, "");
        default:
            return type_error(c, e->pos, "unexpected operator '%s'%s", op, "");
        }
    }
    }
    return mk(SPAK_TY_ANY);
}

spak_tc_result spak_expr_typecheck(const spak_expr *e, const spak_type_scope *sc, spak_type *out, spak_diags *diags,
                                   bool report, const char **first_unknown)
{
    tc c = {sc, diags, report && diags, SPAK_TC_OK, first_unknown};
    if (first_unknown)
        *first_unknown = NULL;
    spak_type t = check(&c, e);
    if (out)
        *out = t;
    return c.res;
}

/* ---- evaluation ---------------------------------------------------------- */

#define EVAL_MAX_DEPTH 32

/* Nodes one evaluation may visit. Facts may call facts, each call a fresh
 * walk of the callee's body, so `f1(t) || f1(t)` over 30 levels would take
 * 2^30 steps: the budget turns that into an error, not a hang. */
#define EVAL_MAX_STEPS 100000L

typedef struct ev {
    const spak_eval_env *env;
    const char *record_name;
    const json_t *record;
    const spak_trace_case *record_case;
    int depth;
    spak_err *err;
    long *steps;   /* shared by the nested evaluations of fact calls */
} ev;

static spak_status fail(ev *v, const spak_expr *e, const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    return spak_errf(v->err, SPAK_ERR_EVAL, "%d:%d: %s", e->pos.line, e->pos.col, msg);
}

static spak_status json_to_value(ev *v, const spak_expr *e, const json_t *j, const char *field, spak_value *out)
{
    if (!j)
        return fail(v, e, "the record has no field '%s'%s", field, "");
    if (json_is_integer(j) || json_is_real(j)) {
        out->kind = SPAK_VAL_NUM;
        out->num = json_number_value(j);
        return SPAK_OK;
    }
    if (json_is_string(j)) {
        out->kind = SPAK_VAL_STR;
        out->str = json_string_value(j);
        return SPAK_OK;
    }
    if (json_is_boolean(j)) {
        out->kind = SPAK_VAL_BOOL;
        out->b = json_is_true(j);
        return SPAK_OK;
    }
    return fail(v, e, "field '%s' is %s, not a number, string or boolean", field,
                json_is_null(j) ? "null" : "an array or object");
}

/* The field of record rec as a value; a number whose record also carries
 * "<field>_ci": [lo, hi] (lo <= value <= hi) is that interval. */
static spak_status field_value(ev *v, const spak_expr *e, const json_t *rec, const char *field, spak_value *out)
{
    spak_status st = json_to_value(v, e, json_object_get(rec, field), field, out);
    if (st != SPAK_OK || out->kind != SPAK_VAL_NUM)
        return st;
    out->lo = out->hi = out->num;
    char k[128];
    if (snprintf(k, sizeof k, "%s_ci", field) >= (int)sizeof k)
        return SPAK_OK;
    const json_t *ci = json_object_get(rec, k);
    const json_t *a = json_array_get(ci, 0), *b = json_array_get(ci, 1);
    if (json_array_size(ci) == 2 && json_is_number(a) && json_is_number(b) &&
        json_number_value(a) <= out->num && out->num <= json_number_value(b)) {
        out->ci = true;
        out->lo = json_number_value(a);
        out->hi = json_number_value(b);
    }
    return SPAK_OK;
}

static spak_status get_record(ev *v, const spak_expr *e, bool best, const char *case_name, const json_t **out)
{
    const json_t *r = NULL;
    if (v->env) {
        if (best && v->env->best)
            r = v->env->best(v->env->ud, case_name);
        else if (!best && v->env->latest)
            r = v->env->latest(v->env->ud, case_name);
    }
    if (!r)
        return fail(v, e, "no %s record yet%s", best ? "best" : "latest", case_name ? " of that case" : "");
    *out = r;
    return SPAK_OK;
}

static spak_status eval(ev *v, const spak_expr *e, spak_value *out);

static spak_status call_fact(ev *v, const spak_expr *e, const spak_fact_def *f, const json_t *rec, spak_value *out)
{
    if (!f->predicate || !f->body)
        return fail(v, e, "fact '%s' is not a predicate%s", f->name, "");
    if (v->depth >= EVAL_MAX_DEPTH)
        return fail(v, e, "facts call each other too deeply (at '%s')%s", f->name, "");
    if (!rec) {
        spak_status st = get_record(v, e, false, f->tcase ? f->tcase->name : NULL, &rec);
        if (st != SPAK_OK)
            return st;
    }
    const char *type = json_string_value(json_object_get(rec, SPAK_REC_TYPE));
    if (f->tcase && (!type || strcmp(type, f->tcase->name) != 0))
        return fail(v, e, "fact '%s' reads %s records", f->name, f->tcase->name);
    ev inner = {v->env, f->param, rec, f->tcase, v->depth + 1, v->err, v->steps};
    spak_status st = eval(&inner, f->body, out);
    if (st == SPAK_OK && out->kind != SPAK_VAL_BOOL)
        return fail(v, e, "fact '%s' did not give a boolean%s", f->name, "");
    return st;
}

/* fact(trace.latest) / fact(trace.best) (and a fact's name alone, = the
 * latest): with the evaluation's records at hand (env->latest_all,
 * best_all), the fact holds when it holds for every record of its case that
 * counts (spak_trace_counts: never a held-out one); else, and for a fact
 * without a typed parameter, the one record the env gives. */
static spak_status fact_on_trace(ev *v, const spak_expr *e, const spak_expr *rec_at, const spak_fact_def *f, bool best,
                                 spak_value *out)
{
    const json_t *all = NULL;
    if (v->env && f->tcase)
        all = best ? (v->env->best_all ? v->env->best_all(v->env->ud) : NULL)
                   : (v->env->latest_all ? v->env->latest_all(v->env->ud) : NULL);
    if (!json_is_array(all)) {
        const json_t *r;
        spak_status st = get_record(v, rec_at, best, f->tcase ? f->tcase->name : NULL, &r);
        return st == SPAK_OK ? call_fact(v, e, f, r, out) : st;
    }
    bool any = false;
    size_t i;
    const json_t *r;
    json_array_foreach(all, i, r) {
        if (!spak_trace_counts(r, f->tcase->name))
            continue;
        any = true;
        spak_status st = call_fact(v, e, f, r, out);
        if (st != SPAK_OK || !out->b)
            return st;
    }
    if (!any)
        return fail(v, rec_at, "no %s record yet%s", best ? "best" : "latest", " of that case");
    return SPAK_OK;
}

static spak_status eval_name(ev *v, const spak_expr *e, spak_value *out)
{
    const char *n = e->text;
    if (v->record_name) {
        size_t rl = strlen(v->record_name);
        if (strcmp(n, v->record_name) == 0) {
            out->kind = SPAK_VAL_RECORD;
            out->rec = v->record;
            return SPAK_OK;
        }
        if (strncmp(n, v->record_name, rl) == 0 && n[rl] == '.')
            return field_value(v, e, v->record, n + rl + 1, out);
    }
    bool best = strncmp(n, "trace.best", 10) == 0 && (n[10] == '\0' || n[10] == '.');
    bool latest = strncmp(n, "trace.latest", 12) == 0 && (n[12] == '\0' || n[12] == '.');
    if (best || latest) {
        const char *rest = n + (best ? 10 : 12);
        const json_t *r;
        /* trace.latest.f reads the newest record of a case that declares f */
        const char *case_name = NULL;
        const spak_model *mm = v->env ? v->env->model : NULL;
        for (size_t i = 0; *rest == '.' && mm && i < mm->schema.n_cases && !case_name; i++)
            for (size_t k = 0; k < mm->schema.cases[i].n_fields; k++)
                if (strcmp(mm->schema.cases[i].fields[k].name, rest + 1) == 0) {
                    case_name = mm->schema.cases[i].name;
                    break;
                }
        spak_status st = get_record(v, e, best, case_name, &r);
        if (st != SPAK_OK)
            return st;
        if (*rest == '\0') {
            out->kind = SPAK_VAL_RECORD;
            out->rec = r;
            return SPAK_OK;
        }
        return field_value(v, e, r, rest + 1, out);
    }
    const spak_model *m = v->env ? v->env->model : NULL;
    const spak_fact_def *f = m ? spak_model_fact(m, n) : NULL;
    if (f) {
        if (!f->predicate || !f->body)
            return call_fact(v, e, f, NULL, out); /* says why */
        return fact_on_trace(v, e, e, f, false, out);
    }
    if (v->env && v->env->param && v->env->param(v->env->ud, n, out))
        return SPAK_OK;
    return fail(v, e, "name '%s' has no value here%s", n, "");
}

static bool values_equal(const spak_value *a, const spak_value *b)
{
    switch (a->kind) {
    case SPAK_VAL_NUM: return a->num == b->num;
    case SPAK_VAL_STR: return strcmp(a->str, b->str) == 0;
    case SPAK_VAL_BOOL: return a->b == b->b;
    case SPAK_VAL_RECORD: return a->rec == b->rec;
    }
    return false;
}

static const char *val_kind_name(spak_val_kind k)
{
    switch (k) {
    case SPAK_VAL_NUM: return "number";
    case SPAK_VAL_STR: return "string";
    case SPAK_VAL_BOOL: return "boolean";
    case SPAK_VAL_RECORD: return "record";
    }
    return "?";
}

/* x op y on plain numbers; 0 when op has no value (out of range) */
static spak_status arith1(ev *v, const spak_expr *e, double x, double y, double *r)
{
    const char *op = spak_op_text(e->op);
    switch (e->op) {
    case SPAK_OP_ADD: *r = x + y; break;
    case SPAK_OP_SUB: *r = x - y; break;
    case SPAK_OP_MUL: *r = x * y; break;
    case SPAK_OP_DIV:
        if (y == 0)
            return fail(v, e, "division by zero%s%s", "", "");
        *r = x / y;
        break;
    case SPAK_OP_MOD:
        if (y == 0)
            return fail(v, e, "modulo by zero%s%s", "", "");
        *r = fmod(x, y);
        break;
    default:
        return fail(v, e, "operator '%s' has no value%s", op, "");
    }
    if (!isfinite(*r))
        return fail(v, e, "arithmetic overflow in '%s'%s", op, "");
    return SPAK_OK;
}

/* An order comparison or arithmetic on two numbers, either of which may be
 * an interval: a comparison holds when it holds for every pair of values
 * (x >= y when x.lo >= y.hi), arithmetic gives the interval of every result
 * (the extremes of the four corner results; % and a divisor interval that
 * holds 0 keep the point only, without an interval). */
static spak_status arith(ev *v, const spak_expr *e, const spak_value *a, const spak_value *b, spak_value *out)
{
    double xl = a->ci ? a->lo : a->num, xh = a->ci ? a->hi : a->num;
    double yl = b->ci ? b->lo : b->num, yh = b->ci ? b->hi : b->num;
    out->kind = SPAK_VAL_BOOL;
    switch (e->op) {
    case SPAK_OP_LT: out->b = xh < yl; return SPAK_OK;
    case SPAK_OP_LE: out->b = xh <= yl; return SPAK_OK;
    case SPAK_OP_GT: out->b = xl > yh; return SPAK_OK;
    case SPAK_OP_GE: out->b = xl >= yh; return SPAK_OK;
    default: break;
    }
    out->kind = SPAK_VAL_NUM;
    spak_status st = arith1(v, e, a->num, b->num, &out->num);
    out->lo = out->hi = out->num;
    if (st != SPAK_OK || !(a->ci || b->ci) || e->op == SPAK_OP_MOD || (e->op == SPAK_OP_DIV && yl <= 0 && yh >= 0))
        return st;
    double c[4], xs[2] = {xl, xh}, ys[2] = {yl, yh};
    for (int i = 0; i < 4; i++)
        if ((st = arith1(v, e, xs[i / 2], ys[i % 2], &c[i])) != SPAK_OK)
            return st;
    out->ci = true;
    out->lo = out->hi = c[0];
    for (int i = 1; i < 4; i++) {
        out->lo = c[i] < out->lo ? c[i] : out->lo;
        out->hi = c[i] > out->hi ? c[i] : out->hi;
    }
    return SPAK_OK;
}

static spak_status eval(ev *v, const spak_expr *e, spak_value *out)
{
    memset(out, 0, sizeof *out);
    spak_status st;
    if (++*v->steps > EVAL_MAX_STEPS)
        return fail(v, e, "evaluation takes more than 100000 steps (facts call facts too often)%s%s", "", "");
    switch (e->kind) {
    case SPAK_EX_STRING:
        out->kind = SPAK_VAL_STR;
        out->str = e->text;
        return SPAK_OK;
    case SPAK_EX_NUMBER:
        out->kind = SPAK_VAL_NUM;
        out->num = out->lo = out->hi = e->num;
        return SPAK_OK;
    case SPAK_EX_BOOL:
        out->kind = SPAK_VAL_BOOL;
        out->b = e->boolean;
        return SPAK_OK;
    case SPAK_EX_NAME:
        return eval_name(v, e, out);
    case SPAK_EX_PAREN:
        return eval(v, e->lhs, out);
    case SPAK_EX_LIST:
    case SPAK_EX_MAP:
        return fail(v, e, "a %s has no value in an expression%s", e->kind == SPAK_EX_LIST ? "list" : "map", "");
    case SPAK_EX_CALL: {
        const spak_model *m = v->env ? v->env->model : NULL;
        const spak_fact_def *f = m ? spak_model_fact(m, e->text) : NULL;
        if (!f)
            return fail(v, e, "'%s' is not a fact%s", e->text, "");
        if (e->n_items != 1)
            return fail(v, e, "fact '%s' takes one record%s", e->text, "");
        spak_value a;
        const spak_expr *arg = e->items[0];
        if (arg->kind == SPAK_EX_NAME &&
            (strcmp(arg->text, "trace.latest") == 0 || strcmp(arg->text, "trace.best") == 0)) {
            if (!f->predicate || !f->body)
                return call_fact(v, e, f, NULL, out); /* says why */
            return fact_on_trace(v, e, arg, f, arg->text[6] == 'b', out);
        }
        st = eval(v, arg, &a);
        if (st != SPAK_OK)
            return st;
        if (a.kind != SPAK_VAL_RECORD)
            return fail(v, e, "argument of '%s' is a %s, not a record", e->text, val_kind_name(a.kind));
        return call_fact(v, e, f, a.rec, out);
    }
    case SPAK_EX_UNARY: {
        spak_value a;
        st = eval(v, e->lhs, &a);
        if (st != SPAK_OK)
            return st;
        if (e->op == SPAK_OP_NOT) {
            if (a.kind != SPAK_VAL_BOOL)
                return fail(v, e, "'!' applied to a %s%s", val_kind_name(a.kind), "");
            out->kind = SPAK_VAL_BOOL;
            out->b = !a.b;
            return SPAK_OK;
        }
        if (a.kind != SPAK_VAL_NUM)
            return fail(v, e, "'-' applied to a %s%s", val_kind_name(a.kind), "");
        *out = a;
        out->num = -a.num;
        out->lo = -a.hi;
        out->hi = -a.lo;
        return SPAK_OK;
    }
    case SPAK_EX_BINARY: {
        spak_value a, b;
        st = eval(v, e->lhs, &a);
        if (st != SPAK_OK)
            return st;
        if (e->op == SPAK_OP_AND || e->op == SPAK_OP_OR) {
            if (a.kind != SPAK_VAL_BOOL)
                return fail(v, e, "'%s' applied to a %s", spak_op_text(e->op), val_kind_name(a.kind));
            if ((e->op == SPAK_OP_AND && !a.b) || (e->op == SPAK_OP_OR && a.b)) {
                *out = a;  /* short circuit */
                return SPAK_OK;
            }
            st = eval(v, e->rhs, &b);
            if (st != SPAK_OK)
                return st;
            if (b.kind != SPAK_VAL_BOOL)
                return fail(v, e, "'%s' applied to a %s", spak_op_text(e->op), val_kind_name(b.kind));
            *out = b;
            return SPAK_OK;
        }
        st = eval(v, e->rhs, &b);
        if (st != SPAK_OK)
            return st;
        const char *op = spak_op_text(e->op);
        if (e->op == SPAK_OP_EQ || e->op == SPAK_OP_NE) {
            if (a.kind != b.kind) {
                char what[64];
                snprintf(what, sizeof what, "a %s with a %s", val_kind_name(a.kind), val_kind_name(b.kind));
                return fail(v, e, "cannot compare %s (%s)", what, op);
            }
            out->kind = SPAK_VAL_BOOL;
            out->b = values_equal(&a, &b) == (e->op == SPAK_OP_EQ);
            return SPAK_OK;
        }
        if (a.kind != SPAK_VAL_NUM || b.kind != SPAK_VAL_NUM)
            return fail(v, e, "operator '%s' needs numbers, got a %s", op,
                        val_kind_name(a.kind != SPAK_VAL_NUM ? a.kind : b.kind));
        return arith(v, e, &a, &b, out);
    }
    }
    return fail(v, e, "cannot evaluate this expression%s%s", "", "");
}

spak_status spak_expr_eval(const spak_expr *e, const spak_eval_env *env, spak_value *out, spak_err *err)
{
    long steps = 0;
    ev v = {env, NULL, NULL, NULL, 0, err, &steps};
    return eval(&v, e, out);
}

spak_status spak_eval_fact(const spak_fact_def *f, const json_t *rec, const spak_eval_env *env, spak_value *out,
                           spak_err *err)
{
    long steps = 0;
    ev v = {env, NULL, NULL, NULL, 0, err, &steps};
    static const spak_expr here = {.kind = SPAK_EX_NAME, .pos = {0, 0}};
    spak_expr at = here;
    at.pos = f->pos;
    if (!rec && f->predicate && f->body)
        return fact_on_trace(&v, &at, &at, f, false, out);
    return call_fact(&v, &at, f, rec, out);
}

spak_status spak_eval_bool(const spak_expr *e, const spak_eval_env *env, bool *out, spak_err *err)
{
    spak_value v;
    spak_status st = spak_expr_eval(e, env, &v, err);
    if (st != SPAK_OK)
        return st;
    if (v.kind != SPAK_VAL_BOOL)
        return spak_errf(err, SPAK_ERR_EVAL, "%d:%d: condition gives a %s, not a boolean", e->pos.line, e->pos.col,
                         val_kind_name(v.kind));
    *out = v.b;
    return SPAK_OK;
}
