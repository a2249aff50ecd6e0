/*
 * lex.h - the lexer of the spec language (hand-written, Lua style).
 *
 * Tokens are produced on demand. Newlines are tokens (they separate entries);
 * comments (// and # to the end of the line) are tokens too, so that the
 * parser can attach them to the tree and the formatter can keep them.
 * Lexical errors are reported into the diagnostics list and produce a
 * SPAK_TK_ERROR token; the parser skips those quietly.
 */
#ifndef SPAK_LEX_H
#define SPAK_LEX_H

#include "spec/ast.h"
#include "spec/diag.h"

#define SPAK_MAX_SPEC_BYTES ((size_t)4 << 20)  /* a spec file larger than this is refused */
#define SPAK_MAX_STRING 65536                  /* bytes in one string literal */
#define SPAK_MAX_NAME 256                      /* bytes in one (dotted) name */
#define SPAK_MAX_NUMBER 64                     /* bytes in one number literal */

typedef enum spak_tk {
    SPAK_TK_EOF, SPAK_TK_NEWLINE, SPAK_TK_COMMENT, SPAK_TK_ERROR,
    SPAK_TK_NAME, SPAK_TK_STRING, SPAK_TK_NUMBER,
    SPAK_TK_LBRACE, SPAK_TK_RBRACE, SPAK_TK_LBRACKET, SPAK_TK_RBRACKET,
    SPAK_TK_LPAREN, SPAK_TK_RPAREN,
    SPAK_TK_COLON, SPAK_TK_COMMA, SPAK_TK_SEMI, SPAK_TK_ASSIGN,
    SPAK_TK_BAR, SPAK_TK_OROR, SPAK_TK_ANDAND, SPAK_TK_NOT,
    SPAK_TK_EQ, SPAK_TK_NE, SPAK_TK_LT, SPAK_TK_LE, SPAK_TK_GT, SPAK_TK_GE,
    SPAK_TK_PLUS, SPAK_TK_MINUS, SPAK_TK_STAR, SPAK_TK_SLASH, SPAK_TK_PERCENT
} spak_tk;

typedef struct spak_token {
    spak_tk kind;
    spak_pos pos;
    const char *start;   /* in the source; len bytes */
    size_t len;
    const char *text;    /* NAME: the name; STRING: decoded value; NUMBER: spelling; COMMENT: text (arena) */
    bool triple;         /* STRING written as """...""" */
    bool single_quoted;  /* STRING written as '...' */
    double num;
    bool is_int;
} spak_token;

typedef struct spak_lexer {
    const char *src;
    size_t len, off;
    int line, col;
    spak_arena *arena;
    spak_diags *diags;
    bool oom;
} spak_lexer;

/* Start lexing src[0..len) whose first byte is at (line, col). Decoded texts
 * are allocated in arena; errors go to diags. Neither is owned. */
void spak_lex_init(spak_lexer *lx, const char *src, size_t len, int line, int col, spak_arena *arena,
                   spak_diags *diags);
/* Produce the next token. At the end, SPAK_TK_EOF forever. */
void spak_lex_next(spak_lexer *lx, spak_token *t);
/* A short printable description of a token for "near '...'" messages. */
void spak_token_describe(const spak_token *t, char *buf, size_t n);

#endif
