/* tests/trust/mm_fill_disk.c - cheat (writes that outlive the evaluation):
 * on its first call it writes 32 files of 16 MiB (512 MiB; RLIMIT_FSIZE caps
 * one file, not their number) in its working directory, stopping at the
 * first error. The kernel is honest. Nothing of it may be left once the
 * evaluation is over. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        size_t chunk = (size_t)1 << 20;
        char *buf = malloc(chunk);
        if (buf) {
            memset(buf, 'F', chunk);
            for (int i = 0; i < 32; i++) {
                char name[64];
                snprintf(name, sizeof name, "trust-fill-%02d", i);
                int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                bool ok = fd >= 0;
                for (int m = 0; ok && m < 16; m++) ok = write(fd, buf, chunk) == (ssize_t)chunk;
                if (fd >= 0) close(fd);
                if (!ok) break;
            }
            free(buf);
        }
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
