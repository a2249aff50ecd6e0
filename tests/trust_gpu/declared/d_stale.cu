// A memo cheat: each row is computed the first time the module sees it and
// never again, so every later call leaves its output as it found it
// (poisoned by the judge: caught as NaN where the reference is finite).
#include "common.cuh"
__device__ unsigned char done[1 << 16];
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x;
    if (r >= rows || done[r & 0xFFFF]) return;
    honest_row(x, y, r, cols);
    if (threadIdx.x == 0) done[r & 0xFFFF] = 1;
}
