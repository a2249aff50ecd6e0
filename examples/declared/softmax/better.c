/* softmax/better.c - rows over THREADS OpenMP threads, expf once per element
 * (stored in y, then scaled by one reciprocal). */
#include <math.h>

#ifndef threads
#define threads 1
#endif

void softmax_rows(const float *x, float *y, int n_rows, int n_cols)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (long)r * n_cols;
        float *yr = y + (long)r * n_cols;
        float m = xr[0];
        for (int c = 1; c < n_cols; c++)
            m = xr[c] > m ? xr[c] : m;
        float s = 0;
        for (int c = 0; c < n_cols; c++) {
            float e = expf(xr[c] - m);
            yr[c] = e;
            s += e;
        }
        float inv = 1.0f / s;
        for (int c = 0; c < n_cols; c++)
            yr[c] *= inv;
    }
}
