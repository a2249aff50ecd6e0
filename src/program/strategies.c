/* strategies.c - the strategies' names (strategies.h). */
#include "program/strategies.h"

#include <string.h>

#include "util.h"

#define NAME(n) #n,
static const char *const names[] = {SPAK_STRATEGIES(NAME)};
#undef NAME

bool spak_strategy_known(const char *name)
{
    for (size_t i = 0; name && i < SPAK_ARRAY_LEN(names); i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

void spak_strategy_names(char *buf, size_t n, const char *sep, const char *last_sep)
{
    size_t len = 0;
    const size_t count = SPAK_ARRAY_LEN(names);
    for (size_t i = 0; i < count && n; i++) {
        const char *before = i == 0 ? "" : i + 1 == count ? last_sep : sep;
        if (!spak_snprintf(buf + len, n - len, "%s%s", before, names[i]))
            return;  /* cut short: what fits is there */
        len += strlen(buf + len);
    }
}
