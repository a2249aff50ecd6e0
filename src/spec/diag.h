/*
 * diag.h - diagnostics: errors and warnings about a user's input, each
 * located at file:line:col, collected (up to a cap) so that all problems of
 * a file are reported in one pass.
 */
#ifndef SPAK_DIAG_H
#define SPAK_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

typedef enum { SPAK_DIAG_ERROR, SPAK_DIAG_WARNING } spak_diag_severity;

typedef struct spak_diag {
    spak_diag_severity severity;
    int line, col;   /* 1-based; col counts characters (UTF-8 code points) */
    char *msg;       /* owned by the list */
} spak_diag;

#define SPAK_DIAG_MAX_ERRORS 25

/* A list of diagnostics about one file. `file` is borrowed (the caller keeps
 * it alive as long as the list). Errors past max_errors are counted but not
 * stored; `truncated` then says so. */
typedef struct spak_diags {
    const char *file;
    spak_diag *items;
    size_t n, alloc;
    size_t n_errors, n_warnings;
    size_t max_errors;
    bool truncated;
    bool oom;
} spak_diags;

void spak_diags_init(spak_diags *d, const char *file);
void spak_diags_free(spak_diags *d);
void spak_diags_add(spak_diags *d, spak_diag_severity sev, int line, int col, const char *fmt, ...) SPAK_PRINTF(5, 6);
/* True once max_errors errors have been stored: parsers stop there. */
bool spak_diags_full(const spak_diags *d);
/* Sort by position (stable) so that parse and check diagnostics interleave. */
void spak_diags_sort(spak_diags *d);
/* Append "file:line:col: error: msg\n" lines (and a last line when truncated). */
spak_status spak_diags_format(const spak_diags *d, spak_buf *out);

#endif
