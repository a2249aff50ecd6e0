/* kernel.c - the `kernel` block of a spec: checks and integer expressions (kernel.h). */
#include "spec/kernel.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spec/suggest.h"

#define KERR(d, pos, ...) spak_diags_add((d), SPAK_DIAG_ERROR, (pos).line, (pos).col, __VA_ARGS__)
#define KWARN(d, pos, ...) spak_diags_add((d), SPAK_DIAG_WARNING, (pos).line, (pos).col, __VA_ARGS__)

static const char *const types[] = {"f16", "bf16", "f32", "f64", "i8", "i32", "i64", "u8", "u32"};
static const int type_sizes[] = {2, 2, 4, 8, 1, 4, 8, 1, 4};
static const char *const fills[] = {"normal", "uniform", "constant", "index", "zero"};
static const char *const accesses[] = {"read", "write", "readwrite"};
static const char *const languages[] = {"c", "c++", "cuda"};
static const char *const params_as_kinds[] = {"defines", "template", "wrapper"};
static const char *const kernel_keys[] = {"language", "compiler", "flags", "entry", "params_as", "sizes", "arch",
                                          "extern_c", "grid", "block", "shared_bytes", "arg", "flops", "bytes", "reference",
                                          "range"};
static const char *const range_keys[] = {"min", "max", "step"};
/* the largest size a range may name: a size is passed as an i32 scalar by
 * most kernels, and a count above 2^31 is refused anyway */
#define RANGE_CAP ((int64_t)1 << 31)
static const char *const arg_keys[] = {"type", "count", "value", "fill", "fill_args", "access", "output",
                                       "tolerance", "memory"};
static const char *const memories[] = {"global", "constant"};
static const char *const funcs[] = {"min", "max", "ceil_div"};

int spak_kernel_type_size(const char *type)
{
    for (size_t i = 0; type && i < SPAK_ARRAY_LEN(types); i++)
        if (strcmp(type, types[i]) == 0)
            return type_sizes[i];
    return 0;
}

static bool is_field(const spak_entry *e)
{
    return e->kind == SPAK_EN_PLAIN && e->n_words == 1 && !e->words[0].is_string && !e->has_params;
}

/* A string value that must be one of a list; NULL (and an error) otherwise. */
static const char *one_of(spak_diags *d, const spak_entry *f, const char *what, const char *const *list, size_t n)
{
    const spak_expr *v = f->value;
    if (!v || (v->kind != SPAK_EX_STRING && v->kind != SPAK_EX_NAME)) {
        KERR(d, v ? v->pos : f->pos, "%s: expected a string", what);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(v->text, list[i]) == 0)
            return list[i];
    char all[300], dym[160];
    spak_join_names(list, n, all, sizeof all);
    KERR(d, v->pos, "%s: '%s' is not one of %s%s", what, v->text, all,
         spak_suggest_text(spak_suggest_list(v->text, list, n), dym, sizeof dym));
    return NULL;
}

static const char *string_of(spak_diags *d, const spak_entry *f, const char *what)
{
    if (f->value && f->value->kind == SPAK_EX_STRING)
        return f->value->text;
    KERR(d, f->value ? f->value->pos : f->pos, "%s: expected a string", what);
    return NULL;
}

static bool number_of(const spak_expr *v, double *out)
{
    if (v && v->kind == SPAK_EX_NUMBER) {
        *out = v->num;
        return true;
    }
    if (v && v->kind == SPAK_EX_UNARY && v->op == SPAK_OP_NEG && v->lhs && v->lhs->kind == SPAK_EX_NUMBER) {
        *out = -v->lhs->num;
        return true;
    }
    return false;
}

static void unknown(spak_diags *d, const spak_entry *f, const char *what, const char *const *keys, size_t n)
{
    const char *h = spak_entry_head(f);
    const char *best = spak_suggest_list(h, keys, n);
    char list[400];
    spak_join_names(keys, n, list, sizeof list);
    if (best)
        KERR(d, f->pos, "%s: unknown key '%s' (did you mean '%s'?)", what, h, best);
    else
        KERR(d, f->pos, "%s: unknown key '%s' (expected %s)", what, h, list);
}

/* ---- expressions ---- */

typedef struct name_ctx {
    const spak_kernel_def *k;
    const spak_kernel_names *names;
} name_ctx;

