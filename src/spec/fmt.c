/* fmt.c - see fmt.h. */
#include "spec/fmt.h"

#include <string.h>

#define INDENT 4

typedef struct fmt {
    spak_buf *out;
    spak_status st;
} fmt;

static void put(fmt *f, const char *s)
{
    if (f->st == SPAK_OK)
        f->st = spak_buf_puts(f->out, s);
}

static void putn(fmt *f, const char *s, size_t n)
{
    if (f->st == SPAK_OK)
        f->st = spak_buf_append(f->out, s, n);
}

static void indent(fmt *f, int d)
{
    for (int i = 0; i < d * INDENT; i++)
        put(f, " ");
}

spak_status spak_fmt_string(const char *s, spak_buf *out)
{
    spak_status st = spak_buf_putc(out, '"');
    for (; st == SPAK_OK && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': st = spak_buf_puts(out, "\\\""); break;
        case '\\': st = spak_buf_puts(out, "\\\\"); break;
        case '\n': st = spak_buf_puts(out, "\\n"); break;
        case '\t': st = spak_buf_puts(out, "\\t"); break;
        case '\r': st = spak_buf_puts(out, "\\r"); break;
        default:
            if (c < 0x20 || c == 0x7F)
                st = spak_buf_printf(out, "\\u%04x", c);
            else
                st = spak_buf_putc(out, (char)c);
        }
    }
    if (st == SPAK_OK)
        st = spak_buf_putc(out, '"');
    return st;
}

static void str(fmt *f, const char *s, bool triple)
{
    if (triple) {
        put(f, "\"\"\"");
        put(f, s);
        put(f, "\"\"\"");
    } else if (f->st == SPAK_OK) {
        f->st = spak_fmt_string(s, f->out);
    }
}

static void block(fmt *f, const spak_block *b, int d);

static void expr(fmt *f, const spak_expr *e, int d)
{
    switch (e->kind) {
    case SPAK_EX_STRING:
        str(f, e->text, e->triple);
        return;
    case SPAK_EX_NUMBER:
        put(f, e->text);
        return;
    case SPAK_EX_BOOL:
        put(f, e->boolean ? "true" : "false");
        return;
    case SPAK_EX_NAME:
        put(f, e->text);
        return;
    case SPAK_EX_LIST:
    case SPAK_EX_CALL:
        if (e->kind == SPAK_EX_CALL) {
            put(f, e->text);
            put(f, "(");
        } else {
            put(f, "[");
        }
        for (size_t i = 0; i < e->n_items; i++) {
            if (i)
                put(f, ", ");
            expr(f, e->items[i], d);
        }
        put(f, e->kind == SPAK_EX_CALL ? ")" : "]");
        return;
    case SPAK_EX_MAP:
        block(f, e->map, d);
        return;
    case SPAK_EX_UNARY:
        put(f, e->op == SPAK_OP_NOT ? "!" : "-");
        expr(f, e->lhs, d);
        return;
    case SPAK_EX_BINARY:
        expr(f, e->lhs, d);
        put(f, " ");
        put(f, spak_op_text(e->op));
        put(f, " ");
        expr(f, e->rhs, d);
        return;
    case SPAK_EX_PAREN:
        put(f, "(");
        expr(f, e->lhs, d);
        put(f, ")");
        return;
    }
}

static void entry_line(fmt *f, const spak_entry *e, int d);

static bool expr_has_block(const spak_expr *e);

static bool block_inline_ok(const spak_block *b)
{
    if (!b->inline_src || b->open_comment || b->tail.first)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *e = b->items[i];
        if (e->kind != SPAK_EN_PLAIN || e->leading.first || e->trailing || e->body)
            return false;
        if ((e->value && expr_has_block(e->value)) || (e->init && expr_has_block(e->init)))
            return false;
        for (size_t k = 0; k < e->n_words; k++)
            if (e->words[k].triple)
                return false;
    }
    return true;
}

/* Does the expression contain a map that prints on several lines, or a
 * """ string (which may hold newlines)? */
static bool expr_has_block(const spak_expr *e)
{
    switch (e->kind) {
    case SPAK_EX_MAP:
        return !block_inline_ok(e->map);
    case SPAK_EX_STRING:
        return e->triple;
    case SPAK_EX_LIST:
    case SPAK_EX_CALL:
        for (size_t i = 0; i < e->n_items; i++)
            if (expr_has_block(e->items[i]))
                return true;
        return false;
    case SPAK_EX_UNARY:
    case SPAK_EX_PAREN:
        return expr_has_block(e->lhs);
    case SPAK_EX_BINARY:
        return expr_has_block(e->lhs) || expr_has_block(e->rhs);
    default:
        return false;
    }
}

