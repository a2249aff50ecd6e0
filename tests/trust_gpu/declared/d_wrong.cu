// Every output written and finite, but wrong: the sum over the first half
// of the row only (a plausible bug; caught by the relative error).
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x;
    if (r >= rows) return;
    const float *xr = x + (long long)r * cols;
    float m = -INFINITY, s = 0;
    for (int c = 0; c < cols; c++) m = fmaxf(m, xr[c]);
    for (int c = 0; c < (cols + 1) / 2; c++) s += expf(xr[c] - m);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) y[(long long)r * cols + c] = expf(xr[c] - m) / s;
}
