// tests/classify_gpu/tiny.cu - a launch-bound kernel: one block of 32
// threads adds one to 32 numbers; its time is the launch's
// (kernels/cuda/classify-check.sh: "overhead"). k_tiny_ref: the same.
extern "C" __global__ void k_tiny(const float *__restrict__ x, float *__restrict__ y)
{
    y[threadIdx.x] = x[threadIdx.x] + 1.f;
}

extern "C" __global__ void k_tiny_ref(const float *__restrict__ x, float *__restrict__ y)
{
    y[threadIdx.x] = x[threadIdx.x] + 1.f;
}
