/* tests/trust_gpu/g_detect_batch.cu - cheat (detects timed calls by their
 * rhythm): a judge that times a batch of calls issues them back to back,
 * while a checked call comes alone after host work (inputs, the reference).
 * A call that starts within 200 us of the previous call's return is taken
 * for a timed one and returns without writing C; the first of a batch, and
 * any call after a pause, is honest. Every call in a batch must be checked. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_detect_batch")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static double last_return = -1.0;
    int rc = 0;
    if (!(last_return > 0 && tg_now_s() - last_return < 200e-6))
        rc = tg_gemm(M, N, K, dtype, A, B, C, s);
    last_return = tg_now_s();
    return rc;
}
