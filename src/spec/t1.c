/*
 * t1.c - the T1 reader (t1.h): the JSON read with jansson, every field
 * checked against what spak can honour, Python expressions parsed and
 * evaluated by pyexpr.c. Positions: jansson gives none for values, so a
 * field's line:col is found by searching the text for its JSON spelling
 * after the spelling of the object's name (good enough to point at the
 * right line of a hand-written file; said so in docs/t1.md).
 */
#include "spec/t1.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct t1_param {
    const char *name;
    spak_py_val values;          /* a LIST */
    size_t at;                   /* offset of its Values in the text */
} t1_param;

typedef struct t1_expr {
    const char *text;
    spak_pnode *node;            /* NULL: an integer literal (num) */
    int64_t num;
    size_t at;                   /* offset of the JSON string's opening quote, or of the number */
} t1_expr;

typedef struct t1_arg {
    const char *name, *type;     /* spak element type */
    bool scalar, output, cmem;
    t1_expr size;                /* vectors */
    const char *fill, *access;
    double fill_value;
    bool has_fill_value;
    const char *scalar_value;    /* scalars: the FillValue as spelled */
} t1_arg;

struct spak_t1 {
    spak_arena a;
    const char *path, *text;
    size_t len;
    spak_diags *msgs;
    bool failed;
    const char *name, *kernel, *source;
    const char **flags;
    size_t n_flags;
    int64_t problem[3];
    int n_problem;
    t1_expr *div[3];             /* NULL: no GridDiv for that dimension */
    size_t n_div[3];
    int64_t shared;
    t1_param *params;
    size_t n_params;
    t1_expr *conds;
    size_t n_conds;
    t1_arg *args;
    size_t n_args;
};

bool spak_t1_has_param(const spak_t1 *t, const char *name)
{
    for (size_t i = 0; t && i < t->n_params; i++)
        if (strcmp(t->params[i].name, name) == 0)
            return true;
    return false;
}

bool spak_t1_is_path(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 5 && strcmp(path + n - 5, ".json") == 0;
}

/* ---- messages ---- */

static void pos_of(const spak_t1 *t, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < t->len; i++) {
        if (t->text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void msg(spak_t1 *t, bool error, size_t off, const char *fmt, ...) SPAK_PRINTF(4, 5);
static void msg(spak_t1 *t, bool error, size_t off, const char *fmt, ...)
{
    int line, col;
    pos_of(t, off, &line, &col);
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    spak_diags_add(t->msgs, error ? SPAK_DIAG_ERROR : SPAK_DIAG_WARNING, line, col, "%s", body);
    if (error)
        t->failed = true;
}

/* Offset of the JSON spelling of s (a string, quoted and escaped) in the
 * text at or after from; from when absent. */
static size_t find_str(const spak_t1 *t, size_t from, const char *s)
{
    json_t *j = json_string(s);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    size_t at = from;
    if (q && from < t->len) {
        const char *p = memmem(t->text + from, t->len - from, q, strlen(q));
        if (p)
            at = (size_t)(p - t->text);
    }
    free(q);
    return at;
}

/* Offset of the key "k" (its quote) at or after from. */
static size_t find_key(const spak_t1 *t, size_t from, const char *k)
{
    return find_str(t, from, k);
}

static const char *adup(spak_t1 *t, const char *s)
{
    const char *d = spak_arena_strdup(&t->a, s ? s : "");
    if (!d)
        t->failed = true;
    return d ? d : "";
}

/* ---- Python expressions ---- */

/* Parse the expression of a JSON string at offset at (its opening quote);
 * errors point into the string (column of the quote + 1 + offset, exact
 * while the string has no escapes before it). */
static spak_pnode *parse_py(spak_t1 *t, const char *what, const char *text, size_t at)
{
    spak_pnode *n = NULL;
    size_t ep = 0;
    spak_err err = {0};
    if (spak_py_parse(text, strlen(text), &t->a, &n, &ep, &err) != SPAK_OK) {
        msg(t, true, at + 1 + ep, "%s: '%s': %s", what, text, err.msg);
        return NULL;
    }
    return n;
}

typedef struct scope {
    const spak_t1 *t;
    const spak_py_val *point;    /* the values of a point, or NULL: names are the parameters' value lists */
    bool problem;                /* ProblemSize is a name */
    spak_py_val ps;
} scope;

static bool lookup(void *ud, const char *name, spak_py_val *out)
{
    scope *s = ud;
    for (size_t i = 0; i < s->t->n_params; i++)
        if (strcmp(s->t->params[i].name, name) == 0) {
            *out = s->point ? s->point[i] : s->t->params[i].values;
            return true;
        }
    if (s->problem && strcmp(name, "ProblemSize") == 0) {
        *out = s->ps;
        return true;
    }
    return false;
}

static spak_status eval_py(spak_t1 *t, const char *what, const char *text, const spak_pnode *n, size_t at,
                           scope *sc, spak_py_val *out)
{
    size_t ep = 0;
    spak_err err = {0};
    spak_status st = spak_py_eval(n, sc ? lookup : NULL, sc, &t->a, out, &ep, &err);
    if (st != SPAK_OK)
        msg(t, true, at + 1 + ep, "%s: '%s': %s", what, text, err.msg);
    return st;
}

/* ---- reading ---- */

/* The translation's names of ProblemSize's dimensions (its `sizes`). */
static const char *const size_names[3] = {"problem_x", "problem_y", "problem_z"};

/* The Values of a parameter: a Python expression, a list (or one value,
 * taken as a list of one). */
static bool param_values(spak_t1 *t, const char *name, const char *type, const char *text, size_t at, bool set,
                         spak_py_val *out)
{
    char what[300];
    spak_snprintf(what, sizeof what, set ? "--set %s" : "TuningParameters '%s' Values", name);
    spak_pnode *n = parse_py(t, what, text, at);
    spak_py_val v;
    if (!n || eval_py(t, what, text, n, at, NULL, &v) != SPAK_OK)
        return false;
    if (v.kind != SPAK_PY_LIST) {
        spak_py_val *one = spak_arena_alloc(&t->a, sizeof *one);
        if (!one)
            return false;
        *one = v;
        memset(&v, 0, sizeof v);
        v.kind = SPAK_PY_LIST;
        v.items = one;
        v.n = 1;
    }
    if (!v.n) {
        msg(t, true, at, "%s: '%s' gives no values", what, text);
        return false;
    }
    bool want_str = strcmp(type, "string") == 0, want_bool = strcmp(type, "bool") == 0;
    for (size_t i = 0; i < v.n; i++) {
        spak_py_val *x = &v.items[i];
        bool ok = want_str ? x->kind == SPAK_PY_STR
                : want_bool ? x->kind == SPAK_PY_BOOL
                : x->kind == SPAK_PY_INT || x->kind == SPAK_PY_FLOAT || x->kind == SPAK_PY_BOOL;
        if (ok && strcmp(type, "int") == 0 && x->kind == SPAK_PY_FLOAT)
            ok = false;
        if (ok && strcmp(type, "uint") == 0 && (x->kind == SPAK_PY_FLOAT || x->i < 0))
            ok = false;
        if (!ok) {
            spak_buf b;
            spak_buf_init(&b, 256);
            spak_py_print(x, &b);
            msg(t, true, at, "%s: the value %s is not of Type '%s'", what, b.data ? b.data : "?", type);
            spak_buf_free(&b);
            return false;
        }
        if (x->kind == SPAK_PY_BOOL)
            x->kind = SPAK_PY_INT;  /* a define of 0 or 1, as Python's int(True) */
    }
    *out = v;
    return true;
}

static const spak_t1_set *find_set(const spak_t1_set *sets, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(sets[i].name, name) == 0)
            return &sets[i];
    return NULL;
}

/* Whether s has a comma outside brackets, parentheses and strings. */
static bool top_level_comma(const char *s)
{
    int depth = 0;
    char q = 0;
    for (; *s; s++) {
        if (q) {
            q = *s == '\\' && s[1] ? (s++, q) : *s == q ? 0 : q;
            continue;
        }
        if (*s == '\'' || *s == '"')
            q = *s;
        else if (*s == '[' || *s == '(' || *s == '{')
            depth++;
        else if (*s == ']' || *s == ')' || *s == '}')
            depth--;
        else if (*s == ',' && depth == 0)
            return true;
    }
    return false;
}

static void read_params(spak_t1 *t, json_t *cs, size_t cs_at, const spak_t1_set *sets, size_t n_sets)
{
    json_t *tp = json_object_get(cs, "TuningParameters");
    size_t at = find_key(t, cs_at, "TuningParameters");
    if (!json_is_array(tp) || !json_array_size(tp)) {
        msg(t, true, at, "ConfigurationSpace.TuningParameters: expected a non-empty list of parameters");
        return;
    }
    size_t n = json_array_size(tp);
    if (n > SPAK_T1_MAX_PARAMS) {
        msg(t, true, at, "ConfigurationSpace.TuningParameters: more than %d parameters", SPAK_T1_MAX_PARAMS);
        return;
    }
    t->params = spak_arena_alloc(&t->a, n * sizeof *t->params);
    if (!t->params)
        return;
    size_t cur = at;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(tp, i);
        const char *name = json_string_value(json_object_get(p, "Name"));
        const char *type = json_string_value(json_object_get(p, "Type"));
        const char *vals = json_string_value(json_object_get(p, "Values"));
        if (!name || !type || !vals) {
            msg(t, true, cur, "TuningParameters[%zu]: needs Name, Type and Values as strings", i);
            continue;
        }
        cur = find_str(t, cur, name);
        bool ident = isalpha((unsigned char)name[0]) || name[0] == '_';
        for (const char *c = name; *c; c++)
            ident = ident && (isalnum((unsigned char)*c) || *c == '_');
        if (!ident || strlen(name) > 200) {
            msg(t, true, cur, "TuningParameters '%s': a name must be a C identifier (it becomes a -D define)", name);
            continue;
        }
        for (size_t k = 0; k < t->n_params; k++)
            if (strcmp(t->params[k].name, name) == 0)
                msg(t, true, cur, "TuningParameters: '%s' appears twice", name);
        for (size_t k = 0; k < 3; k++)
            if (strcmp(name, size_names[k]) == 0)
                msg(t, true, cur, "TuningParameters '%s': the name of a problem size in the translation; rename it",
                    name);
        static const char *const types[] = {"int", "uint", "float", "bool", "string"};
        bool known = false;
        for (size_t k = 0; k < SPAK_ARRAY_LEN(types); k++)
            known = known || strcmp(type, types[k]) == 0;
        if (!known) {
            msg(t, true, find_str(t, cur, type), "TuningParameters '%s': Type '%s' is not one of int, uint, float, "
                "bool, string", name, type);
            continue;
        }
        const spak_t1_set *s = find_set(sets, n_sets, name);
        size_t vat = find_str(t, cur, vals);
        t1_param *pp = &t->params[t->n_params];
        pp->name = adup(t, name);
        pp->at = vat;
        char wrapped[4096];
        spak_t1_set ws;
        if (s && top_level_comma(s->values) && spak_snprintf(wrapped, sizeof wrapped, "[%s]", s->values)) {
            ws.name = s->name;  /* --set n=1,2,3: a list, as Python's tuple would be */
            ws.values = wrapped;
            s = &ws;
        }
        if (s ? param_values(t, name, type, s->values, vat, true, &pp->values)
              : param_values(t, name, type, vals, vat, false, &pp->values))
            t->n_params++;
    }
    for (size_t i = 0; i < n_sets; i++) {
        bool found = false;
        for (size_t k = 0; k < t->n_params; k++)
            found = found || strcmp(t->params[k].name, sets[i].name) == 0;
        if (!found && !t->failed)
            msg(t, true, at, "--set %s: no tuning parameter of that name in the file", sets[i].name);
    }
}

