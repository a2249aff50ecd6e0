/*
 * executor_names.c - what the spec checker needs to know of the executors
 * without linking them (the fuzzers link the checker alone): their names
 * and the well-formed Slurm option values. executor.c's table holds the
 * executors themselves; test_executor checks that the two agree.
 */
#include "analyze/executor_names.h"

#include <string.h>

static const char *const names[] = {"local", "slurm"};

bool spak_executor_known(const char *name)
{
    for (size_t i = 0; name && i < SPAK_ARRAY_LEN(names); i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

size_t spak_executor_count(void)
{
    return SPAK_ARRAY_LEN(names);
}

const char *spak_executor_name(size_t i)
{
    return i < SPAK_ARRAY_LEN(names) ? names[i] : NULL;
}

void spak_executor_names(char *buf, size_t n)
{
    spak_join_names(names, SPAK_ARRAY_LEN(names), buf, n);
}

static bool only(const char *s, const char *set)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, set) == n;
}

/* Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (numbers). */
static bool time_ok(const char *v)
{
    if (!only(v, "0123456789:-") || v[0] == ':' || v[0] == '-')
        return false;
    const char *dash = strchr(v, '-');
    size_t colons = 0;
    for (const char *p = v; *p; p++) {
        colons += *p == ':';
        if ((*p == ':' || *p == '-') && (p[1] < '0' || p[1] > '9'))
            return false;  /* "1:" or "1::2" */
    }
    if (dash && strchr(dash + 1, '-'))
        return false;
    return colons <= 2;
}

bool spak_slurm_value_ok(const char *key, const char *v, char *why, size_t n)
{
    static const char name_set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    bool ok = false;
    const char *expect = "";
    if (strcmp(key, "partition") == 0) {
        char set[sizeof name_set + 1];
        spak_snprintf(set, sizeof set, "%s,", name_set);
        ok = only(v, set) && v[0] != ',' && v[strlen(v) - 1] != ',', expect = "partition names, comma-separated";
    } else if (strcmp(key, "account") == 0) {
        ok = only(v, name_set), expect = "an account name";
    } else if (strcmp(key, "time") == 0) {
        ok = time_ok(v), expect = "minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]";
    } else if (strcmp(key, "gpus") == 0) {
        const char *colon = strchr(v, ':');
        char type[65] = "";
        if (colon)
            spak_snprintf(type, sizeof type, "%.*s", (int)(colon - v), v);
        ok = colon ? only(type, name_set) && only(colon + 1, "0123456789") : only(v, "0123456789");
        expect = "a count or TYPE:COUNT";
    } else {
        expect = "one of partition, time, account, gpus";
    }
    if (!ok && why)
        spak_snprintf(why, n, "%s", expect);
    return ok;
}

