// examples/declared/sum/better.cu - each thread sums its share over a
// grid-stride loop (four independent accumulators, float4 loads where the
// pointer allows), warp shuffles and one shared-memory step reduce the block,
// one atomic add a block into y.
extern "C" __global__ void sum_all(const float *x, float *y, long long n)
{
    __shared__ float part[32];
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    float a = 0, b = 0, c = 0, d = 0;
    long long n4 = ((unsigned long long)x % 16 == 0) ? n / 4 : 0;
    const float4 *x4 = (const float4 *)x;
    for (long long i = tid; i < n4; i += stride) {
        float4 v = x4[i];
        a += v.x, b += v.y, c += v.z, d += v.w;
    }
    for (long long i = 4 * n4 + tid; i < n; i += stride) a += x[i];
    float s = (a + b) + (c + d);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    if (lane == 0) part[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < nw ? part[lane] : 0.f;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) atomicAdd(y, s);
    }
}
