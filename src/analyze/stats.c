/* stats.c - paired and unpaired ratios with their t-intervals (stats.h). */
#include "analyze/stats.h"

#include <math.h>

/* the continued fraction of the incomplete beta (Lentz's method), for
 * x < (a + 1) / (a + b + 2) where it converges fast */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + num * d;
        c = 1 + num / c;
        d = 1 / (fabs(d) < tiny ? tiny : d);
        c = fabs(c) < tiny ? tiny : c;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d;
        c = 1 + num / c;
        d = 1 / (fabs(d) < tiny ? tiny : d);
        c = fabs(c) < tiny ? tiny : c;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-14)
            break;
    }
    return h;
}

/* the regularized incomplete beta I_x(a, b) */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(lbt) * beta_cf(a, b, x) / a;
    return 1 - exp(lbt) * beta_cf(b, a, 1 - x) / b;
}

/* Student's t distribution function */
static double t_cdf(double t, double df)
{
    double tail = 0.5 * beta_inc(df / 2, 0.5, df / (df + t * t));
    return t >= 0 ? 1 - tail : tail;
}

double spak_stats_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df >= 1) || !isfinite(df))
        return NAN;
    if (p < 0.5)
        return -spak_stats_t_quantile(1 - p, df);
    /* the distribution function is monotonic: bisection is slow but sure,
     * and 200 halvings of [0, 1e6] are far below a microsecond's concern */
    double lo = 0, hi = 1;
    while (t_cdf(hi, df) < p && hi < 1e12)
        hi *= 2;
    for (int k = 0; k < 200 && hi - lo > 1e-12 * hi; k++) {
        double mid = 0.5 * (lo + hi);
        if (t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

bool spak_stats_ratio_ci(const double *num, const double *den, size_t n, double level, spak_interval *out)
{
    out->point = out->lo = out->hi = NAN;
    out->level = level;
    out->n = 0;
    if (!(level > 0 && level < 1))
        return false;
    /* Welford's running mean and variance of log r_i */
    double mean = 0, m2 = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(num[i] > 0) || !(den[i] > 0) || !isfinite(num[i]) || !isfinite(den[i]))
            continue;
        double x = log(num[i] / den[i]);
        k++;
        double d = x - mean;
        mean += d / (double)k;
        m2 += d * (x - mean);
    }
    out->n = k;
    if (k < 2)
        return false;
    double se = sqrt(m2 / (double)(k - 1) / (double)k);
    double t = spak_stats_t_quantile(0.5 + level / 2, (double)(k - 1));
    out->point = exp(mean);
    out->lo = exp(mean - t * se);
    out->hi = exp(mean + t * se);
    return true;
}

void spak_stats_widen(spak_interval *iv, double sd)
{
    if (!(sd > 0) || iv->n < 2 || !(iv->point > 0) || !(iv->lo > 0) || !(iv->hi > 0) || !isfinite(iv->hi))
        return;
    double t = spak_stats_t_quantile(0.5 + iv->level / 2, (double)(iv->n - 1));
    double se = log(iv->hi / iv->point) / t, w = t * sqrt(se * se + sd * sd);
    iv->lo = iv->point * exp(-w);
    iv->hi = iv->point * exp(w);
}

/* the mean and the sample variance of the logs of the positive finite
 * values of x (Welford); *k gets how many there were */
static void log_moments(const double *x, size_t n, double *mean, double *var, size_t *k)
{
    double m = 0, m2 = 0;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > 0) || !isfinite(x[i]))
            continue;
        double l = log(x[i]);
        c++;
        double d = l - m;
        m += d / (double)c;
        m2 += d * (l - m);
    }
    *mean = m;
    *var = c > 1 ? m2 / (double)(c - 1) : NAN;
    *k = c;
}

bool spak_stats_ratio_ci_unpaired(const double *num, size_t n_num, const double *den, size_t n_den, double level,
                                  spak_interval *out)
{
    out->point = out->lo = out->hi = NAN;
    out->level = level;
    out->n = 0;
    if (!(level > 0 && level < 1))
        return false;
    double ma, va, mb, vb;
    size_t ka, kb;
    log_moments(num, n_num, &ma, &va, &ka);
    log_moments(den, n_den, &mb, &vb, &kb);
    out->n = ka + kb;
    if (ka < 2 || kb < 2)
        return false;
    double sa = va / (double)ka, sb = vb / (double)kb, se = sqrt(sa + sb);
    out->point = exp(ma - mb);
    if (!(se > 0)) { /* no spread on either side: the data are the point */
        out->lo = out->hi = out->point;
        return true;
    }
    /* Welch-Satterthwaite: never below the smaller side's n - 1, so >= 1 */
    double df = (sa + sb) * (sa + sb) / (sa * sa / (double)(ka - 1) + sb * sb / (double)(kb - 1));
    double t = spak_stats_t_quantile(0.5 + level / 2, df);
    out->lo = exp(ma - mb - t * se);
    out->hi = exp(ma - mb + t * se);
    return true;
}

double spak_stats_rel_halfwidth(const spak_interval *iv)
{
    if (!(iv->point > 0) || !(iv->lo > 0) || !isfinite(iv->hi))
        return NAN;
    double up = iv->hi / iv->point - 1, down = 1 - iv->lo / iv->point;
    return up > down ? up : down;
}

bool spak_stats_precise(const spak_interval *iv, double p)
{
    double h = spak_stats_rel_halfwidth(iv);
    return h == h && h <= p;
}

int spak_stats_order(double alo, double ahi, double blo, double bhi)
{
    if (alo > bhi)
        return 1;
    if (ahi < blo)
        return -1;
    return 0;
}
