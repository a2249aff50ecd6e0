/*
 * kernels/common/record_nulls.h - the one rule every judge of spak applies to
 * a record before it prints it (the CPU judge's cpu_emit, the CUDA judges'
 * emit through hc_omit_nulls): a record that is not a failure (its "passed"
 * is not false, its "verdict" not "stopped") leaves out the members it has no
 * value for (null: a baseline that did not run, an LSE not declared), as
 * docs/store.md asks ("omit the field instead"). The engine's validator
 * counts a null as absent only in a failure record and rejects it elsewhere,
 * and a rejected passing record leaves its shape unchecked (the FMHA loop on
 * the H100, 2026-12-07). Failure and stopped records keep their nulls.
 */
#ifndef SPAK_RECORD_NULLS_H
#define SPAK_RECORD_NULLS_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

/* Removes o's null members when o is not a failure record; returns whether
 * it removed any. */
static inline bool spak_record_omit_nulls(json_t *o)
{
    if (!json_is_object(o))
        return false;
    const char *verdict = json_string_value(json_object_get(o, "verdict"));
    if (json_is_false(json_object_get(o, "passed")) || (verdict && strcmp(verdict, "stopped") == 0))
        return false;
    bool dropped = false;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v) {
        if (json_is_null(v)) {
            json_object_del(o, k);
            dropped = true;
        }
    }
    return dropped;
}

#endif