/* Every name of e a size or a parameter, every operator and call allowed. */
static void check_expr(spak_diags *d, const spak_expr *e, const name_ctx *nc, const char *what)
{
    if (!e)
        return;
    switch (e->kind) {
    case SPAK_EX_NUMBER:
        if (!e->is_int)
            KERR(d, e->pos, "%s: '%s' is not a whole number (size expressions are integer)", what, e->text);
        return;
    case SPAK_EX_NAME: {
        spak_suggest s;
        spak_suggest_init(&s, e->text);
        for (size_t i = 0; i < nc->k->n_sizes; i++) {
            if (strcmp(e->text, nc->k->sizes[i]) == 0)
                return;
            spak_suggest_try(&s, nc->k->sizes[i]);
        }
        for (size_t i = 0; i < nc->names->n_params; i++) {
            if (strcmp(e->text, nc->names->params[i]) == 0)
                return;
            spak_suggest_try(&s, nc->names->params[i]);
        }
        char dym[160];
        KERR(d, e->pos, "%s: '%s' is neither a size of the kernel (sizes) nor a parameter%s", what, e->text,
             spak_suggest_text(s.best, dym, sizeof dym));
        return;
    }
    case SPAK_EX_PAREN:
        check_expr(d, e->lhs, nc, what);
        return;
    case SPAK_EX_UNARY:
        if (e->op != SPAK_OP_NEG)
            KERR(d, e->pos, "%s: '%s' is not an integer operator", what, spak_op_text(e->op));
        check_expr(d, e->lhs, nc, what);
        return;
    case SPAK_EX_BINARY:
        if (e->op != SPAK_OP_ADD && e->op != SPAK_OP_SUB && e->op != SPAK_OP_MUL && e->op != SPAK_OP_DIV &&
            e->op != SPAK_OP_MOD)
            KERR(d, e->pos, "%s: '%s' is not an integer operator (+ - * / %%)", what, spak_op_text(e->op));
        check_expr(d, e->lhs, nc, what);
        check_expr(d, e->rhs, nc, what);
        return;
    case SPAK_EX_CALL: {
        bool known = false;
        for (size_t i = 0; i < SPAK_ARRAY_LEN(funcs); i++)
            known |= strcmp(e->text, funcs[i]) == 0;
        char dym[160];
        if (!known)
            KERR(d, e->pos, "%s: unknown function '%s' (min, max, ceil_div)%s", what, e->text,
                 spak_suggest_text(spak_suggest_list(e->text, funcs, SPAK_ARRAY_LEN(funcs)), dym, sizeof dym));
        else if (e->n_items != 2)
            KERR(d, e->pos, "%s: %s takes 2 arguments, not %zu", what, e->text, e->n_items);
        for (size_t i = 0; i < e->n_items; i++)
            check_expr(d, e->items[i], nc, what);
        return;
    }
    default:
        KERR(d, e->pos, "%s: expected an integer expression of the sizes and parameters", what);
    }
}

static bool mul_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

bool spak_kernel_eval(const spak_expr *e, spak_kernel_lookup look, void *ud, int64_t *out, char *why, size_t n)
{
    int64_t a = 0, b = 0;
    switch (e->kind) {
    case SPAK_EX_NUMBER:
        if (!e->is_int || e->num > 9.2e18 || e->num < -9.2e18)
            return spak_snprintf(why, n, "'%s' is not a whole number", e->text), false;
        *out = (int64_t)e->num;
        return true;
    case SPAK_EX_NAME:
        if (!look(ud, e->text, out))
            return spak_snprintf(why, n, "'%s' has no whole-number value here", e->text), false;
        return true;
    case SPAK_EX_PAREN:
        return spak_kernel_eval(e->lhs, look, ud, out, why, n);
    case SPAK_EX_UNARY:
        if (e->op != SPAK_OP_NEG || !spak_kernel_eval(e->lhs, look, ud, &a, why, n))
            return why[0] ? false : (spak_snprintf(why, n, "not an integer operator"), false);
        *out = -a;
        return true;
    case SPAK_EX_CALL:
        if (e->n_items != 2 || !spak_kernel_eval(e->items[0], look, ud, &a, why, n) ||
            !spak_kernel_eval(e->items[1], look, ud, &b, why, n))
            return why[0] ? false : (spak_snprintf(why, n, "%s takes 2 arguments", e->text), false);
        if (strcmp(e->text, "min") == 0)
            *out = a < b ? a : b;
        else if (strcmp(e->text, "max") == 0)
            *out = a > b ? a : b;
        else if (strcmp(e->text, "ceil_div") == 0 && b > 0)
            *out = a >= 0 ? a / b + (a % b != 0) : a / b;
        else
            return spak_snprintf(why, n, "%s(%lld, %lld) has no value", e->text, (long long)a, (long long)b), false;
        return true;
    case SPAK_EX_BINARY:
        if (!spak_kernel_eval(e->lhs, look, ud, &a, why, n) || !spak_kernel_eval(e->rhs, look, ud, &b, why, n))
            return false;
        switch (e->op) {
        case SPAK_OP_ADD:
            if (__builtin_add_overflow(a, b, out))
                break;
            return true;
        case SPAK_OP_SUB:
            if (__builtin_sub_overflow(a, b, out))
                break;
            return true;
        case SPAK_OP_MUL:
            if (!mul_ok(a, b, out))
                break;
            return true;
        case SPAK_OP_DIV:
        case SPAK_OP_MOD:
            if (b == 0)
                return spak_snprintf(why, n, "division by zero (%lld %s 0)", (long long)a, spak_op_text(e->op)), false;
            *out = e->op == SPAK_OP_DIV ? a / b : a % b;
            return true;
        default:
            return spak_snprintf(why, n, "'%s' is not an integer operator", spak_op_text(e->op)), false;
        }
        return spak_snprintf(why, n, "overflow in %lld %s %lld", (long long)a, spak_op_text(e->op), (long long)b),
               false;
    default:
        return spak_snprintf(why, n, "not an integer expression"), false;
    }
}

