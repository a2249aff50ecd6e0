// examples/declared/sum/naive.cu - every element added into y[0] with its
// own atomic (y is zeroed by the judge: access "readwrite", fill "zero"):
// right, and serialized on one address.
extern "C" __global__ void sum_all(const float *x, float *y, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        atomicAdd(y, x[i]);
}
