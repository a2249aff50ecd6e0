/* segv: a segmentation fault. */
#include <stdio.h>
int main(void)
{
    volatile int *p = (volatile int *)0;
    printf("about to crash\n");
    fflush(stdout);
    *p = 1;
    return 0;
}
