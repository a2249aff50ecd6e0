/* off-by-one: the sum of a row leaves out its last element (y still written
 * everywhere): every row's normalisation is slightly wrong */
#include <math.h>

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols;
        float *yr = y + (long)r * cols;
        float m = xr[0], s = 0;
        for (int c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
        for (int c = 0; c < cols - 1; c++) s += expf(xr[c] - m);
        for (int c = 0; c < cols; c++) yr[c] = expf(xr[c] - m) / (s > 0 ? s : 1);
    }
}