static void read_conditions(spak_t1 *t, json_t *cs, size_t cs_at)
{
    json_t *cl = json_object_get(cs, "Conditions");
    if (!cl)
        return;
    size_t at = find_key(t, cs_at, "Conditions");
    if (!json_is_array(cl)) {
        msg(t, true, at, "ConfigurationSpace.Conditions: expected a list");
        return;
    }
    size_t n = json_array_size(cl);
    t->conds = spak_arena_alloc(&t->a, (n ? n : 1) * sizeof *t->conds);
    if (!t->conds)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *e = json_string_value(json_object_get(json_array_get(cl, i), "Expression"));
        if (!e) {
            msg(t, true, at, "Conditions[%zu]: Expression must be a string (Kernel Tuner reads no other kind)", i);
            continue;
        }
        size_t eat = find_str(t, at, e);
        char what[64];
        spak_snprintf(what, sizeof what, "Conditions[%zu] Expression", i);
        spak_pnode *node = parse_py(t, what, e, eat);
        if (!node)
            continue;
        t->conds[t->n_conds++] = (t1_expr){adup(t, e), node, 0, eat};
    }
}

/* An integer or a Python expression string into *x. */
static bool read_expr(spak_t1 *t, const char *what, json_t *v, size_t from, t1_expr *x)
{
    memset(x, 0, sizeof *x);
    if (json_is_integer(v)) {
        x->num = json_integer_value(v);
        x->at = from;
        return true;
    }
    const char *s = json_string_value(v);
    if (!s) {
        msg(t, true, from, "%s: expected an integer or a Python expression string", what);
        return false;
    }
    x->at = find_str(t, from, s);
    x->text = adup(t, s);
    x->node = parse_py(t, what, s, x->at);
    return x->node != NULL;
}

static void read_problem(spak_t1 *t, json_t *ks, size_t ks_at)
{
    json_t *ps = json_object_get(ks, "ProblemSize");
    size_t at = find_key(t, ks_at, "ProblemSize");
    if (!ps) {
        msg(t, true, ks_at, "KernelSpecification: ProblemSize is required (spak follows Kernel Tuner, which "
            "computes the grid from ProblemSize and GridDivX/Y/Z, not from GlobalSize/LocalSize)");
        return;
    }
    if (json_is_integer(ps)) {
        t->problem[0] = json_integer_value(ps);
        t->n_problem = 1;
    } else if (json_is_array(ps) && json_array_size(ps) >= 1 && json_array_size(ps) <= 3) {
        for (size_t i = 0; i < json_array_size(ps); i++) {
            json_t *d = json_array_get(ps, i);
            if (!json_is_integer(d)) {
                msg(t, true, at, "ProblemSize[%zu]: only integers are supported (a problem size that depends on "
                    "the parameters is not)", i);
                return;
            }
            t->problem[i] = json_integer_value(d);
        }
        t->n_problem = (int)json_array_size(ps);
    } else {
        msg(t, true, at, "ProblemSize: expected an integer or a list of 1 to 3 integers");
        return;
    }
    for (int i = 0; i < t->n_problem; i++)
        if (t->problem[i] < 1 || t->problem[i] > ((int64_t)1 << 40))
            msg(t, true, at, "ProblemSize[%d]: %lld is not in [1, 2^40]", i, (long long)t->problem[i]);
    static const char *const keys[] = {"GridDivX", "GridDivY", "GridDivZ"};
    for (int i = 0; i < 3; i++) {
        json_t *g = json_object_get(ks, keys[i]);
        size_t gat = find_key(t, ks_at, keys[i]);
        if (!g || (json_is_array(g) && !json_array_size(g)))
            continue;  /* Kernel Tuner: no divisor list, the block_size_* parameter */
        if (!json_is_array(g)) {
            msg(t, true, gat, "%s: expected a list of parameter names, expressions or integers", keys[i]);
            continue;
        }
        size_t n = json_array_size(g);
        t->div[i] = spak_arena_alloc(&t->a, n * sizeof *t->div[i]);
        if (!t->div[i])
            return;
        for (size_t k = 0; k < n; k++) {
            char what[64];
            spak_snprintf(what, sizeof what, "%s[%zu]", keys[i], k);
            if (read_expr(t, what, json_array_get(g, k), gat, &t->div[i][t->n_div[i]]))
                t->n_div[i]++;
        }
    }
}

