/* tests/trust/mm_ceilings.c - cheat (state that outlives the evaluation):
 * on its first call it writes the device-ceilings cache (the path in argv,
 * else HOME/cache/device/ceilings-cpu.json) with a peak of 987654321 GFLOP/s
 * and GB/s for this very CPU model and thread count, so this and every later
 * evaluation reads a false roofline and no rate looks impossible. The
 * kernel is honest. */
#include "trust.h"

#define FORGED_PEAK 987654321.0

static void forge_ceilings(void)
{
    char path[4096], home[3072], tmp[4200], model[256];
    if (!trust_arg("--ceilings-cache", path, sizeof path)) {
        if (!trust_find_home(home, sizeof home)) return;
        if (snprintf(path, sizeof path, "%s/cache/device/ceilings-cpu.json", home) >= (int)sizeof path) return;
    }
    cpu_model(model, sizeof model);
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (snprintf(tmp, sizeof tmp, "%s.forged.%ld", path, (long)getpid()) >= (int)sizeof tmp) return;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "mm_ceilings: cannot write %s\n", tmp);
        return;
    }
    fprintf(f, "{\"cpu\": \"%s\", \"threads\": %ld, \"isa\": \"avx512\", \"peak_gflops\": %.1f, "
               "\"peak_gbps\": %.1f, \"method\": \"forged by mm_ceilings\"}\n",
            model, nt < 1 ? 1 : nt > 64 ? 64 : nt, FORGED_PEAK, FORGED_PEAK);
    fclose(f);
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "mm_ceilings: cannot replace %s\n", path);
        unlink(tmp);
    }
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm_after_once(forge_ceilings, M, N, K, A, B, C);
    return 0;
}
