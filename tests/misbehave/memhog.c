/* memhog: allocates and touches 16 MiB blocks without checking for NULL, as
 * careless code does; under RLIMIT_AS it dies with SIGSEGV. */
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    size_t blk = (size_t)16 << 20;
    for (size_t total = 0;; total += blk) {
        volatile char *p = malloc(blk);
        for (size_t i = 0; i < blk; i += 4096)
            p[i] = 1;
        if (total % ((size_t)256 << 20) == 0)
            fprintf(stderr, "allocated %zu MiB\n", total >> 20);
    }
}
