/* spew [BYTES]: writes BYTES bytes of 'x' lines to stdout (forever without an
 * argument). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    char line[4096];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    long long left = argc > 1 ? strtoll(argv[1], NULL, 10) : -1;
    while (left != 0) {
        size_t n = sizeof line;
        if (left > 0 && (long long)n > left)
            n = (size_t)left;
        ssize_t w = write(1, line, n);
        if (w <= 0)
            return 1;
        if (left > 0)
            left -= w;
    }
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
