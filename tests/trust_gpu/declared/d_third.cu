// Computes the first third of the rows only (the rest stays poisoned).
#include "common.cuh"
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x;
    if (r >= rows || r > rows / 3) return;
    honest_row(x, y, r, cols);
}
