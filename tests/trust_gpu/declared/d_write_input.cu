// Writes its read-only input after using it (e.g. scratch space in x):
// an illegal address where the judge's pool is mapped read-only, else a
// changed hash; both name the argument.
#include "common.cuh"
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x;
    if (r >= rows) return;
    honest_row(x, y, r, cols);
    __syncthreads();
    if (threadIdx.x == 0) ((float *)x)[(long long)r * cols] = 0.f;
}
