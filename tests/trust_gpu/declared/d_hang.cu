// Never returns: the judge's per-call limit (--timeout) ends it. The spin
// reads the input through a volatile pointer every turn, so the loop has a
// side effect and stays in the machine code: the first version spun on a
// volatile local, which cicc kept as a register loop and ptxas then deleted
// (the cubin returned at once with y unwritten; its first GPU run, H200,
// 2026-12-06, failed it on the NaN scan instead of the time limit).
extern "C" __global__ void softmax_rows(const float *x, float *y, int rows, int cols)
{
    volatile const float *p = x;
    float s = 0;
    while (rows >= 0) s += p[0];
    y[0] = s + x[cols];
}
