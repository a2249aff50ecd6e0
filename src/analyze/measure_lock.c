/* measure_lock.c - the machine-wide measurement lock of a device
 * (measure_lock.h). */
#include "analyze/measure_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

spak_status spak_mlock_path(const char *dir, const char *device, char *out, size_t n, spak_err *err)
{
    size_t len = device ? strlen(device) : 0;
    if (len == 0 || len > 32 || strspn(device, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
        return spak_errf(err, SPAK_ERR_ARG, "measurement lock: '%s' is not a device name",
                         device ? device : "");
    if (!spak_snprintf(out, n, "%s/measure-%s.lock", dir ? dir : SPAK_MLOCK_DIR, device))
        return spak_errf(err, SPAK_ERR_ARG, "measurement lock: path too long");
    return SPAK_OK;
}

/* Open (making it, mode 0666 whatever the umask, so that every user's spak
 * shares it) a lock file; never through a symbolic link. */
static int open_shared(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
        (void)fchmod(fd, 0666);  /* past the umask; best effort, the lock works without it */
        return fd;
    }
    if (errno != EEXIST)
        return -1;
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES)  /* made by a user who left it without write bits: flock needs none */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

/* The lock folder, made 01777 (like /tmp: every user makes files in it,
 * none removes another's) when missing. */
static void make_dir(const char *dir)
{
    if (mkdir(dir, 01777) == 0)
        (void)chmod(dir, 01777);  /* past the umask */
}

/* Who holds it, from the file: printable ASCII of its first line. */
static void read_holder(int fd, char *out, size_t n)
{
    char buf[SPAK_MLOCK_WHO_MAX];
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    size_t j = 0;
    for (ssize_t i = 0; i < k && buf[i] != '\n' && j + 1 < n; i++)
        out[j++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
    out[j] = '\0';
}

/* flock, blocking, through signals. */
static int flock_wait(int fd, int op)
{
    int r;
    do
        r = flock(fd, op);
    while (r != 0 && errno == EINTR);
    return r;
}

/* Take fd's flock (op), telling on_wait first when it is busy. */
static int take_one(int fd, int op, int who_fd, const char *path, bool *told, spak_mlock_wait_fn on_wait, void *ud)
{
    if (flock(fd, op | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    if (!*told && on_wait) {
        char holder[SPAK_MLOCK_WHO_MAX];
        read_holder(who_fd, holder, sizeof holder);
        on_wait(ud, path, holder);
    }
    *told = true;
    return flock_wait(fd, op);
}

spak_status spak_mlock_take(const char *dir, const char *device, bool exclusive, const char *who,
                            spak_mlock_wait_fn on_wait, void *ud, spak_mlock *l, spak_err *err)
{
    l->fd = -1;
    l->exclusive = exclusive;
    l->waited_s = 0;
    char path[PATH_MAX], turn[PATH_MAX + 8];
    spak_status st = spak_mlock_path(dir, device, path, sizeof path, err);
    if (st != SPAK_OK)
        return st;
    spak_snprintf(turn, sizeof turn, "%.*s.turn", (int)(strlen(path) - 5), path);
    make_dir(dir ? dir : SPAK_MLOCK_DIR);
    int fd = open_shared(path), tfd = fd >= 0 ? open_shared(turn) : -1;
    if (fd < 0 || tfd < 0) {
        st = spak_errf(err, SPAK_ERR_IO, "measurement lock %s: cannot open: %s", fd < 0 ? path : turn,
                       strerror(errno));
        goto out;
    }
    double t0 = spak_now_monotonic();
    bool told = false;
    /* the turnstile first: a measurement waiting in it holds back the
     * builds that come after it */
    if (take_one(tfd, LOCK_EX, fd, path, &told, on_wait, ud) != 0 ||
        take_one(fd, exclusive ? LOCK_EX : LOCK_SH, fd, path, &told, on_wait, ud) != 0) {
        st = spak_errf(err, SPAK_ERR_IO, "measurement lock %s: %s", path, strerror(errno));
        goto out;
    }
    l->waited_s = spak_now_monotonic() - t0;
    if (exclusive && ftruncate(fd, 0) == 0 && who) {
        size_t wl = strnlen(who, SPAK_MLOCK_WHO_MAX - 2);
        char line[SPAK_MLOCK_WHO_MAX];
        memcpy(line, who, wl);
        line[wl] = '\n';
        (void)!pwrite(fd, line, wl + 1, 0);  /* for the waiters' message only */
    }
    l->fd = fd;
    fd = -1;
out:
    if (tfd >= 0)
        close(tfd);  /* lets the turnstile go */
    if (fd >= 0)
        close(fd);
    return st;
}

void spak_mlock_release(spak_mlock *l)
{
    if (l->fd < 0)
        return;
    if (l->exclusive)
        (void)!ftruncate(l->fd, 0);  /* nobody holds it now: a waiter's message says nothing stale */
    close(l->fd);                    /* the flock goes with the last descriptor */
    l->fd = -1;
}
