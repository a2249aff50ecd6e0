// tests/classify_gpu/chase.cu - a latency-bound pointer chase: each thread
// walks `steps` dependent loads through a table of n indices (x, filled with
// its own index by the judge), the next address a hash of the value just
// loaded, so no load can start before the one before it returns. One warp a
// block and a large dynamic shared allocation (unused) keep two blocks on
// an SM: the warps that could hide the latency are not there
// (kernels/cuda/classify-check.sh: "latency"). k_chase_ref walks the same.
__device__ __forceinline__ int walk(const int *__restrict__ x, long long t, int mask, int steps)
{
    unsigned cur = (unsigned)(t * 7919) & (unsigned)mask;
    for (int s = 0; s < steps; s++)
        cur = ((unsigned)x[cur] * 1103515245u + 12345u) & (unsigned)mask;
    return (int)cur;
}

extern "C" __global__ void k_chase(const int *__restrict__ x, int *__restrict__ y, int mask, int steps)
{
    extern __shared__ int unused[];
    long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (steps < 0)  /* never: keeps the allocation referenced */
        unused[threadIdx.x] = 0;
    y[t] = walk(x, t, mask, steps);
}

extern "C" __global__ void k_chase_ref(const int *__restrict__ x, int *__restrict__ y, int mask, int steps)
{
    long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    y[t] = walk(x, t, mask, steps);
}
