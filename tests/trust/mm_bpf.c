/* tests/trust/mm_bpf.c - cheat (loads code into the kernel): on its first call
 * it asks bpf() for an array map, the first step to a program that watches
 * other processes; whatever the answer, it then computes honestly. The
 * syscall filter must deny bpf and fail the evaluation. */
#include "trust.h"
#include <errno.h>
#include <linux/bpf.h>
#include <sys/syscall.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_type = BPF_MAP_TYPE_ARRAY;
        a.key_size = 4;
        a.value_size = 8;
        a.max_entries = 1;
        long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
        fprintf(stderr, "mm_bpf: bpf map: %s\n", fd >= 0 ? "created" : strerror(errno));
        if (fd >= 0) close((int)fd);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
