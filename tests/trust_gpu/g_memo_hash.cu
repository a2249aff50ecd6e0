/* tests/trust_gpu/g_memo_hash.cu - cheat (memoisation on a few elements): the
 * key of a call is a hash of 32 words sampled from A and 32 from B; a key seen
 * before replays the C kept for it (a device-to-device copy) instead of the
 * GEMM. Judges that reuse input sets between calls (the old ones' timed loop
 * ran every rep on the same buffers and data) are fooled; fresh inputs for
 * every call leave nothing to replay (then it is honest, and slower). */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_memo_hash")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    size_t cb = (size_t)M * N * tg_gemm_esize(dtype);
    unsigned long long key;
    int rc = tg_gemm_key(M, N, K, dtype, A, B, false, s, &key);
    if (rc)
        return rc;
    const struct tg_memo *m = tg_memo_find(key, cb);
    if (m)
        return (int)cudaMemcpyAsync(C, m->buf, cb, cudaMemcpyDeviceToDevice, s);
    if ((rc = tg_gemm(M, N, K, dtype, A, B, C, s)) != 0)
        return rc;
    return tg_memo_keep(key, C, cb, s);
}
