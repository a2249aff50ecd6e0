/*
 * ast.h - the syntax tree of a spec file.
 *
 * The syntax is generic on purpose: a spec is a tree of *entries*, each
 *
 *     word... [ '(' params ')' ] [ ':' value ] [ '=' value ] [ '{' entries '}' ]
 *
 * plus the statements `if COND { } else { }` and `return EXPR`. What an entry
 * means (a parameter, a fact, a rule, a trace case) is decided by the checker
 * (check.c), not the parser, so that an unknown block is still a tree the
 * formatter can print back unchanged. Values are expressions (expr below):
 * literals, names, lists, maps, calls and operators.
 *
 * Every node lives in the spak_spec's arena and dies with it.
 */
#ifndef SPAK_AST_H
#define SPAK_AST_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

typedef struct spak_pos {
    int line, col;
} spak_pos;

typedef struct spak_comment {
    const char *text;            /* as written, with its // or # marker */
    spak_pos pos;
    struct spak_comment *next;
} spak_comment;

typedef struct spak_comments {
    spak_comment *first, *last;
} spak_comments;

/* ---- expressions --------------------------------------------------------- */

typedef enum spak_expr_kind {
    SPAK_EX_STRING,  /* text = decoded value; triple = written as """...""" */
    SPAK_EX_NUMBER,  /* text = source spelling; num = value; is_int */
    SPAK_EX_BOOL,    /* boolean */
    SPAK_EX_NAME,    /* text = dotted name, e.g. t.tflops or trace.latest */
    SPAK_EX_LIST,    /* items[n_items] */
    SPAK_EX_MAP,     /* map = a block of entries, written { k: v, ... } */
    SPAK_EX_CALL,    /* text = callee name; items = arguments */
    SPAK_EX_UNARY,   /* op: '!' or '-'; lhs */
    SPAK_EX_BINARY,  /* op; lhs, rhs (the '|' operator builds unions of strings) */
    SPAK_EX_PAREN    /* (lhs), kept so that printing gives back the same tree */
} spak_expr_kind;

/* Operators, shared with the lexer's token kinds for them. */
typedef enum spak_op {
    SPAK_OP_NONE = 0,
    SPAK_OP_OR, SPAK_OP_AND, SPAK_OP_NOT,
    SPAK_OP_EQ, SPAK_OP_NE, SPAK_OP_LT, SPAK_OP_LE, SPAK_OP_GT, SPAK_OP_GE,
    SPAK_OP_ADD, SPAK_OP_SUB, SPAK_OP_MUL, SPAK_OP_DIV, SPAK_OP_MOD,
    SPAK_OP_NEG,
    SPAK_OP_UNION
} spak_op;

typedef struct spak_block spak_block;

typedef struct spak_expr {
    spak_expr_kind kind;
    spak_pos pos;
    const char *text;
    bool triple;
    bool single_quoted;
    double num;
    bool is_int;
    bool boolean;
    spak_op op;
    struct spak_expr *lhs, *rhs;
    struct spak_expr **items;
    size_t n_items;
    spak_block *map;
} spak_expr;

/* ---- entries and blocks -------------------------------------------------- */

typedef enum spak_entry_kind {
    SPAK_EN_PLAIN,   /* words, params, value, init, body */
    SPAK_EN_IF,      /* value = condition, body, else_branch */
    SPAK_EN_ELSE,    /* body (the final else of an if chain) */
    SPAK_EN_RETURN   /* value */
} spak_entry_kind;

typedef struct spak_word {
    const char *text;   /* identifier (possibly dotted) or decoded string */
    bool is_string;
    bool triple;
    spak_pos pos;
} spak_word;

typedef struct spak_entry spak_entry;

struct spak_block {
    spak_entry **items;
    size_t n;
    spak_comment *open_comment;  /* comment on the line of '{' */
    spak_comments tail;          /* comments after the last entry */
    bool inline_src;             /* '{' and '}' were on one line */
    spak_pos open, close;
};

struct spak_entry {
    spak_entry_kind kind;
    spak_pos pos;
    spak_word *words;
    size_t n_words;
    bool has_params;
    spak_entry **params;         /* each: words + value, e.g. t: TraceItem.Perf */
    size_t n_params;
    spak_expr *value;            /* after ':' (or the condition / returned expr) */
    spak_expr *init;             /* after '=' */
    spak_block *body;            /* NULL when the entry has no braces */
    spak_entry *else_branch;     /* SPAK_EN_IF: an IF (else if) or ELSE entry */
    spak_comments leading;
    spak_comment *trailing;      /* comment at the end of the entry's last line */
    bool blank_before;           /* a blank line separated it from the previous entry */
    int end_line;
};

typedef struct spak_file {
    const char *path;
    const char *front_matter;    /* raw text between the --- lines, or NULL */
    spak_block *top;             /* the top-level entries (normally one `system`) */
} spak_file;

/* Helpers over the tree. */
const char *spak_op_text(spak_op op);
/* The first word, or "" when the entry has none. */
const char *spak_entry_head(const spak_entry *e);
/* True if entry e has at least n words and word i is an identifier equal to s. */
bool spak_entry_word_is(const spak_entry *e, size_t i, const char *s);
/* In block b, the first plain entry of exactly one word `key` (e.g. `metric: "x"`); NULL if none. */
spak_entry *spak_block_find(const spak_block *b, const char *key);
/* The string value of key in b (string literal or bare name), or NULL. */
const char *spak_block_string(const spak_block *b, const char *key);

/* Append a canonical, position-free dump of the tree (for tests and for
 * comparing trees: parse(fmt(x)) must dump the same as x). Comments are not
 * part of the dump. */
spak_status spak_ast_dump(const spak_file *f, spak_buf *out);
spak_status spak_expr_dump(const spak_expr *e, spak_buf *out);

#endif
