/* tests/trust/mm_dirty_cache.c - cheat (interference through the caches): the
 * honest 2-thread kernel of ctl_mm_pthreads.c, and before returning each
 * call leaves the caches full of its own dirty lines: both threads write a
 * buffer of the L3's size (at most 64 MiB each) that nothing reads. The
 * next batch is often the baseline's, whose first misses must then write
 * those lines back to memory before they can fill: the baseline pays for
 * work the candidate did. The judge evicts only the batch's operands
 * between batches (kernels/cpu/common/timing.c, flush_caches), not what a
 * runner left, so its defence is the interference test (the baseline
 * beside the candidates against its time alone) and the candidate's own
 * clock, which includes every line it dirtied. Expected: failed
 * (interference, busy) or done, correct and no faster than an honest
 * control. */
#include "trust.h"

#include <string.h>
#include <unistd.h>

static char *dc_buf[2];
static size_t dc_n;

static void *dc_dirty(void *p)
{
    static unsigned char v;
    memset(p, ++v, dc_n);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (!dc_n) {
        long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        dc_n = l3 > 0 && l3 < (64L << 20) ? (size_t)l3 : (size_t)64 << 20;
        for (int i = 0; i < 2; i++)
            if (!(dc_buf[i] = malloc(dc_n))) return 1;
    }
    trust_mm_2threads(M, N, K, A, B, C);
    pthread_t t;
    if (pthread_create(&t, NULL, dc_dirty, dc_buf[1]) != 0) return 1;
    dc_dirty(dc_buf[0]);
    pthread_join(t, NULL);
    return 0;
}
