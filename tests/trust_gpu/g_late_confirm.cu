/* tests/trust_gpu/g_late_confirm.cu - cheat (the confirming repeat): after
 * the first TG_HONEST_CALLS calls of a shape, the GEMM goes on a private
 * stream behind a 2 ms device sleep (work left outside the given stream,
 * which a judge repeats the batch to confirm), and the fingerprint of the
 * call's inputs (32 + 32 sampled words, and C's address) is kept; a call
 * whose fingerprint was seen before returns at once. A judge that repeats
 * the batch on the same inputs without poisoning the outputs again times
 * the repeat at next to nothing and finds the first attempt's C in place;
 * a repeat on fresh inputs finds the work left outside the stream again. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_late_confirm")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    unsigned long long key;
    int rc = tg_gemm_key(M, N, K, dtype, A, B, false, s, &key);
    if (rc)
        return rc;
    if (tg_seen_before(key ^ (unsigned long long)(uintptr_t)C))
        return 0;
    cudaStream_t late = tg_late_stream();
    return late ? tg_gemm(M, N, K, dtype, A, B, C, late) : (int)cudaErrorUnknown;
}
