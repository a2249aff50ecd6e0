/*
 * suggest.h - "did you mean": the known name a misspelt one was most likely
 * meant to be, so that the checker can call a typo an error instead of
 * letting it change what a spec means (docs/language.md 4.0, "Typos").
 *
 * Closeness is the optimal-string-alignment distance (insertions,
 * deletions, substitutions, swaps of two neighbours) of the lower-cased
 * names, and how much of it a name of that length may carry:
 *   names of 1-4 characters  one insertion, deletion or swap (a substituted
 *                            letter in so short a name is another word:
 *                            `then` is no typo of `when`)
 *   5-7 characters           one edit of any kind
 *   8 or more                two edits
 * A name that differs only in case is always close. Names over 63 bytes are
 * compared only for equality up to case.
 */
#ifndef SPAK_SUGGEST_H
#define SPAK_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* The running best candidate for one misspelt name. */
typedef struct spak_suggest {
    const char *name;    /* borrowed: the unknown name */
    const char *best;    /* borrowed: the closest close candidate so far, or NULL */
    int best_d;
} spak_suggest;

void spak_suggest_init(spak_suggest *s, const char *name);
/* Consider one known name (NULL and the name itself are skipped). */
void spak_suggest_try(spak_suggest *s, const char *cand);
/* The closest of a list (n entries, or up to a NULL when n is 0), or NULL. */
const char *spak_suggest_list(const char *name, const char *const *cands, size_t n);
/* Whether a is close enough to b to be a typo of it (the rule above). */
bool spak_suggest_close(const char *a, const char *b, int *dist);

/* " (did you mean 'X'?)" into buf when best is not NULL, else "". Returns buf. */
const char *spak_suggest_text(const char *best, char *buf, size_t n);

#endif
