/* layernorm/bessel.c - a wrong variant (for tests/suites/declared.sh): the
 * sample variance (n - 1), not the population variance the reference
 * defines; off by a factor sqrt(n / (n - 1)) everywhere, about 2.4e-4 at
 * 2048 columns: more than the tolerance, a bug only a full check sees. */
#include <math.h>

void layernorm(const float *x, const float *gamma, const float *beta, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols;
        float *yr = y + (long)r * cols;
        double mean = 0, var = 0;
        for (int c = 0; c < cols; c++) mean += xr[c];
        mean /= cols;
        for (int c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= cols > 1 ? cols - 1 : 1;
        float inv = (float)(1.0 / sqrt(var + 1e-5));
        for (int c = 0; c < cols; c++) yr[c] = (float)(xr[c] - mean) * inv * gamma[c] + beta[c];
    }
}
