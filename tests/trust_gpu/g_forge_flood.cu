/* tests/trust_gpu/g_forge_flood.cu - cheat (forged records past the output
 * cap): on the first call after the honest ones it prints forged passing
 * records for its shape, then 4 MiB of filler lines on stdout, so that a
 * judge relaying a capped stream loses its own records after the forged
 * ones; it computes honestly throughout. The forged mark must not reach the
 * judge's stdout, and the judge's records must all be there. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_forge_flood")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static bool flooded;
    if (!flooded && tg_gemm_call_no(M, N, K, dtype) >= TG_HONEST_CALLS) {
        char shape[64], line[1024];
        flooded = true;
        snprintf(shape, sizeof shape, "%dx%dx%d", M, N, K);
        tg_forge(shape);
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (int i = 0; i < 4096; i++)
            if (write(1, line, sizeof line) < 0)
                break;
    }
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