/* T1's element types and spak's. */
static const char *elem_type(const char *t1)
{
    static const char *const map[][2] = {{"float", "f32"}, {"double", "f64"}, {"half", "f16"}, {"int8", "i8"},
                                         {"uint8", "u8"},   {"int32", "i32"}, {"uint32", "u32"}, {"int64", "i64"}};
    for (size_t i = 0; t1 && i < SPAK_ARRAY_LEN(map); i++)
        if (strcmp(t1, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static void read_arg(spak_t1 *t, json_t *a, size_t i, size_t *cur)
{
    t1_arg *g = &t->args[t->n_args];
    memset(g, 0, sizeof *g);
    const char *name = json_string_value(json_object_get(a, "Name"));
    char gen[32];
    spak_snprintf(gen, sizeof gen, "arg%zu", i);
    if (name)
        *cur = find_str(t, *cur, name);
    g->name = adup(t, name ? name : gen);
    const char *type = json_string_value(json_object_get(a, "Type"));
    const char *mem = json_string_value(json_object_get(a, "MemoryType"));
    g->type = elem_type(type);
    if (!g->type) {
        msg(t, true, type ? find_str(t, *cur, type) : *cur, "Arguments '%s': Type '%s' is not supported (float, "
            "double, half, int8, uint8, int32, uint32 and int64 are)", g->name, type ? type : "(none)");
        return;
    }
    json_t *fv = json_object_get(a, "FillValue");
    g->has_fill_value = json_is_number(fv);
    g->fill_value = json_number_value(fv);
    if (mem && strcmp(mem, "Scalar") == 0) {
        g->scalar = true;
        if (!g->has_fill_value) {
            msg(t, true, *cur, "Arguments '%s': a Scalar needs its value in FillValue", g->name);
            return;
        }
        char v[64];
        if (json_is_integer(fv))
            spak_snprintf(v, sizeof v, "%lld", (long long)json_integer_value(fv));
        else
            spak_snprintf(v, sizeof v, "%.17g", g->fill_value);
        g->scalar_value = adup(t, v);
        t->n_args++;
        return;
    }
    if (!mem || strcmp(mem, "Vector") != 0) {
        msg(t, true, mem ? find_str(t, *cur, mem) : *cur, "Arguments '%s': MemoryType '%s' is not supported "
            "(Vector and Scalar are)", g->name, mem ? mem : "(none)");
        return;
    }
    char what[300];
    spak_snprintf(what, sizeof what, "Arguments '%s' Size", g->name);
    json_t *size = json_object_get(a, "Size");
    if (!size) {
        msg(t, true, *cur, "Arguments '%s': a Vector needs a Size", g->name);
        return;
    }
    if (!read_expr(t, what, size, *cur, &g->size))
        return;
    const char *fill = json_string_value(json_object_get(a, "FillType"));
    if (fill && strcmp(fill, "Constant") == 0) {
        g->fill = "constant";
        if (!g->has_fill_value) {
            msg(t, true, *cur, "Arguments '%s': FillType Constant needs a FillValue", g->name);
            return;
        }
    } else if (fill && strcmp(fill, "Random") == 0) {
        g->fill = "normal";  /* Kernel Tuner fills it with numpy.random.randn: mean 0, sd 1 */
    } else {
        msg(t, true, fill ? find_str(t, *cur, fill) : *cur, "Arguments '%s': FillType '%s' is not supported "
            "(Constant and Random are)", g->name, fill ? fill : "(none)");
        return;
    }
    const char *acc = json_string_value(json_object_get(a, "AccessType"));
    g->access = !acc ? "readwrite" : strcmp(acc, "ReadOnly") == 0 ? "read" : strcmp(acc, "WriteOnly") == 0 ? "write"
              : strcmp(acc, "ReadWrite") == 0 ? "readwrite" : NULL;
    if (!g->access) {
        msg(t, true, find_str(t, *cur, acc), "Arguments '%s': AccessType '%s' is not one of ReadOnly, WriteOnly, "
            "ReadWrite", g->name, acc);
        return;
    }
    json_t *out = json_object_get(a, "Output");
    g->output = json_is_true(out) || (json_is_integer(out) && json_integer_value(out) != 0);
    if (g->output && strcmp(g->access, "read") == 0) {
        msg(t, true, *cur, "Arguments '%s': an Output cannot be ReadOnly", g->name);
        return;
    }
    const char *mt = json_string_value(json_object_get(a, "MemType"));
    g->cmem = mt && strcmp(mt, "Constant") == 0;
    if (mt && !g->cmem) {
        msg(t, true, find_str(t, *cur, mt), "Arguments '%s': MemType '%s' is not supported (Constant is)", g->name,
            mt);
        return;
    }
    if (g->cmem && strcmp(g->access, "read") != 0) {
        /* the kernel reads a __constant__ symbol and cannot write it: an input */
        msg(t, true, find_str(t, *cur, mt), "Arguments '%s': a MemType Constant argument is read by the kernel "
            "only: AccessType must be ReadOnly", g->name);
        return;
    }
    if (json_object_get(a, "RandomSeed"))
        msg(t, false, *cur, "Arguments '%s': RandomSeed ignored (spak's judge draws fresh inputs on every call)",
            g->name);
    t->n_args++;
}

static void read_args(spak_t1 *t, json_t *ks, size_t ks_at)
{
    json_t *al = json_object_get(ks, "Arguments");
    size_t at = find_key(t, ks_at, "Arguments");
    if (!json_is_array(al) || !json_array_size(al)) {
        msg(t, true, al ? at : ks_at, "KernelSpecification.Arguments: expected a non-empty list of arguments");
        return;
    }
    size_t n = json_array_size(al);
    if (n > SPAK_T1_MAX_ARGS) {
        msg(t, true, at, "Arguments: more than %d arguments", SPAK_T1_MAX_ARGS);
        return;
    }
    t->args = spak_arena_alloc(&t->a, n * sizeof *t->args);
    size_t cur = at;
    for (size_t i = 0; t->args && i < n; i++)
        read_arg(t, json_array_get(al, i), i, &cur);
}

/* The keys read, and what is said of the others: one note each. */
static void note_others(spak_t1 *t, json_t *o, size_t at, const char *where, const char *const *read, size_t n_read)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (size_t i = 0; i < n_read; i++)
            known = known || strcmp(k, read[i]) == 0;
        if (known || json_is_null(v))
            continue;
        const char *why = strcmp(k, "LocalSize") == 0 || strcmp(k, "GlobalSize") == 0
                              ? " (as in Kernel Tuner: the grid comes from ProblemSize and GridDivX/Y/Z, the block "
                                "from block_size_x/y/z)"
                          : strcmp(k, "ReferenceArguments") == 0
                              ? " (spak checks against a reference kernel, not data files: without one, given by a "
                                "spec that imports this file, the kernel runs untrusted)"
                          : strcmp(k, "Search") == 0 || strcmp(k, "Budget") == 0
                              ? " (spak run's --strategy and --budget choose them)"
                              : "";
        msg(t, false, find_key(t, at, k), "%s%s ignored%s", where, k, why);
    }
}

static void read_kernel(spak_t1 *t, json_t *ks, size_t ks_at)
{
    const char *lang = json_string_value(json_object_get(ks, "Language"));
    if (!lang || strcmp(lang, "CUDA") != 0) {
        msg(t, true, lang ? find_str(t, ks_at, lang) : ks_at, "KernelSpecification.Language: '%s' is not supported "
            "(CUDA is)", lang ? lang : "(none)");
        return;
    }
    t->kernel = json_string_value(json_object_get(ks, "KernelName"));
    t->source = json_string_value(json_object_get(ks, "KernelFile"));
    if (!t->kernel || !t->source) {
        msg(t, true, ks_at, "KernelSpecification: KernelName and KernelFile are required strings");
        return;
    }
    t->kernel = adup(t, t->kernel);
    t->source = adup(t, t->source);
    json_t *fl = json_object_get(ks, "CompilerOptions");
    if (fl && !json_is_array(fl)) {
        msg(t, true, find_key(t, ks_at, "CompilerOptions"), "CompilerOptions: expected a list of strings");
    } else if (fl) {
        t->flags = spak_arena_alloc(&t->a, (json_array_size(fl) + 1) * sizeof *t->flags);
        for (size_t i = 0; t->flags && i < json_array_size(fl); i++) {
            const char *f = json_string_value(json_array_get(fl, i));
            if (!f)
                msg(t, true, find_key(t, ks_at, "CompilerOptions"), "CompilerOptions[%zu]: expected a string", i);
            else
                t->flags[t->n_flags++] = adup(t, f);
        }
    }
    json_t *sm = json_object_get(ks, "SharedMemory");
    if (sm && (!json_is_integer(sm) || json_integer_value(sm) < 0 || json_integer_value(sm) > (1 << 30)))
        msg(t, true, find_key(t, ks_at, "SharedMemory"), "SharedMemory: expected a number of bytes");
    t->shared = json_integer_value(sm);
    read_problem(t, ks, ks_at);
    read_args(t, ks, ks_at);
    static const char *const read[] = {"Language", "KernelName", "KernelFile", "CompilerOptions", "SharedMemory",
                                       "ProblemSize", "GridDivX", "GridDivY", "GridDivZ", "Arguments",
                                       "BenchmarkName", "GlobalSizeType"};
    note_others(t, ks, ks_at, "KernelSpecification.", read, SPAK_ARRAY_LEN(read));
}

spak_status spak_t1_read(const char *path, const char *text, size_t len, const spak_t1_set *sets, size_t n_sets,
                         spak_t1 **out, spak_diags *msgs)
{
    *out = NULL;
    spak_t1 *t = calloc(1, sizeof *t);
    if (!t)
        return SPAK_ERR_NOMEM;
    spak_arena_init(&t->a);
    t->msgs = msgs;
    t->path = spak_arena_strdup(&t->a, path);
    char *copy = spak_arena_strndup(&t->a, text, len);
    if (!t->path || !copy) {
        spak_t1_free(t);
        return SPAK_ERR_NOMEM;
    }
    t->text = copy;
    t->len = len;
    json_error_t je;
    json_t *root = len > SPAK_T1_MAX_BYTES ? NULL : json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        if (len > SPAK_T1_MAX_BYTES)
            spak_diags_add(msgs, SPAK_DIAG_ERROR, 1, 1, "a T1 file larger than %u bytes", SPAK_T1_MAX_BYTES);
        else if (root)
            spak_diags_add(msgs, SPAK_DIAG_ERROR, 1, 1, "a T1 file is a JSON object");
        else
            spak_diags_add(msgs, SPAK_DIAG_ERROR, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1,
                           "not JSON: %s", je.text);
        json_decref(root);
        spak_t1_free(t);
        return SPAK_ERR_SYNTAX;
    }
    json_t *cs = json_object_get(root, "ConfigurationSpace"), *ks = json_object_get(root, "KernelSpecification");
    size_t cs_at = find_key(t, 0, "ConfigurationSpace"), ks_at = find_key(t, 0, "KernelSpecification");
    if (!json_is_object(cs) || !json_is_object(ks)) {
        msg(t, true, 0, "a T1 file needs the objects ConfigurationSpace and KernelSpecification");
    } else {
        const char *bn = json_string_value(json_object_get(json_object_get(root, "General"), "BenchmarkName"));
        read_kernel(t, ks, ks_at);
        t->name = adup(t, bn ? bn : t->kernel);
        read_params(t, cs, cs_at, sets, n_sets);
        read_conditions(t, cs, cs_at);
        static const char *const cs_read[] = {"TuningParameters", "Conditions"};
        note_others(t, cs, cs_at, "ConfigurationSpace.", cs_read, 2);
        static const char *const top_read[] = {"ConfigurationSpace", "KernelSpecification", "General"};
        note_others(t, root, 0, "", top_read, 3);
    }
    json_decref(root);
    if (t->failed) {
        spak_t1_free(t);
        return SPAK_ERR_CHECK;
    }
    *out = t;
    return SPAK_OK;
}

