/*
 * export.h - a run's results outside the database: spak's own export
 * document (JSON), its CSV form and the T4 autotuning results format
 * (`spak export`; docs/export.md has the layouts, docs/schemas/ the JSON
 * Schemas). compare.h compares two export documents.
 *
 * Every form is built from one document, the export document, so the
 * forms and the comparison cannot disagree: spak_export_run reads it from
 * the store, spak_export_read from a file that `spak export --format json` wrote (a
 * run measured on another machine), and the CSV, T4 and compare code read
 * only the document. What the document holds of the records obeys the one
 * rule of spak_trace_counts (trace.h): a held-out record counts in nothing,
 * so it is not exported either.
 */
#ifndef SPAK_EXPORT_H
#define SPAK_EXPORT_H

#include <jansson.h>

#include "spak.h"
#include "store/store.h"
#include "util.h"

#define SPAK_EXPORT_FORMAT "spak-export" /* the document's "format" */
#define SPAK_EXPORT_VERSION "1.0.0"      /* its "version": major.minor.patch */
#define SPAK_EXPORT_T4_VERSION "1.0.0"   /* the T4 results schema written */
#define SPAK_EXPORT_MAX_BYTES ((size_t)256 * 1024 * 1024) /* the largest document spak_export_read takes */

/*
 * The export document of run_id in st into *out (a new reference the
 * caller decrefs): the run (id, spec, status, stop reason, strategy, seed,
 * times, device, budget, summary, metric and objective) and each
 * evaluation in order (candidate key, parameters, status, correctness,
 * metric, ratio and its interval, bottleneck, times, trust) with one
 * measurement per Performance record that counts (shape, times, spread,
 * repetitions and every repetition's time) and the records that count.
 * SPAK_ERR_ARG when there is no such run; store errors as the store's.
 */
spak_status spak_export_run(spak_store *st, const char *run_id, json_t **out, spak_err *err);

/*
 * The export document read back from text (len bytes, at most
 * SPAK_EXPORT_MAX_BYTES), checked as far as the CSV, T4 and compare code
 * rely on it: format and major version, a run object with a string run_id,
 * an evaluations array of objects with integer eval_id and string
 * candidate and status, measurements (when present) an array of objects
 * whose samples are arrays of numbers. The first thing that is not so is
 * an SPAK_ERR_ARG error naming it (and the line and column where the text
 * is not JSON at all). *out is a new reference.
 */
spak_status spak_export_read(const char *text, size_t len, json_t **out, spak_err *err);

/*
 * The CSV form of doc appended to out (RFC 4180: comma-separated, CRLF line
 * ends, fields with a comma, quote or line break quoted with quotes
 * doubled): a header, then one row per measurement of each evaluation (an
 * evaluation without one gets one row with empty measurement columns).
 * Columns: run_id, eval_id, candidate, one column param.NAME per parameter
 * any evaluation has (in order of first appearance), then status, correct,
 * metric, ratio, ratio_lo, ratio_hi, bottleneck, seconds, shape, time_ms,
 * time_ms_p20, time_ms_p80, reps, samples_ms (the times separated by
 * spaces), error. Numbers in their shortest form that reads back the same.
 * Text that would start with = + - @ (a formula to a spreadsheet) gets a
 * leading ' ; numbers never do. Fails only as out does.
 */
spak_status spak_export_csv(const json_t *doc, spak_buf *out, spak_err *err);

/*
 * doc in the T4 autotuning results format (the open schema Kernel Tuner
 * writes: schema_version, results, metadata) into *out (a new reference):
 * one result per measurement of each evaluation (one per evaluation
 * without one), its configuration the parameters, times.runtimes the
 * candidate's repetitions in milliseconds, invalidity from how the
 * evaluation ended (correct, compile, runtime, timeout, correctness),
 * correctness 1 or 0, the measured numbers as measurements, objectives the
 * run's metric. SPAK_ERR_NOMEM only.
 */
spak_status spak_export_t4(const json_t *doc, json_t **out, spak_err *err);

#endif
