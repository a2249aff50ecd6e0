/* tests/trust/mm_ptrace.c - cheat (reaches into another process): on its first
 * call it tries PTRACE_ATTACH on its parent (the judge, or the sandbox's
 * supervisor), to read or patch it; whatever the answer, it then computes
 * honestly. The syscall filter must deny ptrace and fail the evaluation. */
#include "trust.h"
#include <errno.h>
#include <sys/ptrace.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        pid_t pp = getppid();
        long r = ptrace(PTRACE_ATTACH, pp, NULL, NULL);
        fprintf(stderr, "mm_ptrace: PTRACE_ATTACH %d: %s\n", (int)pp, r == 0 ? "attached" : strerror(errno));
        if (r == 0) ptrace(PTRACE_DETACH, pp, NULL, NULL);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
