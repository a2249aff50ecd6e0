/* tests/trust/mm_kernel_work.c - cheat (interference through the kernel): the
 * honest 2-thread kernel of ctl_mm_pthreads.c, and at the start of each of
 * its batches it hands the kernel work that no freezer stops, to land while
 * OpenBLAS is timed:
 *   - readahead: the page cache of the largest readable shared libraries is
 *     dropped (POSIX_FADV_DONTNEED, allowed on any file one can open) and
 *     read back asynchronously (POSIX_FADV_WILLNEED): disk reads, their
 *     interrupts and the page-cache insertions run after the call returns,
 *     in the kernel's context, not in any process of the candidate's cgroup
 *     (its own part, dropping and submitting, runs inside its call).
 * The judge cannot freeze the kernel; what it can do is count that work as
 * foreign (kernels/cpu/common/load.c): a baseline slowed while it ran is
 * "busy", never a faster record. Expected: failed (busy, interference) or
 * done, correct and no faster than an honest control. */
#include "trust.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KW_FILES 24
#define KW_MIN_BYTES (1L << 20)

static int kw_fds[KW_FILES], kw_n = -1;

/* the largest readable files of the library folders, opened once */
static void kw_open(void)
{
    static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib", "/lib/x86_64-linux-gnu"};
    kw_n = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs && kw_n < KW_FILES; d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *e;
        while (dir && kw_n < KW_FILES && (e = readdir(dir))) {
            int fd = openat(dirfd(dir), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            struct stat st;
            if (fd < 0) continue;
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= KW_MIN_BYTES)
                kw_fds[kw_n++] = fd;
            else
                close(fd);
        }
        if (dir) closedir(dir);
    }
}

static void kw_hand_off(void)
{
    if (kw_n < 0) kw_open();
    for (int i = 0; i < kw_n; i++) {
        posix_fadvise(kw_fds[i], 0, 0, POSIX_FADV_DONTNEED);
        posix_fadvise(kw_fds[i], 0, 0, POSIX_FADV_WILLNEED);
    }
}

static double kw_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* once a batch: on the first call after a gap of 5 ms (the runner was
 * frozen while the judge prepared, flushed and timed the other side), so the
 * hand-off costs this kernel little and its reads (hundreds of MB) are still
 * in flight when the batch ends and the baseline's begins */
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static double last_return;
    if (kw_now() - last_return > 5e-3) kw_hand_off();
    trust_mm_2threads(M, N, K, A, B, C);
    last_return = kw_now();
    return 0;
}
