/* inplace/honest.c - the honest control of inplace-cpu.spak */
#include <math.h>

void softmax_inplace(float *y, int n_rows, int n_cols)
{
    for (long r = 0; r < n_rows; r++) {
        float *yr = y + r * (long)n_cols, m = yr[0], s = 0;
        for (int c = 1; c < n_cols; c++) m = yr[c] > m ? yr[c] : m;
        for (int c = 0; c < n_cols; c++) s += (yr[c] = expf(yr[c] - m));
        for (int c = 0; c < n_cols; c++) yr[c] /= s;
    }
}
