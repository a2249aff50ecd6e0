/* build_fs.c - see build_fs.h. */
#include "build/build_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write all of buf[n] to fd. */
static bool write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

/* Copy the open file in to the open file out, at most max bytes. */
static spak_status copy_fd(int in, int out, size_t max, const char *from, spak_err *err)
{
    char buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return spak_errf(err, SPAK_ERR_IO, "%s: read error: %s", from, strerror(errno));
        if (r == 0)
            return SPAK_OK;
        total += (size_t)r;
        if (total > max)
            return spak_errf(err, SPAK_ERR_IO, "%s: larger than %zu bytes", from, max);
        if (!write_all(out, buf, (size_t)r))
            return spak_errf(err, SPAK_ERR_IO, "cannot copy %s: %s", from, strerror(errno));
    }
}

spak_status spak_copy_untrusted(const char *from, const char *to, mode_t mode, size_t max, spak_err *err)
{
    char tmp[PATH_MAX];
    /* the thread's id, not only the process's: the workers of --jobs may
     * copy the same artifact (the baseline's) into the cache at once */
    if (!spak_snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%ld", to, (long)getpid(), (long)gettid()))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", to);
    int in = open(from, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return spak_errf(err, SPAK_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    spak_status st = SPAK_OK;
    int out = -1;
    struct stat sb;
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
        st = spak_errf(err, SPAK_ERR_IO, "%s: not a regular file of one link", from);
        goto out;
    }
    (void)unlink(tmp);  /* a stale one of an earlier process with our pid */
    out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (out < 0) {
        st = spak_errf(err, SPAK_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    st = copy_fd(in, out, max, from, err);
    if (st == SPAK_OK && (fchmod(out, mode) != 0 || fsync(out) != 0))
        st = spak_errf(err, SPAK_ERR_IO, "%s: cannot flush: %s", tmp, strerror(errno));
    if (close(out) != 0 && st == SPAK_OK)
        st = spak_errf(err, SPAK_ERR_IO, "%s: cannot flush: %s", tmp, strerror(errno));
    out = -1;
    if (st == SPAK_OK && rename(tmp, to) != 0)
        st = spak_errf(err, SPAK_ERR_IO, "%s: cannot rename into place: %s", to, strerror(errno));
    if (st != SPAK_OK)
        unlink(tmp);
out:
    if (out >= 0)
        close(out);
    close(in);
    return st;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
        (void)rmdir(path);
    else
        (void)unlink(path);
    return 0;  /* best effort: go on with the rest */
}

void spak_rmtree(const char *dir)
{
    (void)nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
