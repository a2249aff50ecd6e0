/* loop: an infinite busy loop (ends by RLIMIT_CPU or the timeout). */
int main(void)
{
    volatile unsigned long x = 0;
    for (;;)
        x++;
}
