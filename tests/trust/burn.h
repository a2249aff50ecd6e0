/*
 * tests/trust/burn.h - burner threads: started on the first call, 10 of them
 * spin whenever no call of ours is in progress (that is, while the baseline
 * is timed in the same process or beside us) and wait on a condition
 * variable while our own call runs (burn_enter .. burn_leave), so our kernel
 * has the machine and the baseline does not. They keep running after each
 * call returns.
 */
#ifndef SPAK_TRUST_BURN_H
#define SPAK_TRUST_BURN_H

#include "trust.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define BURNERS 10

static atomic_int burn_in_call;
static pthread_mutex_t burn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t burn_cv = PTHREAD_COND_INITIALIZER;

static inline void *burn_loop(void *p)
{
    (void)p;
    volatile unsigned long x = 0;
    for (;;) {
        if (atomic_load(&burn_in_call)) { /* our call: get out of its way */
            pthread_mutex_lock(&burn_mu);
            while (atomic_load(&burn_in_call)) pthread_cond_wait(&burn_cv, &burn_mu);
            pthread_mutex_unlock(&burn_mu);
        }
        for (int i = 0; i < 2000; i++) x = x + (unsigned long)i;
    }
    return NULL;
}

static inline void burn_enter(void) { atomic_store(&burn_in_call, 1); }

static inline void burn_leave(void)
{
    pthread_mutex_lock(&burn_mu);
    atomic_store(&burn_in_call, 0);
    pthread_cond_broadcast(&burn_cv);
    pthread_mutex_unlock(&burn_mu);
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
