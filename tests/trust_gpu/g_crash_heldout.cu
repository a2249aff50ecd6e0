/* tests/trust_gpu/g_crash_heldout.cu - cheat (a crash in a held-out shape):
 * honest on the shapes it was tuned for; on any shape with an odd M (the
 * held-out ones the suite gives) the host side dies of SIGSEGV. The crash
 * must fail the evaluation with its reason, never leave it accepted on the
 * shapes that passed. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_crash_heldout")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (M % 2) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
