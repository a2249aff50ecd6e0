/*
 * progress_line.h - the live progress line of a run: a bar over the budget
 * (or the space), the evaluations done, the time elapsed and an estimate of
 * the time left, the candidate being built or measured and for how long, and
 * the best so far. Text only: the CLI decides where and how often it is drawn
 * (tool/live.c redraws it every second on a terminal).
 *
 * The estimate: the mean wall time of the evaluations this process saw
 * finish, times the evaluations left (the one under way counted with what it
 * has left of the mean), capped by what a wall-time budget leaves; unknown
 * before one evaluation finished unless a wall-time budget bounds it. A run
 * that stops earlier (a goal, a plateau) ends before the estimate.
 */
#ifndef SPAK_PROGRESS_LINE_H
#define SPAK_PROGRESS_LINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct spak_live {
    const char *phase;      /* the engine's state, e.g. "analyze" (borrowed) */
    char key[512];          /* the candidate being built or measured, "" between them */
    long done;              /* evaluations finished */
    long budget;            /* the evaluation budget, 0 = none */
    uint64_t space;         /* points in the space, 0 = unknown */
    double elapsed_s;       /* the run's elapsed time now */
    double cand_start_s;    /* elapsed_s when the current candidate started, < 0: none */
    double sum_eval_s;      /* wall time of the evaluations this process saw finish */
    long n_eval_s;          /* how many */
    double max_wall_s;      /* a wall-time budget, 0 = none */
    char metric[64], baseline[64];
    double best_metric, best_ratio; /* NAN: none yet */
} spak_live;

/* Zeroed, with the NAN and < 0 fields set. */
void spak_live_init(spak_live *l);

/* The evaluations the bar runs over: the budget, else the space, else 0. */
long spak_live_total(const spak_live *l);

/* Seconds left (the estimate above), NAN when unknown. */
double spak_live_eta(const spak_live *l);

/* "1h02m", "4m05s", "17s". */
void spak_live_duration(double s, char *out, size_t n);

/* The line, at most width columns (ASCII; the candidate's key is cut to
 * fit, with "..."), NUL-terminated in out[n]. bar: draw the bar (a
 * terminal); else a plain line. */
void spak_live_line(const spak_live *l, int width, int bar, char *out, size_t n);

#endif
