/* parse.c - see parse.h. */
#include "spec/parse.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/lex.h"

typedef struct parser {
    spak_lexer lx;
    spak_token tok;
    int prev_line;          /* line of the last consumed token */
    spak_arena *arena;
    spak_diags *diags;
    spak_diags quiet_diags; /* sink when parsing quietly */
    spak_comments pending;  /* comments not yet attached */
    int depth;
    bool skip_nl;           /* inside ( ) or [ ]: newlines are blanks */
    bool suppress;          /* a lexical error was already reported for this entry */
    bool err_in_brackets;   /* the entry's error was found inside ( ) or [ ] */
    bool after_lex_error;   /* a lexical error (reported) was skipped just before tok */
    bool eof_in_string;     /* an unterminated """ string ran to the end of the file */
    int expr_level;         /* expr() calls open (an expression inside a list, call, map ...) */
    int expr_ops;           /* binary operators in the outermost open expression */
    jmp_buf fatal;
    spak_status fatal_status;
} parser;

static SPAK_PRINTF(3, 4) void error_at(parser *p, spak_pos pos, const char *fmt, ...);

static _Noreturn void fatal(parser *p, spak_status st)
{
    p->fatal_status = st;
    longjmp(p->fatal, 1);
}

static void *alloc(parser *p, size_t n)
{
    void *q = spak_arena_alloc(p->arena, n);
    if (!q)
        fatal(p, SPAK_ERR_NOMEM);
    return q;
}

static void push_comment(parser *p, const spak_token *t)
{
    spak_comment *c = alloc(p, sizeof *c);
    c->text = t->text;
    c->pos = t->pos;
    if (p->pending.last)
        p->pending.last->next = c;
    else
        p->pending.first = c;
    p->pending.last = c;
}

static spak_comments take_pending(parser *p)
{
    spak_comments c = p->pending;
    p->pending.first = p->pending.last = NULL;
    return c;
}

/* Move to the next significant token: comments go to the pending list,
 * lexical errors (already reported) are skipped, newlines are skipped inside
 * brackets. */
static void next(parser *p)
{
    if (p->tok.kind != SPAK_TK_NEWLINE && p->tok.kind != SPAK_TK_EOF && p->tok.len > 0) {
        /* the line the token ENDS on: a """...""" string spans lines, and
         * a comment after it on its last line trails the entry (else fmt
         * moves it to a line of its own, then reads a blank line there) */
        p->prev_line = p->tok.pos.line;
        for (size_t k = 0; k < p->tok.len; k++)
            p->prev_line += p->tok.start[k] == '\n';
    }
    p->after_lex_error = false;
    for (;;) {
        spak_lex_next(&p->lx, &p->tok);
        if (p->lx.oom)
            fatal(p, SPAK_ERR_NOMEM);
        if (p->tok.kind == SPAK_TK_COMMENT) {
            push_comment(p, &p->tok);
            continue;
        }
        if (p->tok.kind == SPAK_TK_ERROR) {
            p->suppress = true;
            p->after_lex_error = true;
            /* an unterminated """ string swallows the rest of the file: the
             * blocks it leaves open are not worth an error each */
            if (p->tok.len >= 3 && memcmp(p->tok.start, "\"\"\"", 3) == 0 && p->lx.off >= p->lx.len)
                p->eof_in_string = true;
            continue;
        }
        if (p->tok.kind == SPAK_TK_NEWLINE && p->skip_nl)
            continue;
        break;
    }
}

static void error_at(parser *p, spak_pos pos, const char *fmt, ...)
{
    p->err_in_brackets = p->skip_nl;
    if (p->suppress)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    spak_diags_add(p->diags, SPAK_DIAG_ERROR, pos.line, pos.col, "%s", msg);
    p->suppress = true;  /* one syntax error per entry; the rest is usually noise */
}

/* "expected X, near 'tok'" at the current token */
static void expected(parser *p, const char *what)
{
    char near[64];
    spak_token_describe(&p->tok, near, sizeof near);
    if (p->tok.kind == SPAK_TK_EOF || p->tok.kind == SPAK_TK_NEWLINE)
        error_at(p, p->tok.pos, "expected %s, near %s", what, near);
    else
        error_at(p, p->tok.pos, "expected %s, near '%s'", what, near);
}

