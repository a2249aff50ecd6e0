// Writes past the end of its output (into the judge's padding and the next
// call's output): the output's own values are right. Caught where the write
// lands outside the pool (illegal address) or on the next call's output
// (which then differs from the reference); a write into padding alone is
// not seen (docs/declared-kernels.md, limits).
#include "common.cuh"
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x;
    if (r >= rows) return;
    honest_row(x, y, r, cols);
    long long n = (long long)rows * cols;
    for (long long i = n + threadIdx.x; i < n + n / rows * 4 + 4096; i += blockDim.x) y[i] = 1.f;
}
