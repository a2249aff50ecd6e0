/*
 * learn.h - crystallization: lessons derived from a run's measurements,
 * written back as spec v(n+1), an insights log and rows of the store.
 *
 * What counts as a lesson (docs/knowledge.md gives the reasoning):
 *   effect      P = v against the other values of P, from controlled pairs
 *               only (same point but P's value), among the evaluations where
 *               P exists; n pairs, the effect, its 95% interval, a t-test,
 *               Holm-adjusted over every effect tested; a rule with >= 3
 *               pairs and adjusted p < 0.05, else a hypothesis (reported
 *               when p < 0.05 and the effect exceeds 3x the noise)
 *   best_config the best correct candidate per (device, family, shape class)
 *   rule_check  a rule whose recommended value the pairs contradict gets
 *               its confidence recomputed from them and a review flag
 *
 * Lessons drawn from untrusted records (a run whose measure command is not
 * one of spak's judges) are kept but marked, in their text, evidence, store
 * row and insights line: refusing them would leave a spec with its own
 * measure command no knowledge step at all, and the mark says plainly that
 * the numbers behind it are the command's word.
 */
#ifndef SPAK_LEARN_H
#define SPAK_LEARN_H

#include <stdbool.h>
#include "spec/spec.h"
#include "store/store.h"

typedef struct spak_learned {
    char kind[16];        /* effect | best_config | rule_check */
    char subject[256];    /* "rung=packed", a candidate key, a rule title */
    char param[128], value[128];
    double effect;        /* ratio (x), NAN when not a ratio */
    double uncertainty;   /* relative half-width of a ~95% interval */
    double confidence;    /* 0..1 */
    double stat;          /* t or z */
    int n_in, n_out;      /* evaluations with / without */
    int n;                /* effect: controlled pairs (contexts) it rests on */
    double lo, hi;        /* effect: its ~95% interval (x) */
    double p, p_adj;      /* effect: two-sided p, Holm-adjusted over every effect tested */
    int tests;            /* effect: how many effects were tested at once */
    bool rule;            /* effect: enough evidence to act on (kind rule), else a hypothesis */
    char evidence[512];   /* "run R: evaluations 3, 5, 8" */
    char text[512];       /* one sentence computed from the numbers */
    bool untrusted;       /* drawn from untrusted records (not from one of spak's judges) */
} spak_learned;

typedef struct spak_learn_opts {
    const char *out_path;   /* where v(n+1) goes; NULL = NAME.v(n+1).spak in out_dir */
    const char *out_dir;    /* the folder of NAME.v(n+1).spak (the run's folder in the home);
                               NULL = next to the run's spec */
    bool write_spec;        /* false: compute and report only */
    bool record;            /* insert lessons into the store, append the insights log */
    const char *insights_path; /* NULL = next to v(n+1): NAME.insights.jsonl */
} spak_learn_opts;

typedef struct spak_learn_result {
    spak_learned *items;
    size_t n;
    char new_spec_path[4096];   /* "" when not written */
    /* the same lessons were written before (a file the run's v(n+1) would go
     * to, or the run's spec.next.spak, holds this text but for the dates):
     * new_spec_path names it, and nothing was written or logged again */
    bool unchanged;
    char *new_spec_text;        /* malloc'd */
    char *diff;                 /* malloc'd unified-style diff v(n) -> v(n+1) */
    char insights_path[4096];
    char device[256], family[64], shape_class[128];
} spak_learn_result;

spak_status spak_learn(spak_store *st, const char *run_id, const spak_learn_opts *o, spak_learn_result *out,
                       spak_err *err);
void spak_learn_result_free(spak_learn_result *r);

/* The problem's shape class, "size~2^K" with K = round(log2 of the geometric
 * mean of every dimension of problem.shapes), or "any" without shapes. */
void spak_learn_shape_class(const spak_model *m, char *out, size_t n);
/* K of a shape class, or false for "any" and anything else. */
bool spak_learn_shape_class_log2(const char *shape_class, long *k);

/* Line diff of two texts ("-"/"+"/" " prefixed lines, with @@ hunks); malloc'd. */
char *spak_text_diff(const char *a, const char *b);

#endif
