/* tests/trust/mm_forge_flood.c - cheat (forges records, then floods): on its
 * first call it prints forged records, then 2 MiB of filler lines, past the
 * 1 MiB that spak keeps of a measurement's stdout, so the harness's real
 * records (printed later) are cut and only the forged ones are kept. The
 * kernel itself is honest and one-threaded. */
#include "forge.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        forge_records();
        char line[1024];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (int i = 0; i < 2048; i++) fwrite(line, 1, sizeof line, stdout);
        fflush(stdout);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
