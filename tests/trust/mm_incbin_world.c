/* tests/trust/mm_incbin_world.c - cheat (build time): .incbin of a
 * world-readable (0644) file outside the source folder, by absolute path
 * (the suite substitutes @WORLD_PATH@), which no file mode keeps from the
 * compiler and no dependency list shows. Landlock's read rules must: a
 * compiler that can read it embeds its bytes in the cached .so, and the
 * kernel (honest) leaks them on its first call. */
#include "trust.h"

__asm__(".section .rodata\n"
        ".global trust_world_blob\n"
        "trust_world_blob:\n"
        ".incbin \"@WORLD_PATH@\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char trust_world_blob[];

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        char s[160];
        snprintf(s, sizeof s, "%s", trust_world_blob);
        s[strcspn(s, "\n")] = 0;
        trust_leak("mm_incbin_world: embedded at build time", s);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
