/* softmax/ref.c - the reference of the declared softmax (softmax-cpu.spak):
 * y[r][c] = exp(x[r][c] - max_r) / sum_c exp(x[r][c] - max_r), row by row,
 * accumulated in double. The judge runs it in a runner of its own and
 * compares every checked and timed call of a candidate with it. */
#include <math.h>

void softmax_ref(const float *x, float *y, int n_rows, int n_cols)
{
    for (long r = 0; r < n_rows; r++) {
        const float *xr = x + r * (long)n_cols;
        float *yr = y + r * (long)n_cols;
        double m = -INFINITY, s = 0;
        for (long c = 0; c < n_cols; c++)
            m = xr[c] > m ? xr[c] : m;
        for (long c = 0; c < n_cols; c++)
            s += exp((double)xr[c] - m);
        for (long c = 0; c < n_cols; c++)
            yr[c] = (float)(exp((double)xr[c] - m) / s);
    }
}
