/* reduce/naive.c - one thread, one double accumulator (a float one drifts
 * past the tolerance over millions of elements). */
void sum(const float *x, float *out, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++) s += x[i];
    out[0] = (float)s;
}
