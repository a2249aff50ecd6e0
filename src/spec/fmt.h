/*
 * fmt.h - the formatter: syntax tree -> canonical spec text.
 *
 * Canonical form: four-space indentation, one entry per line, `key: value`
 * with one space after the colon, binary operators spaced, strings in double
 * quotes (""" strings kept as written), every comment kept (a comment inside
 * a multi-line value moves to the line before its entry), at most one blank
 * line kept between entries, and a block written on one line in the source
 * (`case P { a: int, b: float }`) kept on one line when it holds no comments
 * and no nested blocks. Formatting is idempotent, and parsing the output
 * gives the same tree (spak_ast_dump) as parsing the input.
 *
 * This is also how spak writes spec v(n+1): anything the parser accepts, the
 * formatter prints.
 */
#ifndef SPAK_FMT_H
#define SPAK_FMT_H

#include "spec/ast.h"

/* Append the canonical text of f to out. */
spak_status spak_fmt_file(const spak_file *f, spak_buf *out);
/* Append one expression (single line; maps print inline). */
spak_status spak_fmt_expr(const spak_expr *e, spak_buf *out);
/* Append a string literal, quoted and escaped. */
spak_status spak_fmt_string(const char *s, spak_buf *out);

#endif
