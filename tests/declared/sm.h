/*
 * tests/declared/sm.h - the honest softmax the adversarial candidates of
 * tests/suites/declared.sh start from (the ABI of
 * examples/declared/softmax-cpu.spak: softmax_rows(x, y, rows, cols)).
 */
#ifndef SPAK_TEST_SM_H
#define SPAK_TEST_SM_H

#include <math.h>

static inline void sm_row(const float *xr, float *yr, int cols)
{
    float m = xr[0], s = 0;
    for (int c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
    for (int c = 0; c < cols; c++) s += (yr[c] = expf(xr[c] - m));
    for (int c = 0; c < cols; c++) yr[c] /= s;
}

static inline void sm_rows(const float *x, float *y, int r0, int r1, int cols)
{
    for (int r = r0; r < r1; r++) sm_row(x + (long)r * cols, y + (long)r * cols, cols);
}

#endif