/* ---- the block ---- */

static void arg_field(spak_diags *d, spak_kernel_arg *g, const spak_entry *f, const name_ctx *nc, bool *has_acc,
                      bool *has_type)
{
    const char *h = spak_entry_head(f);
    char what[160], where[140];
    spak_snprintf(where, sizeof where, "kernel %s: arg %s", nc->k->name, g->name);
    spak_snprintf(what, sizeof what, "%s: %s", where, h);
    if (!is_field(f) || !f->value) {
        unknown(d, f, where, arg_keys, SPAK_ARRAY_LEN(arg_keys));
    } else if (strcmp(h, "type") == 0) {
        *has_type = true;
        g->type = one_of(d, f, what, types, SPAK_ARRAY_LEN(types));
    } else if (strcmp(h, "count") == 0) {
        g->count = f->value;
        check_expr(d, f->value, nc, what);
    } else if (strcmp(h, "value") == 0) {
        g->value = f->value;  /* checked in arg_def, once the type is known */
        g->scalar = true;
    } else if (strcmp(h, "fill") == 0) {
        g->fill = one_of(d, f, what, fills, SPAK_ARRAY_LEN(fills));
    } else if (strcmp(h, "fill_args") == 0) {
        const spak_expr *v = f->value;
        bool ok = v->kind == SPAK_EX_LIST && v->n_items <= 2;
        for (size_t i = 0; ok && i < v->n_items; i++)
            ok = number_of(v->items[i], &g->fill_args[i]);
        if (!ok)
            KERR(d, v->pos, "%s: expected a list of at most 2 numbers", what);
        else
            g->n_fill_args = (int)v->n_items;
    } else if (strcmp(h, "access") == 0) {
        g->access = one_of(d, f, what, accesses, SPAK_ARRAY_LEN(accesses));
        *has_acc = true;
    } else if (strcmp(h, "output") == 0) {
        if (f->value->kind != SPAK_EX_BOOL)
            KERR(d, f->value->pos, "%s: expected true or false", what);
        else
            g->output = f->value->boolean;
    } else if (strcmp(h, "tolerance") == 0) {
        if (!number_of(f->value, &g->tolerance) || !(g->tolerance >= 0) || g->tolerance > 1)
            KERR(d, f->value->pos, "%s: expected a number in [0, 1] (relative error)", what);
    } else if (strcmp(h, "memory") == 0) {
        const char *m = one_of(d, f, what, memories, SPAK_ARRAY_LEN(memories));
        g->constant = m && strcmp(m, "constant") == 0;
    } else {
        unknown(d, f, where, arg_keys, SPAK_ARRAY_LEN(arg_keys));
    }
}

/* A scalar's value: an integer expression of the sizes and parameters, or,
 * for a CUDA kernel's float type, a number (eps: 1e-5), which the decl
 * carries as is (the CPU judge passes whole numbers only: its runner
 * protocol carries a scalar as an integer). */
static void scalar_value(spak_diags *d, spak_kernel_arg *g, const name_ctx *nc, const spak_kernel_def *k)
{
    char what[160];
    spak_snprintf(what, sizeof what, "kernel %s: arg %s: value", k->name, g->name);
    bool real = g->type && (g->type[0] == 'f' || g->type[0] == 'b');
    bool cuda = k->language && strcmp(k->language, "cuda") == 0;
    double v;
    if (real && number_of(g->value, &v)) {
        if (cuda) {
            g->real_value = true;
            g->fvalue = v;
            return;
        }
        if (v != (double)(int64_t)v) {
            KERR(d, g->value->pos, "%s: '%g' is not a whole number (a float scalar's number is for CUDA kernels; "
                 "the CPU judge passes whole numbers)", what, v);
            return;
        }
    }
    check_expr(d, g->value, nc, what);
}

