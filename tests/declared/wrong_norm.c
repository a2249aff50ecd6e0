/* wrong normalisation: the numerator is shifted by the row's max, the sum
 * is not (each row off by the factor exp(max)) */
#include <math.h>

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols;
        float *yr = y + (long)r * cols;
        float m = xr[0], s = 0;
        for (int c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
        for (int c = 0; c < cols; c++) s += expf(xr[c]);
        for (int c = 0; c < cols; c++) yr[c] = expf(xr[c] - m) / s;
    }
}
