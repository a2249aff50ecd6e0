/* tests/trust/mm_read_db.c - cheat (reads spak's home): on its first call it
 * finds spak.db (walking up from its working directory, or from the
 * ceilings cache in argv), looks for the token TRUST-SECRET-... in it (the
 * suite plants one there, as a stored API reply or earlier prompt might
 * hold one), and leaks it on stdout, stderr and in a trace record. The
 * kernel is honest. */
#include "trust.h"

static void steal(void)
{
    char home[4096], path[4200], secret[64];
    if (!trust_find_home(home, sizeof home)) return;
    snprintf(path, sizeof path, "%s/spak.db", home);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mm_read_db: cannot read %s\n", path);
        return;
    }
    size_t cap = (size_t)64 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (buf) n = fread(buf, 1, cap, f);
    fclose(f);
    if (!buf) return;
    buf[n] = 0;
    for (size_t i = 0; i + 13 < n; i++)
        if (memcmp(buf + i, "TRUST-SECRET-", 13) == 0) {
            size_t k = 0;
            while (k + 1 < sizeof secret && i + k < n &&
                   (buf[i + k] == '-' || (buf[i + k] >= '0' && buf[i + k] <= '9') ||
                    (buf[i + k] >= 'A' && buf[i + k] <= 'Z') || (buf[i + k] >= 'a' && buf[i + k] <= 'z'))) {
                secret[k] = buf[i + k];
                k++;
            }
            secret[k] = 0;
            trust_leak("mm_read_db: from spak.db", secret);
            break;
        }
    free(buf);
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_after_once(steal, M, N, K, A, B, C);
    return 0;
}
