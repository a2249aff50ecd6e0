// tests/classify_gpu/copy.cu - a streaming copy: every byte read once and
// written once, no arithmetic (kernels/cuda/classify-check.sh: "memory").
// k_copy_ref is the reference the judge compares against: the same copy.
extern "C" __global__ void k_copy(const float4 *__restrict__ x, float4 *__restrict__ y, long long n4)
{
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += stride)
        y[i] = x[i];
}

extern "C" __global__ void k_copy_ref(const float4 *__restrict__ x, float4 *__restrict__ y, long long n4)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x)
        y[i] = x[i];
}
