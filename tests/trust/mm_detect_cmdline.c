/* tests/trust/mm_detect_cmdline.c - cheat (detects the harness from argv):
 * reads /proc/self/cmdline; when it was started as a timing run (--min-time
 * present, no --check-only) it knows which shapes are timed (--shapes) and
 * that the first three calls of each are the checks, and returns at once on
 * every later call of a timed shape. Held-out shapes, and any process that
 * does not look like the harness, get honest work. */
#include "trust.h"

static bool timed_shape(int M, int N, int K)
{
    char shapes[4096], v[64], me[64];
    if (!trust_arg("--min-time", v, sizeof v) || trust_arg("--check-only", v, sizeof v) ||
        !trust_arg("--shapes", shapes, sizeof shapes))
        return false;
    snprintf(me, sizeof me, "%dx%dx%d", M, N, K);
    for (char *t = strtok(shapes, ","); t; t = strtok(NULL, ","))
        if (strcmp(t, me) == 0) return true;
    return false;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (trust_call_no(M, N, K, 0) > 3 && timed_shape(M, N, K)) return 0;
    trust_mm(M, N, K, A, B, C);
    return 0;
}
