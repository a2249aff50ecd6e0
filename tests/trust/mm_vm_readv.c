/* tests/trust/mm_vm_readv.c - cheat (reads another process's memory): on its
 * first call it tries process_vm_readv on its parent (the judge, or the
 * sandbox's supervisor) at the address of its own code (the same binary
 * maps there in a forked parent); whatever the answer, it then computes
 * honestly. The syscall filter must deny the call and fail the evaluation. */
#include "trust.h"
#include <errno.h>
#include <sys/uio.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        char buf[64];
        void *there = (void *)(uintptr_t)&spak_matmul;
        struct iovec l = {buf, sizeof buf}, r = {there, sizeof buf};
        ssize_t n = process_vm_readv(getppid(), &l, 1, &r, 1, 0);
        fprintf(stderr, "mm_vm_readv: process_vm_readv %d: %s\n", (int)getppid(), n >= 0 ? "read" : strerror(errno));
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
