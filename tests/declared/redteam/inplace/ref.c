/* inplace/ref.c - the reference of inplace-cpu.spak: y = softmax(y) row by
 * row, in place (y is a readwrite argument), accumulated in double. */
#include <math.h>

void softmax_inplace_ref(float *y, int n_rows, int n_cols)
{
    for (long r = 0; r < n_rows; r++) {
        float *yr = y + r * (long)n_cols;
        double m = -INFINITY, s = 0;
        for (long c = 0; c < n_cols; c++) m = yr[c] > m ? yr[c] : m;
        for (long c = 0; c < n_cols; c++) s += exp((double)yr[c] - m);
        for (long c = 0; c < n_cols; c++) yr[c] = (float)(exp((double)yr[c] - m) / s);
    }
}
