/* noresult: exits 0 without printing a result. */
#include <stdio.h>
int main(void)
{
    printf("did some work, forgot to report it\n");
    return 0;
}
