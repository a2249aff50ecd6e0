/*
 * strategies.h - the names of the strategies, listed once. The table of
 * strategy.c is made from this list (the name NAME is the spak_strategy_NAME
 * that strategy_NAME.c defines), the spec checker accepts exactly these names
 * for `strategy:` (spec/check.c), and messages name them from here.
 *
 * Only names: no PROGRAM types, so that the checker (SPECIFY) reads them
 * without depending on the strategies themselves (strategies.c needs nothing
 * but util). Nothing to own or free.
 *
 * Adding a strategy: its file strategy_NAME.c, defining spak_strategy_NAME
 * (strategy.h), and X(NAME) in the list below, in the order messages name
 * them.
 */
#ifndef SPAK_STRATEGIES_H
#define SPAK_STRATEGIES_H

#include <stdbool.h>
#include <stddef.h>

/* X(name) for each strategy, the default first (a loop's strategy when its
 * spec names none). */
#define SPAK_STRATEGIES(X) X(default) X(grid) X(random) X(rules) X(llm) X(external)

/* Whether name is one of the list's (NULL: no). */
bool spak_strategy_known(const char *name);

/* The list's names for a message: buf[n] gets them joined by sep, the last
 * two by last_sep ("a, b or c"); cut short when n is. */
void spak_strategy_names(char *buf, size_t n, const char *sep, const char *last_sep);

#endif