static void arg_def(spak_diags *d, const spak_entry *e, spak_kernel_def *k, const name_ctx *nc)
{
    if (e->n_words != 2 || e->words[1].is_string || !e->body) {
        KERR(d, e->pos, "kernel %s: expected 'arg NAME { type: \"f32\", count: ..., access: \"read\" }'", k->name);
        return;
    }
    for (size_t i = 0; i < k->n_args; i++)
        if (strcmp(k->args[i].name, e->words[1].text) == 0) {
            KERR(d, e->words[1].pos, "kernel %s: duplicate arg '%s'", k->name, e->words[1].text);
            return;
        }
    if (k->n_args == SPAK_KERNEL_MAX_ARGS) {
        KERR(d, e->pos, "kernel %s: more than %d args", k->name, SPAK_KERNEL_MAX_ARGS);
        return;
    }
    spak_kernel_arg *g = &k->args[k->n_args++];
    g->name = e->words[1].text;
    g->pos = e->pos;
    g->tolerance = -1;
    bool has_acc = false, has_type = false;
    for (size_t i = 0; i < e->body->n; i++)
        arg_field(d, g, e->body->items[i], nc, &has_acc, &has_type);
    if (!has_type)
        KERR(d, e->pos, "kernel %s: arg %s needs a type (f16, bf16, f32, f64, i8, i32, i64, u8 or u32)", k->name,
             g->name);
    if (g->scalar && (g->count || g->fill || has_acc || g->output || g->constant))
        KERR(d, e->pos, "kernel %s: arg %s: a scalar (value:) takes no count, fill, access, output or memory",
             k->name, g->name);
    if (g->scalar) {
        scalar_value(d, g, nc, k);
        return;
    }
    if (!g->count)
        KERR(d, e->pos, "kernel %s: arg %s needs a count (elements) or a value (a scalar)", k->name, g->name);
    if (!g->access)
        g->access = "read";
    if (!g->fill)
        g->fill = strcmp(g->access, "write") == 0 ? "zero" : "normal";
    if (g->constant && (strcmp(g->access, "read") != 0 || g->output))
        KERR(d, e->pos, "kernel %s: arg %s: memory \"constant\" is read by the kernel only: access \"read\", no "
             "output", k->name, g->name);
    if (g->output && strcmp(g->access, "read") == 0)
        KERR(d, e->pos, "kernel %s: arg %s: an output is written: access \"write\" or \"readwrite\"", k->name,
             g->name);
    if (g->output && g->tolerance < 0)
        KERR(d, e->pos, "kernel %s: arg %s: an output needs a tolerance (relative error, e.g. 1e-5)", k->name,
             g->name);
    if (!g->output && g->tolerance >= 0)
        KWARN(d, e->pos, "kernel %s: arg %s: a tolerance without output: true is not used", k->name, g->name);
}

static void dims3(spak_diags *d, const spak_entry *f, const spak_expr **out, const name_ctx *nc, const char *what);

/* reference { source, entry } or { library }; a CUDA reference may have a
 * launch of its own (grid, block, shared_bytes: the judge's
 * reference_grid, reference_block, reference_shared_bytes). */
static void reference_def(spak_diags *d, const spak_entry *e, spak_kernel_def *k, const name_ctx *nc)
{
    static const char *const keys[] = {"source", "entry", "library", "grid", "block", "shared_bytes"};
    k->ref_pos = e->pos;
    if (!e->body) {
        KERR(d, e->pos, "kernel %s: expected 'reference { source: \"ref.c\", entry: \"name\" }'", k->name);
        return;
    }
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *f = e->body->items[i];
        const char *h = spak_entry_head(f);
        char what[160];
        spak_snprintf(what, sizeof what, "kernel %s: reference %s", k->name, h);
        bool launch = !strcmp(h, "grid") || !strcmp(h, "block") || !strcmp(h, "shared_bytes");
        if (!is_field(f) || !f->value)
            unknown(d, f, "kernel reference", keys, SPAK_ARRAY_LEN(keys));
        else if (launch && k->language && strcmp(k->language, "cuda") != 0)
            KERR(d, f->pos, "kernel %s: reference '%s' is for CUDA kernels only (language is \"%s\")", k->name, h,
                 k->language);
        else if (strcmp(h, "grid") == 0)
            dims3(d, f, k->ref_grid, nc, what);
        else if (strcmp(h, "block") == 0)
            dims3(d, f, k->ref_block, nc, what);
        else if (strcmp(h, "shared_bytes") == 0)
            check_expr(d, k->ref_shared_bytes = f->value, nc, what);
        else if (strcmp(h, "source") == 0)
            k->ref_source = string_of(d, f, "kernel reference: source");
        else if (strcmp(h, "entry") == 0)
            k->ref_entry = string_of(d, f, "kernel reference: entry");
        else if (strcmp(h, "library") == 0)
            k->ref_library = string_of(d, f, "kernel reference: library");
        else
            unknown(d, f, "kernel reference", keys, SPAK_ARRAY_LEN(keys));
    }
    if (k->ref_library)
        KERR(d, e->pos, "kernel %s: reference library '%s': no library routine is known to the %s judge yet "
             "(give a reference source and entry)", k->name, k->ref_library,
             k->language && !strcmp(k->language, "cuda") ? "CUDA" : "CPU");
    else if (!k->ref_source)
        KERR(d, e->pos, "kernel %s: reference needs a source (and an entry)", k->name);
}

static void string_list(spak_diags *d, const spak_entry *f, const char *what, const char **out, size_t cap,
                        size_t *n)
{
    const spak_expr *v = f->value;
    if (!v || v->kind != SPAK_EX_LIST) {
        KERR(d, v ? v->pos : f->pos, "%s: expected a list of strings", what);
        return;
    }
    for (size_t i = 0; i < v->n_items; i++) {
        const spak_expr *x = v->items[i];
        if (x->kind != SPAK_EX_STRING && x->kind != SPAK_EX_NAME)
            KERR(d, x->pos, "%s: expected a string", what);
        else if (*n == cap)
            KERR(d, x->pos, "%s: more than %zu", what, cap);
        else
            out[(*n)++] = x->text;
    }
}

static void dims3(spak_diags *d, const spak_entry *f, const spak_expr **out, const name_ctx *nc, const char *what)
{
    const spak_expr *v = f->value;
    if (!v || v->kind != SPAK_EX_LIST || v->n_items != 3) {
        KERR(d, v ? v->pos : f->pos, "%s: expected [x, y, z], three integer expressions", what);
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        out[i] = v->items[i];
        check_expr(d, v->items[i], nc, what);
    }
}

