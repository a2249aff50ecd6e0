/*
 * fuzz_spec.c - libFuzzer target for the spec language: lexer, parser,
 * checker, formatter and expression evaluator.
 *
 * Build and run: `make fuzz` then fuzz/run.sh [SECONDS] (docs/fuzzing.md).
 *
 * Beyond "does not crash, leak or hang" (the sanitizers and libFuzzer's
 * timeouts judge those), the target checks the formatter's contract on every
 * input that parses, and abort()s when it is broken:
 *   - fmt(x) parses again, and spak_ast_dump(parse(fmt(x))) == dump(parse(x))
 *     (the formatter keeps the tree);
 *   - fmt(fmt(x)) == fmt(x) byte for byte (idempotent);
 *   - fmt keeps every comment (the comment texts of fmt(x), in order, equal
 *     those of x);
 *   - x checks clean if and only if fmt(x) does.
 * For specs that check clean it also evaluates every predicate fact and every
 * formal rule condition against synthetic records (numbers 0 and 1, so that
 * division by zero is reached), which must give a value or SPAK_ERR_EVAL.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/ast.h"
#include "spec/expr.h"
#include "spec/fmt.h"
#include "spec/spec.h"

static void die(const char *what, const spak_buf *a, const spak_buf *b)
{
    fprintf(stderr, "fuzz_spec: %s\n", what);
    if (a)
        fprintf(stderr, "---- first ----\n%.*s\n", (int)(a->len < 4000 ? a->len : 4000), a->data ? a->data : "");
    if (b)
        fprintf(stderr, "---- second ----\n%.*s\n", (int)(b->len < 4000 ? b->len : 4000), b->data ? b->data : "");
    abort();
}

static bool same(const spak_buf *a, const spak_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool parses(spak_status st)
{
    return st == SPAK_OK || st == SPAK_ERR_CHECK;
}

/* The comments of a tree, in source order, one per line. */
static void comments_of(const spak_comment *c, spak_buf *out)
{
    for (; c; c = c->next) {
        spak_buf_puts(out, c->text);
        spak_buf_putc(out, '\n');
    }
}

static void block_comments(const spak_block *b, spak_buf *out);

static void expr_comments(const spak_expr *e, spak_buf *out)
{
    if (!e)
        return;
    switch (e->kind) {
    case SPAK_EX_MAP:
        block_comments(e->map, out);
        break;
    case SPAK_EX_LIST:
    case SPAK_EX_CALL:
        for (size_t i = 0; i < e->n_items; i++)
            expr_comments(e->items[i], out);
        break;
    case SPAK_EX_UNARY:
    case SPAK_EX_PAREN:
        expr_comments(e->lhs, out);
        break;
    case SPAK_EX_BINARY:
        expr_comments(e->lhs, out);
        expr_comments(e->rhs, out);
        break;
    default:
        break;
    }
}

static void entry_comments(const spak_entry *e, spak_buf *out)
{
    comments_of(e->leading.first, out);
    for (size_t i = 0; i < e->n_params; i++)
        expr_comments(e->params[i]->value, out);
    expr_comments(e->value, out);
    expr_comments(e->init, out);
    if (e->body)
        block_comments(e->body, out);
    if (e->else_branch)
        entry_comments(e->else_branch, out);
    comments_of(e->trailing, out);
}

static void block_comments(const spak_block *b, spak_buf *out)
{
    comments_of(b->open_comment, out);
    for (size_t i = 0; i < b->n; i++)
        entry_comments(b->items[i], out);
    comments_of(b->tail.first, out);
}

/* All comment texts of the source, sorted, so that moving a comment (which
 * the formatter may do) is fine but losing or duplicating one is not. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_lines(spak_buf *b)
{
    if (!b->len)
        return;
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    char **v = malloc(n * sizeof *v);
    char *copy = malloc(b->len + 1);
    if (!v || !copy)
        abort();
    memcpy(copy, b->data, b->len + 1);
    size_t k = 0;
    for (char *p = copy; k < n;) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        v[k++] = p;
        p = nl + 1;
    }
    qsort(v, n, sizeof *v, cmp_str);
    spak_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        spak_buf_puts(b, v[i]);
        spak_buf_putc(b, '\n');
    }
    free(v);
    free(copy);
}

static void all_comments(const spak_file *f, spak_buf *out)
{
    block_comments(f->top, out);
    sorted_lines(out);
}

/* ---- evaluation against synthetic records ---- */

typedef struct recs {
    json_t *by_case[8];
    json_t *all; /* every record of the "evaluation": each case's, and a held-out copy of each */
    const spak_model *m;
} recs;

static const json_t *all_records(void *ud)
{
    return ((recs *)ud)->all;
}

static const json_t *latest(void *ud, const char *case_name)
{
    recs *r = ud;
    if (!case_name)
        return r->by_case[0];
    for (size_t i = 0; i < r->m->schema.n_cases && i < 8; i++)
        if (strcmp(r->m->schema.cases[i].name, case_name) == 0)
            return r->by_case[i];
    return NULL;
}

static bool param(void *ud, const char *name, spak_value *out)
{
    recs *r = ud;
    const spak_param_def *p = spak_model_param(r->m, name);
    if (!p || !p->n_values)
        return false;
    const spak_expr *v = p->values[p->n_values - 1];
    memset(out, 0, sizeof *out);
    switch (v->kind) {
    case SPAK_EX_NUMBER: out->kind = SPAK_VAL_NUM; out->num = v->num; return true;
    case SPAK_EX_BOOL: out->kind = SPAK_VAL_BOOL; out->b = v->boolean; return true;
    case SPAK_EX_STRING: case SPAK_EX_NAME: out->kind = SPAK_VAL_STR; out->str = v->text; return true;
    default: return false;
    }
}

