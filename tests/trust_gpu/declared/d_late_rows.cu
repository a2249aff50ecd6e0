// Work after return, as far as a cubin can: block 0 keeps spinning long
// after the others finished, writing its row late. The runner synchronizes
// the stream and the device before DONE, so the late work is inside the
// judge's clock (passes, slowly); nothing of it can run after DONE.
#include "common.cuh"
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x;
    if (r >= rows) return;
    if (r == 0) {
        long long t0 = clock64();
        while (clock64() - t0 < 20000000) { /* ~10 ms at 2 GHz */ }
    }
    honest_row(x, y, r, cols);
}
