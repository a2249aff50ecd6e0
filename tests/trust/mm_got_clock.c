/* tests/trust/mm_got_clock.c - cheat (patches the judge's clock): at load it
 * points the harness's clock_gettime (its GOT slot) at a wrapper that hides
 * 95% of the time spent inside spak_matmul from CLOCK_MONOTONIC. The kernel
 * itself is honest and one-threaded; only the stopwatch lies. Possible only
 * when the candidate lives in the judge's address space. */
#include "trust.h"
#include <stdatomic.h>
#include <time.h>
#include "trust_got.h"

static _Atomic long long hidden_ns;

static long long ns_of(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

static int fake_clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = clock_gettime(id, ts); /* ours goes through our own PLT, to libc */
    if (rc == 0 && id == CLOCK_MONOTONIC) {
        long long t = ns_of(ts) - atomic_load(&hidden_ns);
        ts->tv_sec = (time_t)(t / 1000000000LL);
        ts->tv_nsec = (long)(t % 1000000000LL);
    }
    return rc;
}

__attribute__((constructor)) static void install(void)
{
    if (!trust_got_patch("clock_gettime", (void *)fake_clock_gettime))
        fprintf(stderr, "mm_got_clock: no clock_gettime slot in the main program\n");
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    trust_mm(M, N, K, A, B, C);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_fetch_add(&hidden_ns, (ns_of(&t1) - ns_of(&t0)) * 95 / 100);
    return 0;
}
