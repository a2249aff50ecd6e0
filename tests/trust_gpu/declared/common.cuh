// tests/trust_gpu/declared/common.cuh - the honest softmax row the cheats
// of spak-judge-cuda start from (the signature of
// examples/declared/softmax: softmax_rows(x, y, rows, cols), one row a block).
#pragma once
__device__ __forceinline__ void honest_row(const float *x, float *y, int r, int cols)
{
    __shared__ float m, s;
    const float *xr = x + (long long)r * cols;
    if (threadIdx.x == 0) {
        float mm = -INFINITY, ss = 0;
        for (int c = 0; c < cols; c++) mm = fmaxf(mm, xr[c]);
        for (int c = 0; c < cols; c++) ss += expf(xr[c] - mm);
        m = mm, s = ss;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) y[(long long)r * cols + c] = expf(xr[c] - m) / s;
}
