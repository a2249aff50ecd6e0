// tests/classify_gpu/fma.cu - a dense FMA loop: each thread runs 8
// independent chains of fused multiply-adds in registers on one input
// element and writes one output (2 x 8 x iters flops per 8 bytes moved;
// kernels/cuda/classify-check.sh: "compute"). The multiplier, the addend and
// the trip count are arguments, so nothing folds at compile time.
// k_fma_ref: the same arithmetic in the same order, one element a thread.
__device__ __forceinline__ float chains(float v, float m, float c, int iters)
{
    float a0 = v, a1 = v + 1.f, a2 = v + 2.f, a3 = v + 3.f, a4 = v - 1.f, a5 = v - 2.f, a6 = v - 3.f, a7 = v * 0.5f;
    for (int k = 0; k < iters; k++) {
        a0 = fmaf(a0, m, c), a1 = fmaf(a1, m, c), a2 = fmaf(a2, m, c), a3 = fmaf(a3, m, c);
        a4 = fmaf(a4, m, c), a5 = fmaf(a5, m, c), a6 = fmaf(a6, m, c), a7 = fmaf(a7, m, c);
    }
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
}

extern "C" __global__ void k_fma(const float *__restrict__ x, float *__restrict__ y, long long n, float m, float c, int iters)
{
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = chains(x[i], m, c, iters);
}

extern "C" __global__ void k_fma_ref(const float *__restrict__ x, float *__restrict__ y, long long n, float m, float c, int iters)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] = chains(x[i], m, c, iters);
}
