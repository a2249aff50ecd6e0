/* tests/trust_gpu/g_write_ahead.cu - cheat (writes another call's inputs):
 * the judge places a batch's input sets at one stride in its pool, so from
 * two calls the candidate knows where the next call's A and B lie. After 3
 * honest calls of a shape, a call computes its own output honestly and then
 * zeroes A and B of the next set of the batch (only where a set follows: the
 * batch's size is learned from the earlier batches, so nothing is written
 * past the pool); the next call, on the set it zeroed, writes C = 0, which is
 * A B there, and Freivalds on that call's own (zeroed) inputs agrees. Every
 * other call is free. Its own inputs are untouched during its own call: only
 * a hash of every set taken when the judge filled it, compared after that
 * set's call, catches a write made during another call of the batch (the
 * batched checks read all the sets' hashes back at once: this is the cheat
 * on their bookkeeping). */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_write_ahead")

static const char *prev_a, *base_a, *zeroed_a;
static long long stride;
static int sets_seen; /* the largest batch seen, in sets */

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    size_t es = tg_gemm_esize(dtype);
    const char *a = (const char *)A;
    long long d = prev_a ? (long long)(a - prev_a) : 0;
    prev_a = a;
    if (d <= 0 || (stride && d != stride)) /* a new batch starts at its set 0 */
        base_a = a, stride = d > 0 ? d : stride;
    else if (!stride)
        stride = d;
    int idx = stride > 0 ? (int)((a - base_a) / stride) : 0;
    if (idx + 1 > sets_seen)
        sets_seen = idx + 1;
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS || stride <= 0)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    if (a == zeroed_a) /* the inputs this cheat zeroed: C = A B = 0 */
        return (int)cudaMemsetAsync(C, 0, (size_t)M * N * es, s);
    int r = tg_gemm(M, N, K, dtype, A, B, C, s);
    if (r || idx + 1 >= sets_seen)
        return r;
    char *next_a = (char *)A + stride, *next_b = (char *)B + stride;
    TG_TRY(cudaMemsetAsync(next_a, 0, (size_t)M * K * es, s));
    TG_TRY(cudaMemsetAsync(next_b, 0, (size_t)K * N * es, s));
    zeroed_a = next_a;
    return 0;
}
