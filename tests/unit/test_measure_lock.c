/* test_measure_lock.c - the machine-wide measurement lock
 * (src/analyze/measure_lock.h): exclusive against shared, who holds it, the
 * turnstile that keeps a stream of builds from starving a measurement, and
 * device names. Threads stand for the workers of --jobs and for other runs
 * (a flock is per open file, so threads of one process exclude each other
 * as processes do). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze/measure_lock.h"
#include "build/build_fs.h"
#include "tap.h"
#include "util.h"

static char dir[64];

typedef struct taker {
    bool exclusive;
    const char *who;
    char told[SPAK_MLOCK_WHO_MAX];  /* the holder named to on_wait */
    int waits;
    double got_at;                  /* when it had the lock */
    spak_status st;
    spak_mlock l;
} taker;

static void on_wait(void *ud, const char *path, const char *holder)
{
    taker *t = ud;
    (void)path;
    t->waits++;
    spak_snprintf(t->told, sizeof t->told, "%s", holder);
}

static void *take(void *arg)
{
    taker *t = arg;
    t->st = spak_mlock_take(dir, "cpu", t->exclusive, t->who, on_wait, t, &t->l, NULL);
    t->got_at = spak_now_monotonic();
    return NULL;
}

static bool waiting(const taker *t)
{
    for (int i = 0; i < 200 && !t->waits; i++)
        usleep(10000);
    return t->waits > 0;
}

int main(void)
{
    spak_snprintf(dir, sizeof dir, "/tmp/spak-mlock.%ld", (long)getpid());
    char path[256];

    /* a measurement holds it; a build waits and is told by whom */
    taker m = {.exclusive = true, .who = "pid 1, run r1, evaluation 3 (x=1)"}, b = {.exclusive = false};
    take(&m);
    TAP_OK(m.st == SPAK_OK && m.l.fd >= 0 && m.waits == 0, "an exclusive take of a free lock does not wait");
    struct stat sb;
    spak_mlock_path(dir, "cpu", path, sizeof path, NULL);
    TAP_OK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0666, "the lock file is made 0666 (every user shares it)");
    TAP_OK(stat(dir, &sb) == 0 && (sb.st_mode & 07777) == 01777, "its folder 01777, like /tmp");
    pthread_t tb;
    pthread_create(&tb, NULL, take, &b);
    TAP_OK(waiting(&b), "a build (shared) waits while a measurement holds it");
    TAP_STREQ(b.told, "pid 1, run r1, evaluation 3 (x=1)", "the waiter is told who holds it");
    spak_mlock_release(&m.l);
    pthread_join(tb, NULL);
    TAP_OK(b.st == SPAK_OK && b.l.fd >= 0, "the build gets it once the measurement lets go");

    /* builds side by side */
    taker b2 = {.exclusive = false};
    take(&b2);
    TAP_OK(b2.st == SPAK_OK && b2.waits == 0, "two builds hold it side by side");

    /* a measurement waits for the builds, and builds that come after it wait for it */
    taker m2 = {.exclusive = true, .who = "pid 2, run r2"}, b3 = {.exclusive = false};
    pthread_t tm2, tb3;
    pthread_create(&tm2, NULL, take, &m2);
    TAP_OK(waiting(&m2), "a measurement waits for the builds in flight");
    TAP_STREQ(m2.told, "", "builds hold it shared: nobody is named (the last holder's line was cleared)");
    pthread_create(&tb3, NULL, take, &b3);
    bool b3_waits = waiting(&b3);
    TAP_OK(b3_waits, "a build that comes after a waiting measurement waits (the turnstile)");
    if (!b3_waits) {  /* it got the lock past the measurement: let it go, or the measurement waits forever */
        pthread_join(tb3, NULL);
        spak_mlock_release(&b3.l);
    }
    usleep(50000);
    spak_mlock_release(&b.l);
    spak_mlock_release(&b2.l);
    pthread_join(tm2, NULL);
    double m2_at = m2.got_at;
    usleep(50000);
    spak_mlock_release(&m2.l);
    if (b3_waits)
        pthread_join(tb3, NULL);
    TAP_OK(m2.st == SPAK_OK && b3.st == SPAK_OK && m2_at < b3.got_at,
           "the measurement had it before the build that came after it");
    spak_mlock_release(&b3.l);

    /* two measurements never at once */
    taker x1 = {.exclusive = true, .who = "first"}, x2 = {.exclusive = true, .who = "second"};
    take(&x1);
    pthread_t tx2;
    pthread_create(&tx2, NULL, take, &x2);
    TAP_OK(waiting(&x2), "a second measurement waits for the first");
    TAP_STREQ(x2.told, "first", "and names it");
    spak_mlock_release(&x1.l);
    pthread_join(tx2, NULL);
    spak_mlock_release(&x2.l);
    spak_mlock_release(&x2.l);  /* twice: nothing */
    TAP_OK(x2.l.fd == -1, "released twice: nothing");

    /* device names */
    TAP_OK(spak_mlock_path(dir, "cuda-1", path, sizeof path, NULL) == SPAK_OK && strstr(path, "measure-cuda-1.lock"),
           "cuda-1: measure-cuda-1.lock");
    const char *bad[] = {"", "../etc", "CPU", "cpu 0", "a/b", "x23456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TAP_OK(spak_mlock_path(dir, bad[i], path, sizeof path, NULL) == SPAK_ERR_ARG, "'%s' is not a device name",
               bad[i]);
    spak_rmtree(dir);
    return tap_done();
}
