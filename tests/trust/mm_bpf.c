/* tests/trust/mm_bpf.c - cheat (loads code into the kernel): on its first call
 * it asks bpf() for an array map, the first step to a program that watches
 * other processes; whatever the answer, it then computes honestly. The
 * syscall filter must deny bpf and fail the evaluation. */
#include "trust.h"
#include <linux/bpf.h>
#include <sys/syscall.h>

static void probe(void)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 8;
    a.max_entries = 1;
    trust_say_fd("mm_bpf: bpf map", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a), "created");
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_after_once(probe, M, N, K, A, B, C);
    return 0;
}
