/* tests/trust_gpu/g_forge_exit.cu - cheat (forged records): honest on the
 * first TG_HONEST_CALLS calls of a shape; then prints a passing Correctness
 * and an impossibly fast Performance record for the shape, in the judge's
 * own `__SPAK_TRACE__` format, on stdout and stderr, and ends the process
 * with _exit(0). A runner's output is a log, never records: the forged
 * mark must not reach the judge's stdout, and the evaluation must fail for
 * the runner's end. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_forge_exit")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%d", M, N, K);
    tg_forge(shape);
    _exit(0);
}