static void comment_lines(fmt *f, const spak_comment *c, int d)
{
    for (; c; c = c->next) {
        indent(f, d);
        put(f, c->text);
        put(f, "\n");
    }
}

static void entries(fmt *f, const spak_block *b, int d)
{
    for (size_t i = 0; i < b->n; i++) {
        const spak_entry *e = b->items[i];
        if (i > 0 && e->blank_before)
            put(f, "\n");
        comment_lines(f, e->leading.first, d);
        indent(f, d);
        entry_line(f, e, d);
        if (e->trailing) {
            put(f, "  ");
            put(f, e->trailing->text);
        }
        put(f, "\n");
    }
}

static void block(fmt *f, const spak_block *b, int d)
{
    if (b->n == 0 && !b->open_comment && !b->tail.first) {
        put(f, "{}");
        return;
    }
    if (block_inline_ok(b)) {
        put(f, "{ ");
        for (size_t i = 0; i < b->n; i++) {
            if (i)
                put(f, ", ");
            entry_line(f, b->items[i], d);
        }
        put(f, " }");
        return;
    }
    put(f, "{");
    if (b->open_comment) {
        put(f, "  ");
        put(f, b->open_comment->text);
    }
    put(f, "\n");
    entries(f, b, d + 1);
    comment_lines(f, b->tail.first, d + 1);
    indent(f, d);
    put(f, "}");
}

static void words(fmt *f, const spak_entry *e)
{
    for (size_t i = 0; i < e->n_words; i++) {
        if (i)
            put(f, " ");
        if (e->words[i].is_string)
            str(f, e->words[i].text, e->words[i].triple);
        else
            put(f, e->words[i].text);
    }
}

/* One entry without its leading comments, trailing comment and newline. */
static void entry_line(fmt *f, const spak_entry *e, int d)
{
    switch (e->kind) {
    case SPAK_EN_RETURN:
        put(f, "return ");
        expr(f, e->value, d);
        return;
    case SPAK_EN_IF:
        put(f, "if ");
        expr(f, e->value, d);
        put(f, " ");
        block(f, e->body, d);
        if (e->else_branch) {
            put(f, " else ");
            if (e->else_branch->kind == SPAK_EN_IF)
                entry_line(f, e->else_branch, d);
            else
                block(f, e->else_branch->body, d);
        }
        return;
    case SPAK_EN_ELSE:
        put(f, "else ");
        block(f, e->body, d);
        return;
    case SPAK_EN_PLAIN:
        break;
    }
    words(f, e);
    if (e->has_params) {
        put(f, "(");
        for (size_t i = 0; i < e->n_params; i++) {
            if (i)
                put(f, ", ");
            words(f, e->params[i]);
            if (e->params[i]->value) {
                put(f, ": ");
                expr(f, e->params[i]->value, d);
            }
        }
        put(f, ")");
    }
    if (e->value) {
        put(f, ": ");
        expr(f, e->value, d);
    }
    if (e->init) {
        put(f, " = ");
        expr(f, e->init, d);
    }
    if (e->body) {
        put(f, " ");
        block(f, e->body, d);
    }
}

spak_status spak_fmt_expr(const spak_expr *e, spak_buf *out)
{
    fmt f = {out, SPAK_OK};
    expr(&f, e, 0);
    return f.st;
}

spak_status spak_fmt_file(const spak_file *file, spak_buf *out)
{
    fmt f = {out, SPAK_OK};
    if (file->front_matter) {
        put(&f, "---\n");
        put(&f, file->front_matter);
        size_t n = strlen(file->front_matter);
        if (n && file->front_matter[n - 1] != '\n')
            put(&f, "\n");
        put(&f, "---\n");
        if (file->top->n || file->top->tail.first)
            put(&f, "\n");
    }
    for (size_t i = 0; i < file->top->n; i++) {
        const spak_entry *e = file->top->items[i];
        if (i > 0)
            put(&f, "\n");  /* top-level entries are always separated by a blank line */
        comment_lines(&f, e->leading.first, 0);
        entry_line(&f, e, 0);
        if (e->trailing) {
            put(&f, "  ");
            put(&f, e->trailing->text);
        }
        put(&f, "\n");
    }
    if (file->top->tail.first && file->top->n)
        put(&f, "\n");
    comment_lines(&f, file->top->tail.first, 0);
    (void)putn;
    return f.st;
}
