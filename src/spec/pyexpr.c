/*
 * pyexpr.c - the Python expression subset of T1 files (pyexpr.h): a
 * tokenizer and recursive-descent parser following Python's grammar
 * levels (or, and, not, comparison, arithmetic, term, factor, power,
 * trailers, atoms), and an evaluator with Python's semantics on 64-bit
 * integers, doubles, strings and lists. Refusals name the construct, since
 * a T1 author wrote Python and needs to know which part spak does not read.
 */
#include "spec/pyexpr.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ---- */

typedef enum { T_END, T_NUM, T_STR, T_NAME, T_OP } tkind;

typedef struct tok {
    tkind kind;
    size_t pos, len;
} tok;

typedef struct parser {
    const char *s;
    size_t len, p;
    tok t;
    spak_arena *a;
    spak_err *err;
    size_t *errpos;
    int depth;
    bool failed;
} parser;

static const char *const ops3[] = {"**=", "//=", ">>=", "<<=", "..."};
static const char *const ops2[] = {"**", "//", "<=", ">=", "==", "!=", "<<", ">>", "->", ":=", "+=", "-=", "*=",
                                   "/=", "%=", "&=", "|=", "^="};

static bool fail(parser *ps, size_t pos, const char *fmt, const char *arg)
{
    if (!ps->failed) {
        ps->failed = true;
        *ps->errpos = pos;
        spak_errf(ps->err, SPAK_ERR_SYNTAX, fmt, arg);
    }
    return false;
}

static bool is_kw(const parser *ps, const char *kw)
{
    return ps->t.kind == T_NAME && ps->t.len == strlen(kw) && memcmp(ps->s + ps->t.pos, kw, ps->t.len) == 0;
}

static bool is_op(const parser *ps, const char *op)
{
    return ps->t.kind == T_OP && ps->t.len == strlen(op) && memcmp(ps->s + ps->t.pos, op, ps->t.len) == 0;
}

/* Scan a string literal from p (at its quote); its end into *end. */
static bool scan_string(parser *ps, size_t p, size_t *end)
{
    char q = ps->s[p];
    if (p + 2 < ps->len && ps->s[p + 1] == q && ps->s[p + 2] == q)
        return fail(ps, p, "a triple-quoted string is not supported%s", "");
    for (size_t i = p + 1; i < ps->len; i++) {
        if (ps->s[i] == '\\') {
            i++;
            continue;
        }
        if (ps->s[i] == '\n' || ps->s[i] == '\0')
            break;
        if (ps->s[i] == q) {
            *end = i + 1;
            return true;
        }
    }
    return fail(ps, p, "unterminated string%s", "");
}

static bool next(parser *ps)
{
    while (ps->p < ps->len && (ps->s[ps->p] == ' ' || ps->s[ps->p] == '\t' || ps->s[ps->p] == '\n' ||
                               ps->s[ps->p] == '\r'))
        ps->p++;
    size_t p = ps->p;
    ps->t.pos = p;
    if (p >= ps->len) {
        ps->t.kind = T_END;
        ps->t.len = 0;
        return true;
    }
    unsigned char c = (unsigned char)ps->s[p];
    size_t e = p + 1;
    if (isdigit(c) || (c == '.' && p + 1 < ps->len && isdigit((unsigned char)ps->s[p + 1]))) {
        while (e < ps->len && (isalnum((unsigned char)ps->s[e]) || ps->s[e] == '.' || ps->s[e] == '_' ||
                               ((ps->s[e] == '+' || ps->s[e] == '-') && (ps->s[e - 1] == 'e' || ps->s[e - 1] == 'E'))))
            e++;
        ps->t.kind = T_NUM;
    } else if (isalpha(c) || c == '_') {
        while (e < ps->len && (isalnum((unsigned char)ps->s[e]) || ps->s[e] == '_'))
            e++;
        ps->t.kind = T_NAME;
        /* a string prefix (f"", b"", r""): refused by name */
        if (e < ps->len && (ps->s[e] == '"' || ps->s[e] == '\'') && e - p <= 2)
            return fail(ps, p, "a prefixed string (f-string, bytes or raw) is not supported%s", "");
    } else if (c == '"' || c == '\'') {
        if (!scan_string(ps, p, &e))
            return false;
        ps->t.kind = T_STR;
    } else {
        ps->t.kind = T_OP;
        for (size_t i = 0; i < SPAK_ARRAY_LEN(ops3); i++)
            if (p + 3 <= ps->len && memcmp(ps->s + p, ops3[i], 3) == 0)
                e = p + 3;
        if (e == p + 1)
            for (size_t i = 0; i < SPAK_ARRAY_LEN(ops2); i++)
                if (p + 2 <= ps->len && memcmp(ps->s + p, ops2[i], 2) == 0)
                    e = p + 2;
        if (!strchr("+-*/%<>=!()[],:.{}&|^~@;", (int)c) || c == 0)
            return fail(ps, p, "unexpected character '%s'", (char[]){(char)(c >= 32 && c < 127 ? c : '?'), 0});
    }
    ps->t.len = e - p;
    ps->p = e;
    return true;
}

static spak_pnode *node(parser *ps, spak_pn_kind k, size_t pos)
{
    spak_pnode *n = spak_arena_alloc(ps->a, sizeof *n);
    if (!n) {
        fail(ps, pos, "out of memory%s", "");
        return NULL;
    }
    n->kind = k;
    n->pos = pos;
    return n;
}

/* Append kid to n->kids (grown in the arena: the lists are short). */
static bool add_kid(parser *ps, spak_pnode *n, spak_pnode *kid)
{
    if (!kid)
        return false;
    spak_pnode **k = spak_arena_alloc(ps->a, (n->n + 1) * sizeof *k);
    if (!k)
        return fail(ps, n->pos, "out of memory%s", "");
    if (n->n)
        memcpy(k, n->kids, n->n * sizeof *k);
    k[n->n++] = kid;
    n->kids = k;
    return true;
}

static spak_pnode *p_expr(parser *ps);
static spak_pnode *p_or(parser *ps);

