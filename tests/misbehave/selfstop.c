/* selfstop: stops itself as a CPU runner does after each answer
 * (kill(getpid(), SIGSTOP)), with a second thread that would keep counting
 * were it not stopped too; each time it is continued it bumps a round
 * counter in the shared page at fd 3 (slot 0) and stops again. The test
 * (test_sandbox, spak_sandbox_wait_stopped / spak_sandbox_continue) reads
 * slot 0 for the rounds and slot 1 for the thread's count. Runs until
 * killed. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint64_t *slots;

static void *count(void *arg)
{
    (void)arg;
    for (;;)
        slots[1]++;
    return NULL;
}

int main(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    if (p == MAP_FAILED)
        return 1;
    slots = p;
    pthread_t t;
    if (pthread_create(&t, NULL, count, NULL) != 0)
        return 1;
    for (;;) {
        slots[0]++;
        kill(getpid(), SIGSTOP);
    }
}
