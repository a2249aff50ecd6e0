/*
 * measure_lock.h - the machine-wide measurement lock of a device, so that
 * two measurements never time at once on one machine: not two evaluations
 * of one run (--jobs), not two runs of one user, not two users' runs.
 *
 * The lock is flock(2) on DIR/measure-DEVICE.lock (DIR: /var/tmp/spak-locks
 * unless the caller names another; DEVICE: "cpu", "cuda-0", ...), a file
 * outside any home, made mode 0666 in a folder made 01777, so that every
 * user's spak takes the same one. The kernel releases a flock when the last
 * descriptor of its holder goes, so a holder killed with SIGKILL never
 * leaves it stale; the descriptors are close-on-exec, and the sandbox
 * closes every other descriptor in its children, so nothing a measurement
 * starts keeps it. On a Slurm node /var/tmp is the node's own: the lock is
 * node-local, and flock(1) on the same file takes the same lock from a
 * job script.
 *
 * A measurement takes it exclusive. On the CPU target a build takes it
 * shared (builds run in parallel with each other, never while a
 * measurement times), through a turnstile (DIR/measure-DEVICE.turn) that a
 * waiting measurement holds, so that a stream of builds never starves it.
 * The exclusive holder writes who it is into the lock file (one line:
 * pid, run, candidate); a waiter reads it to say what it waits for.
 */
#ifndef SPAK_MEASURE_LOCK_H
#define SPAK_MEASURE_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include "spak.h"

#define SPAK_MLOCK_DIR "/var/tmp/spak-locks"
#define SPAK_MLOCK_WHO_MAX 256

/* A lock held (fd >= 0) or not (fd -1). */
typedef struct spak_mlock {
    int fd;
    bool exclusive;
    double waited_s;  /* how long the take waited */
} spak_mlock;

/* Told once when a take has to wait: path of the lock file and who holds
 * it ("" when nobody says: builds hold it shared, or a holder that wrote
 * nothing). The text is the file's, sanitized: printable ASCII only. */
typedef void (*spak_mlock_wait_fn)(void *ud, const char *path, const char *holder);

/* The path of device's lock file in dir (NULL: SPAK_MLOCK_DIR) into out[n].
 * device: 1 to 32 of [a-z0-9-]. */
spak_status spak_mlock_path(const char *dir, const char *device, char *out, size_t n, spak_err *err);

/* Take device's lock (exclusive, or shared for a build), waiting as long as
 * it takes (on_wait, may be NULL, is told first). who (exclusive only; may
 * be NULL) is written into the lock file while held. The folder and the
 * files are made when missing. SPAK_ERR_IO when the file cannot be opened
 * or locked (l->fd stays -1). */
spak_status spak_mlock_take(const char *dir, const char *device, bool exclusive, const char *who,
                            spak_mlock_wait_fn on_wait, void *ud, spak_mlock *l, spak_err *err);

/* Let it go (nothing when not held). */
void spak_mlock_release(spak_mlock *l);

#endif