/* A range's bound: a whole number in [1, RANGE_CAP]. */
static bool range_number(const spak_expr *v, int64_t *out)
{
    double x;
    if (!number_of(v, &x) || x != floor(x) || x < 1 || x > (double)RANGE_CAP)
        return false;
    *out = (int64_t)x;
    return true;
}

/* `range NAME { min: 1, max: 4096, step: 4 }`: the sizes a held-out shape
 * drawn at run time may give size NAME (min, min + step, ... up to max); a
 * step is the divisibility the kernel states as its precondition. */
static void range_def(spak_diags *d, const spak_entry *e, spak_kernel_def *k)
{
    if (e->n_words != 2 || e->words[1].is_string || !e->body) {
        KERR(d, e->pos, "kernel %s: expected 'range SIZE { min: 1, max: 4096, step: 1 }'", k->name);
        return;
    }
    const char *nm = e->words[1].text;
    size_t i = 0;
    while (i < k->n_sizes && strcmp(k->sizes[i], nm) != 0)
        i++;
    if (i == k->n_sizes) {
        char dym[160], list[400];
        spak_join_names(k->sizes, k->n_sizes, list, sizeof list);
        KERR(d, e->words[1].pos, "kernel %s: range %s: '%s' is not one of its sizes (%s)%s", k->name, nm, nm, list,
             spak_suggest_text(spak_suggest_list(nm, k->sizes, k->n_sizes), dym, sizeof dym));
        return;
    }
    spak_kernel_range *r = &k->ranges[i];
    if (r->set) {
        KERR(d, e->words[1].pos, "kernel %s: size '%s' has a range already", k->name, nm);
        return;
    }
    *r = (spak_kernel_range){.set = true, .min = 1, .max = 0, .step = 1, .pos = e->pos};
    char where[120];
    spak_snprintf(where, sizeof where, "kernel %s: range %s", k->name, nm);
    bool bad = false;
    for (size_t j = 0; j < e->body->n; j++) {
        const spak_entry *f = e->body->items[j];
        const char *h = spak_entry_head(f);
        int64_t *slot = !strcmp(h, "min") ? &r->min : !strcmp(h, "max") ? &r->max : !strcmp(h, "step") ? &r->step
                                                                                                           : NULL;
        if (!is_field(f) || !f->value || !slot) {
            unknown(d, f, where, range_keys, SPAK_ARRAY_LEN(range_keys));
            bad = true;
        } else if (!range_number(f->value, slot)) {
            KERR(d, f->value->pos, "%s: %s: expected a whole number in [1, 2^31]", where, h);
            bad = true;
        }
    }
    if (!bad && r->max && r->max < r->min) {
        KERR(d, e->pos, "%s: max %lld is below min %lld", where, (long long)r->max, (long long)r->min);
        bad = true;
    }
    if (bad) /* said once here: the listed shapes are not held to a broken range */
        r->min = 1, r->max = 0, r->step = 1;
}

void spak_kernel_range_of(const spak_kernel_def *k, size_t i, int64_t listed_max, int64_t *min, int64_t *max,
                          int64_t *step)
{
    const spak_kernel_range *r = &k->ranges[i];
    *min = r->set ? r->min : 1;
    *step = r->set ? r->step : 1;
    *max = r->set && r->max ? r->max : listed_max;
}

/* pass 1: the keys that do not name a size (sizes must be known first) */
static void kernel_field(spak_diags *d, const spak_entry *f, spak_kernel_def *k)
{
    const char *h = spak_entry_head(f);
    if (strcmp(h, "language") == 0)
        k->language = one_of(d, f, "kernel language", languages, SPAK_ARRAY_LEN(languages));
    else if (strcmp(h, "compiler") == 0)
        k->compiler = string_of(d, f, "kernel compiler");
    else if (strcmp(h, "entry") == 0)
        k->entry = string_of(d, f, "kernel entry");
    else if (strcmp(h, "extern_c") == 0) {
        if (f->value && f->value->kind == SPAK_EX_BOOL)
            k->extern_c = f->value->boolean;
        else
            KERR(d, f->value ? f->value->pos : f->pos, "kernel extern_c: expected true or false");
    } else if (strcmp(h, "arch") == 0) {
        k->arch = string_of(d, f, "kernel arch");
        if (k->arch && !spak_kernel_arch_ok(k->arch)) {
            KERR(d, f->value->pos, "kernel arch: '%s' is not a GPU architecture like \"sm_90a\" or \"sm_80\"",
                 k->arch);
            k->arch = NULL;
        }
    }
    else if (strcmp(h, "params_as") == 0)
        k->params_as = one_of(d, f, "kernel params_as", params_as_kinds, SPAK_ARRAY_LEN(params_as_kinds));
    else if (strcmp(h, "flags") == 0) {
        string_list(d, f, "kernel flags", k->flags, SPAK_KERNEL_MAX_FLAGS, &k->n_flags);
        k->has_flags = true;
    } else if (strcmp(h, "sizes") == 0)
        string_list(d, f, "kernel sizes", k->sizes, SPAK_KERNEL_MAX_SIZES, &k->n_sizes);
}

