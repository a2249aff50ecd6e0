/*
 * parse.h - the parser of the spec language: source text -> syntax tree.
 *
 * One function per grammar rule, the rule in its comment (docs/language.md
 * has the whole grammar). Errors are reported as diagnostics with the
 * position of the token where the problem starts; the parser then skips to
 * the next entry and goes on, so that one pass reports all errors (up to
 * SPAK_DIAG_MAX_ERRORS). Nesting deeper than SPAK_MAX_DEPTH stops the parse.
 */
#ifndef SPAK_PARSE_H
#define SPAK_PARSE_H

#include "spec/ast.h"
#include "spec/diag.h"

#define SPAK_MAX_DEPTH 64

/* Parse src[0..len) (path is used for messages only). The tree is allocated
 * in arena and returned in *out (never NULL on SPAK_OK or SPAK_ERR_SYNTAX:
 * a partial tree is still returned after syntax errors). Returns SPAK_OK,
 * SPAK_ERR_SYNTAX when diags got errors, SPAK_ERR_LIMIT when the input is
 * over a cap, or SPAK_ERR_NOMEM. */
spak_status spak_parse(const char *path, const char *src, size_t len, spak_arena *arena, spak_diags *diags,
                       spak_file **out);

/* Parse a whole expression from text (a condition written as a string, e.g.
 * when: "is_slow && t.tflops < 10"); `at` is where the text starts in the
 * file, for diagnostics. Returns NULL (and reports into diags) when the text
 * is not one expression. With quiet, nothing is reported. */
spak_expr *spak_parse_expr_text(const char *text, spak_pos at, spak_arena *arena, spak_diags *diags, bool quiet);

#endif
