/* omp: a legitimate OpenMP candidate (built with -fopenmp). Four threads
 * sum a series in parallel; the syscall filter must not get in their way
 * (libgomp's thread pool: clone/clone3, futex, sched_getaffinity). */
#include <omp.h>
#include <stdio.h>

int main(void)
{
    double sum = 0;
    int nthreads = 0;
#pragma omp parallel num_threads(4) reduction(+ : sum)
    {
#pragma omp single
        nthreads = omp_get_num_threads();
#pragma omp for
        for (long i = 1; i <= 4000000; i++)
            sum += 1.0 / ((double)i * (double)i);
    }
    if (nthreads < 2 || sum < 1.64 || sum > 1.65) {
        fprintf(stderr, "omp: %d threads, sum %f\n", nthreads, sum);
        return 1;
    }
    printf("threads=%d\n", nthreads);
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
