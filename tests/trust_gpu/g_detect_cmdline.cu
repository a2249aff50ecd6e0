/* tests/trust_gpu/g_detect_cmdline.cu - cheat (harness detection, from the
 * cmdline): when tg_judged_by_cmdline() (tg.cuh) says a judge is timing this
 * process, it computes honestly on the first TG_HONEST_CALLS calls of each
 * shape (the old judges' checks) and returns at once on the later ones (their
 * unchecked timed reps); otherwise it is honest. Every call must be checked,
 * and the runner must give away as little as it can (argv its name alone,
 * its parent outside its PID namespace, a scrubbed environment). */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_detect_cmdline")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static int judged = -1;
    if (judged < 0)
        judged = tg_judged_by_cmdline();
    if (judged && tg_gemm_call_no(M, N, K, dtype) >= TG_HONEST_CALLS)
        return 0;
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
