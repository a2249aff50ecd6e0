/* reduce/ref.c - the reference of the declared sum (reduce-cpu.spak): the
 * sum of x in long double, pairwise-free (its error is far below the
 * tolerance at these sizes). */
void sum_ref(const float *x, float *out, long n)
{
    long double s = 0;
    for (long i = 0; i < n; i++) s += x[i];
    out[0] = (float)s;
}