/* pass 2: the keys with expressions, args and the reference */
static void kernel_expr_field(spak_diags *d, const spak_entry *f, spak_kernel_def *k, const name_ctx *nc)
{
    const char *h = spak_entry_head(f);
    char what[160], where[80];
    spak_snprintf(what, sizeof what, "kernel %s: %s", k->name, h);
    spak_snprintf(where, sizeof where, "kernel %s", k->name);
    bool cuda_only = !strcmp(h, "grid") || !strcmp(h, "block") || !strcmp(h, "shared_bytes");
    if (cuda_only && k->language && strcmp(k->language, "cuda") != 0) {
        KERR(d, f->pos, "kernel %s: '%s' is for CUDA kernels only (language is \"%s\")", k->name, h, k->language);
        return;
    }
    if (strcmp(h, "arg") == 0)
        arg_def(d, f, k, nc);
    else if (strcmp(h, "range") == 0)
        range_def(d, f, k);
    else if (strcmp(h, "reference") == 0 && f->n_words == 1)
        reference_def(d, f, k, nc);
    else if (!is_field(f) || !f->value)
        unknown(d, f, where, kernel_keys, SPAK_ARRAY_LEN(kernel_keys));
    else if (strcmp(h, "grid") == 0)
        dims3(d, f, k->grid, nc, what);
    else if (strcmp(h, "block") == 0)
        dims3(d, f, k->block, nc, what);
    else if (strcmp(h, "shared_bytes") == 0)
        check_expr(d, k->shared_bytes = f->value, nc, what);
    else if (strcmp(h, "flops") == 0)
        check_expr(d, k->flops = f->value, nc, what);
    else if (strcmp(h, "bytes") == 0)
        check_expr(d, k->bytes = f->value, nc, what);
    else {
        bool known = false;
        for (size_t i = 0; i < SPAK_ARRAY_LEN(kernel_keys); i++)
            known |= strcmp(h, kernel_keys[i]) == 0;
        if (!known)
            unknown(d, f, where, kernel_keys, SPAK_ARRAY_LEN(kernel_keys));
    }
}

bool spak_kernel_arch_ok(const char *s)
{
    if (!s || strncmp(s, "sm_", 3) != 0 || !(s[3] >= '0' && s[3] <= '9'))
        return false;
    size_t i = 3 + strspn(s + 3, "0123456789");
    return i <= 6 && (s[i] == '\0' || (s[i] >= 'a' && s[i] <= 'z' && s[i + 1] == '\0'));
}

/* The nvcc options spak sets itself for a CUDA kernel's build (a cubin for
 * one architecture, its output path): a flag that would change them is the
 * spec's mistake, said at the flag. */
static const char *cuda_owned_flag(const char *f)
{
    static const char *const owned[] = {"-arch", "--gpu-architecture", "-gencode", "--generate-code", "-code",
                                        "--gpu-code", "-cubin", "--cubin", "-ptx", "--ptx", "-fatbin", "--fatbin",
                                        "-o", "--output-file", "-c", "--compile", "-shared", "--shared", "-lib",
                                        "-E", "-M"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(owned); i++) {
        size_t n = strlen(owned[i]);
        if (strncmp(f, owned[i], n) == 0 && (f[n] == '\0' || f[n] == '=' || (n == 2 && f[1] == 'o')))
            return owned[i];
    }
    return NULL;
}

/* What a CUDA kernel needs beyond a C one: grid and block, flags that leave
 * the cubin to spak, parameters as defines or through a wrapper (the judge
 * launches a plain extern "C" kernel by name). */
static void cuda_whole(spak_diags *d, const spak_entry *e, const spak_kernel_def *k)
{
    if (!k->grid[0] || !k->block[0])
        KERR(d, e->pos, "kernel %s: a CUDA kernel needs grid and block", k->name);
    if (strcmp(k->params_as, "template") == 0)
        KERR(d, spak_block_find(e->body, "params_as")->pos,
             "kernel %s: params_as \"template\": template kernels (NVRTC name expressions) are not supported by "
             "spak-judge-cuda yet; give the parameters as defines (params_as \"defines\") or an extern \"C\" "
             "wrapper kernel (params_as \"wrapper\")", k->name);
    const spak_entry *fl = spak_block_find(e->body, "flags");
    for (size_t i = 0; fl && fl->value && fl->value->kind == SPAK_EX_LIST && i < fl->value->n_items; i++) {
        const spak_expr *x = fl->value->items[i];
        const char *o = x->kind == SPAK_EX_STRING ? cuda_owned_flag(x->text) : NULL;
        if (o)
            KERR(d, x->pos, "kernel %s: flag '%s': spak builds a CUDA kernel as a cubin itself (nvcc -cubin "
                 "-arch=...); give the architecture as arch: \"sm_90a\" and leave %s out", k->name, x->text, o);
    }
    if (k->entry && strchr(k->entry, '<') && strcmp(k->params_as, "template") != 0)
        KERR(d, spak_block_find(e->body, "entry")->pos, "kernel %s: entry '%s' is a template instance; the judge "
             "launches an extern \"C\" __global__ kernel by name (write a wrapper: params_as \"wrapper\")", k->name,
             k->entry);
}

