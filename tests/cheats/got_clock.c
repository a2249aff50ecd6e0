/* tests/cheats/got_clock.c - cheat: on its first call (by then a lazily
 * bound GOT slot of the caller's clock_gettime has been resolved), rewrites
 * every GOT slot of every object in its process that points at clock_gettime
 * to a clock that runs 1000x slow, so a judge sharing the process would time its calls near
 * zero. The kernel itself is an honest naive matmul. It says on stderr how
 * many slots it patched (the runner's log). Built with -DNO_PATCH it is the
 * same kernel without the patch (the suite compares the two). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "honest.h"

#ifndef NO_PATCH
static int slow_clock(clockid_t id, struct timespec *ts)
{
    long r = syscall(SYS_clock_gettime, id, ts);
    double t = ((double)ts->tv_sec + ts->tv_nsec * 1e-9) / 1000.0;
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
    return (int)r;
}

static int patched;

static int patch_object(struct dl_phdr_info *info, size_t size, void *real)
{
    (void)size;
    long pg = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD && ph->p_type != PT_GNU_RELRO) continue;
        if (ph->p_type == PT_LOAD && !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        uintptr_t plo = lo & ~(uintptr_t)(pg - 1);
        mprotect((void *)plo, hi - plo, PROT_READ | PROT_WRITE);
        for (uintptr_t a = (lo + 7) & ~(uintptr_t)7; a + 8 <= hi; a += 8)
            if (*(void **)a == real) {
                *(void **)a = (void *)slow_clock;
                patched++;
            }
    }
    return 0;
}

static void patch(void)
{
    void *real = dlsym(RTLD_DEFAULT, "clock_gettime");
    if (real) dl_iterate_phdr(patch_object, real);
    fprintf(stderr, "got-clock: patched %d GOT slots of clock_gettime in this process\n", patched);
}
#endif

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
#ifndef NO_PATCH
    static int done;
    if (!done++) patch();
#endif
    honest_matmul(M, N, K, A, B, C);
    return 0;
}