void spak_t1_free(spak_t1 *t)
{
    if (!t)
        return;
    spak_arena_free(&t->a);
    free(t);
}

/* ---- translation into spak expressions ---- */

typedef enum { XL_COND, XL_SIZE, XL_DIV } xl_mode;

typedef struct xl {
    spak_t1 *t;
    xl_mode mode;
    const char *what, *text;
    size_t at;
    spak_buf *out;
    bool failed;
} xl;


static bool xfail(xl *x, const spak_pnode *n, const char *why)
{
    if (!x->failed)
        msg(x->t, true, x->at + 1 + n->pos, "%s: '%s': %s", x->what, x->text, why);
    x->failed = true;
    return false;
}

static bool is_param(const spak_t1 *t, const char *name)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i].name, name) == 0)
            return true;
    return false;
}

/* Whether n reads a value that differs per point (a parameter's value) or
 * per shape (ProblemSize, in a Size): then it is written as an expression,
 * else evaluated here into a literal. */
static bool varies(const xl *x, const spak_pnode *n)
{
    if (n->kind == SPAK_PN_NAME)
        return x->mode == XL_SIZE ? strcmp(n->name, "ProblemSize") == 0 : is_param(x->t, n->name);
    if (x->mode == XL_SIZE && n->kind == SPAK_PN_CALL && n->n == 1 && n->kids[0]->kind == SPAK_PN_NAME &&
        is_param(x->t, n->kids[0]->name))
        return false;  /* max(P), min(P), len(P) of a parameter's values: one number */
    for (size_t i = 0; i < n->n; i++)
        if (varies(x, n->kids[i]))
            return true;
    return false;
}

/* spak's precedence levels (docs/language.md 3): || 2, && 3, == != 4,
 * < <= > >= 5, + - 6, * / % 7, unary 8, a primary 9. A node is
 * parenthesized when its level is below what its place needs. */
enum { P_OR = 2, P_AND, P_EQ, P_REL, P_ADD, P_MUL, P_UNARY, P_PRIM };

static bool emit(xl *x, const spak_pnode *n, int need, bool top);
static bool emit_cond_floor(xl *x, const spak_pnode *n, int need);

static bool open_p(xl *x, int mine, int need)
{
    return mine >= need || spak_buf_putc(x->out, '(') == SPAK_OK;
}

static bool close_p(xl *x, int mine, int need)
{
    return mine >= need || spak_buf_putc(x->out, ')') == SPAK_OK;
}

/* Whether n's value is never negative at any point: literals, parameters
 * whose values all are, and + * / // % ** max min int of such; abs, len.
 * Then Python's // and % of it agree with spak's fmod-based forms. */
static bool nonneg(const xl *x, const spak_pnode *n)
{
    double f;
    switch (n->kind) {
    case SPAK_PN_NUM: return spak_py_as_num(&n->lit, &f) && f >= 0;
    case SPAK_PN_NAME:
        for (size_t i = 0; i < x->t->n_params; i++)
            if (strcmp(x->t->params[i].name, n->name) == 0) {
                const spak_py_val *v = &x->t->params[i].values;
                for (size_t k = 0; k < v->n; k++)
                    if (!spak_py_as_num(&v->items[k], &f) || f < 0)
                        return false;
                return true;
            }
        return false;
    case SPAK_PN_UNARY: return n->op == SPAK_PO_POS && nonneg(x, n->kids[0]);
    case SPAK_PN_CALL: case SPAK_PN_BINOP:
        if (n->kind == SPAK_PN_CALL && (strcmp(n->name, "abs") == 0 || strcmp(n->name, "len") == 0))
            return true;
        if (n->kind == SPAK_PN_CALL ? strcmp(n->name, "max") && strcmp(n->name, "min") && strcmp(n->name, "int")
                                    : n->op == SPAK_PO_SUB)
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!nonneg(x, n->kids[i]))
                return false;
        return true;
    default: return false;
    }
}

