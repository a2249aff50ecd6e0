/*
 * tap.h - a tiny TAP producer for unit tests. Each test program prints
 * "ok N - name" or "not ok N - name" lines; tests/run.sh counts them.
 *
 *   TAP_OK(cond, "name %d", i);          one check
 *   return tap_done();                   exit status: 0 if all passed
 */
#ifndef SPAK_TAP_H
#define SPAK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

#define TAP_OK(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define TAP_STREQ(a, b, ...)                                                            \
    do {                                                                                \
        const char *tap_a_ = (a), *tap_b_ = (b);                                        \
        if (!TAP_OK(tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0, __VA_ARGS__))      \
            printf("#   got:      '%s'\n#   expected: '%s'\n", tap_a_ ? tap_a_ : "(null)", \
                   tap_b_ ? tap_b_ : "(null)");                                         \
    } while (0)

static inline void tap_skip(const char *name, const char *why)
{
    tap_n++;
    printf("ok %d - %s # SKIP %s\n", tap_n, name, why);
    fflush(stdout);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
