/*
 * compare.h - one run against another, candidate by candidate (`spak
 * compare`, as nvbench_compare does for benchmarks): the same candidate
 * measured in two runs (another machine, another driver, before and after
 * a change), B's time over A's with an interval from the stored
 * repetitions. Reads two export documents (export.h), so a run exported on
 * another machine compares like one in the local store.
 */
#ifndef SPAK_COMPARE_H
#define SPAK_COMPARE_H

#include <jansson.h>

#include "spak.h"

/*
 * The comparison of run b with run a (two export documents, as
 * spak_export_run or spak_export_read give them) at level (0 < level < 1)
 * into *out (a new reference). A candidate is its key (the canonical
 * parameter string); of several evaluations of one key the newest done
 * one stands for it. For each candidate done in both runs, and each shape
 * both measured (the measurements' "shape"; null matches null), a row:
 * B's time over A's, the point the ratio of the geometric means of the
 * two sets of repetitions (samples_ms) and the interval Welch's on their
 * logs (spak_stats_ratio_ci_unpaired: the runs are not paired), with a
 * verdict: "faster" (B's interval wholly below 1), "slower" (wholly
 * above), "same" (it holds 1) or "unknown" (fewer than 2 repetitions on a
 * side: the ratio of the time_ms fields alone, no interval); a candidate
 * done in both with no shape in common gets one row without numbers,
 * verdict "unknown". Then the
 * candidates done in only one of the runs ("only_in_a", "only_in_b"), the
 * counts of each verdict and the geometric mean of the rows' ratios.
 * docs/export.md ("spak compare") has the layout. SPAK_ERR_ARG for a
 * level out of range.
 */
spak_status spak_compare_runs(const json_t *a, const json_t *b, double level, json_t **out, spak_err *err);

#endif
