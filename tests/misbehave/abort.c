/* abort: calls abort() (SIGABRT). */
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    fprintf(stderr, "assertion failed: giving up\n");
    abort();
}
