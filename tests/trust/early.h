/*
 * tests/trust/early.h - one worker thread that finishes a call after the
 * call has returned: early_post(job) hands it over (a newer job replaces one
 * not yet started) and returns at once.
 */
#ifndef SPAK_TRUST_EARLY_H
#define SPAK_TRUST_EARLY_H

#include "trust.h"
#include <pthread.h>

typedef void (*early_fn)(void *job);

static pthread_mutex_t early_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t early_cv = PTHREAD_COND_INITIALIZER;
static early_fn early_pending_fn;
static void *early_pending;

static inline void *early_worker(void *p)
{
    (void)p;
    for (;;) {
        pthread_mutex_lock(&early_mu);
        while (!early_pending) pthread_cond_wait(&early_cv, &early_mu);
        void *job = early_pending;
        early_fn fn = early_pending_fn;
        early_pending = NULL;
        pthread_mutex_unlock(&early_mu);
        fn(job);
    }
    return NULL;
}

/* false when no worker could be started: the caller does the work itself */
static inline bool early_post(early_fn fn, void *job, size_t size)
{
    static void *slot[2];
    static int which;
    static bool started, failed;
    if (!started) {
        pthread_t t;
        started = true;
        failed = pthread_create(&t, NULL, early_worker, NULL) != 0;
        if (!failed) pthread_detach(t);
    }
    if (failed) return false;
    pthread_mutex_lock(&early_mu);
    /* two job buffers: the worker may still read the other one */
    which ^= 1;
    free(slot[which]);
    slot[which] = malloc(size);
    if (slot[which]) {
        memcpy(slot[which], job, size);
        early_pending = slot[which];
        early_pending_fn = fn;
        pthread_cond_signal(&early_cv);
    }
    pthread_mutex_unlock(&early_mu);
    return slot[which] != NULL;
}

#endif