/* The constructs of Python that are not in the subset, named when met. */
static spak_pnode *refuse_op(parser *ps)
{
    static const struct {
        const char *op, *what;
    } r[] = {{"&", "the bitwise operator '&'"}, {"|", "the bitwise operator '|'"}, {"^", "the bitwise operator '^'"},
             {"~", "the bitwise operator '~'"}, {"<<", "the shift operator '<<'"}, {">>", "the shift operator '>>'"},
             {"{", "a dict or set display"},    {".", "attribute access ('.')"},   {":", "a slice or annotation (':')"},
             {":=", "an assignment expression ':='"}, {"@", "the operator '@'"},  {"=", "an assignment or keyword argument ('=')"},
             {";", "';'"}};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(r); i++)
        if (is_op(ps, r[i].op)) {
            fail(ps, ps->t.pos, "%s is not supported", r[i].what);
            return NULL;
        }
    if (ps->t.kind == T_END) {
        fail(ps, ps->t.pos, "the expression ends too early%s", "");
    } else {
        char tokbuf[32];
        size_t n = ps->t.len < sizeof tokbuf - 1 ? ps->t.len : sizeof tokbuf - 1;
        memcpy(tokbuf, ps->s + ps->t.pos, n);
        tokbuf[n] = '\0';
        fail(ps, ps->t.pos, "unexpected '%s'", tokbuf);
    }
    return NULL;
}

