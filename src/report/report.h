/*
 * report.h - a run's report: one Markdown file and one self-contained HTML
 * file with SVG charts, every number and sentence computed from the store.
 *
 * What the report holds and how each number is computed: docs/reports.md.
 *
 * The HTML file has no external references of any kind: its CSS is inline,
 * its charts are inline <svg>, there is no script, no font, no image and no
 * link that leaves the page. Every string taken from the store (candidate
 * keys, errors, records, device text, the spec) is escaped for the format it
 * lands in (HTML text/attribute, Markdown).
 */
#ifndef SPAK_REPORT_H
#define SPAK_REPORT_H

#include <limits.h>
#include "spak.h"
#include "store/store.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Hard cap on the size of either file (a run with very many evaluations
 * fails with SPAK_ERR_LIMIT rather than writing a file no browser opens). */
#define SPAK_REPORT_MAX_BYTES ((size_t)64 << 20)

typedef struct spak_report_paths {
    char md[PATH_MAX];   /* out_dir/report.md */
    char html[PATH_MAX]; /* out_dir/report.html */
    long evaluations;    /* evaluations in the run (= marks in the metric chart) */
    long correct;        /* evaluations that were correct and measured */
} spak_report_paths;

/*
 * Read run_id from st (read-only) and write out_dir/report.md and
 * out_dir/report.html (out_dir is created if needed; each file is written
 * atomically). *out (may be NULL) gets the paths and two counts.
 * Fails with SPAK_ERR_ARG when there is no such run, SPAK_ERR_STORE when the
 * store cannot be read, SPAK_ERR_IO when a file cannot be written,
 * SPAK_ERR_LIMIT when a file would exceed SPAK_REPORT_MAX_BYTES.
 */
spak_status spak_report_write(spak_store *st, const char *run_id, const char *out_dir, spak_report_paths *out,
                              spak_err *err);

#endif
