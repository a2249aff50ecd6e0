/*
 * kernels/common/stop_limits.h - the judges' --stop-slower-than argument, read
 * one way by all of them (the CPU judge's parse_stop, the CUDA judges'
 * hc_stop_ms and hc_stop_names): either milliseconds a call for every timed
 * shape ("25"), or SHAPE=MS items joined by ',' ("1024x1024x1024=25,512x512x512=4",
 * what src/analyze/early_stop.c writes). Refused: an empty argument or item,
 * a number that is not finite and above 0 or has anything after it, an item
 * without '=' or with an empty shape, a trailing ','. Which shapes a judge
 * accepts is its own question, asked through the callback.
 */
#ifndef SPAK_STOP_LIMITS_H
#define SPAK_STOP_LIMITS_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* called once for "MS" (shape NULL, len 0) or once an item of SHAPE=MS,...
 * (shape not terminated at len); false refuses the argument */
typedef bool (*spak_stop_each)(const char *shape, size_t len, double ms, void *ud);

/* a number > 0 and finite, the n bytes at s and nothing else */
static inline bool spak_stop_number(const char *s, size_t n, double *ms)
{
    char num[64], *end;
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, s, n);
    num[n] = 0;
    errno = 0;
    *ms = strtod(num, &end);
    return !errno && end != num && *end == 0 && *ms > 0 && isfinite(*ms);
}

/* Reads spec, calling each for what it gives; false when spec is malformed
 * or each refused a part. */
static inline bool spak_stop_parse(const char *spec, spak_stop_each each, void *ud)
{
    double ms;
    if (!spec || !*spec)
        return false;
    if (!strchr(spec, '='))
        return spak_stop_number(spec, strlen(spec), &ms) && each(NULL, 0, ms, ud);
    for (const char *p = spec;;) {
        const char *e = strchr(p, ','), *eq = strchr(p, '=');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!eq || eq > p + n || eq == p || !spak_stop_number(eq + 1, (size_t)(p + n - eq - 1), &ms) ||
            !each(p, (size_t)(eq - p), ms, ud))
            return false;
        if (!e)
            return true;
        p = e + 1;
        if (!*p)
            return false; /* a trailing ',' */
    }
}

#endif
