/*
 * template.h - the {{name}} expander and the word splitter that every
 * command line of spak goes through (the engine's measure command, the
 * agent's tool.run and its prompts and paths). One implementation, so the
 * rules (what a name is, what quotes do, the caps) are the same everywhere.
 *
 * Not a shell: no variables of the environment, no globbing, no
 * backslashes; '...' and "..." only group blanks into one word.
 */
#ifndef SPAK_TEMPLATE_H
#define SPAK_TEMPLATE_H

#include <stddef.h>
#include "util.h"

/* The value of {{name}}: append it to out and return SPAK_OK, or fill err
 * (the caller's own wording, e.g. "has no value here") and return an error.
 * name is trimmed of blanks and at most 127 bytes. */
typedef spak_status (*spak_template_lookup)(void *ud, const char *name, spak_buf *out, spak_err *err);

/* The {{name}} that opens at s (s[0] and s[1] are '{'): the name, blanks
 * around it trimmed, as *name (pointing into s) and its length *n; returns
 * where the closing "}}" starts, or NULL when no "}}" closes it. The
 * expander and the spec checker read names through it. */
const char *spak_template_name(const char *s, const char **name, size_t *n);

/* Append s to out with every {{name}} replaced by lookup's value. out's cap
 * bounds the result: going over it is SPAK_ERR_LIMIT "expanded command
 * argument too long". A '{{' without '}}' is SPAK_ERR_ARG. out is the
 * caller's (partially filled on error). */
spak_status spak_template_expand(const char *s, spak_template_lookup lookup, void *ud, spak_buf *out, spak_err *err);

/* The same into a fixed buffer out[n] (always NUL-terminated on success). */
spak_status spak_template_expand_into(const char *s, spak_template_lookup lookup, void *ud, char *out, size_t n,
                                      spak_err *err);

#define SPAK_TEMPLATE_MAX_WORDS 128

/* Split cmd into words: blanks (space, tab, newline) separate, '...' and
 * "..." quote (also inside a word: a"b c"d is one word). The words are
 * written into store[store_n] (the caller's) and words[] points into it,
 * NULL-terminated; *nw is their number. More than SPAK_TEMPLATE_MAX_WORDS-1
 * words, a word list longer than store_n, or an unterminated quote is an
 * error naming `what` (e.g. "measure cmd"). */
spak_status spak_template_split(const char *cmd, const char *what, char *store, size_t store_n,
                                char *words[SPAK_TEMPLATE_MAX_WORDS], size_t *nw, spak_err *err);

#endif
