// Declares one parameter less than the decl gives (cols missing): refused
// before any call (cuFuncGetParamInfo) where the driver has it.
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows)
{
    if (blockIdx.x < rows && threadIdx.x == 0) y[blockIdx.x] = x[blockIdx.x];
}