static void enter(parser *p)
{
    if (++p->depth > SPAK_MAX_DEPTH) {
        p->suppress = false;
        error_at(p, p->tok.pos, "nesting deeper than %d levels", SPAK_MAX_DEPTH);
        fatal(p, SPAK_ERR_LIMIT);
    }
}

static void leave(parser *p)
{
    p->depth--;
}

static bool is_name(const parser *p, const char *s)
{
    return p->tok.kind == SPAK_TK_NAME && strcmp(p->tok.text, s) == 0;
}

static void skip_newlines(parser *p)
{
    while (p->tok.kind == SPAK_TK_NEWLINE)
        next(p);
}

/* Skip to the end of the current entry after an error: up to a newline, ',' or
 * ';' outside brackets, or up to (not past) the '}' that closes the block.
 * When the error was found inside ( ) or [ ], a ',' or ';' belongs to that
 * list, not to the block, so only a newline ends the entry. A stray ']' or
 * ')' is skipped: stopping there would make the next entry fail on it again,
 * once per call, until the error cap. */
static void sync(parser *p)
{
    int depth = 0;
    bool saved = p->skip_nl;
    bool in_brackets = p->err_in_brackets;
    p->skip_nl = false;
    for (;;) {
        switch (p->tok.kind) {
        case SPAK_TK_EOF:
            p->skip_nl = saved;
            return;
        case SPAK_TK_NEWLINE: case SPAK_TK_COMMA: case SPAK_TK_SEMI:
            if (depth == 0 && (p->tok.kind == SPAK_TK_NEWLINE || !in_brackets)) {
                p->skip_nl = saved;
                return;
            }
            break;
        case SPAK_TK_LBRACE: case SPAK_TK_LBRACKET: case SPAK_TK_LPAREN:
            depth++;
            break;
        case SPAK_TK_RBRACE:
            if (depth == 0) {
                p->skip_nl = saved;
                return;
            }
            depth--;
            break;
        case SPAK_TK_RBRACKET: case SPAK_TK_RPAREN:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        next(p);
    }
}

static spak_expr *new_expr(parser *p, spak_expr_kind k, spak_pos pos)
{
    spak_expr *e = alloc(p, sizeof *e);
    e->kind = k;
    e->pos = pos;
    return e;
}

/* Growable arrays of pointers, grown inside the arena: a fatal error
 * (longjmp) then leaks nothing, and the waste is at most a factor of two. */
typedef struct ptrvec {
    void **v;
    size_t n, alloc;
} ptrvec;

static void pv_push(parser *p, ptrvec *pv, void *x)
{
    if (pv->n == pv->alloc) {
        size_t na = pv->alloc ? 2 * pv->alloc : 8;
        void **q = alloc(p, na * sizeof *q);
        if (pv->n)
            memcpy(q, pv->v, pv->n * sizeof *q);
        pv->v = q;
        pv->alloc = na;
    }
    pv->v[pv->n++] = x;
}

static void **pv_finish(parser *p, ptrvec *pv)
{
    (void)p;
    return pv->n ? pv->v : NULL;
}

static spak_expr *expr(parser *p);
static spak_block *block(parser *p);

static spak_op binop_of(spak_tk k, int *prec)
{
    switch (k) {
    case SPAK_TK_BAR: *prec = 1; return SPAK_OP_UNION;
    case SPAK_TK_OROR: *prec = 2; return SPAK_OP_OR;
    case SPAK_TK_ANDAND: *prec = 3; return SPAK_OP_AND;
    case SPAK_TK_EQ: *prec = 4; return SPAK_OP_EQ;
    case SPAK_TK_NE: *prec = 4; return SPAK_OP_NE;
    case SPAK_TK_LT: *prec = 5; return SPAK_OP_LT;
    case SPAK_TK_LE: *prec = 5; return SPAK_OP_LE;
    case SPAK_TK_GT: *prec = 5; return SPAK_OP_GT;
    case SPAK_TK_GE: *prec = 5; return SPAK_OP_GE;
    case SPAK_TK_PLUS: *prec = 6; return SPAK_OP_ADD;
    case SPAK_TK_MINUS: *prec = 6; return SPAK_OP_SUB;
    case SPAK_TK_STAR: *prec = 7; return SPAK_OP_MUL;
    case SPAK_TK_SLASH: *prec = 7; return SPAK_OP_DIV;
    case SPAK_TK_PERCENT: *prec = 7; return SPAK_OP_MOD;
    default: *prec = 0; return SPAK_OP_NONE;
    }
}

/* After one item of a comma-separated list: eats the ',' that leads to the
 * next item and returns true, also when closer ends the list; false, with
 * "expected what" reported, when neither follows. */
static bool list_sep(parser *p, spak_tk closer, const char *what)
{
    if (p->tok.kind == SPAK_TK_COMMA) {
        next(p);
        return true;
    }
    if (p->tok.kind != closer) {
        expected(p, what);
        return false;
    }
    return true;
}

/* seq := [ ITEM { ',' ITEM } [','] ] CLOSER, after the opening bracket
 * (newlines allowed inside), each ITEM read by item (NULL after an error):
 * the items (arena memory, NULL when none) in *out and their count in *n;
 * false after an error, with *out and *n untouched. */
static bool seq(parser *p, spak_tk closer, const char *what, void *(*item)(parser *p), void ***out, size_t *n)
{
    bool saved = p->skip_nl;
    p->skip_nl = true;
    next(p);
    ptrvec v = {0};
    bool ok = true;
    while (ok && p->tok.kind != closer) {
        void *x = item(p);
        if (x)
            pv_push(p, &v, x);
        ok = x && list_sep(p, closer, what);
    }
    p->skip_nl = saved;
    if (!ok)
        return false;
    *n = v.n;
    *out = pv_finish(p, &v);
    next(p);
    return true;
}

static void *expr_item(parser *p)
{
    return expr(p);
}

/* items := [ expr { ',' expr } [','] ] CLOSER, after the opening bracket;
 * fills e->items. */
static spak_expr *items(parser *p, spak_expr *e, spak_tk closer, const char *what)
{
    void **v;
    if (!seq(p, closer, what, expr_item, &v, &e->n_items))
        return NULL;
    e->items = (spak_expr **)v;
    return e;
}

/* list := '[' items ']' */
static spak_expr *list(parser *p)
{
    return items(p, new_expr(p, SPAK_EX_LIST, p->tok.pos), SPAK_TK_RBRACKET, "',' or ']' in list");
}

/* call := NAME '(' items ')' */
static spak_expr *call(parser *p, spak_expr *e)
{
    e->kind = SPAK_EX_CALL;
    return items(p, e, SPAK_TK_RPAREN, "',' or ')' in call");
}

/* primary := NUMBER | STRING | true | false | NAME [args] | list | map | '(' expr ')' */
static spak_expr *primary(parser *p)
{
    spak_expr *e;
    switch (p->tok.kind) {
    case SPAK_TK_NUMBER:
        e = new_expr(p, SPAK_EX_NUMBER, p->tok.pos);
        e->text = p->tok.text;
        e->num = p->tok.num;
        e->is_int = p->tok.is_int;
        next(p);
        return e;
    case SPAK_TK_STRING:
        e = new_expr(p, SPAK_EX_STRING, p->tok.pos);
        e->text = p->tok.text;
        e->triple = p->tok.triple;
        e->single_quoted = p->tok.single_quoted;
        next(p);
        return e;
    case SPAK_TK_NAME:
        if (strcmp(p->tok.text, "true") == 0 || strcmp(p->tok.text, "false") == 0) {
            e = new_expr(p, SPAK_EX_BOOL, p->tok.pos);
            e->boolean = p->tok.text[0] == 't';
            next(p);
            return e;
        }
        e = new_expr(p, SPAK_EX_NAME, p->tok.pos);
        e->text = p->tok.text;
        next(p);
        if (p->tok.kind == SPAK_TK_LPAREN)
            return call(p, e);
        return e;
    case SPAK_TK_LBRACKET:
        return list(p);
    case SPAK_TK_LBRACE: {
        e = new_expr(p, SPAK_EX_MAP, p->tok.pos);
        bool saved = p->skip_nl;
        p->skip_nl = false;
        e->map = block(p);
        p->skip_nl = saved;
        return e->map ? e : NULL;
    }
    case SPAK_TK_LPAREN: {
        e = new_expr(p, SPAK_EX_PAREN, p->tok.pos);
        bool saved = p->skip_nl;
        p->skip_nl = true;
        next(p);
        e->lhs = expr(p);
        if (!e->lhs) {
            p->skip_nl = saved;
            return NULL;
        }
        if (p->tok.kind != SPAK_TK_RPAREN) {
            expected(p, "')'");
            p->skip_nl = saved;
            return NULL;
        }
        p->skip_nl = saved;
        next(p);
        return e;
    }
    default:
        expected(p, "a value");
        return NULL;
    }
}

/* unary := ('!' | '-') unary | primary */
static spak_expr *unary(parser *p)
{
    if (p->tok.kind == SPAK_TK_NOT || p->tok.kind == SPAK_TK_MINUS) {
        enter(p);
        spak_expr *e = new_expr(p, SPAK_EX_UNARY, p->tok.pos);
        e->op = p->tok.kind == SPAK_TK_NOT ? SPAK_OP_NOT : SPAK_OP_NEG;
        next(p);
        e->lhs = unary(p);
        leave(p);
        return e->lhs ? e : NULL;
    }
    return primary(p);
}

/* Binary operators in one expression. A chain `a + b + c ...` is parsed by a
 * loop but is a tree as deep as the chain is long, and everything that walks
 * the tree (checker, evaluator, formatter, dump) recurses: this bounds it. */
#define MAX_EXPR_OPS 1000

/* binary := unary { OP binary }, by precedence climbing:
 *   | (union)  <  ||  <  &&  <  == !=  <  < <= > >=  <  + -  <  * / %      */
static spak_expr *binary(parser *p, int min_prec)
{
    spak_expr *lhs = unary(p);
    if (!lhs)
        return NULL;
    for (;;) {
        int prec;
        spak_op op = binop_of(p->tok.kind, &prec);
        if (op == SPAK_OP_NONE || prec < min_prec)
            return lhs;
        if (++p->expr_ops > MAX_EXPR_OPS) {
            error_at(p, p->tok.pos, "expression with more than %d operators", MAX_EXPR_OPS);
            return NULL;
        }
        spak_expr *e = new_expr(p, SPAK_EX_BINARY, p->tok.pos);
        e->op = op;
        e->lhs = lhs;
        next(p);
        skip_newlines(p);  /* an operator at the end of a line continues the expression */
        enter(p);
        e->rhs = binary(p, prec + 1);
        leave(p);
        if (!e->rhs)
            return NULL;
        lhs = e;
    }
}

/* expr := binary */
static spak_expr *expr(parser *p)
{
    enter(p);
    if (p->expr_level++ == 0)
        p->expr_ops = 0;
    spak_expr *e = binary(p, 1);
    p->expr_level--;
    leave(p);
    return e;
}

static spak_entry *new_entry(parser *p, spak_entry_kind k, spak_pos pos)
{
    spak_entry *e = alloc(p, sizeof *e);
    e->kind = k;
    e->pos = pos;
    return e;
}

/* words := { NAME | STRING } */
static void words(parser *p, spak_entry *e)
{
    spak_word tmp[64];
    size_t n = 0;
    while (p->tok.kind == SPAK_TK_NAME || p->tok.kind == SPAK_TK_STRING) {
        if (n == SPAK_ARRAY_LEN(tmp)) {
            error_at(p, p->tok.pos, "too many words in one entry (max %zu)", SPAK_ARRAY_LEN(tmp));
            break;
        }
        tmp[n].text = p->tok.text;
        tmp[n].is_string = p->tok.kind == SPAK_TK_STRING;
        tmp[n].triple = p->tok.triple;
        tmp[n].pos = p->tok.pos;
        n++;
        next(p);
    }
    if (n) {
        e->words = alloc(p, n * sizeof *e->words);
        memcpy(e->words, tmp, n * sizeof *tmp);
        e->n_words = n;
    }
}

/* param := words [ ':' expr ] */
static void *param(parser *p)
{
    spak_entry *prm = new_entry(p, SPAK_EN_PLAIN, p->tok.pos);
    words(p, prm);
    if (prm->n_words == 0) {
        expected(p, "a parameter name");
        return NULL;
    }
    if (p->tok.kind == SPAK_TK_COLON) {
        next(p);
        prm->value = expr(p);
        if (!prm->value)
            return NULL;
    }
    return prm;
}

/* params := '(' [ param { ',' param } [','] ] ')' */
static bool params(parser *p, spak_entry *e)
{
    void **v;
    e->has_params = true;
    if (!seq(p, SPAK_TK_RPAREN, "',' or ')' after parameter", param, &v, &e->n_params))
        return false;
    e->params = (spak_entry **)v;
    return true;
}

/* Is the next significant token after the current newlines the word `else`?
 * Looks ahead on a copy of the lexer, reporting nothing. */
static bool else_follows(parser *p)
{
    if (p->tok.kind == SPAK_TK_NAME)
        return strcmp(p->tok.text, "else") == 0;
    if (p->tok.kind != SPAK_TK_NEWLINE)
        return false;
    spak_lexer copy = p->lx;
    spak_diags sink;
    spak_diags_init(&sink, "");
    copy.diags = &sink;
    spak_token t;
    bool found = false;
    for (;;) {
        spak_lex_next(&copy, &t);
        if (t.kind == SPAK_TK_NEWLINE || t.kind == SPAK_TK_COMMENT)
            continue;
        found = t.kind == SPAK_TK_NAME && t.text && strcmp(t.text, "else") == 0;
        break;
    }
    spak_diags_free(&sink);
    if (copy.oom)
        fatal(p, SPAK_ERR_NOMEM);
    return found;
}

static spak_entry *entry(parser *p);

/* if := 'if' expr block [ 'else' ( if | block ) ] */
static spak_entry *if_stmt(parser *p)
{
    spak_entry *e = new_entry(p, SPAK_EN_IF, p->tok.pos);
    next(p);
    e->value = expr(p);
    if (!e->value)
        return NULL;
    if (p->tok.kind != SPAK_TK_LBRACE) {
        expected(p, "'{' after the if condition");
        return NULL;
    }
    e->body = block(p);
    if (!e->body)
        return NULL;
    e->end_line = p->prev_line;
    if (else_follows(p)) {
        skip_newlines(p);
        spak_pos epos = p->tok.pos;
        next(p);
        if (is_name(p, "if")) {
            enter(p);
            e->else_branch = if_stmt(p);
            leave(p);
            if (!e->else_branch)
                return NULL;
            e->end_line = e->else_branch->end_line;
        } else if (p->tok.kind == SPAK_TK_LBRACE) {
            spak_entry *el = new_entry(p, SPAK_EN_ELSE, epos);
            el->body = block(p);
            if (!el->body)
                return NULL;
            el->end_line = p->prev_line;
            e->else_branch = el;
            e->end_line = el->end_line;
        } else {
            expected(p, "'{' or 'if' after 'else'");
            return NULL;
        }
    }
    return e;
}

/* entry := if | 'return' expr
 *        | words [params] [':' expr] ['=' expr] [block] */
static spak_entry *entry(parser *p)
{
    if (is_name(p, "if"))
        return if_stmt(p);
    if (is_name(p, "else")) {
        error_at(p, p->tok.pos, "'else' without a matching 'if'");
        return NULL;
    }
    if (is_name(p, "return")) {
        spak_entry *e = new_entry(p, SPAK_EN_RETURN, p->tok.pos);
        next(p);
        e->value = expr(p);
        if (!e->value)
            return NULL;
        e->end_line = p->prev_line;
        return e;
    }
    spak_entry *e = new_entry(p, SPAK_EN_PLAIN, p->tok.pos);
    words(p, e);
    if (e->n_words == 0) {
        expected(p, "a name");
        return NULL;
    }
    if (p->tok.kind == SPAK_TK_LPAREN && !params(p, e))
        return NULL;
    if (p->tok.kind == SPAK_TK_COLON) {
        next(p);
        e->value = expr(p);
        if (!e->value)
            return NULL;
    }
    if (p->tok.kind == SPAK_TK_ASSIGN) {
        next(p);
        e->init = expr(p);
        if (!e->init)
            return NULL;
    }
    if (p->tok.kind == SPAK_TK_LBRACE) {
        e->body = block(p);
        if (!e->body)
            return NULL;
    }
    e->end_line = p->prev_line;
    return e;
}

/* Attach the pending comments after an entry: the one on its last line
 * becomes its trailing comment; comments from inside a multi-line entry go
 * before it, so that none is lost. */
static void attach_after(parser *p, spak_entry *e)
{
    spak_comments c = take_pending(p);
    spak_comment *trailing = NULL;
    for (spak_comment *k = c.first; k;) {
        spak_comment *nx = k->next;
        k->next = NULL;
        if (k->pos.line == e->end_line && !trailing && !nx) {
            trailing = k;
        } else if (k->pos.line >= e->pos.line && k->pos.line <= e->end_line) {
            if (e->leading.last)
                e->leading.last->next = k;
            else
                e->leading.first = k;
            e->leading.last = k;
        } else {
            /* belongs to what follows: keep it pending */
            if (p->pending.last)
                p->pending.last->next = k;
            else
                p->pending.first = k;
            p->pending.last = k;
        }
        k = nx;
    }
    e->trailing = trailing;
}

/* entries := { entry sep } ;  sep := NEWLINE | ',' | ';'
 * Parses until '}' or end of file (not consumed). */
static void entries(parser *p, spak_block *b, bool top)
{
    ptrvec items = {0};
    int last_end = 0;
    for (;;) {
        int nl = 0;
        while (p->tok.kind == SPAK_TK_NEWLINE || p->tok.kind == SPAK_TK_COMMA || p->tok.kind == SPAK_TK_SEMI) {
            if (p->tok.kind == SPAK_TK_NEWLINE)
                nl++;
            next(p);
        }
        if (p->tok.kind == SPAK_TK_EOF)
            break;
        if (p->tok.kind == SPAK_TK_RBRACE) {
            if (!top)
                break;
            p->suppress = false;
            error_at(p, p->tok.pos, "unexpected '}' (no block is open here)");
            next(p);
            continue;
        }
        if (spak_diags_full(p->diags))
            break;
        /* an entry that starts with a bad token already has its error */
        p->suppress = p->after_lex_error;
        p->err_in_brackets = false;
        spak_comments lead = take_pending(p);
        int first_line = lead.first ? lead.first->pos.line : p->tok.pos.line;
        spak_entry *e = entry(p);
        if (e) {
            if (p->tok.kind == SPAK_TK_COMMA || p->tok.kind == SPAK_TK_SEMI) {
                next(p);
            } else if (p->tok.kind != SPAK_TK_NEWLINE && p->tok.kind != SPAK_TK_RBRACE &&
                       p->tok.kind != SPAK_TK_EOF) {
                expected(p, "a newline or ',' after the entry");
                sync(p);
            }
            if (lead.first) {
                if (e->leading.first) {
                    lead.last->next = e->leading.first;
                    lead.last = e->leading.last;
                }
                e->leading = lead;
            }
            attach_after(p, e);
            e->blank_before = items.n > 0 && last_end > 0 && first_line - last_end >= 2 && nl >= 2;
            last_end = e->end_line;
            pv_push(p, &items, e);
        } else {
            /* keep the comments that were before the broken entry */
            if (lead.first) {
                lead.last->next = p->pending.first;
                if (!p->pending.first)
                    p->pending.last = lead.last;
                p->pending.first = lead.first;
            }
            sync(p);
        }
    }
    b->n = items.n;
    b->items = (spak_entry **)pv_finish(p, &items);
}

/* block := '{' entries '}' */
static spak_block *block(parser *p)
{
    enter(p);
    spak_block *b = alloc(p, sizeof *b);
    b->open = p->tok.pos;
    bool saved = p->skip_nl;
    p->skip_nl = false;
    next(p);
    /* a comment on the line of '{' */
    if (p->pending.first && p->pending.first->pos.line == b->open.line && p->pending.first == p->pending.last) {
        b->open_comment = p->pending.first;
        p->pending.first = p->pending.last = NULL;
    }
    entries(p, b, false);
    b->tail = take_pending(p);
    if (p->tok.kind != SPAK_TK_RBRACE) {
        p->suppress = false;
        if (p->tok.kind == SPAK_TK_EOF) {
            if (!p->eof_in_string)
                error_at(p, b->open, "unclosed '{': end of file reached before its '}'");
        }
        else
            expected(p, "'}'");
        p->skip_nl = saved;
        leave(p);
        return NULL;
    }
    b->close = p->tok.pos;
    b->inline_src = b->close.line == b->open.line;
    p->skip_nl = saved;
    next(p);
    leave(p);
    return b;
}

/* front_matter := '---' NEWLINE { line } '---' NEWLINE   (only at the very start) */
static size_t front_matter(parser *p, const char *src, size_t len, int *line, const char **text)
{
    *text = NULL;
    size_t i = 0;
    if (len >= 3 && (unsigned char)src[0] == 0xEF && (unsigned char)src[1] == 0xBB && (unsigned char)src[2] == 0xBF)
        i = 3;  /* UTF-8 byte order mark */
    if (len - i < 3 || memcmp(src + i, "---", 3) != 0)
        return i;
    size_t j = i + 3;
    while (j < len && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r'))
        j++;
    if (j < len && src[j] != '\n')
        return i;
    size_t body = j < len ? j + 1 : j;
    int ln = 2;
    size_t k = body;
    while (k < len) {
        size_t eol = k;
        while (eol < len && src[eol] != '\n')
            eol++;
        size_t m = eol;
        while (m > k && (src[m - 1] == ' ' || src[m - 1] == '\t' || src[m - 1] == '\r'))
            m--;
        if (m - k == 3 && memcmp(src + k, "---", 3) == 0) {
            if (!spak_utf8_valid(src + body, k - body) || memchr(src + body, '\0', k - body)) {
                spak_diags_add(p->diags, SPAK_DIAG_ERROR, 1, 1, "invalid UTF-8 or NUL byte in front matter");
            } else {
                char *t = spak_arena_strndup(p->arena, src + body, k - body);
                if (!t)
                    fatal(p, SPAK_ERR_NOMEM);
                *text = t;
            }
            *line = ln + 1;
            return eol < len ? eol + 1 : eol;
        }
        ln++;
        k = eol < len ? eol + 1 : eol;
    }
    spak_diags_add(p->diags, SPAK_DIAG_ERROR, 1, 1, "unterminated front matter: no closing '---' line");
    *line = ln;
    return len;
}

spak_status spak_parse(const char *path, const char *src, size_t len, spak_arena *arena, spak_diags *diags,
                       spak_file **out)
{
    *out = NULL;
    if (len > SPAK_MAX_SPEC_BYTES) {
        spak_diags_add(diags, SPAK_DIAG_ERROR, 1, 1, "file is larger than the limit of %zu bytes",
                       SPAK_MAX_SPEC_BYTES);
        return SPAK_ERR_LIMIT;
    }
    parser p;
    memset(&p, 0, sizeof p);
    p.arena = arena;
    p.diags = diags;
    size_t before = diags->n_errors;
    spak_file *f = spak_arena_alloc(arena, sizeof *f);
    spak_block *top = spak_arena_alloc(arena, sizeof *top);
    if (!f || !top)
        return SPAK_ERR_NOMEM;
    f->path = path;
    f->top = top;
    if (setjmp(p.fatal)) {
        *out = f;
        return p.fatal_status;
    }
    int line = 1;
    const char *fm;
    size_t start = front_matter(&p, src, len, &line, &fm);
    f->front_matter = fm;
    spak_lex_init(&p.lx, src + start, len - start, line, 1, arena, diags);
    next(&p);
    entries(&p, top, true);
    top->tail = take_pending(&p);
    *out = f;
    return diags->n_errors > before ? SPAK_ERR_SYNTAX : SPAK_OK;
}

spak_expr *spak_parse_expr_text(const char *text, spak_pos at, spak_arena *arena, spak_diags *diags, bool quiet)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.arena = arena;
    spak_diags_init(&p.quiet_diags, "");
    p.diags = quiet ? &p.quiet_diags : diags;
    spak_expr *e = NULL;
    if (setjmp(p.fatal)) {
        spak_diags_free(&p.quiet_diags);
        return NULL;
    }
    size_t before = p.diags->n_errors;
    spak_lex_init(&p.lx, text, strlen(text), at.line, at.col, arena, p.diags);
    p.skip_nl = true;
    next(&p);
    if (p.tok.kind == SPAK_TK_EOF) {
        error_at(&p, at, "empty expression");
    } else {
        e = expr(&p);
        if (e && p.tok.kind != SPAK_TK_EOF) {
            expected(&p, "end of expression");
            e = NULL;
        }
    }
    if (p.diags->n_errors > before || p.suppress)
        e = NULL;
    spak_diags_free(&p.quiet_diags);
    return e;
}
