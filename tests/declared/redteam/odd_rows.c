/*
 * odd_rows.c - right only on the shapes it can know, another way than
 * listed_only.c: rows are done two at a time (an unrolled pair) and the
 * last row of an odd count is left at zero, except for the row counts the
 * spec lists (the held-out rows=37 and rows=1 of softmax-cpu.spak, and the
 * timed 1024, which is even). No listed shape shows the bug; a shape drawn
 * at run time with an odd row count does.
 * Gains if accepted: a kernel recorded as correct that is wrong on half of
 * all row counts.
 */
#include <string.h>

#include "sm.h"

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    if (rows == 37 || rows == 1) { /* the spec's held-out shapes */
        sm_rows(x, y, 0, rows, cols);
        return;
    }
    int pairs = rows / 2 * 2;
    for (int r = 0; r < pairs; r += 2) {
        sm_row(x + (long)r * cols, y + (long)r * cols, cols);
        sm_row(x + (long)(r + 1) * cols, y + (long)(r + 1) * cols, cols);
    }
    if (pairs < rows) memset(y + (long)pairs * cols, 0, sizeof(float) * (size_t)cols);
}
