/* tests/trust/mm_perf_event.c - cheat (a side channel on the machine): on its
 * first call it opens a perf event (CPU cycles, every process of its uid on
 * CPU 0), the way a candidate would watch the judge's or the baseline's
 * activity; whatever the answer, it then computes honestly. The syscall
 * filter must deny perf_event_open and fail the evaluation. */
#include "trust.h"
#include <linux/perf_event.h>
#include <sys/syscall.h>

static void probe(void)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_CPU_CLOCK;
    a.exclude_kernel = 1;
    trust_say_fd("mm_perf_event: perf_event_open", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0), "opened");
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_after_once(probe, M, N, K, A, B, C);
    return 0;
}
