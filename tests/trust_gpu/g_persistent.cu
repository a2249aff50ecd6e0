/* tests/trust_gpu/g_persistent.cu - cheat (a kernel that outlives its call):
 * on its first call it launches, on a private stream, one block that spins
 * until a flag in mapped host memory is set (never), then computes honestly
 * on the judge's stream. A resident kernel is a foothold on the device
 * between calls (it could watch the inputs, or steal SMs from the baseline);
 * the runner's device synchronization never returns, or the judge finds
 * the device not idle. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_persistent")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static bool launched;
    if (!launched) {
        static cudaStream_t mine;
        int *dflag = NULL;
        launched = true;
        if (tg_mapped_flag(&dflag) && cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) == cudaSuccess)
            tg_spin_until<<<1, 32, 0, mine>>>(dflag);
    }
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