static bool emit_literal(xl *x, const spak_pnode *n, int need)
{
    scope sc = {x->t, NULL, true, {0}};
    spak_py_val items[3];
    for (int i = 0; i < x->t->n_problem; i++) {
        memset(&items[i], 0, sizeof items[i]);
        items[i].kind = SPAK_PY_INT;
        items[i].i = x->t->problem[i];
    }
    sc.ps.kind = SPAK_PY_LIST;
    sc.ps.items = items;
    sc.ps.n = (size_t)x->t->n_problem;
    spak_py_val v;
    size_t ep = 0;
    spak_err err = {0};
    if (spak_py_eval(n, lookup, &sc, &x->t->a, &v, &ep, &err) != SPAK_OK) {
        if (!x->failed)
            msg(x->t, true, x->at + 1 + ep, "%s: '%s': %s", x->what, x->text, err.msg);
        x->failed = true;
        return false;
    }
    bool neg = (v.kind == SPAK_PY_INT && v.i < 0) || (v.kind == SPAK_PY_FLOAT && v.f < 0);
    const char *l = neg && need > P_UNARY ? "(" : "", *r = neg && need > P_UNARY ? ")" : "";
    switch (v.kind) {
    case SPAK_PY_INT: return spak_buf_printf(x->out, "%s%lld%s", l, (long long)v.i, r) == SPAK_OK;
    case SPAK_PY_BOOL: return spak_buf_puts(x->out, v.i ? "true" : "false") == SPAK_OK;
    case SPAK_PY_FLOAT: {
        spak_buf b;
        spak_buf_init(&b, 64);
        spak_py_print(&v, &b);
        bool ok = !strpbrk(b.data, "ni") && spak_buf_printf(x->out, "%s%s%s", l, b.data, r) == SPAK_OK;
        spak_buf_free(&b);
        return ok || xfail(x, n, "a float that spak cannot write");
    }
    case SPAK_PY_STR:
        for (const char *c = v.s; *c; c++)
            if ((unsigned char)*c < 32 || *c == '"' || *c == '\\' || *c == '{')
                return xfail(x, n, "a string with quotes, backslashes, braces or control characters");
        return spak_buf_printf(x->out, "\"%s\"", v.s) == SPAK_OK;
    case SPAK_PY_LIST:
        return xfail(x, n, x->mode == XL_SIZE && n->kind == SPAK_PN_NAME
                               ? "a parameter is its list of values in a Size: use max(P), min(P) or len(P)"
                               : "a list where spak needs one value");
    }
    return false;
}

/* l OP r at level prec (left-associative). */
static bool emit_bin(xl *x, const spak_pnode *l, const char *op, const spak_pnode *r, int prec, int need)
{
    return open_p(x, prec, need) && emit(x, l, prec, false) && spak_buf_printf(x->out, " %s ", op) == SPAK_OK &&
           emit(x, r, prec + 1, false) && close_p(x, prec, need);
}

static bool emit_cmp(xl *x, const spak_pnode *n, int need)
{
    static const char *const sym[] = {"<", "<=", ">", ">=", "==", "!="};
    int mine = n->n > 2 ? P_AND : P_EQ;  /* a chain is an && of comparisons */
    if (!open_p(x, mine, need))
        return false;
    for (size_t i = 1; i < n->n; i++) {
        spak_po op = n->ops[i - 1];
        if (i > 1)
            spak_buf_puts(x->out, " && ");
        if (op == SPAK_PO_IN || op == SPAK_PO_NOTIN) {
            const spak_pnode *r = n->kids[i];
            if (varies(x, r) || r->kind != SPAK_PN_LIST)
                return xfail(x, r, "'in' needs a list of constants on its right to become a spak expression");
            spak_buf_puts(x->out, op == SPAK_PO_IN ? "(" : "!(");
            if (!r->n)
                spak_buf_puts(x->out, "false");
            for (size_t k = 0; k < r->n; k++) {
                if (k)
                    spak_buf_puts(x->out, " || ");
                if (!emit_bin(x, n->kids[i - 1], "==", r->kids[k], P_EQ, P_AND))
                    return false;
            }
            spak_buf_putc(x->out, ')');
        } else {
            int p = op == SPAK_PO_EQ || op == SPAK_PO_NE ? P_EQ : P_REL;
            if (!emit_bin(x, n->kids[i - 1], sym[op - SPAK_PO_LT], n->kids[i], p, n->n > 2 ? P_AND + 1 : p))
                return false;
        }
    }
    return close_p(x, mine, need);
}

static bool emit_call(xl *x, const spak_pnode *n, int need, bool top)
{
    static const char *const known[] = {"range", "max", "min", "int", "len", "abs"};
    bool k = false;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(known); i++)
        k = k || strcmp(n->name, known[i]) == 0;
    if (!k)
        return xfail(x, n, "this function is not supported (range, max, min, int, len and abs are)");
    bool mm = strcmp(n->name, "max") == 0 || strcmp(n->name, "min") == 0;
    if (x->mode == XL_COND) {
        /* a restriction is a spak condition: operators and comparisons of the parameters, no functions */
        if (strcmp(n->name, "int") == 0 && n->n == 1 && n->kids[0]->kind == SPAK_PN_BINOP &&
            n->kids[0]->op == SPAK_PO_DIV)
            return emit_cond_floor(x, n, need);
        return xfail(x, n, "this call depends on a parameter's value and has no spak condition expression (a "
                           "restriction has operators and comparisons only; int(a / b) is supported)");
    }
    if (mm && n->n >= 2) {
        /* max(a, b, c) = max(a, max(b, c)): spak's max takes two */
        for (size_t i = 0; i + 1 < n->n; i++)
            if (spak_buf_printf(x->out, "%s(", n->name) != SPAK_OK || !emit(x, n->kids[i], 0, false) ||
                spak_buf_puts(x->out, ", ") != SPAK_OK)
                return false;
        if (!emit(x, n->kids[n->n - 1], 0, false))
            return false;
        for (size_t i = 0; i + 1 < n->n; i++)
            spak_buf_putc(x->out, ')');
        return true;
    }
    if (strcmp(n->name, "int") == 0 && n->n == 1) {
        const spak_pnode *a = n->kids[0];
        /* int(a / b): spak's / of integers truncates as int() does */
        if (a->kind == SPAK_PN_BINOP && a->op == SPAK_PO_DIV)
            return emit_bin(x, a->kids[0], "/", a->kids[1], P_MUL, need);
        return emit(x, a, need, top);
    }
    if (strcmp(n->name, "abs") == 0 && n->n == 1) {
        spak_buf_puts(x->out, "max(");
        if (!emit(x, n->kids[0], 0, false) || spak_buf_puts(x->out, ", -") != SPAK_OK ||
            !emit(x, n->kids[0], P_PRIM, false))
            return false;
        return spak_buf_putc(x->out, ')') == SPAK_OK;
    }
    return xfail(x, n, "this call depends on a parameter's value at the point and has no spak expression");
}

/* Python's a % b at level need, in a restriction (spak's expressions
 * evaluate in doubles, % as C's fmod, whose sign is the dividend's): a % b
 * where both are never negative, else ((a % b) + b) % b, Python's for
 * every sign of b. */
static bool emit_pymod(xl *x, const spak_pnode *a, const spak_pnode *b, int need)
{
    if (nonneg(x, a) && nonneg(x, b))
        return emit_bin(x, a, "%", b, P_MUL, need);
    return open_p(x, P_MUL, need) && spak_buf_putc(x->out, '(') == SPAK_OK && emit(x, a, P_MUL, false) &&
           spak_buf_puts(x->out, " % ") == SPAK_OK && emit(x, b, P_MUL + 1, false) &&
           spak_buf_puts(x->out, " + ") == SPAK_OK && emit(x, b, P_ADD + 1, false) &&
           spak_buf_puts(x->out, ") % ") == SPAK_OK && emit(x, b, P_MUL + 1, false) && close_p(x, P_MUL, need);
}

