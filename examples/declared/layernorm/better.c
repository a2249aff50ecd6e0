/* layernorm/better.c - rows over `threads` OpenMP threads; the two passes
 * (mean, then the variance around it) with 16 float accumulators each, which
 * the compiler vectorises (one accumulator is a chain of dependent adds),
 * and the output pass fused with the scale and shift. */
#include <math.h>

#ifndef threads
#define threads 1
#endif
#define LANES 16

static float lane_sum(const float *acc)
{
    float s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

void layernorm(const float *x, const float *gamma, const float *beta, float *y, int rows, int cols)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols;
        float *yr = y + (long)r * cols;
        float acc[LANES] = {0}, tail = 0;
        int c = 0;
        for (; c + LANES <= cols; c += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += xr[c + l];
        for (; c < cols; c++) tail += xr[c];
        float mean = (lane_sum(acc) + tail) / cols;
        float vac[LANES] = {0}, vt = 0;
        for (c = 0; c + LANES <= cols; c += LANES)
            for (int l = 0; l < LANES; l++) {
                float d = xr[c + l] - mean;
                vac[l] += d * d;
            }
        for (; c < cols; c++) vt += (xr[c] - mean) * (xr[c] - mean);
        float inv = 1.0f / sqrtf((lane_sum(vac) + vt) / cols + 1e-5f);
        for (c = 0; c < cols; c++) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
    }
}
