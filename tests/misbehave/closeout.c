/* closeout: closes its stdout and stderr, then keeps running. */
#include <unistd.h>
int main(void)
{
    close(1);
    close(2);
    for (;;)
        sleep(1000);
}
