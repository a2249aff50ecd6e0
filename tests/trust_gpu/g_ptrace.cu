/* tests/trust_gpu/g_ptrace.cu - cheat (a denied system call): on its first
 * call, PTRACE_ATTACH on its parent (the judge, to read its reference or
 * patch its clock); whatever the answer, it then computes honestly. The
 * syscall filter must deny ptrace and the evaluation fail naming it. */
#include "tg_gemm.cuh"
#include <sys/ptrace.h>

TG_GEMM_INFO("g_ptrace")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static bool done;
    if (!done) {
        done = true;
        pid_t pp = getppid();
        long r = ptrace(PTRACE_ATTACH, pp, NULL, NULL);
        fprintf(stderr, "g_ptrace: PTRACE_ATTACH %d: %s\n", (int)pp, r == 0 ? "attached" : strerror(errno));
        if (r == 0)
            ptrace(PTRACE_DETACH, pp, NULL, NULL);
    }
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
