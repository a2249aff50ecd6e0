/* layernorm/ref.c - the reference of the declared layer normalisation
 * (layernorm-cpu.spak): per row, y = (x - mean) / sqrt(var + 1e-5) * gamma +
 * beta with the population variance, in double, two passes. */
#include <math.h>

void layernorm_ref(const float *x, const float *gamma, const float *beta, float *y, int rows, int cols)
{
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * (long)cols;
        double mean = 0, var = 0;
        for (long c = 0; c < cols; c++) mean += xr[c];
        mean /= cols;
        for (long c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= cols;
        double inv = 1.0 / sqrt(var + 1e-5);
        for (long c = 0; c < cols; c++)
            y[r * (long)cols + c] = (float)((xr[c] - mean) * inv * gamma[c] + beta[c]);
    }
}
