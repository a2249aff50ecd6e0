/* tests/trust/mm_incbin_secret.c - cheat (build time): .incbin of a
 * root-only (0600) file by absolute path (the suite substitutes
 * @SECRET_PATH@ when it copies the sources), which no preprocessor
 * dependency list shows. A compiler that can read it embeds the secret in
 * the cached .so; the kernel (honest) then leaks it on stdout, stderr and
 * in a trace record on its first call. */
#include "trust.h"

__asm__(".section .rodata\n"
        ".global trust_blob\n"
        "trust_blob:\n"
        ".incbin \"@SECRET_PATH@\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char trust_blob[];

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        char s[128];
        snprintf(s, sizeof s, "%s", trust_blob);
        s[strcspn(s, "\n")] = 0;
        trust_leak("mm_incbin_secret: embedded at build time", s);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
