/*
 * diff.h - a unified diff applied to a source, strictly: every hunk's
 * context and removed lines must be exactly the lines at the place its
 * header names (no fuzz, no offset search), hunks in order and not
 * overlapping, the header's line counts equal to the hunk's lines. An MCP
 * engineer's diff against the run's best source (strategy_external.h) goes
 * through here; what it cannot apply is an error that names the hunk, the
 * line of the diff and the line of the source, never a guess.
 *
 * Accepted: optional "diff"/"---"/"+++"/"index" lines before the first hunk
 * (the file names are not read: there is one file), "@@ -a[,b] +c[,d] @@"
 * headers, ' ' context, '-' removed, '+' added lines, "\ No newline at end
 * of file", and a line that is empty inside a hunk as an empty context line
 * (editors and models drop the space). One file only.
 */
#ifndef SPAK_DIFF_H
#define SPAK_DIFF_H

#include <stddef.h>
#include "spak.h"
#include "util.h"

#define SPAK_DIFF_MAX_BYTES (4u << 20)

/* Apply diff (diff_len bytes) to src (src_len bytes) into out (initialized
 * by the caller; appended to). SPAK_ERR_PARSE: the diff is malformed;
 * SPAK_ERR_STATE: a hunk does not match the source; err says which hunk,
 * the diff's line and the source's line, what was expected and found. */
spak_status spak_diff_apply(const char *src, size_t src_len, const char *diff, size_t diff_len, spak_buf *out,
                            spak_err *err);

#endif