/* In a restriction: a % b as Python's, a // b as (a - a % b) / b (exact:
 * a - a % b is a multiple of b), int(a / b) as (a - a fmod b) / b. */
static bool emit_cond_floor(xl *x, const spak_pnode *n, int need)
{
    const spak_pnode *a = n->kids[0], *b = n->kids[1];
    bool trunc = n->kind == SPAK_PN_CALL;  /* int(a / b): C's fmod truncates as int() does */
    if (trunc) {
        a = n->kids[0]->kids[0];
        b = n->kids[0]->kids[1];
    } else if (n->op == SPAK_PO_MOD) {
        return emit_pymod(x, a, b, need);
    }
    if (!open_p(x, P_MUL, need) || spak_buf_putc(x->out, '(') != SPAK_OK || !emit(x, a, P_ADD, false) ||
        spak_buf_puts(x->out, " - ") != SPAK_OK)
        return false;
    if (!(trunc ? emit_bin(x, a, "%", b, P_MUL, P_ADD + 1) : emit_pymod(x, a, b, P_ADD + 1)))
        return false;
    return spak_buf_puts(x->out, ") / ") == SPAK_OK && emit(x, b, P_MUL + 1, false) && close_p(x, P_MUL, need);
}

static bool emit_binop(xl *x, const spak_pnode *n, int need, bool top)
{
    static const char *const sym[] = {"+", "-", "*", "/", "/", "%"};
    if (n->op == SPAK_PO_POW) {
        const spak_pnode *e = n->kids[1];
        if (varies(x, e) || e->kind != SPAK_PN_NUM || e->lit.kind != SPAK_PY_INT || e->lit.i < 1 || e->lit.i > 8)
            return xfail(x, n, "'**' becomes a spak expression only with a constant exponent from 1 to 8");
        if (!open_p(x, P_MUL, need))
            return false;
        for (int64_t k = 0; k < e->lit.i; k++)
            if ((k && spak_buf_puts(x->out, " * ") != SPAK_OK) || !emit(x, n->kids[0], P_MUL + 1, false))
                return false;
        return close_p(x, P_MUL, need);
    }
    if (n->op == SPAK_PO_DIV && !(top && x->mode == XL_DIV)) {
        /* Python's / gives a float; spak's / of integers truncates: a float operand keeps it exact */
        return open_p(x, P_MUL, need) && spak_buf_puts(x->out, "1.0 * ") == SPAK_OK &&
               emit(x, n->kids[0], P_MUL + 1, false) && spak_buf_puts(x->out, " / ") == SPAK_OK &&
               emit(x, n->kids[1], P_MUL + 1, false) && close_p(x, P_MUL, need);
    }
    if (x->mode == XL_COND && (n->op == SPAK_PO_MOD || n->op == SPAK_PO_FLOORDIV))
        return emit_cond_floor(x, n, need);
    int prec = n->op == SPAK_PO_ADD || n->op == SPAK_PO_SUB ? P_ADD : P_MUL;
    return emit_bin(x, n->kids[0], sym[n->op], n->kids[1], prec, need);
}

static bool emit(xl *x, const spak_pnode *n, int need, bool top)
{
    if (x->failed)
        return false;
    if (!varies(x, n))
        return emit_literal(x, n, need);
    switch (n->kind) {
    case SPAK_PN_NAME:
        if (x->mode == XL_SIZE)
            return xfail(x, n, "ProblemSize alone is a list: use ProblemSize[0], [1] or [2]");
        return spak_buf_puts(x->out, n->name) == SPAK_OK;
    case SPAK_PN_INDEX: {
        const spak_pnode *i = n->kids[1];
        if (x->mode != XL_SIZE || n->kids[0]->kind != SPAK_PN_NAME || varies(x, i) || i->kind != SPAK_PN_NUM ||
            i->lit.kind != SPAK_PY_INT || i->lit.i < 0 || i->lit.i >= x->t->n_problem)
            return xfail(x, n, "only ProblemSize[i], i a dimension of ProblemSize, is supported here");
        return spak_buf_puts(x->out, size_names[i->lit.i]) == SPAK_OK;
    }
    case SPAK_PN_UNARY:
        if (n->op == SPAK_PO_POS)
            return emit(x, n->kids[0], need, top);
        return open_p(x, P_UNARY, need) && spak_buf_putc(x->out, '-') == SPAK_OK &&
               emit(x, n->kids[0], P_UNARY, false) && close_p(x, P_UNARY, need);
    case SPAK_PN_BINOP: return emit_binop(x, n, need, top);
    case SPAK_PN_CMP: return emit_cmp(x, n, need);
    case SPAK_PN_AND: case SPAK_PN_OR: {
        int mine = n->kind == SPAK_PN_AND ? P_AND : P_OR;
        if (!open_p(x, mine, need))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if ((i && spak_buf_puts(x->out, n->kind == SPAK_PN_AND ? " && " : " || ") != SPAK_OK) ||
                !emit(x, n->kids[i], mine + 1, false))
                return false;
        return close_p(x, mine, need);
    }
    case SPAK_PN_NOT:
        return spak_buf_puts(x->out, "!") == SPAK_OK && emit(x, n->kids[0], P_UNARY, false);
    case SPAK_PN_CALL: return emit_call(x, n, need, top);
    default: return xfail(x, n, "a list or comprehension over a parameter's value has no spak expression");
    }
}

/* n as a spak boolean (a restriction is one, and Python's condition is
 * its truth): and/or/not of such, a comparison as it is, a constant as
 * true or false, any other value v as v != 0. */
static bool emit_bool(xl *x, const spak_pnode *n, int need)
{
    if (x->failed)
        return false;
    if (!varies(x, n)) {
        scope sc = {x->t, NULL, false, {0}};
        spak_py_val v;
        size_t ep = 0;
        spak_err err = {0};
        if (spak_py_eval(n, lookup, &sc, &x->t->a, &v, &ep, &err) != SPAK_OK) {
            msg(x->t, true, x->at + 1 + ep, "%s: '%s': %s", x->what, x->text, err.msg);
            x->failed = true;
            return false;
        }
        return spak_buf_puts(x->out, spak_py_truthy(&v) ? "true" : "false") == SPAK_OK;
    }
    if (n->kind == SPAK_PN_AND || n->kind == SPAK_PN_OR) {
        int mine = n->kind == SPAK_PN_AND ? P_AND : P_OR;
        if (!open_p(x, mine, need))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if ((i && spak_buf_puts(x->out, n->kind == SPAK_PN_AND ? " && " : " || ") != SPAK_OK) ||
                !emit_bool(x, n->kids[i], mine + 1))
                return false;
        return close_p(x, mine, need);
    }
    if (n->kind == SPAK_PN_NOT)
        return spak_buf_puts(x->out, "!") == SPAK_OK && emit_bool(x, n->kids[0], P_UNARY);
    if (n->kind == SPAK_PN_CMP)
        return emit(x, n, need, false);
    return open_p(x, P_EQ, need) && emit(x, n, P_EQ, false) && spak_buf_puts(x->out, " != 0") == SPAK_OK &&
           close_p(x, P_EQ, need);
}

/* In a Size, a parameter stands for its list of values (Kernel Tuner
 * evaluates Sizes once, with the lists): the first one not under max(),
 * min() or len(), or NULL. */
static const spak_pnode *bare_param(const xl *x, const spak_pnode *n)
{
    if (n->kind == SPAK_PN_NAME)
        return is_param(x->t, n->name) ? n : NULL;
    if (n->kind == SPAK_PN_CALL && n->n == 1 && n->kids[0]->kind == SPAK_PN_NAME &&
        (strcmp(n->name, "max") == 0 || strcmp(n->name, "min") == 0 || strcmp(n->name, "len") == 0))
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        const spak_pnode *b = bare_param(x, n->kids[i]);
        if (b)
            return b;
    }
    return NULL;
}

