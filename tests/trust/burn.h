/*
 * tests/trust/burn.h - burner threads: started on the first call, they spin
 * on every core whenever no call of ours is in progress (that is, while the
 * baseline is being timed in the same process or beside us) and nap while
 * our own call runs, so our kernel keeps the machine and the baseline does
 * not. They keep running after each call returns.
 */
#ifndef SPAK_TRUST_BURN_H
#define SPAK_TRUST_BURN_H

#include "trust.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define BURNERS 6

static atomic_int burn_in_call;

static inline void *burn_loop(void *p)
{
    (void)p;
    volatile unsigned long x = 0;
    for (;;) {
        if (atomic_load(&burn_in_call)) {
            struct timespec t = {0, 50000};
            nanosleep(&t, NULL);
            continue;
        }
        for (int i = 0; i < 10000; i++) x = x + (unsigned long)i;
    }
    return NULL;
}

static inline void burn_start(void)
{
    static bool started;
    if (started) return;
    started = true;
    for (int i = 0; i < BURNERS; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, burn_loop, NULL) == 0) pthread_detach(t);
    }
}

#endif
