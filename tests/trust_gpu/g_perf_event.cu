/* tests/trust_gpu/g_perf_event.cu - cheat (a denied system call): on its first
 * call, perf_event_open of a software clock for the whole machine (a timing
 * side channel on the judge); then honest. The filter must deny it. */
#include "tg_gemm.cuh"
#include <linux/perf_event.h>
#include <sys/syscall.h>

TG_GEMM_INFO("g_perf_event")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static bool done;
    if (!done) {
        struct perf_event_attr a;
        done = true;
        memset(&a, 0, sizeof a);
        a.type = PERF_TYPE_SOFTWARE;
        a.size = sizeof a;
        a.config = PERF_COUNT_SW_CPU_CLOCK;
        long fd = syscall(SYS_perf_event_open, &a, -1, 0, -1, 0);
        fprintf(stderr, "g_perf_event: perf_event_open: %s\n", fd >= 0 ? "opened" : strerror(errno));
        if (fd >= 0)
            close((int)fd);
    }
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
