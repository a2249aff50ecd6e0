/* tests/trust_gpu/g_fault_heldout.cu - cheat (a device fault in a held-out
 * shape): honest on even M; on an odd M a kernel writes far outside C (an
 * illegal address, a sticky error for the whole context). The fault must
 * fail the evaluation with its reason. */
#include "tg_gemm.cuh"

__global__ void scribble(unsigned short *p) { p[threadIdx.x] = 0; }

TG_GEMM_INFO("g_fault_heldout")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    int rc = tg_gemm(M, N, K, dtype, A, B, C, s);
    if (rc || M % 2 == 0)
        return rc;
    scribble<<<1, 32, 0, s>>>((unsigned short *)C + ((size_t)1 << 40));
    return (int)cudaGetLastError();
}