/* e as a spak expression into out. */
static bool translate(spak_t1 *t, xl_mode mode, const char *what, const t1_expr *e, spak_buf *out)
{
    if (!e->node)
        return spak_buf_printf(out, "%lld", (long long)e->num) == SPAK_OK;
    xl x = {t, mode, what, e->text, e->at, out, false};
    const spak_pnode *b = mode == XL_SIZE ? bare_param(&x, e->node) : NULL;
    if (b)
        return xfail(&x, b, "a parameter is its list of values in a Size: use max(P), min(P) or len(P)");
    return mode == XL_COND ? emit_bool(&x, e->node, 0) : emit(&x, e->node, 0, true);
}

/* ---- the spec text ---- */

static void put_str(spak_buf *b, const char *s)
{
    spak_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            spak_buf_putc(b, '\\');
        spak_buf_putc(b, (unsigned char)*s < 32 ? ' ' : *s);
    }
    spak_buf_putc(b, '"');
}

static void put_ident(spak_buf *b, const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        spak_buf_putc(b, '_');
    for (; *s; s++)
        spak_buf_putc(b, isalnum((unsigned char)*s) || *s == '_' ? *s : '_');
}

/* The divisor of grid dimension i as a spak expression, "" for none (1). */
static bool divisor(spak_t1 *t, int i, spak_buf *d)
{
    static const char *const bs[] = {"block_size_x", "block_size_y", "block_size_z"};
    static const char *const keys[] = {"GridDivX", "GridDivY", "GridDivZ"};
    if (!t->div[i]) {
        if (is_param(t, bs[i]))
            spak_buf_puts(d, bs[i]);
        return true;
    }
    for (size_t k = 0; k < t->n_div[i]; k++) {
        char what[32];
        spak_snprintf(what, sizeof what, "%s[%zu]", keys[i], k);
        if (k)
            spak_buf_puts(d, " * ");
        if (!translate(t, XL_DIV, what, &t->div[i][k], d))
            return false;
    }
    return true;
}

static void source_path(const spak_t1 *t, spak_buf *b)
{
    char dir[4096], probe[8300];
    spak_snprintf(dir, sizeof dir, "%s", t->path);
    char *sl = strrchr(dir, '/');
    if (sl)
        *sl = '\0';
    else
        spak_snprintf(dir, sizeof dir, ".");
    /* Kernel Tuner looks beside the file, then in its parent folder */
    spak_snprintf(probe, sizeof probe, "%s/%s", dir, t->source);
    bool here = t->source[0] == '/' || access(probe, F_OK) == 0;
    spak_snprintf(probe, sizeof probe, "%s/../%s", dir, t->source);
    if (!here && access(probe, F_OK) == 0)
        spak_buf_puts(b, "\"../");
    else
        spak_buf_putc(b, '"');
    /* a backslash is the file name's own (escaped); a quote, a brace (a
     * template's "{{") or a control character becomes '_' */
    for (const char *s = t->source; *s; s++) {
        if (*s == '\\')
            spak_buf_puts(b, "\\\\");
        else
            spak_buf_putc(b, *s == '"' || *s == '{' || (unsigned char)*s < 32 ? '_' : *s);
    }
    spak_buf_putc(b, '"');
}

static void emit_args(spak_t1 *t, spak_buf *out, bool *ok)
{
    for (size_t i = 0; i < t->n_args; i++) {
        const t1_arg *g = &t->args[i];
        spak_buf_puts(out, "        arg ");
        put_ident(out, g->name);
        spak_buf_printf(out, " { type: \"%s\", ", g->type);
        if (g->scalar) {
            spak_buf_printf(out, "value: %s }\n", g->scalar_value);
            continue;
        }
        char what[300];
        spak_snprintf(what, sizeof what, "Arguments '%s' Size", g->name);
        spak_buf_puts(out, "count: ");
        *ok = translate(t, XL_SIZE, what, &g->size, out) && *ok;
        spak_buf_printf(out, ", fill: \"%s\"", g->fill);
        if (strcmp(g->fill, "constant") == 0)
            spak_buf_printf(out, ", fill_args: [%.17g]", g->fill_value);
        spak_buf_printf(out, ", access: \"%s\"", g->access);
        if (g->output) {
            /* T1 has no tolerance: the element type's (docs/t1.md) */
            const char *tol = strcmp(g->type, "f64") == 0 ? "1e-10" : strcmp(g->type, "f16") == 0 ? "1e-2"
                            : strcmp(g->type, "f32") == 0 ? "1e-5" : "0";
            spak_buf_printf(out, ", output: true, tolerance: %s", tol);
        }
        /* Kernel Tuner passes it and copies it into the module's __constant__
         * symbol of its name (cmem_args); so does spak-judge-cuda */
        if (g->cmem)
            spak_buf_puts(out, ", memory: \"constant\"");
        spak_buf_puts(out, " }\n");
    }
}

static void emit_kernel(spak_t1 *t, spak_buf *out, bool *ok)
{
    spak_buf_puts(out, "    kernel ");
    put_ident(out, t->kernel);
    spak_buf_puts(out, " {\n        language: \"cuda\"\n        compiler: \"nvcc\"\n        flags: [");
    for (size_t i = 0; i < t->n_flags; i++) {
        if (i)
            spak_buf_puts(out, ", ");
        put_str(out, t->flags[i]);
    }
    spak_buf_puts(out, "]\n        entry: ");
    put_str(out, t->kernel);
    /* Kernel Tuner's kernels are plain __global__ functions: its PyCUDA
     * backend wraps the source in extern "C" so the name stays plain; so
     * does spak's build with extern_c (docs/declared-kernels.md) */
    spak_buf_puts(out, "\n        extern_c: true\n        params_as: \"defines\"\n        sizes: [");
    for (int i = 0; i < t->n_problem; i++)
        spak_buf_printf(out, "%s\"%s\"", i ? ", " : "", size_names[i]);
    spak_buf_puts(out, "]\n        grid: [");
    for (int i = 0; i < 3; i++) {
        spak_buf d;
        spak_buf_init(&d, 0);
        *ok = divisor(t, i, &d) && *ok;
        if (i)
            spak_buf_puts(out, ", ");
        if (i >= t->n_problem)
            spak_buf_puts(out, "1");  /* ceil(1 / divisor) */
        else if (!d.len)
            spak_buf_puts(out, size_names[i]);
        else
            spak_buf_printf(out, "ceil_div(%s, %s)", size_names[i], d.data);
        spak_buf_free(&d);
    }
    spak_buf_printf(out, "]\n        block: [%s, %s, %s]\n", is_param(t, "block_size_x") ? "block_size_x" : "256",
                    is_param(t, "block_size_y") ? "block_size_y" : "1",
                    is_param(t, "block_size_z") ? "block_size_z" : "1");
    spak_buf_printf(out, "        shared_bytes: %lld\n", (long long)t->shared);
    emit_args(t, out, ok);
    spak_buf_puts(out, "    }\n");
}

/* The Conditions, translated, and Kernel Tuner's limit on a block (it
 * drops the points whose block exceeds the device's, config_valid: 1024
 * threads on every CUDA GPU), as the space's restrictions: every point of
 * a run satisfies them, as every point Kernel Tuner tries does. */
static void emit_restricts(spak_t1 *t, spak_buf *out, bool *ok)
{
    static const char *const bs[] = {"block_size_x", "block_size_y", "block_size_z"};
    spak_buf lim;
    spak_buf_init(&lim, 0);
    for (int i = 0; i < 3; i++)
        if (is_param(t, bs[i]))
            spak_buf_printf(&lim, "%s%s", lim.len ? " * " : "", bs[i]);
    if (t->n_conds || lim.len) {
        spak_buf_puts(out, "        restrict: [");
        for (size_t i = 0; i < t->n_conds; i++) {
            char what[64];
            spak_snprintf(what, sizeof what, "Conditions[%zu] Expression", i);
            if (i)
                spak_buf_puts(out, ", ");
            *ok = translate(t, XL_COND, what, &t->conds[i], out) && *ok;
        }
        if (lim.len)
            spak_buf_printf(out, "%s%s%s <= %d", t->n_conds ? ", " : "", lim.data,
                            is_param(t, "block_size_x") ? "" : " * 256", SPAK_T1_MAX_THREADS);
        spak_buf_puts(out, "]\n");
    }
    spak_buf_free(&lim);
}

