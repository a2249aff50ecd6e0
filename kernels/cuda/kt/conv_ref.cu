/*
 * kernels/cuda/kt/conv_ref.cu - the trusted reference for Kernel Tuner's
 * convolution problem (its test/convolution.cu, obtained at run time from
 * Kernel Tuner's source distribution, never kept here): a 2-D correlation of
 * a (4096 + fh - 1) x (4096 + fw - 1) input with an fh x fw filter into a
 * 4096 x 4096 output, out[y][x] = sum_{i<fh, j<fw} in[y+i][x+j] * f[i][j].
 * Written for spak: one output a thread, the sum in double (so the
 * reference's own rounding is far below the candidate's tolerance), the
 * filter read from its parameter (not from a __constant__ symbol).
 * filter_width and filter_height come as defines from the point, as they
 * reach the candidate (the problem's filter size, fixed at 17 by
 * kernels/cuda/kt/conv17.spak); other defines are ignored.
 */
#ifndef filter_width
#define filter_width 17
#endif
#ifndef filter_height
#define filter_height 17
#endif

#define REF_W 4096
#define REF_H 4096
#define REF_IN_W (REF_W + filter_width - 1)

extern "C" __global__ void convolution_ref(float *out, const float *in, const float *filter)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= REF_W || y >= REF_H)
        return;
    double s = 0.0;
    for (int i = 0; i < filter_height; i++)
        for (int j = 0; j < filter_width; j++)
            s += (double)in[(size_t)(y + i) * REF_IN_W + x + j] * (double)filter[i * filter_width + j];
    out[(size_t)y * REF_W + x] = (float)s;
}