/* A condition (NULL: prose, nothing to evaluate) may fail to evaluate on the
 * input (SPAK_ERR_EVAL); any other failure is a finding. */
static void eval_cond(const spak_expr *cond, const spak_eval_env *env)
{
    if (!cond)
        return;
    bool b;
    spak_err err;
    spak_status st = spak_eval_bool(cond, env, &b, &err);
    if (st != SPAK_OK && st != SPAK_ERR_EVAL)
        abort();
}

static void evaluate(const spak_model *m, int flavour)
{
    recs r;
    memset(&r, 0, sizeof r);
    r.m = m;
    for (size_t i = 0; i < m->schema.n_cases && i < 8; i++) {
        const spak_trace_case *k = &m->schema.cases[i];
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(k->name));
        for (size_t j = 0; j < k->n_fields; j++) {
            const spak_trace_field *f = &k->fields[j];
            json_t *v = NULL;
            if (flavour == 2 && j == 0)
                continue;  /* a missing field */
            switch (f->type) {
            case SPAK_FIELD_INT: v = json_integer(flavour); break;
            case SPAK_FIELD_FLOAT: v = json_real(flavour * 1.5); break;
            case SPAK_FIELD_BOOL: v = json_boolean(flavour & 1); break;
            case SPAK_FIELD_STRING: v = json_string("x"); break;
            case SPAK_FIELD_ENUM: v = json_string(f->n_enum_values ? f->enum_values[0] : "x"); break;
            }
            json_object_set_new(o, f->name, v);
        }
        r.by_case[i] = o;
    }
    /* flavour 1: facts on trace.latest/best test every record of their case */
    r.all = json_array();
    for (size_t i = 0; i < 8 && r.by_case[i]; i++) {
        json_t *h = json_deep_copy(r.by_case[i]);
        json_object_set_new(h, "heldout", json_true());
        json_array_append(r.all, r.by_case[i]);
        json_array_append_new(r.all, h);
    }
    spak_eval_env env = {m, latest, latest, param, &r, flavour == 1 ? all_records : NULL,
                         flavour == 1 ? all_records : NULL};
    for (size_t i = 0; i < m->n_facts; i++) {
        spak_value v;
        spak_err err;
        spak_status st = spak_eval_fact(&m->facts[i], NULL, &env, &v, &err);
        if (st != SPAK_OK && st != SPAK_ERR_EVAL)
            abort();
    }
    for (size_t i = 0; i < m->n_rules; i++)
        eval_cond(m->rules[i].when, &env);
    for (size_t i = 0; i < m->n_loops; i++)
        eval_cond(m->loops[i].stop_when, &env);
    for (size_t i = 0; i < 8; i++)
        json_decref(r.by_case[i]);
    json_decref(r.all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spak_spec *s1 = NULL, *s2 = NULL;
    spak_err err;
    spak_buf fmt1, fmt2, dump1, dump2, com1, com2;
    spak_buf_init(&fmt1, 0);
    spak_buf_init(&fmt2, 0);
    spak_buf_init(&dump1, 0);
    spak_buf_init(&dump2, 0);
    spak_buf_init(&com1, 0);
    spak_buf_init(&com2, 0);

    spak_status st1 = spak_spec_load_mem("fuzz.spak", (const char *)data, size, &s1, &err);
    if (!s1 || !parses(st1))
        goto out;
    const spak_file *f1 = spak_spec_file(s1);
    if (spak_fmt_file(f1, &fmt1) != SPAK_OK || spak_ast_dump(f1, &dump1) != SPAK_OK)
        goto out;  /* out of memory or over a buffer cap: not a finding */
    all_comments(f1, &com1);
    if (st1 == SPAK_OK)
        for (int flavour = 0; flavour < 3; flavour++)
            evaluate(spak_spec_model(s1), flavour);

    spak_status st2 = spak_spec_load_mem("fuzz.spak", fmt1.data ? fmt1.data : "", fmt1.len, &s2, &err);
    if (!s2)
        goto out;
    if (!parses(st2)) {
        spak_buf d;
        spak_buf_init(&d, 0);
        (void)spak_diags_format(spak_spec_diags(s2), &d);  /* what fits is still worth showing */
        fprintf(stderr, "%.*s", (int)d.len, d.data ? d.data : "");
        spak_buf_free(&d);
        die("the formatted text does not parse", &fmt1, NULL);
    }
    const spak_file *f2 = spak_spec_file(s2);
    if (spak_ast_dump(f2, &dump2) != SPAK_OK || spak_fmt_file(f2, &fmt2) != SPAK_OK)
        goto out;
    if (!same(&dump1, &dump2))
        die("parse(fmt(x)) gives a different tree than parse(x)", &dump1, &dump2);
    if (!same(&fmt1, &fmt2))
        die("fmt is not idempotent: fmt(fmt(x)) != fmt(x)", &fmt1, &fmt2);
    all_comments(f2, &com2);
    if (!same(&com1, &com2))
        die("fmt lost or duplicated a comment", &com1, &com2);
    if ((st1 == SPAK_OK) != (st2 == SPAK_OK))
        die(st1 == SPAK_OK ? "x checks clean but fmt(x) does not" : "fmt(x) checks clean but x does not", &fmt1,
            NULL);
out:
    spak_spec_free(s1);
    spak_spec_free(s2);
    spak_buf_free(&fmt1);
    spak_buf_free(&fmt2);
    spak_buf_free(&dump1);
    spak_buf_free(&dump2);
    spak_buf_free(&com1);
    spak_buf_free(&com2);
    return 0;
}
