/*
 * stats.h - the interval arithmetic every judge and the engine share: the
 * ratio of two interleaved series of timings with its confidence interval,
 * the precision test that ends a measurement, and how two intervals are
 * compared. Pure C (libm only): no allocation kept, no I/O, so the CPU judge
 * (kernels/cpu/common/timing.c), the CUDA judges and the engine all call the
 * same code.
 *
 * Unpaired series (one candidate's times in two runs) get Welch's interval
 * on the difference of their log means instead: spak_stats_ratio_ci_unpaired.
 *
 * The interval of a ratio: each interleaved pair i gives one ratio
 * r_i = num[i] / den[i] (baseline time over candidate time: the candidate's
 * speed-up, measured under the same conditions as its neighbour); the point
 * is the geometric mean of the r_i, and the interval is Student's t-interval
 * on the mean of log r_i, mapped back with exp. Logs because timings are
 * positive and skewed (a ratio of 2 and of 1/2 are equally far from 1), and
 * pairs because the machine's load drifts: both sides of one pair see the
 * same drift, so it cancels in r_i. A t-interval rather than a bootstrap
 * because the loop stops as soon as the interval is narrow enough, often at
 * 5 to 20 pairs, where a percentile bootstrap undercovers and is random;
 * docs/language.md ("Measurements with uncertainty") says so and
 * scripts/aa-calibration.sh measures the coverage.
 */
#ifndef SPAK_STATS_H
#define SPAK_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* a point estimate and its interval at level (e.g. 0.95) from n pairs */
typedef struct spak_interval {
    double point, lo, hi;
    double level;
    size_t n;
} spak_interval;

/* The p-quantile (0 < p < 1) of Student's t distribution with df >= 1
 * degrees of freedom (by bisection on its distribution function, the
 * regularized incomplete beta); NAN for arguments out of range. */
double spak_stats_t_quantile(double p, double df);

/* The paired ratio num[i] / den[i] over n pairs (pairs with a value that is
 * not a positive finite number are skipped) with its t-interval on the log
 * scale at level (0 < level < 1) into *out. Returns false, *out set to NAN,
 * when fewer than 2 pairs count. */
bool spak_stats_ratio_ci(const double *num, const double *den, size_t n, double level, spak_interval *out);

/* The ratio of two unpaired series, num over den (e.g. one candidate's
 * times in run B over its times in run A, measured on other days or other
 * machines, so no repetition of one has a partner in the other): the point
 * is the ratio of their geometric means, exp(mean log num - mean log den),
 * and the interval is Welch's t-interval on that difference of log means
 * (each side its own variance; Welch-Satterthwaite degrees of freedom),
 * mapped back with exp, at level (0 < level < 1) into *out. Values that are
 * not positive finite numbers are skipped; out->n is the number of values
 * used on both sides together. When both sides have no spread the interval
 * is the point. Returns false, *out's numbers NAN, when either side has
 * fewer than 2 values. */
bool spak_stats_ratio_ci_unpaired(const double *num, size_t n_num, const double *den, size_t n_den, double level,
                                  spak_interval *out);

/* The interval's relative half-width: the larger of hi/point - 1 and
 * 1 - lo/point (NAN when the interval is not finite and positive). */
double spak_stats_rel_halfwidth(const spak_interval *iv);

/* iv (from spak_stats_ratio_ci, n >= 2) widened by a spread between runs
 * that no run sees from inside: sd, the standard deviation of the log ratio
 * from one run to the next of the same code on both sides (code and page
 * placement, the CPUs each process lands on), added in quadrature to the
 * interval's standard error; the point and the t-quantile kept. sd 0 (or an
 * interval that is not finite) leaves iv as it is. */
void spak_stats_widen(spak_interval *iv, double sd);

/* Whether the interval reaches the relative precision p (e.g. 0.02: the
 * interval within +-2% of its point). */
bool spak_stats_precise(const spak_interval *iv, double p);

/* How interval a stands to interval b: 1 when a lies wholly above b
 * (a.lo > b.hi), -1 when wholly below (a.hi < b.lo), 0 when they overlap
 * (the data cannot order them). A degenerate interval (lo = hi = the
 * point) is a point, so two plain numbers compare as numbers. */
int spak_stats_order(double alo, double ahi, double blo, double bhi);

#endif
