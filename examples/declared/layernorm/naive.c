/* layernorm/naive.c - one thread, three passes a row (mean, variance, out). */
#include <math.h>

void layernorm(const float *x, const float *gamma, const float *beta, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols;
        float *yr = y + (long)r * cols;
        float mean = 0, var = 0;
        for (int c = 0; c < cols; c++) mean += xr[c];
        mean /= cols;
        for (int c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= cols;
        float inv = 1.0f / sqrtf(var + 1e-5f);
        for (int c = 0; c < cols; c++) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
    }
}
