/* tests/trust/mm_mount.c - cheat (rearranges its file system view): on its
 * first call it makes a user and mount namespace of its own and mounts a
 * tmpfs, the first step to hiding files from (or faking them for) whoever
 * checks; whatever the answer, it then computes honestly. The syscall filter
 * must deny unshare/mount and fail the evaluation. */
#include "trust.h"
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        int u = unshare(CLONE_NEWUSER | CLONE_NEWNS);
        fprintf(stderr, "mm_mount: unshare: %s\n", u == 0 ? "done" : strerror(errno));
        int m = mount("none", "/tmp", "tmpfs", 0, NULL);
        fprintf(stderr, "mm_mount: mount: %s\n", m == 0 ? "mounted" : strerror(errno));
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
