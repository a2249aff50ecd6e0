// examples/declared/layernorm/better.cu - one row a block (grid [rows],
// block [BLOCK], a multiple of 32): the row's sum and its sum of squared
// deviations from a shift (the row's first element, which keeps the one-pass
// variance accurate) in one pass, warp shuffles and one shared-memory step,
// then one pass that writes.
__device__ __forceinline__ void block_sum2(float &a, float &b, float *sa, float *sb)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o), b += __shfl_xor_sync(0xffffffffu, b, o);
    if (lane == 0) sa[warp] = a, sb[warp] = b;
    __syncthreads();
    if (warp == 0) {
        a = lane < nw ? sa[lane] : 0.f, b = lane < nw ? sb[lane] : 0.f;
        for (int o = 16; o > 0; o >>= 1)
            a += __shfl_xor_sync(0xffffffffu, a, o), b += __shfl_xor_sync(0xffffffffu, b, o);
        if (lane == 0) sa[0] = a, sb[0] = b;
    }
    __syncthreads();
    a = sa[0], b = sb[0];
}

extern "C" __global__ void layernorm_rows(const float *x, const float *gamma, const float *beta, float *y, int rows,
                                          int cols, float eps)
{
    __shared__ float sa[32], sb[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    const float *xr = x + (long long)r * cols;
    float k = xr[0], s = 0, q = 0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = xr[c] - k;
        s += d, q += d * d;
    }
    block_sum2(s, q, sa, sb);
    float md = s / cols, mean = k + md, var = fmaxf(q / cols - md * md, 0.f), inv = rsqrtf(var + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        y[(long long)r * cols + c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
}
