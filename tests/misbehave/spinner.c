/* spinner: burns CPU in every way a frozen runner must not: 4 threads and a
 * grandchild that left the session (setsid), each counting as fast as it
 * can into a shared page at fd 3 (slots 0..3 the threads, 4 the grandchild).
 * The judge's test reads the counters: while the runner is frozen they must
 * not move. Runs until killed. */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint64_t *slots;

static void *spin(void *arg)
{
    volatile uint64_t *c = &slots[(uintptr_t)arg];
    for (;;)
        (*c)++;
    return NULL;
}

int main(void)
{
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    if (m == MAP_FAILED)
        return 2;
    slots = m;
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() == 0)
            spin((void *)(uintptr_t)4);
        _exit(0);
    }
    pthread_t t;
    for (uintptr_t i = 0; i < 4; i++)
        if (pthread_create(&t, NULL, spin, (void *)i) != 0)
            return 3;
    for (;;)
        pause();
}