static void kernel_whole(spak_diags *d, const spak_entry *e, spak_kernel_def *k, const char *target)
{
    if (!k->language && !spak_block_find(e->body, "language"))
        KERR(d, e->pos, "kernel %s needs a language (\"c\", \"c++\" or \"cuda\")", k->name);
    if (!k->entry && !spak_block_find(e->body, "entry"))
        KERR(d, e->pos, "kernel %s needs an entry (the function the candidate exports)", k->name);
    if (!k->n_sizes)
        KERR(d, e->pos, "kernel %s needs sizes: [\"n\", ...] (the names its shapes give)", k->name);
    if (!k->n_args)
        KERR(d, e->pos, "kernel %s needs at least one arg", k->name);
    size_t nout = 0;
    for (size_t i = 0; i < k->n_args; i++)
        nout += k->args[i].output;
    if (k->n_args && !nout)
        KERR(d, e->pos, "kernel %s has no output (an arg with output: true and a tolerance)", k->name);
    if (!k->params_as)
        k->params_as = "defines";
    if (k->language && strcmp(k->language, "cuda") != 0 && strcmp(k->params_as, "defines") != 0)
        KERR(d, e->pos, "kernel %s: params_as \"%s\" is for CUDA kernels; a C kernel takes \"defines\"", k->name,
             k->params_as);
    for (size_t i = 0; i < k->n_args; i++)
        if (k->args[i].constant && k->language && strcmp(k->language, "cuda") != 0)
            KERR(d, k->args[i].pos, "kernel %s: arg %s: memory \"constant\" (a __constant__ symbol) is for CUDA "
                 "kernels only (language is \"%s\")", k->name, k->args[i].name, k->language);
    if (k->language && strcmp(k->language, "cuda") == 0)
        cuda_whole(d, e, k);
    else if (k->arch || k->extern_c)
        KERR(d, spak_block_find(e->body, k->arch ? "arch" : "extern_c")->pos, "kernel %s: '%s' is for CUDA kernels "
             "only (language is \"%s\")", k->name, k->arch ? "arch" : "extern_c", k->language);
    if (target && k->language && (strcmp(target, "cuda") == 0) != (strcmp(k->language, "cuda") == 0))
        KERR(d, e->pos, "kernel %s: language \"%s\" does not run on target \"%s\"", k->name, k->language, target);
    if (!k->ref_source && !k->ref_library)
        KWARN(d, e->pos, "kernel %s has no reference: it runs only as untrusted (\"trusted\": false on every "
              "record); give reference { source: \"ref.c\", entry: \"name\" }", k->name);
    if (k->ref_source && !k->ref_entry)
        k->ref_entry = k->entry;
}

bool spak_kernel_check(const spak_entry *e, const spak_kernel_names *names, const char *target, spak_arena *a,
                       spak_diags *d, spak_kernel_def *k)
{
    (void)a;
    memset(k, 0, sizeof *k);
    k->pos = e->pos;
    if (e->n_words != 2 || e->words[1].is_string || !e->body) {
        KERR(d, e->pos, "expected 'kernel NAME { language: \"c\", entry: \"f\", sizes: [...], arg x { ... } }'");
        k->name = "?";
        return true;
    }
    k->name = e->words[1].text;
    name_ctx nc = {k, names};
    for (size_t i = 0; i < e->body->n; i++)
        kernel_field(d, e->body->items[i], k);
    for (size_t i = 0; i < k->n_sizes; i++)
        for (size_t j = 0; j < names->n_params; j++)
            if (strcmp(k->sizes[i], names->params[j]) == 0)
                KERR(d, e->pos, "kernel %s: size '%s' is also a parameter's name", k->name, k->sizes[i]);
    for (size_t i = 0; i < e->body->n; i++) {
        const spak_entry *f = e->body->items[i];
        const char *h = spak_entry_head(f);
        if (strcmp(h, "language") && strcmp(h, "compiler") && strcmp(h, "entry") && strcmp(h, "params_as") &&
            strcmp(h, "flags") && strcmp(h, "sizes") && strcmp(h, "arch") && strcmp(h, "extern_c"))
            kernel_expr_field(d, f, k, &nc);
        else if (!is_field(f) || !f->value) {
            char where[80];
            spak_snprintf(where, sizeof where, "kernel %s", k->name);
            unknown(d, f, where, kernel_keys, SPAK_ARRAY_LEN(kernel_keys));
        }
    }
    kernel_whole(d, e, k, target);
    return true;
}

/* ---- shapes ---- */

