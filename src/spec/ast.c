/* ast.c - helpers over the syntax tree, and its canonical dump. */
#include "spec/ast.h"

#include <string.h>

const char *spak_op_text(spak_op op)
{
    switch (op) {
    case SPAK_OP_OR: return "||";
    case SPAK_OP_AND: return "&&";
    case SPAK_OP_NOT: return "!";
    case SPAK_OP_EQ: return "==";
    case SPAK_OP_NE: return "!=";
    case SPAK_OP_LT: return "<";
    case SPAK_OP_LE: return "<=";
    case SPAK_OP_GT: return ">";
    case SPAK_OP_GE: return ">=";
    case SPAK_OP_ADD: return "+";
    case SPAK_OP_SUB: return "-";
    case SPAK_OP_MUL: return "*";
    case SPAK_OP_DIV: return "/";
    case SPAK_OP_MOD: return "%";
    case SPAK_OP_NEG: return "-";
    case SPAK_OP_UNION: return "|";
    case SPAK_OP_NONE: break;
    }
    return "?";
}

const char *spak_entry_head(const spak_entry *e)
{
    return e->n_words ? e->words[0].text : "";
}

bool spak_entry_word_is(const spak_entry *e, size_t i, const char *s)
{
    return i < e->n_words && !e->words[i].is_string && strcmp(e->words[i].text, s) == 0;
}

spak_entry *spak_block_find(const spak_block *b, const char *key)
{
    if (!b)
        return NULL;
    for (size_t i = 0; i < b->n; i++) {
        spak_entry *e = b->items[i];
        if (e->kind == SPAK_EN_PLAIN && e->n_words == 1 && strcmp(e->words[0].text, key) == 0)
            return e;
    }
    return NULL;
}

const char *spak_block_string(const spak_block *b, const char *key)
{
    spak_entry *e = spak_block_find(b, key);
    if (!e || !e->value)
        return NULL;
    if (e->value->kind == SPAK_EX_STRING || e->value->kind == SPAK_EX_NAME)
        return e->value->text;
    return NULL;
}

/* ---- dump ---- */

static spak_status dump_str(spak_buf *b, const char *s)
{
    spak_status st = spak_buf_putc(b, '"');
    for (; st == SPAK_OK && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            st = spak_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            st = spak_buf_printf(b, "\\u%04x", c);
        else
            st = spak_buf_putc(b, (char)c);
    }
    if (st == SPAK_OK)
        st = spak_buf_putc(b, '"');
    return st;
}

static spak_status dump_block(const spak_block *blk, spak_buf *b, int depth);

spak_status spak_expr_dump(const spak_expr *e, spak_buf *b)
{
    spak_status st = SPAK_OK;
    switch (e->kind) {
    case SPAK_EX_STRING:
        st = spak_buf_puts(b, e->triple ? "(tstr " : "(str ");
        if (st == SPAK_OK)
            st = dump_str(b, e->text);
        return st == SPAK_OK ? spak_buf_putc(b, ')') : st;
    case SPAK_EX_NUMBER:
        return spak_buf_printf(b, "(num %s)", e->text);
    case SPAK_EX_BOOL:
        return spak_buf_puts(b, e->boolean ? "true" : "false");
    case SPAK_EX_NAME:
        return spak_buf_printf(b, "(name %s)", e->text);
    case SPAK_EX_LIST:
    case SPAK_EX_CALL:
        if (e->kind == SPAK_EX_LIST)
            st = spak_buf_puts(b, "(list");
        else
            st = spak_buf_printf(b, "(call %s", e->text);
        for (size_t i = 0; i < e->n_items && st == SPAK_OK; i++) {
            st = spak_buf_putc(b, ' ');
            if (st == SPAK_OK)
                st = spak_expr_dump(e->items[i], b);
        }
        return st == SPAK_OK ? spak_buf_putc(b, ')') : st;
    case SPAK_EX_MAP:
        st = spak_buf_puts(b, "(map");
        if (st == SPAK_OK)
            st = dump_block(e->map, b, 0);
        return st == SPAK_OK ? spak_buf_putc(b, ')') : st;
    case SPAK_EX_UNARY:
        st = spak_buf_printf(b, "(%s ", e->op == SPAK_OP_NOT ? "not" : "neg");
        if (st == SPAK_OK)
            st = spak_expr_dump(e->lhs, b);
        return st == SPAK_OK ? spak_buf_putc(b, ')') : st;
    case SPAK_EX_BINARY:
        st = spak_buf_printf(b, "(%s ", spak_op_text(e->op));
        if (st == SPAK_OK)
            st = spak_expr_dump(e->lhs, b);
        if (st == SPAK_OK)
            st = spak_buf_putc(b, ' ');
        if (st == SPAK_OK)
            st = spak_expr_dump(e->rhs, b);
        return st == SPAK_OK ? spak_buf_putc(b, ')') : st;
    case SPAK_EX_PAREN:
        st = spak_buf_puts(b, "(paren ");
        if (st == SPAK_OK)
            st = spak_expr_dump(e->lhs, b);
        return st == SPAK_OK ? spak_buf_putc(b, ')') : st;
    }
    return SPAK_ERR_INTERNAL;
}

