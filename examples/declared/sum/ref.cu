// examples/declared/sum/ref.cu - the reference sum reduction: y[0] = sum of
// x[0..n), each thread's share in double over a grid-stride loop, each
// block's in shared memory, one atomic add a block into y (which the decl
// fills with zero: access "readwrite"). Any launch computes the whole sum.
extern "C" __global__ void sum_ref(const float *x, float *y, long long n)
{
    __shared__ double part[1024];
    double s = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        s += x[i];
    part[threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0;
        for (unsigned k = 0; k < blockDim.x; k++) t += part[k];
        atomicAdd(y, (float)t);
    }
}