bool spak_kernel_shape(const spak_kernel_def *k, const char *s, int64_t values[SPAK_KERNEL_MAX_SIZES], char *why,
                       size_t n)
{
    bool seen[SPAK_KERNEL_MAX_SIZES] = {false};
    const char *p = s;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end)
            return spak_snprintf(why, n, "'%.*s' is not name=value", (int)(end - p), p), false;
        size_t i = 0;
        for (; i < k->n_sizes; i++)
            if (strlen(k->sizes[i]) == (size_t)(eq - p) && strncmp(k->sizes[i], p, (size_t)(eq - p)) == 0)
                break;
        if (i == k->n_sizes) {
            char nm[64], dym[160];
            spak_snprintf(nm, sizeof nm, "%.*s", (int)(eq - p) < 63 ? (int)(eq - p) : 63, p);
            return spak_snprintf(why, n, "'%s' is not a size of kernel %s%s", nm, k->name,
                                 spak_suggest_text(spak_suggest_list(nm, k->sizes, k->n_sizes), dym, sizeof dym)),
                   false;
        }
        if (seen[i])
            return spak_snprintf(why, n, "size '%s' given twice", k->sizes[i]), false;
        seen[i] = true;
        char num[32], *ep;
        size_t l = (size_t)(end - eq - 1);
        if (l == 0 || l >= sizeof num)
            return spak_snprintf(why, n, "size '%s' has no value", k->sizes[i]), false;
        memcpy(num, eq + 1, l);
        num[l] = 0;
        errno = 0;
        long long v = strtoll(num, &ep, 10);
        if (*ep || errno || v < 1)
            return spak_snprintf(why, n, "size '%s': '%s' is not a positive whole number", k->sizes[i], num), false;
        values[i] = v;
        p = *end ? end + 1 : end;
    }
    for (size_t i = 0; i < k->n_sizes; i++)
        if (!seen[i])
            return spak_snprintf(why, n, "size '%s' is missing", k->sizes[i]), false;
    return true;
}

void spak_kernel_check_shapes(const spak_kernel_def *k, const spak_block *problem, spak_diags *d)
{
    const char *lists[] = {"shapes", "heldout"};
    if (!spak_block_find(problem, "shapes") && k->n_sizes)
        KERR(d, k->pos, "kernel %s: the problem needs shapes: [\"%s=...\"] (its judge times those)", k->name,
             k->sizes[0]);
    for (size_t l = 0; l < 2; l++) {
        const spak_entry *x = spak_block_find(problem, lists[l]);
        if (!x || !x->value)
            continue;
        if (x->value->kind != SPAK_EX_LIST) {
            KERR(d, x->value->pos, "problem %s: expected a list of \"name=value,...\" strings", lists[l]);
            continue;
        }
        for (size_t i = 0; i < x->value->n_items; i++) {
            const spak_expr *s = x->value->items[i];
            int64_t v[SPAK_KERNEL_MAX_SIZES];
            char why[300];
            if (s->kind != SPAK_EX_STRING)
                KERR(d, s->pos, "problem %s: expected a string \"name=value,...\"", lists[l]);
            else if (!spak_kernel_shape(k, s->text, v, why, sizeof why))
                KERR(d, s->pos, "problem %s: \"%s\": %s", lists[l], s->text, why);
            else
                for (size_t j = 0; j < k->n_sizes; j++) {
                    const spak_kernel_range *r = &k->ranges[j];
                    if (!r->set || (v[j] >= r->min && (!r->max || v[j] <= r->max) && (v[j] - r->min) % r->step == 0))
                        continue;
                    char hi[32] = "";
                    if (r->max)
                        spak_snprintf(hi, sizeof hi, "%lld", (long long)r->max);
                    KERR(d, s->pos, "problem %s: \"%s\": %s %lld is outside kernel %s's range %s (%lld..%s step "
                         "%lld, at %d:%d)", lists[l], s->text, k->sizes[j], (long long)v[j], k->name, k->sizes[j],
                         (long long)r->min, hi, (long long)r->step, r->pos.line, r->pos.col);
                    break;
                }
        }
    }
}

/* ---- which parameters an expression names ---- */

static bool expr_names(const spak_expr *e, const char *name)
{
    if (!e)
        return false;
    switch (e->kind) {
    case SPAK_EX_NAME:
        return strcmp(e->text, name) == 0;
    case SPAK_EX_PAREN:
    case SPAK_EX_UNARY:
        return expr_names(e->lhs, name);
    case SPAK_EX_BINARY:
        return expr_names(e->lhs, name) || expr_names(e->rhs, name);
    case SPAK_EX_CALL:
        for (size_t i = 0; i < e->n_items; i++)
            if (expr_names(e->items[i], name))
                return true;
        return false;
    default:
        return false;
    }
}

bool spak_kernel_names_param(const spak_kernel_def *k, const char *name)
{
    if (!k || !name)
        return false;
    for (size_t i = 0; i < k->n_args; i++)
        if (expr_names(k->args[i].count, name) || (!k->args[i].real_value && expr_names(k->args[i].value, name)))
            return true;
    for (int j = 0; j < 3; j++)
        if (expr_names(k->grid[j], name) || expr_names(k->block[j], name) || expr_names(k->ref_grid[j], name) ||
            expr_names(k->ref_block[j], name))
            return true;
    return expr_names(k->shared_bytes, name) || expr_names(k->ref_shared_bytes, name) || expr_names(k->flops, name) ||
           expr_names(k->bytes, name);
}