static spak_status dump_entry(const spak_entry *e, spak_buf *b, int depth)
{
    static const char *const kinds[] = {"entry", "if", "else", "return"};
    spak_status st = spak_buf_printf(b, "\n%*s(%s", 2 * depth, "", kinds[e->kind]);
    for (size_t i = 0; i < e->n_words && st == SPAK_OK; i++) {
        st = spak_buf_putc(b, ' ');
        if (st != SPAK_OK)
            break;
        if (e->words[i].is_string)
            st = dump_str(b, e->words[i].text);
        else
            st = spak_buf_puts(b, e->words[i].text);
    }
    if (st == SPAK_OK && e->has_params) {
        st = spak_buf_puts(b, " (params");
        for (size_t i = 0; i < e->n_params && st == SPAK_OK; i++)
            st = dump_entry(e->params[i], b, depth + 2);
        if (st == SPAK_OK)
            st = spak_buf_putc(b, ')');
    }
    if (st == SPAK_OK && e->value) {
        st = spak_buf_puts(b, " :");
        if (st == SPAK_OK)
            st = spak_expr_dump(e->value, b);
    }
    if (st == SPAK_OK && e->init) {
        st = spak_buf_puts(b, " =");
        if (st == SPAK_OK)
            st = spak_expr_dump(e->init, b);
    }
    if (st == SPAK_OK && e->body)
        st = dump_block(e->body, b, depth + 1);
    if (st == SPAK_OK && e->else_branch)
        st = dump_entry(e->else_branch, b, depth + 1);
    if (st == SPAK_OK)
        st = spak_buf_putc(b, ')');
    return st;
}

static spak_status dump_block(const spak_block *blk, spak_buf *b, int depth)
{
    spak_status st = spak_buf_puts(b, " {");
    for (size_t i = 0; i < blk->n && st == SPAK_OK; i++)
        st = dump_entry(blk->items[i], b, depth + 1);
    if (st == SPAK_OK)
        st = spak_buf_puts(b, "}");
    return st;
}

spak_status spak_ast_dump(const spak_file *f, spak_buf *b)
{
    spak_status st = SPAK_OK;
    if (f->front_matter) {
        st = spak_buf_puts(b, "(front ");
        if (st == SPAK_OK)
            st = dump_str(b, f->front_matter);
        if (st == SPAK_OK)
            st = spak_buf_puts(b, ")\n");
    }
    if (st == SPAK_OK)
        st = spak_buf_puts(b, "(file");
    for (size_t i = 0; i < f->top->n && st == SPAK_OK; i++)
        st = dump_entry(f->top->items[i], b, 1);
    if (st == SPAK_OK)
        st = spak_buf_puts(b, ")\n");
    return st;
}