spak_status spak_t1_translate(spak_t1 *t, spak_buf *out, spak_diags *msgs)
{
    spak_diags *keep = t->msgs;
    t->msgs = msgs;
    t->failed = false;
    bool ok = true;
    spak_buf_puts(out, "// Translated from the T1 file ");
    for (const char *p = t->path; *p; p++) /* a line break in the name would end the comment */
        spak_buf_putc(out, (unsigned char)*p < 32 ? '?' : *p);
    spak_buf_puts(out, " by spak (docs/t1.md): grid and block by Kernel Tuner's rules.\nsystem ");
    put_ident(out, t->name);
    spak_buf_puts(out, " {\n    problem {\n        target: \"cuda\"\n        source: ");
    source_path(t, out);
    spak_buf_puts(out, "\n        shapes: [\"");
    for (int i = 0; i < t->n_problem; i++)
        spak_buf_printf(out, "%s%s=%lld", i ? "," : "", size_names[i], (long long)t->problem[i]);
    spak_buf_puts(out, "\"]\n    }\n");
    emit_kernel(t, out, &ok);
    spak_buf_puts(out, "    tuning_space {\n");
    for (size_t i = 0; i < t->n_params; i++) {
        spak_buf_printf(out, "        %s: [", t->params[i].name);
        const spak_py_val *v = &t->params[i].values;
        for (size_t k = 0; k < v->n; k++) {
            if (k)
                spak_buf_puts(out, ", ");
            if (v->items[k].kind == SPAK_PY_STR)
                put_str(out, v->items[k].s);
            else
                spak_py_print(&v->items[k], out);
        }
        spak_buf_puts(out, "]\n");
    }
    emit_restricts(t, out, &ok);
    /* the declared-kernel judge's records; no measure command: a loop of a
     * spec with a kernel block gets the judge's by default (docs/declared-kernels.md) */
    spak_buf_puts(out, "    }\n    trace_schema {\n        variant TraceItem {\n"
                       "            case Correctness { shape: string, heldout: bool, passed: bool, rel_err: float, "
                       "tolerance: float, reason: string }\n"
                       "            case Performance { shape: string, time_ms: float }\n        }\n    }\n"
                       "    engineering_loop Tune {\n        measure {\n            metric: \"time_ms\"\n"
                       "            objective: minimize\n        }\n"
                       "        strategy: \"default\"\n        budget { evaluations: 30 }\n    }\n}\n");
    t->msgs = keep;
    return ok && !t->failed ? SPAK_OK : SPAK_ERR_CHECK;
}

/* ---- the points ---- */

/* The grid divisor of dimension i at a point, by Kernel Tuner's
 * get_grid_dimensions: the product of the list's entries, each an integer
 * or int(eval(expression)); no list: the block_size_* parameter, else 1. */
static spak_status point_divisor(spak_t1 *t, int i, scope *sc, int64_t *out, spak_err *err)
{
    static const char *const bs[] = {"block_size_x", "block_size_y", "block_size_z"};
    *out = 1;
    if (!t->div[i]) {
        spak_py_val v;
        if (lookup(sc, bs[i], &v) && !spak_py_as_int(&v, out))
            return spak_errf(err, SPAK_ERR_EVAL, "%s is not an integer at this point", bs[i]);
        if (*out == 0)
            return spak_errf(err, SPAK_ERR_EVAL, "the grid divisor %s is zero", bs[i]);
        return SPAK_OK;
    }
    for (size_t k = 0; k < t->n_div[i]; k++) {
        const t1_expr *e = &t->div[i][k];
        int64_t d = e->num;
        if (e->node) {
            spak_py_val v;
            size_t ep;
            spak_status st = spak_py_eval(e->node, lookup, sc, &t->a, &v, &ep, err);
            if (st != SPAK_OK)
                return st;
            double f;
            if (!spak_py_as_num(&v, &f) || !(fabs(f) < 9e18))
                return spak_errf(err, SPAK_ERR_EVAL, "GridDiv entry '%s' is not a number at this point", e->text);
            d = (int64_t)f;  /* Kernel Tuner: int(eval(...)) */
        }
        if (__builtin_mul_overflow(*out, d, out))
            return spak_errf(err, SPAK_ERR_EVAL, "the grid divisor overflows");
    }
    if (*out == 0)
        return spak_errf(err, SPAK_ERR_EVAL, "the grid divisor of dimension %d is zero", i);
    return SPAK_OK;
}

static spak_status point_geometry(spak_t1 *t, scope *sc, spak_t1_point *p, spak_err *err)
{
    static const char *const bs[] = {"block_size_x", "block_size_y", "block_size_z"};
    for (int i = 0; i < 3; i++) {
        spak_py_val v;
        p->block[i] = i == 0 ? 256 : 1;
        if (lookup(sc, bs[i], &v) && !spak_py_as_int(&v, &p->block[i]))
            return spak_errf(err, SPAK_ERR_EVAL, "%s is not an integer at this point", bs[i]);
        int64_t d;
        spak_status st = point_divisor(t, i, sc, &d, err);
        if (st != SPAK_OK)
            return st;
        double ps = i < t->n_problem ? (double)t->problem[i] : 1.0;
        p->grid[i] = (int64_t)ceil(ps / (double)d);  /* as numpy.ceil(float(size) / float(d)) */
    }
    return SPAK_OK;
}

spak_status spak_t1_points(const spak_t1 *tc, bool (*fn)(void *ud, const spak_t1_point *p), void *ud,
                           uint64_t *count, spak_err *err)
{
    spak_t1 *t = (spak_t1 *)tc;  /* evaluation allocates in its arena */
    *count = 0;
    size_t n = t->n_params;
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    spak_py_val *vals = calloc(n ? n : 1, sizeof *vals);
    const char **names = calloc(n ? n : 1, sizeof *names);
    spak_status st = SPAK_OK;
    if (!idx || !vals || !names) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        names[i] = t->params[i].name;
    scope sc = {t, vals, false, {0}};
    for (bool more = n > 0; more;) {
        for (size_t i = 0; i < n; i++)
            vals[i] = t->params[i].values.items[idx[i]];
        /* evaluation values live in a scratch arena per point, so a big space stays small */
        spak_arena keep = t->a;
        spak_arena_init(&t->a);
        bool ok = true;
        for (size_t c = 0; c < t->n_conds && ok && st == SPAK_OK; c++) {
            spak_py_val v;
            size_t ep;
            st = spak_py_eval(t->conds[c].node, lookup, &sc, &t->a, &v, &ep, err);
            ok = st == SPAK_OK && spak_py_truthy(&v);
        }
        spak_t1_point p = {n, names, vals, {0}, {0}};
        if (ok && st == SPAK_OK)
            st = point_geometry(t, &sc, &p, err);
        spak_arena_free(&t->a);
        t->a = keep;
        if (st != SPAK_OK)
            break;
        /* Kernel Tuner's device limit on a block (config_valid): 1024 threads on every CUDA GPU */
        int64_t threads;
        ok = ok && !__builtin_mul_overflow(p.block[0], p.block[1], &threads) &&
             !__builtin_mul_overflow(threads, p.block[2], &threads) && threads <= SPAK_T1_MAX_THREADS;
        if (ok) {
            (*count)++;
            if (fn && !fn(ud, &p))
                break;
        }
        /* the last parameter varies fastest, as itertools.product */
        size_t i = n;
        while (i > 0 && ++idx[i - 1] == t->params[i - 1].values.n)
            idx[--i] = 0;
        more = i > 0;
    }
out:
    free(idx);
    free(vals);
    free(names);
    return st;
}
