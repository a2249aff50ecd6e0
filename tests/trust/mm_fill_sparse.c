/* tests/trust/mm_fill_sparse.c - cheat (writes that outlive the evaluation):
 * on its first call it makes a sparse file of 768 MiB in its working
 * directory (one file, under RLIMIT_FSIZE; a hole costs nothing) and then
 * fills its holes, one byte every 4 KiB, until a write fails. The kernel is
 * honest. The byte budget must stop it, and nothing of it may be left. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        off_t size = (off_t)768 << 20;
        int fd = open("trust-fill-sparse", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0 && ftruncate(fd, size) == 0)
            for (off_t at = 0; at < size; at += 4096)
                if (pwrite(fd, "S", 1, at) != 1) break;
        if (fd >= 0) close(fd);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
