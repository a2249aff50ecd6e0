/*
 * views.h - the record views that expressions read: trace.latest (the
 * newest evaluation's valid records) and trace.best (the best one's), one
 * case at a time or all of them. Only the records that count are seen
 * (spak_trace_counts: held-out ones never do).
 */
#ifndef SPAK_VIEWS_H
#define SPAK_VIEWS_H

#include <jansson.h>
#include "spec/expr.h"

typedef struct spak_views {
    const spak_model *m;
    json_t *latest;   /* array of records, or NULL (the owner's) */
    json_t *best;     /* array of records, or NULL (the owner's) */
    /* a parameter's value in conditions (NULL: none) */
    bool (*param)(void *ud, const char *name, spak_value *out);
    void *param_ud;
} spak_views;

/* An evaluation environment over v (which must outlive it). */
spak_eval_env spak_views_env(const spak_views *v);

/* The last record of a case (any case when NULL) among those that count in
 * arr, or NULL. Borrowed from arr. */
const json_t *spak_views_find_case(const json_t *arr, const char *case_name);

/* Where records sit under the roofline, averaged over the shapes that are
 * not held out (roofline_frac, else frac_peak_flops, else frac_peak); -1
 * when no record says. */
double spak_views_roofline(const json_t *records);

/* The ratio's interval over the records that count (Performance records
 * with "ratio" and "ratio_ci": [lo, hi], held-out ones never): the
 * geometric means of the shapes' lo and hi, as the ratio itself is the
 * geometric mean of the shapes' ratios. *precise: every such record says
 * "precision_reached": true. False (lo, hi NAN) when no record has one. */
bool spak_views_ratio_ci(const json_t *records, double *lo, double *hi, bool *precise);

/* Above this share of the judge's CPUs taken by foreign work while it timed
 * (the CPU judge's CPU_LOAD_QUIET, kernels/cpu/common/judge.h), a
 * measurement decides nothing: its ratio holds on a machine that was not
 * the machine (another process's threads slow a baseline of more threads
 * than the candidate's, or the reverse), so the stop condition is not
 * taken on it and a decision that compares it is "inconclusive"
 * (docs/language.md, "Measured under load"). */
#define SPAK_FOREIGN_LOAD_MAX 0.05

/* The largest share of the judge's CPUs that foreign work took while the
 * records that count were timed (foreign_load, baseline_solo_foreign_load
 * of their Performance records); 0 when none says (the GPU judges, a
 * spec's own command). */
double spak_views_foreign_load(const json_t *records);

/* The baseline the ratios of records are to: the string "baseline" of every
 * record that counts (spak_trace_counts) and carries a numeric "ratio",
 * copied into buf[n]. True only when there is one and all name the same
 * one; false (buf "") when none names one, two name different ones, or the
 * name does not fit buf: two evaluations' ratios compare only when they
 * are to the same baseline (progress.h). */
bool spak_views_baseline(const json_t *records, char *buf, size_t n);

#endif
