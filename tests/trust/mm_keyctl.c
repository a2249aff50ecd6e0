/* tests/trust/mm_keyctl.c - cheat (the kernel keyring): on its first call it
 * reads its session keyring and adds a key to it (a channel to any later
 * process of the same uid, and a place where credentials live); whatever
 * the answer, it then computes honestly. The syscall filter must deny
 * keyctl/add_key and fail the evaluation. */
#include "trust.h"
#include <errno.h>
#include <sys/syscall.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        char buf[256];
        long r = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, -3 /* session keyring */, buf, sizeof buf);
        fprintf(stderr, "mm_keyctl: keyctl describe: %s\n", r >= 0 ? "read" : strerror(errno));
        long k = syscall(SYS_add_key, "user", "trust-key", "x", 1, -3);
        fprintf(stderr, "mm_keyctl: add_key: %s\n", k >= 0 ? "added" : strerror(errno));
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
