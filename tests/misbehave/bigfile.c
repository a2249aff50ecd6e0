/* bigfile: writes an endless file in its working directory (RLIMIT_FSIZE). */
#include <stdio.h>
#include <string.h>
int main(void)
{
    static char block[65536];
    memset(block, 'z', sizeof block);
    FILE *f = fopen("big.bin", "w");
    if (!f)
        return 2;
    for (;;)
        if (fwrite(block, 1, sizeof block, f) != sizeof block)
            return 3;
}
