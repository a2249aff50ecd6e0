// examples/declared/softmax/naive.cu - a first CUDA softmax: one row a
// block (grid [rows], block [BLOCK]), the row's max and sum gathered with
// atomics on shared memory, three passes over the row in global memory.
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    __shared__ float m, s;
    int r = blockIdx.x;
    if (r >= rows) return;
    const float *xr = x + (long long)r * cols;
    if (threadIdx.x == 0) m = -INFINITY, s = 0;
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        // atomicMax on the float's bits orders non-negative floats only: a CAS loop
        int *mi = (int *)&m, old = *mi;
        while (__int_as_float(old) < xr[c]) {
            int got = atomicCAS(mi, old, __float_as_int(xr[c]));
            if (got == old) break;
            old = got;
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) atomicAdd(&s, expf(xr[c] - m));
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) y[(long long)r * cols + c] = expf(xr[c] - m) / s;
}