static spak_pnode *p_number(parser *ps)
{
    spak_pnode *n = node(ps, SPAK_PN_NUM, ps->t.pos);
    if (!n)
        return NULL;
    char buf[64];
    if (ps->t.len >= sizeof buf) {
        fail(ps, ps->t.pos, "number too long%s", "");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < ps->t.len; i++)
        if (ps->s[ps->t.pos + i] != '_')
            buf[k++] = ps->s[ps->t.pos + i];
    buf[k] = '\0';
    bool isf = strpbrk(buf, ".eE") != NULL && !(buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'));
    long v;
    if (!isf && (buf[0] != '0' || !buf[1]) && spak_parse_long(buf, 0, INT64_MAX, &v)) {
        n->lit.kind = SPAK_PY_INT;
        n->lit.i = v;
    } else if (isf && spak_parse_double(buf, &n->lit.f) && isfinite(n->lit.f)) {
        n->lit.kind = SPAK_PY_FLOAT;
    } else {
        fail(ps, ps->t.pos, "the number '%s' is not a decimal integer or float this subset reads", buf);
        return NULL;
    }
    return next(ps) ? n : NULL;
}

static spak_pnode *p_string(parser *ps)
{
    spak_pnode *n = node(ps, SPAK_PN_STR, ps->t.pos);
    char *out = n ? spak_arena_alloc(ps->a, ps->t.len) : NULL;
    if (!out) {
        fail(ps, ps->t.pos, "out of memory%s", "");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = ps->t.pos + 1; i + 1 < ps->t.pos + ps->t.len; i++) {
        char c = ps->s[i];
        if (c == '\\') {
            char d = ps->s[++i];
            c = d == 'n' ? '\n' : d == 't' ? '\t' : d == '\\' || d == '\'' || d == '"' ? d : 0;
            if (!c) {
                fail(ps, i - 1, "the string escape '\\%s' is not supported", (char[]){d >= 32 && d < 127 ? d : '?', 0});
                return NULL;
            }
        }
        out[k++] = c;
    }
    out[k] = '\0';
    n->lit.kind = SPAK_PY_STR;
    n->lit.s = out;
    return next(ps) ? n : NULL;
}

/* '[' already current: a list display or a comprehension. */
static spak_pnode *p_list(parser *ps)
{
    spak_pnode *n = node(ps, SPAK_PN_LIST, ps->t.pos);
    if (!n || !next(ps))
        return NULL;
    if (is_op(ps, "]"))
        return next(ps) ? n : NULL;
    if (!add_kid(ps, n, p_expr(ps)))
        return NULL;
    if (is_kw(ps, "for")) {
        n->kind = SPAK_PN_COMP;
        if (!next(ps))
            return NULL;
        if (ps->t.kind != T_NAME || is_kw(ps, "in")) {
            fail(ps, ps->t.pos, "a comprehension's 'for' takes one name%s", "");
            return NULL;
        }
        n->name = spak_arena_strndup(ps->a, ps->s + ps->t.pos, ps->t.len);
        if (!next(ps))
            return NULL;
        if (is_op(ps, ",")) {
            fail(ps, ps->t.pos, "unpacking several names in a comprehension is not supported%s", "");
            return NULL;
        }
        if (!is_kw(ps, "in")) {
            fail(ps, ps->t.pos, "expected 'in' after the comprehension's name%s", "");
            return NULL;
        }
        if (!next(ps) || !add_kid(ps, n, p_or(ps)))
            return NULL;
        while (is_kw(ps, "if"))
            if (!next(ps) || !add_kid(ps, n, p_or(ps)))
                return NULL;
        if (is_kw(ps, "for")) {
            fail(ps, ps->t.pos, "a comprehension with more than one 'for' is not supported%s", "");
            return NULL;
        }
    } else {
        while (is_op(ps, ",")) {
            if (!next(ps))
                return NULL;
            if (is_op(ps, "]"))
                break;
            if (!add_kid(ps, n, p_expr(ps)))
                return NULL;
        }
    }
    if (!is_op(ps, "]")) {
        if (!ps->failed)
            refuse_op(ps);
        return NULL;
    }
    return next(ps) ? n : NULL;
}

static spak_pnode *p_atom(parser *ps)
{
    if (ps->t.kind == T_NUM)
        return p_number(ps);
    if (ps->t.kind == T_STR)
        return p_string(ps);
    if (is_op(ps, "["))
        return p_list(ps);
    if (is_op(ps, "(")) {
        size_t at = ps->t.pos;
        if (!next(ps))
            return NULL;
        if (is_op(ps, ")")) {
            fail(ps, at, "a tuple is not supported%s", "");
            return NULL;
        }
        spak_pnode *e = p_expr(ps);
        if (!e)
            return NULL;
        if (is_op(ps, ",")) {
            fail(ps, at, "a tuple is not supported%s", "");
            return NULL;
        }
        if (is_kw(ps, "for")) {
            fail(ps, at, "a generator expression is not supported (write a list comprehension [...])%s", "");
            return NULL;
        }
        if (!is_op(ps, ")")) {
            refuse_op(ps);
            return NULL;
        }
        return next(ps) ? e : NULL;
    }
    if (ps->t.kind == T_NAME) {
        static const char *const kws[] = {"lambda", "if", "else", "for", "in", "is", "await", "yield", "None",
                                          "and", "or", "not", "import", "del", "def", "class", "return"};
        for (size_t i = 0; i < SPAK_ARRAY_LEN(kws); i++)
            if (is_kw(ps, kws[i])) {
                fail(ps, ps->t.pos,
                     strcmp(kws[i], "lambda") == 0 ? "a lambda is not supported%s"
                     : strcmp(kws[i], "None") == 0 ? "None is not supported%s"
                                                     : "unexpected keyword '%s' here",
                     strcmp(kws[i], "lambda") && strcmp(kws[i], "None") ? kws[i] : "");
                return NULL;
            }
        spak_pnode *n = node(ps, SPAK_PN_NAME, ps->t.pos);
        if (!n)
            return NULL;
        if (is_kw(ps, "True") || is_kw(ps, "False")) {
            n->kind = SPAK_PN_NUM;
            n->lit.kind = SPAK_PY_BOOL;
            n->lit.i = is_kw(ps, "True");
        } else {
            n->name = spak_arena_strndup(ps->a, ps->s + ps->t.pos, ps->t.len);
        }
        return next(ps) ? n : NULL;
    }
    return refuse_op(ps);
}

/* atom followed by calls f(...) and subscripts x[i]. */
static spak_pnode *p_trailer(parser *ps)
{
    spak_pnode *n = p_atom(ps);
    while (n && (is_op(ps, "(") || is_op(ps, "[") || is_op(ps, "."))) {
        if (is_op(ps, ".")) {
            fail(ps, ps->t.pos, "attribute access ('.') is not supported%s", "");
            return NULL;
        }
        size_t at = ps->t.pos;
        bool call = is_op(ps, "(");
        if (call && n->kind != SPAK_PN_NAME) {
            fail(ps, at, "only a named function can be called%s", "");
            return NULL;
        }
        spak_pnode *t = node(ps, call ? SPAK_PN_CALL : SPAK_PN_INDEX, call ? n->pos : at);
        if (!t || !next(ps))
            return NULL;
        if (call) {
            t->name = n->name;
            while (!is_op(ps, ")")) {
                if (!add_kid(ps, t, p_expr(ps)))
                    return NULL;
                if (is_kw(ps, "for")) {
                    fail(ps, ps->t.pos, "a generator expression is not supported (write a list comprehension [...])%s", "");
                    return NULL;
                }
                if (!is_op(ps, ",") && !is_op(ps, ")"))
                    return refuse_op(ps);
                if (is_op(ps, ",") && !next(ps))
                    return NULL;
            }
        } else {
            if (!add_kid(ps, t, n) || !add_kid(ps, t, p_expr(ps)))
                return NULL;
            if (!is_op(ps, "]"))
                return refuse_op(ps);
        }
        if (!next(ps))
            return NULL;
        n = t;
    }
    return n;
}

static spak_pnode *p_factor(parser *ps);

static spak_pnode *p_power(parser *ps)
{
    spak_pnode *l = p_trailer(ps);
    if (!l || !is_op(ps, "**"))
        return l;
    spak_pnode *n = node(ps, SPAK_PN_BINOP, ps->t.pos);
    if (!n || !next(ps))
        return NULL;
    n->op = SPAK_PO_POW;
    if (!add_kid(ps, n, l) || !add_kid(ps, n, p_factor(ps)))  /* right-associative, binds tighter than unary on its left */
        return NULL;
    return n;
}

static spak_pnode *p_factor(parser *ps)
{
    if (is_op(ps, "-") || is_op(ps, "+")) {
        if (++ps->depth > SPAK_PY_MAX_DEPTH) {
            fail(ps, ps->t.pos, "the expression nests too deeply%s", "");
            return NULL;
        }
        spak_pnode *n = node(ps, SPAK_PN_UNARY, ps->t.pos);
        if (!n)
            return NULL;
        n->op = is_op(ps, "-") ? SPAK_PO_NEG : SPAK_PO_POS;
        if (!next(ps) || !add_kid(ps, n, p_factor(ps)))
            return NULL;
        ps->depth--;
        return n;
    }
    if (is_op(ps, "~")) {
        fail(ps, ps->t.pos, "the bitwise operator '~' is not supported%s", "");
        return NULL;
    }
    return p_power(ps);
}

/* A left-associative binary level: ops[] with their codes, operands from sub. */
static spak_pnode *p_binary(parser *ps, spak_pnode *(*sub)(parser *), const char *const *ops, const spak_po *codes,
                            size_t n_ops)
{
    spak_pnode *l = sub(ps);
    int chain = 0;
    while (l) {
        size_t k = n_ops;
        for (size_t i = 0; i < n_ops; i++)
            if (is_op(ps, ops[i]))
                k = i;
        if (k == n_ops)
            break;
        if (++chain > 10000) {
            fail(ps, ps->t.pos, "the expression has too many operators%s", "");
            return NULL;
        }
        spak_pnode *n = node(ps, SPAK_PN_BINOP, ps->t.pos);
        if (!n || !next(ps))
            return NULL;
        n->op = codes[k];
        if (!add_kid(ps, n, l) || !add_kid(ps, n, sub(ps)))
            return NULL;
        l = n;
    }
    return l;
}

static spak_pnode *p_term(parser *ps)
{
    static const char *const ops[] = {"*", "/", "//", "%"};
    static const spak_po codes[] = {SPAK_PO_MUL, SPAK_PO_DIV, SPAK_PO_FLOORDIV, SPAK_PO_MOD};
    return p_binary(ps, p_factor, ops, codes, 4);
}

static spak_pnode *p_arith(parser *ps)
{
    static const char *const ops[] = {"+", "-"};
    static const spak_po codes[] = {SPAK_PO_ADD, SPAK_PO_SUB};
    return p_binary(ps, p_term, ops, codes, 2);
}

/* The comparison operator at the current token, or false. */
static bool cmp_op(parser *ps, spak_po *op)
{
    static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!="};
    static const spak_po codes[] = {SPAK_PO_LT, SPAK_PO_LE, SPAK_PO_GT, SPAK_PO_GE, SPAK_PO_EQ, SPAK_PO_NE};
    for (size_t i = 0; i < 6; i++)
        if (is_op(ps, ops[i])) {
            *op = codes[i];
            return next(ps);
        }
    if (is_kw(ps, "in")) {
        *op = SPAK_PO_IN;
        return next(ps);
    }
    if (is_kw(ps, "is")) {
        fail(ps, ps->t.pos, "the operator 'is' is not supported (write ==)%s", "");
        return false;
    }
    if (is_kw(ps, "not")) {
        size_t at = ps->t.pos;
        if (!next(ps))
            return false;
        if (!is_kw(ps, "in")) {
            fail(ps, at, "expected 'in' after 'not' here%s", "");
            return false;
        }
        *op = SPAK_PO_NOTIN;
        return next(ps);
    }
    return false;
}

static spak_pnode *p_cmp(parser *ps)
{
    spak_pnode *l = p_arith(ps);
    spak_po op;
    if (!l || ps->failed || !cmp_op(ps, &op))
        return ps->failed ? NULL : l;
    spak_pnode *n = node(ps, SPAK_PN_CMP, l->pos);
    if (!n || !add_kid(ps, n, l))
        return NULL;
    do {
        spak_po *o = spak_arena_alloc(ps->a, n->n * sizeof *o);
        if (!o || n->n > 10000) {
            fail(ps, n->pos, "the comparison chain is too long%s", "");
            return NULL;
        }
        if (n->n > 1)
            memcpy(o, n->ops, (n->n - 1) * sizeof *o);
        o[n->n - 1] = op;
        n->ops = o;
        if (!add_kid(ps, n, p_arith(ps)))
            return NULL;
    } while (!ps->failed && cmp_op(ps, &op));
    return ps->failed ? NULL : n;
}

static spak_pnode *p_not(parser *ps)
{
    if (!is_kw(ps, "not"))
        return p_cmp(ps);
    if (++ps->depth > SPAK_PY_MAX_DEPTH) {
        fail(ps, ps->t.pos, "the expression nests too deeply%s", "");
        return NULL;
    }
    spak_pnode *n = node(ps, SPAK_PN_NOT, ps->t.pos);
    if (!n || !next(ps) || !add_kid(ps, n, p_not(ps)))
        return NULL;
    ps->depth--;
    return n;
}

/* and / or: one node with every operand (Python evaluates them in order). */
static spak_pnode *p_bool(parser *ps, const char *kw, spak_pn_kind k, spak_pnode *(*sub)(parser *))
{
    spak_pnode *l = sub(ps);
    if (!l || !is_kw(ps, kw))
        return l;
    spak_pnode *n = node(ps, k, l->pos);
    if (!n || !add_kid(ps, n, l))
        return NULL;
    while (is_kw(ps, kw)) {
        if (n->n > 10000) {
            fail(ps, ps->t.pos, "the expression has too many operators%s", "");
            return NULL;
        }
        if (!next(ps) || !add_kid(ps, n, sub(ps)))
            return NULL;
    }
    return n;
}

static spak_pnode *p_and(parser *ps)
{
    return p_bool(ps, "and", SPAK_PN_AND, p_not);
}

static spak_pnode *p_or(parser *ps)
{
    return p_bool(ps, "or", SPAK_PN_OR, p_and);
}

static spak_pnode *p_expr(parser *ps)
{
    if (++ps->depth > SPAK_PY_MAX_DEPTH) {
        fail(ps, ps->t.pos, "the expression nests too deeply%s", "");
        return NULL;
    }
    if (is_kw(ps, "lambda")) {
        fail(ps, ps->t.pos, "a lambda is not supported%s", "");
        return NULL;
    }
    spak_pnode *n = p_or(ps);
    if (n && is_kw(ps, "if")) {
        fail(ps, ps->t.pos, "a conditional expression (X if C else Y) is not supported%s", "");
        return NULL;
    }
    ps->depth--;
    return n;
}

spak_status spak_py_parse(const char *text, size_t len, spak_arena *a, spak_pnode **out, size_t *errpos,
                          spak_err *err)
{
    size_t dummy;
    parser ps = {.s = text, .len = len, .a = a, .err = err, .errpos = errpos ? errpos : &dummy};
    *out = NULL;
    if (len > SPAK_PY_MAX_TEXT) {
        *ps.errpos = 0;
        return spak_errf(err, SPAK_ERR_SYNTAX, "the expression is longer than %d bytes", SPAK_PY_MAX_TEXT);
    }
    if (memchr(text, '\0', len)) {
        *ps.errpos = (size_t)((const char *)memchr(text, '\0', len) - text);
        return spak_errf(err, SPAK_ERR_SYNTAX, "a NUL byte in the expression");
    }
    if (!next(&ps))
        return SPAK_ERR_SYNTAX;
    if (ps.t.kind == T_END) {
        *ps.errpos = 0;
        return spak_errf(err, SPAK_ERR_SYNTAX, "the expression is empty");
    }
    spak_pnode *n = p_expr(&ps);
    if (n && ps.t.kind != T_END) {
        if (is_op(&ps, ","))
            fail(&ps, ps.t.pos, "a tuple is not supported%s", "");
        else
            refuse_op(&ps);
        n = NULL;
    }
    if (!n)
        return ps.failed ? SPAK_ERR_SYNTAX : spak_errf(err, SPAK_ERR_SYNTAX, "cannot parse the expression");
    *out = n;
    return SPAK_OK;
}

/* ---- values ---- */

const char *spak_py_kind_name(spak_py_kind k)
{
    static const char *const names[] = {"int", "float", "bool", "str", "list"};
    return names[k];
}

bool spak_py_truthy(const spak_py_val *v)
{
    switch (v->kind) {
    case SPAK_PY_INT: case SPAK_PY_BOOL: return v->i != 0;
    case SPAK_PY_FLOAT: return v->f != 0;
    case SPAK_PY_STR: return v->s[0] != '\0';
    case SPAK_PY_LIST: return v->n != 0;
    }
    return false;
}

bool spak_py_as_int(const spak_py_val *v, int64_t *out)
{
    if (v->kind == SPAK_PY_INT || v->kind == SPAK_PY_BOOL) {
        *out = v->i;
        return true;
    }
    if (v->kind == SPAK_PY_FLOAT && v->f == floor(v->f) && fabs(v->f) < 9.2e18) {
        *out = (int64_t)v->f;
        return true;
    }
    return false;
}

bool spak_py_as_num(const spak_py_val *v, double *out)
{
    if (v->kind == SPAK_PY_INT || v->kind == SPAK_PY_BOOL) {
        *out = (double)v->i;
        return true;
    }
    if (v->kind == SPAK_PY_FLOAT) {
        *out = v->f;
        return true;
    }
    return false;
}

spak_status spak_py_print(const spak_py_val *v, spak_buf *b)
{
    switch (v->kind) {
    case SPAK_PY_INT: return spak_buf_printf(b, "%lld", (long long)v->i);
    case SPAK_PY_BOOL: return spak_buf_puts(b, v->i ? "True" : "False");
    case SPAK_PY_FLOAT: {
        /* Python's repr: the fewest digits that read back the same, in
         * positional form for exponents -4..15, else scientific */
        char t[64];
        int p = 1;
        for (; p < 17; p++) {
            spak_snprintf(t, sizeof t, "%.*e", p - 1, v->f);
            if (strtod(t, NULL) == v->f)
                break;
        }
        spak_snprintf(t, sizeof t, "%.*e", p - 1, v->f);
        const char *e = strchr(t, 'e');
        long ex = e ? strtol(e + 1, NULL, 10) : 0;
        if (!isfinite(v->f))
            return spak_buf_puts(b, isnan(v->f) ? "nan" : v->f > 0 ? "inf" : "-inf");
        if (ex >= -4 && ex < 16) {
            int dec = p - 1 - (int)ex;
            spak_snprintf(t, sizeof t, "%.*f", dec > 0 ? dec : 0, v->f);
            return dec > 0 ? spak_buf_puts(b, t) : spak_buf_printf(b, "%s.0", t);
        }
        return spak_buf_puts(b, t);
    }
    case SPAK_PY_STR: {
        spak_status st = spak_buf_putc(b, '\'');
        for (const char *p = v->s; st == SPAK_OK && *p; p++)
            st = *p == '\'' || *p == '\\' ? spak_buf_printf(b, "\\%c", *p) : spak_buf_putc(b, *p);
        return st == SPAK_OK ? spak_buf_putc(b, '\'') : st;
    }
    case SPAK_PY_LIST: {
        spak_status st = spak_buf_putc(b, '[');
        for (size_t i = 0; st == SPAK_OK && i < v->n; i++) {
            if (i)
                st = spak_buf_puts(b, ", ");
            if (st == SPAK_OK)
                st = spak_py_print(&v->items[i], b);
        }
        return st == SPAK_OK ? spak_buf_putc(b, ']') : st;
    }
    }
    return SPAK_OK;
}

/* ---- evaluation ---- */

typedef struct evaluator {
    spak_py_lookup lookup;
    void *ud;
    spak_arena *a;
    spak_err *err;
    size_t *errpos;
    size_t steps;
    int depth;
    /* the comprehension variables in scope, innermost last */
    const char *var_name[SPAK_PY_MAX_DEPTH];
    spak_py_val var_val[SPAK_PY_MAX_DEPTH];
    int n_vars;
} evaluator;

static spak_status eval(evaluator *ev, const spak_pnode *n, spak_py_val *out);

static spak_status efail(evaluator *ev, size_t pos, const char *fmt, const char *a1, const char *a2)
{
    *ev->errpos = pos;
    return spak_errf(ev->err, SPAK_ERR_EVAL, fmt, a1, a2);
}

static void set_int(spak_py_val *v, int64_t i)
{
    memset(v, 0, sizeof *v);
    v->kind = SPAK_PY_INT;
    v->i = i;
}

static void set_float(spak_py_val *v, double f)
{
    memset(v, 0, sizeof *v);
    v->kind = SPAK_PY_FLOAT;
    v->f = f;
}

static void set_bool(spak_py_val *v, bool b)
{
    memset(v, 0, sizeof *v);
    v->kind = SPAK_PY_BOOL;
    v->i = b;
}

static bool is_intlike(const spak_py_val *v)
{
    return v->kind == SPAK_PY_INT || v->kind == SPAK_PY_BOOL;
}

static bool is_num(const spak_py_val *v)
{
    return is_intlike(v) || v->kind == SPAK_PY_FLOAT;
}

static spak_status new_list(evaluator *ev, size_t pos, size_t n, spak_py_val *out)
{
    memset(out, 0, sizeof *out);
    out->kind = SPAK_PY_LIST;
    if (n > SPAK_PY_MAX_LIST)
        return efail(ev, pos, "a list of more than %s values%s", "1000000", "");
    out->items = spak_arena_alloc(ev->a, (n ? n : 1) * sizeof *out->items);
    if (!out->items)
        return efail(ev, pos, "out of memory%s%s", "", "");
    out->n = n;
    return SPAK_OK;
}

static spak_status int_pow(evaluator *ev, size_t pos, int64_t b, int64_t e, spak_py_val *out)
{
    int64_t r = 1;
    if (b == 0 || b == 1)
        r = e == 0 ? 1 : b;
    else if (b == -1)
        r = e % 2 ? -1 : 1;
    else /* |b| >= 2: at most 63 steps before an overflow */
        for (; e > 0; e--)
            if (__builtin_mul_overflow(r, b, &r))
                return efail(ev, pos, "integer overflow in '**'%s%s", "", "");
    set_int(out, r);
    return SPAK_OK;
}

/* Arithmetic on two numbers, Python's way. */
static spak_status arith(evaluator *ev, const spak_pnode *n, const spak_py_val *l, const spak_py_val *r,
                         spak_py_val *out)
{
    static const char *const sym[] = {"+", "-", "*", "/", "//", "%", "**"};
    const char *op = sym[n->op];
    if (n->op == SPAK_PO_ADD && l->kind == SPAK_PY_STR && r->kind == SPAK_PY_STR) {
        size_t a = strlen(l->s), b = strlen(r->s);
        char *s = spak_arena_alloc(ev->a, a + b + 1);
        if (!s)
            return efail(ev, n->pos, "out of memory%s%s", "", "");
        memcpy(s, l->s, a);
        memcpy(s + a, r->s, b + 1);
        memset(out, 0, sizeof *out);
        out->kind = SPAK_PY_STR;
        out->s = s;
        return SPAK_OK;
    }
    if (n->op == SPAK_PO_ADD && l->kind == SPAK_PY_LIST && r->kind == SPAK_PY_LIST) {
        spak_status st = new_list(ev, n->pos, l->n + r->n, out);
        if (st != SPAK_OK)
            return st;
        if (l->n)
            memcpy(out->items, l->items, l->n * sizeof *l->items);
        if (r->n)
            memcpy(out->items + l->n, r->items, r->n * sizeof *r->items);
        return SPAK_OK;
    }
    if (!is_num(l) || !is_num(r))
        return efail(ev, n->pos, "operator '%s' needs numbers here, not a %s", op,
                     spak_py_kind_name(is_num(l) ? r->kind : l->kind));
    if (is_intlike(l) && is_intlike(r)) {
        int64_t a = l->i, b = r->i, v = 0;
        bool ovf = false;
        switch (n->op) {
        case SPAK_PO_ADD: ovf = __builtin_add_overflow(a, b, &v); break;
        case SPAK_PO_SUB: ovf = __builtin_sub_overflow(a, b, &v); break;
        case SPAK_PO_MUL: ovf = __builtin_mul_overflow(a, b, &v); break;
        case SPAK_PO_DIV:
            if (b == 0)
                return efail(ev, n->pos, "division by zero%s%s", "", "");
            set_float(out, (double)a / (double)b);
            return SPAK_OK;
        case SPAK_PO_FLOORDIV: case SPAK_PO_MOD:
            if (b == 0)
                return efail(ev, n->pos, "%s by zero%s", n->op == SPAK_PO_MOD ? "modulo" : "division", "");
            if (a == INT64_MIN && b == -1)
                return efail(ev, n->pos, "integer overflow in '%s'%s", op, "");
            if (n->op == SPAK_PO_MOD) {
                /* Python's sign (the divisor's); a - floor(a / b) * b
                 * overflowed in its product for a near INT64_MIN (the
                 * fuzzer's finding), the remainder cannot */
                v = a % b;
                if (v != 0 && ((v < 0) != (b < 0)))
                    v += b;
            } else {
                v = a / b;
                if ((a % b != 0) && ((a < 0) != (b < 0)))
                    v--;  /* floor, not truncation */
            }
            break;
        case SPAK_PO_POW:
            if (b < 0) {
                if (a == 0)
                    return efail(ev, n->pos, "0 cannot be raised to a negative power%s%s", "", "");
                set_float(out, pow((double)a, (double)b));
                return SPAK_OK;
            }
            return int_pow(ev, n->pos, a, b, out);
        default: break;
        }
        if (ovf)
            return efail(ev, n->pos, "integer overflow in '%s'%s", op, "");
        set_int(out, v);
        return SPAK_OK;
    }
    double a, b, v = 0;
    spak_py_as_num(l, &a);
    spak_py_as_num(r, &b);
    switch (n->op) {
    case SPAK_PO_ADD: v = a + b; break;
    case SPAK_PO_SUB: v = a - b; break;
    case SPAK_PO_MUL: v = a * b; break;
    case SPAK_PO_DIV: case SPAK_PO_FLOORDIV: case SPAK_PO_MOD:
        if (b == 0)
            return efail(ev, n->pos, "%s by zero%s", n->op == SPAK_PO_MOD ? "modulo" : "division", "");
        v = n->op == SPAK_PO_DIV ? a / b : n->op == SPAK_PO_FLOORDIV ? floor(a / b) : a - floor(a / b) * b;
        break;
    case SPAK_PO_POW:
        if (a == 0 && b < 0)
            return efail(ev, n->pos, "0.0 cannot be raised to a negative power%s%s", "", "");
        if (a < 0 && b != floor(b))
            return efail(ev, n->pos, "a negative number to a fractional power is complex%s%s", "", "");
        v = pow(a, b);
        break;
    default: break;
    }
    if (!isfinite(v))
        return efail(ev, n->pos, "float overflow in '%s'%s", op, "");
    set_float(out, v);
    return SPAK_OK;
}

/* Python's == on two values. */
static bool py_equal(const spak_py_val *l, const spak_py_val *r)
{
    if (is_num(l) && is_num(r)) {
        if (is_intlike(l) && is_intlike(r))
            return l->i == r->i;
        double a, b;
        spak_py_as_num(l, &a);
        spak_py_as_num(r, &b);
        return a == b;
    }
    if (l->kind == SPAK_PY_STR && r->kind == SPAK_PY_STR)
        return strcmp(l->s, r->s) == 0;
    if (l->kind == SPAK_PY_LIST && r->kind == SPAK_PY_LIST) {
        if (l->n != r->n)
            return false;
        for (size_t i = 0; i < l->n; i++)
            if (!py_equal(&l->items[i], &r->items[i]))
                return false;
        return true;
    }
    return false;
}

/* One comparison l OP r into *res. */
static spak_status compare(evaluator *ev, size_t pos, spak_po op, const spak_py_val *l, const spak_py_val *r,
                           bool *res)
{
    static const char *const sym[] = {"<", "<=", ">", ">=", "==", "!=", "in", "not in"};
    if (op == SPAK_PO_EQ || op == SPAK_PO_NE) {
        *res = py_equal(l, r) == (op == SPAK_PO_EQ);
        return SPAK_OK;
    }
    if (op == SPAK_PO_IN || op == SPAK_PO_NOTIN) {
        bool found = false;
        if (r->kind == SPAK_PY_LIST) {
            for (size_t i = 0; i < r->n && !found; i++)
                found = py_equal(l, &r->items[i]);
        } else if (r->kind == SPAK_PY_STR && l->kind == SPAK_PY_STR) {
            found = strstr(r->s, l->s) != NULL;
        } else {
            return efail(ev, pos, "'%s' needs a list (or a string in a string) on its right, not a %s",
                         sym[op - SPAK_PO_LT], spak_py_kind_name(r->kind));
        }
        *res = found == (op == SPAK_PO_IN);
        return SPAK_OK;
    }
    int c;
    if (is_num(l) && is_num(r)) {
        double a, b;
        if (is_intlike(l) && is_intlike(r))
            c = l->i < r->i ? -1 : l->i > r->i;
        else {
            spak_py_as_num(l, &a);
            spak_py_as_num(r, &b);
            c = a < b ? -1 : a > b;
        }
    } else if (l->kind == SPAK_PY_STR && r->kind == SPAK_PY_STR) {
        c = strcmp(l->s, r->s);
    } else {
        return efail(ev, pos, "cannot order a %s and a %s", spak_py_kind_name(l->kind), spak_py_kind_name(r->kind));
    }
    switch (op) {
    case SPAK_PO_LT: *res = c < 0; break;
    case SPAK_PO_LE: *res = c <= 0; break;
    case SPAK_PO_GT: *res = c > 0; break;
    default: *res = c >= 0; break;
    }
    return SPAK_OK;
}

/* range(stop) / range(start, stop[, step]) */
static spak_status do_range(evaluator *ev, const spak_pnode *n, const spak_py_val *args, spak_py_val *out)
{
    int64_t v[3] = {0, 0, 1};
    if (n->n < 1 || n->n > 3)
        return efail(ev, n->pos, "range() takes 1 to 3 arguments%s%s", "", "");
    for (size_t i = 0; i < n->n; i++)
        if (!is_intlike(&args[i]))
            return efail(ev, n->kids[i]->pos, "range() takes integers, not a %s%s",
                         spak_py_kind_name(args[i].kind), "");
    if (n->n == 1)
        v[1] = args[0].i;
    else
        for (size_t i = 0; i < n->n; i++)
            v[i] = args[i].i;
    if (v[2] == 0)
        return efail(ev, n->pos, "range() step must not be zero%s%s", "", "");
    double count = v[2] > 0 ? ceil(((double)v[1] - (double)v[0]) / (double)v[2])
                            : ceil(((double)v[0] - (double)v[1]) / (double)-v[2]);
    if (count < 0)
        count = 0;
    if (count > SPAK_PY_MAX_LIST)
        return efail(ev, n->pos, "range() of more than %s values%s", "1000000", "");
    spak_status st = new_list(ev, n->pos, (size_t)count, out);
    for (size_t i = 0; st == SPAK_OK && i < out->n; i++)
        set_int(&out->items[i], v[0] + (int64_t)i * v[2]);
    return st;
}

/* max()/min(): of one list, or of two or more values. */
static spak_status do_minmax(evaluator *ev, const spak_pnode *n, const spak_py_val *args, bool is_max,
                             spak_py_val *out)
{
    const spak_py_val *v = args;
    size_t k = n->n;
    if (k == 0)
        return efail(ev, n->pos, "%s() needs arguments%s", n->name, "");
    if (k == 1) {
        if (args[0].kind != SPAK_PY_LIST)
            return efail(ev, n->pos, "%s() of one value needs a list, not a %s", n->name,
                         spak_py_kind_name(args[0].kind));
        v = args[0].items;
        k = args[0].n;
        if (!k)
            return efail(ev, n->pos, "%s() of an empty list%s", n->name, "");
    }
    size_t best = 0;
    for (size_t i = 1; i < k; i++) {
        bool better;
        spak_status st = compare(ev, n->pos, is_max ? SPAK_PO_GT : SPAK_PO_LT, &v[i], &v[best], &better);
        if (st != SPAK_OK)
            return st;
        if (better)
            best = i;
    }
    *out = v[best];
    return SPAK_OK;
}

static spak_status do_int(evaluator *ev, const spak_pnode *n, const spak_py_val *a, spak_py_val *out)
{
    if (is_intlike(a)) {
        set_int(out, a->i);
        return SPAK_OK;
    }
    if (a->kind == SPAK_PY_FLOAT) {
        if (!(fabs(a->f) < 9.2e18))
            return efail(ev, n->pos, "int() of a float out of range%s%s", "", "");
        set_int(out, (int64_t)a->f);  /* truncation toward zero, as Python's int() */
        return SPAK_OK;
    }
    if (a->kind == SPAK_PY_STR) {
        long v;
        const char *s = a->s;
        while (*s == ' ')
            s++;
        char t[32];
        size_t l = strlen(s);
        while (l && s[l - 1] == ' ')
            l--;
        if (l < sizeof t) {
            memcpy(t, s, l);
            t[l] = '\0';
            if (spak_parse_long(t, INT64_MIN, INT64_MAX, &v)) {
                set_int(out, v);
                return SPAK_OK;
            }
        }
        return efail(ev, n->pos, "int() of the string '%s' is not an integer%s", a->s, "");
    }
    return efail(ev, n->pos, "int() of a %s%s", spak_py_kind_name(a->kind), "");
}

static spak_status call(evaluator *ev, const spak_pnode *n, spak_py_val *out)
{
    static const char *const known[] = {"range", "max", "min", "int", "len", "abs", "list"};
    size_t f = SPAK_ARRAY_LEN(known);
    for (size_t i = 0; i < SPAK_ARRAY_LEN(known); i++)
        if (strcmp(n->name, known[i]) == 0)
            f = i;
    if (f == SPAK_ARRAY_LEN(known))
        return efail(ev, n->pos, "the function '%s' is not supported (range, max, min, int, len, abs and list are)%s",
                     n->name, "");
    spak_py_val *args = spak_arena_alloc(ev->a, (n->n ? n->n : 1) * sizeof *args);
    if (!args)
        return efail(ev, n->pos, "out of memory%s%s", "", "");
    for (size_t i = 0; i < n->n; i++) {
        spak_status st = eval(ev, n->kids[i], &args[i]);
        if (st != SPAK_OK)
            return st;
    }
    if (f == 0)
        return do_range(ev, n, args, out);
    if (f == 1 || f == 2)
        return do_minmax(ev, n, args, f == 1, out);
    if (n->n != 1)
        return efail(ev, n->pos, "%s() takes one argument%s", n->name, "");
    if (f == 6) {  /* list(range(...)), list([...]): the list itself (values are never mutated) */
        if (args[0].kind != SPAK_PY_LIST)
            return efail(ev, n->pos, "list() of a %s%s", spak_py_kind_name(args[0].kind), "");
        *out = args[0];
        return SPAK_OK;
    }
    if (f == 3)
        return do_int(ev, n, &args[0], out);
    if (f == 4) {
        if (args[0].kind == SPAK_PY_LIST)
            set_int(out, (int64_t)args[0].n);
        else if (args[0].kind == SPAK_PY_STR)
            set_int(out, (int64_t)strlen(args[0].s));
        else
            return efail(ev, n->pos, "len() of a %s%s", spak_py_kind_name(args[0].kind), "");
        return SPAK_OK;
    }
    if (is_intlike(&args[0])) {
        if (args[0].i == INT64_MIN)
            return efail(ev, n->pos, "integer overflow in abs()%s%s", "", "");
        set_int(out, args[0].i < 0 ? -args[0].i : args[0].i);
    } else if (args[0].kind == SPAK_PY_FLOAT) {
        set_float(out, fabs(args[0].f));
    } else {
        return efail(ev, n->pos, "abs() of a %s%s", spak_py_kind_name(args[0].kind), "");
    }
    return SPAK_OK;
}

/* [elt for name in iter if cond...] */
static spak_status comprehension(evaluator *ev, const spak_pnode *n, spak_py_val *out)
{
    spak_py_val it;
    spak_status st = eval(ev, n->kids[1], &it);
    if (st != SPAK_OK)
        return st;
    if (it.kind != SPAK_PY_LIST)
        return efail(ev, n->kids[1]->pos, "a comprehension iterates over a list or range(), not a %s%s",
                     spak_py_kind_name(it.kind), "");
    if (ev->n_vars >= SPAK_PY_MAX_DEPTH)
        return efail(ev, n->pos, "comprehensions nest too deeply%s%s", "", "");
    st = new_list(ev, n->pos, it.n, out);
    if (st != SPAK_OK)
        return st;
    int slot = ev->n_vars++;
    ev->var_name[slot] = n->name;
    size_t k = 0;
    for (size_t i = 0; i < it.n && st == SPAK_OK; i++) {
        ev->var_val[slot] = it.items[i];
        bool keep = true;
        for (size_t c = 2; c < n->n && keep && st == SPAK_OK; c++) {
            spak_py_val cv;
            st = eval(ev, n->kids[c], &cv);
            keep = st == SPAK_OK && spak_py_truthy(&cv);
        }
        if (keep && st == SPAK_OK)
            st = eval(ev, n->kids[0], &out->items[k++]);
    }
    ev->n_vars--;
    out->n = k;
    return st;
}

static spak_status lookup_name(evaluator *ev, const spak_pnode *n, spak_py_val *out)
{
    for (int i = ev->n_vars - 1; i >= 0; i--)
        if (strcmp(ev->var_name[i], n->name) == 0) {
            *out = ev->var_val[i];
            return SPAK_OK;
        }
    if (ev->lookup && ev->lookup(ev->ud, n->name, out))
        return SPAK_OK;
    static const char *const fns[] = {"range", "max", "min", "int", "len", "abs", "list"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(fns); i++)
        if (strcmp(n->name, fns[i]) == 0)
            return efail(ev, n->pos, "the function '%s' is used without calling it%s", n->name, "");
    return efail(ev, n->pos, "the name '%s' means nothing here%s", n->name, "");
}

static spak_status index_of(evaluator *ev, const spak_pnode *n, spak_py_val *out)
{
    spak_py_val l, i;
    spak_status st = eval(ev, n->kids[0], &l);
    if (st == SPAK_OK)
        st = eval(ev, n->kids[1], &i);
    if (st != SPAK_OK)
        return st;
    if (l.kind != SPAK_PY_LIST)
        return efail(ev, n->pos, "only a list can be subscripted, not a %s%s", spak_py_kind_name(l.kind), "");
    if (!is_intlike(&i))
        return efail(ev, n->kids[1]->pos, "a list index must be an integer, not a %s%s", spak_py_kind_name(i.kind),
                     "");
    int64_t k = i.i < 0 ? i.i + (int64_t)l.n : i.i;
    if (k < 0 || (uint64_t)k >= l.n)
        return efail(ev, n->kids[1]->pos, "list index out of range%s%s", "", "");
    *out = l.items[k];
    return SPAK_OK;
}

static spak_status eval_ops(evaluator *ev, const spak_pnode *n, spak_py_val *out)
{
    spak_py_val l, r;
    spak_status st = SPAK_OK;
    switch (n->kind) {
    case SPAK_PN_UNARY:
        if ((st = eval(ev, n->kids[0], &l)) != SPAK_OK)
            return st;
        if (!is_num(&l))
            return efail(ev, n->pos, "unary '%s' needs a number, not a %s", n->op == SPAK_PO_NEG ? "-" : "+",
                         spak_py_kind_name(l.kind));
        if (n->op == SPAK_PO_POS)
            *out = l, out->kind = l.kind == SPAK_PY_BOOL ? SPAK_PY_INT : l.kind;
        else if (l.kind == SPAK_PY_FLOAT)
            set_float(out, -l.f);
        else if (l.i == INT64_MIN)
            return efail(ev, n->pos, "integer overflow in unary '-'%s%s", "", "");
        else
            set_int(out, -l.i);
        return SPAK_OK;
    case SPAK_PN_BINOP:
        if ((st = eval(ev, n->kids[0], &l)) != SPAK_OK || (st = eval(ev, n->kids[1], &r)) != SPAK_OK)
            return st;
        return arith(ev, n, &l, &r, out);
    case SPAK_PN_CMP: {
        bool res = true;
        if ((st = eval(ev, n->kids[0], &l)) != SPAK_OK)
            return st;
        for (size_t i = 1; i < n->n && res; i++) {
            if ((st = eval(ev, n->kids[i], &r)) != SPAK_OK)
                return st;
            if ((st = compare(ev, n->kids[i]->pos, n->ops[i - 1], &l, &r, &res)) != SPAK_OK)
                return st;
            l = r;
        }
        set_bool(out, res);
        return SPAK_OK;
    }
    case SPAK_PN_NOT:
        if ((st = eval(ev, n->kids[0], &l)) != SPAK_OK)
            return st;
        set_bool(out, !spak_py_truthy(&l));
        return SPAK_OK;
    default: /* AND, OR: the first operand that decides, as Python gives it */
        for (size_t i = 0; i < n->n; i++) {
            if ((st = eval(ev, n->kids[i], out)) != SPAK_OK)
                return st;
            if (spak_py_truthy(out) == (n->kind == SPAK_PN_OR))
                break;
        }
        return SPAK_OK;
    }
}

static spak_status eval(evaluator *ev, const spak_pnode *n, spak_py_val *out)
{
    if (++ev->steps > SPAK_PY_MAX_STEPS)
        return efail(ev, n->pos, "the evaluation takes more than %s steps%s", "10000000", "");
    if (ev->depth >= 4 * SPAK_PY_MAX_DEPTH)
        return efail(ev, n->pos, "the evaluation nests too deeply%s%s", "", "");
    ev->depth++;
    spak_status st = SPAK_OK;
    switch (n->kind) {
    case SPAK_PN_NUM: case SPAK_PN_STR: *out = n->lit; break;
    case SPAK_PN_NAME: st = lookup_name(ev, n, out); break;
    case SPAK_PN_LIST:
        st = new_list(ev, n->pos, n->n, out);
        for (size_t i = 0; st == SPAK_OK && i < n->n; i++)
            st = eval(ev, n->kids[i], &out->items[i]);
        break;
    case SPAK_PN_COMP: st = comprehension(ev, n, out); break;
    case SPAK_PN_CALL: st = call(ev, n, out); break;
    case SPAK_PN_INDEX: st = index_of(ev, n, out); break;
    default: st = eval_ops(ev, n, out); break;
    }
    ev->depth--;
    return st;
}

spak_status spak_py_eval(const spak_pnode *n, spak_py_lookup lookup, void *ud, spak_arena *a, spak_py_val *out,
                         size_t *errpos, spak_err *err)
{
    size_t dummy;
    evaluator *ev = calloc(1, sizeof *ev);  /* the scope table is too big for a small stack */
    if (!ev)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    ev->lookup = lookup;
    ev->ud = ud;
    ev->a = a;
    ev->err = err;
    ev->errpos = errpos ? errpos : &dummy;
    memset(out, 0, sizeof *out);
    spak_status st = eval(ev, n, out);
    free(ev);
    return st;
}
