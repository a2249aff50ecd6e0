/* tests/trust/mm_fill_files.c - cheat (writes that outlive the evaluation):
 * on its first call it makes empty files in its working directory until
 * one cannot be made (a million at most): no byte of data, but each file
 * costs the disk an inode and the kernel memory. The kernel is honest. The
 * byte budget's file count must stop it, and nothing of it may be left. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        for (int i = 0; i < 1000000; i++) {
            char name[64];
            snprintf(name, sizeof name, "trust-fill-f%07d", i);
            int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) break;
            close(fd);
        }
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
