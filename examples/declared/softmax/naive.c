/* softmax/naive.c - the first rung: one thread, three passes a row, expf
 * computed twice. */
#include <math.h>

void softmax_rows(const float *x, float *y, int n_rows, int n_cols)
{
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (long)r * n_cols;
        float *yr = y + (long)r * n_cols;
        float m = xr[0];
        for (int c = 1; c < n_cols; c++)
            if (xr[c] > m) m = xr[c];
        float s = 0;
        for (int c = 0; c < n_cols; c++)
            s += expf(xr[c] - m);
        for (int c = 0; c < n_cols; c++)
            yr[c] = expf(xr[c] - m) / s;
    }
}
