/*
 * tests/trust/late.h - one worker thread that finishes jobs after the call
 * that posted them has returned: late_post(fn, job) queues a copy (up to 64
 * waiting; none is dropped, unlike early.h, so every call of a batch gets
 * its tail done) and returns at once.
 */
#ifndef SPAK_TRUST_LATE_H
#define SPAK_TRUST_LATE_H

#include "trust.h"
#include <pthread.h>

typedef void (*late_fn)(void *job);

#define LATE_MAX 64
#define LATE_JOB 128 /* bytes of a job, at most */

static pthread_mutex_t late_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t late_cv = PTHREAD_COND_INITIALIZER;
static late_fn late_q_fn[LATE_MAX];
static unsigned char late_q[LATE_MAX][LATE_JOB];
static int late_head, late_n;

static inline void *late_worker(void *p)
{
    (void)p;
    unsigned char job[LATE_JOB];
    for (;;) {
        pthread_mutex_lock(&late_mu);
        while (!late_n) pthread_cond_wait(&late_cv, &late_mu);
        late_fn fn = late_q_fn[late_head];
        memcpy(job, late_q[late_head], LATE_JOB);
        late_head = (late_head + 1) % LATE_MAX;
        late_n--;
        pthread_mutex_unlock(&late_mu);
        fn(job);
    }
    return NULL;
}

/* false when the job cannot be queued: the caller does the work itself */
static inline bool late_post(late_fn fn, const void *job, size_t size)
{
    static bool started, failed;
    if (!started) {
        pthread_t t;
        started = true;
        failed = pthread_create(&t, NULL, late_worker, NULL) != 0;
        if (!failed) pthread_detach(t);
    }
    if (failed || size > LATE_JOB) return false;
    pthread_mutex_lock(&late_mu);
    bool ok = late_n < LATE_MAX;
    if (ok) {
        int at = (late_head + late_n) % LATE_MAX;
        late_q_fn[at] = fn;
        memcpy(late_q[at], job, size);
        late_n++;
        pthread_cond_signal(&late_cv);
    }
    pthread_mutex_unlock(&late_mu);
    return ok;
}

#endif
