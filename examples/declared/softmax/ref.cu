// examples/declared/softmax/ref.cu - the reference of the CUDA softmax
// (docs/declared-kernels.md): y[r, :] = exp(x[r, :] - max) / sum, one row a
// thread, in double, over a grid-stride loop so that any launch the decl
// gives computes every row. Slow and plainly right.
extern "C" __global__ void softmax_ref(const float *x, float *y, int rows, int cols)
{
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows;
         r += (long long)gridDim.x * blockDim.x) {
        const float *xr = x + r * cols;
        double m = -INFINITY, s = 0;
        for (int c = 0; c < cols; c++) m = fmax(m, (double)xr[c]);
        for (int c = 0; c < cols; c++) s += exp((double)xr[c] - m);
        for (int c = 0; c < cols; c++) y[r * cols + c] = (float)(exp((double)xr[c] - m) / s);
    }
}
