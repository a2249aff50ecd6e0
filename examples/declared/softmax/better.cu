// examples/declared/softmax/better.cu - one row a block (grid [rows],
// block [BLOCK], a multiple of 32 up to 1024): the max and the sum in one
// pass (online softmax: each thread keeps its max and its sum rescaled to
// it), reduced with warp shuffles and one shared-memory step, then one
// pass that writes.
__device__ __forceinline__ void combine(float &m, float &s, float m2, float s2)
{
    float mm = fmaxf(m, m2);
    s = (m == -INFINITY ? 0.f : s * __expf(m - mm)) + (m2 == -INFINITY ? 0.f : s2 * __expf(m2 - mm));
    m = mm;
}

extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    __shared__ float wm[32], ws[32];
    int r = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    if (r >= rows) return;
    const float *xr = x + (long long)r * cols;
    float m = -INFINITY, s = 0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) combine(m, s, xr[c], 1.f);
    for (int o = 16; o > 0; o >>= 1) combine(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    if (lane == 0) wm[warp] = m, ws[warp] = s;
    __syncthreads();
    if (warp == 0) {
        m = lane < nw ? wm[lane] : -INFINITY, s = lane < nw ? ws[lane] : 0.f;
        for (int o = 16; o > 0; o >>= 1)
            combine(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
        if (lane == 0) wm[0] = m, ws[0] = 1.f / s;
    }
    __syncthreads();
    m = wm[0];
    float inv = ws[0];
    for (int c = threadIdx.x; c < cols; c += blockDim.x) y[(long long)r * cols + c] = __expf(xr[c] - m) * inv;
}
