/* reduce/better.c - `lanes` independent float accumulators the compiler
 * vectorises, blocks of 4096 folded into a double, the blocks over
 * `threads` OpenMP threads. */
#ifndef threads
#define threads 1
#endif
#ifndef lanes
#define lanes 16
#endif

void sum(const float *x, float *out, long n)
{
    double total = 0;
    long nb = (n + 4095) / 4096;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (long b = 0; b < nb; b++) {
        float acc[lanes] = {0};
        long lo = b * 4096, hi = lo + 4096 < n ? lo + 4096 : n, i = lo;
        for (; i + lanes <= hi; i += lanes)
            for (int l = 0; l < lanes; l++) acc[l] += x[i + l];
        double s = 0;
        for (; i < hi; i++) s += x[i];
        for (int l = 0; l < lanes; l++) s += acc[l];
        total += s;
    }
    out[0] = (float)total;
}
