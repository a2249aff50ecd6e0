// examples/declared/layernorm/naive.cu - one row a block (grid [rows],
// block [BLOCK]): the mean, then the variance, each summed with atomics on
// shared memory; three passes over the row.
extern "C" __global__ void layernorm_rows(const float *x, const float *gamma, const float *beta, float *y, int rows,
                                          int cols, float eps)
{
    __shared__ float sum, sq;
    int r = blockIdx.x;
    if (r >= rows) return;
    const float *xr = x + (long long)r * cols;
    if (threadIdx.x == 0) sum = 0, sq = 0;
    __syncthreads();
    for (int c = threadIdx.x; c < cols; c += blockDim.x) atomicAdd(&sum, xr[c]);
    __syncthreads();
    float mean = sum / cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) atomicAdd(&sq, (xr[c] - mean) * (xr[c] - mean));
    __syncthreads();
    float inv = rsqrtf(sq / cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        y[(long long)r * cols + c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
}
