/* sandbox_tree.c - see sandbox_tree.h. */
#include "analyze/sandbox_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct tree_dirent {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static char copy_buf[1 << 16];

static bool is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

static int first_err(int have, int e)
{
    return have ? have : e;
}

static int dir_at(int dir, const char *name)
{
    return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Remove name (beneath dir), a whole tree when it is a directory. */
static int remove_at(int dir, const char *name, int depth)
{
    struct stat s;
    if (fstatat(dir, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(s.st_mode))
        return unlinkat(dir, name, 0) < 0 ? errno : 0;
    if (depth >= SPAK_TREE_DEPTH)
        return ELOOP;
    int sub = dir_at(dir, name), e = 0;
    if (sub < 0)
        return errno;
    char dents[4096];
    long n;
    /* entries go while we read: read from the start again until empty */
    for (int pass = 0; pass < 1000; pass++) {
        if (lseek(sub, 0, SEEK_SET) < 0 || (n = syscall(SYS_getdents64, sub, dents, sizeof dents)) < 0) {
            e = errno;
            break;
        }
        bool any = false;
        for (long off = 0; off < n;) {
            struct tree_dirent *d = (struct tree_dirent *)(dents + off);
            off += d->d_reclen;
            if (is_dot(d->d_name))
                continue;
            int r = remove_at(sub, d->d_name, depth + 1);
            if (r)
                e = first_err(e, r);
            else
                any = true;
        }
        if (!any)
            break;
    }
    close(sub);
    if (unlinkat(dir, name, AT_REMOVEDIR) < 0)
        e = first_err(e, errno);
    return e;
}

/* A regular file's bytes, from name beneath `from` into a new file beneath `to`. */
static int copy_file(int from, int to, const char *name, const struct stat *s, bool own)
{
    int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return errno;
    struct stat is;
    if (fstat(in, &is) < 0 || !S_ISREG(is.st_mode) || (own && is.st_nlink != 1)) {
        close(in);
        return 0; /* swapped for something else, or a hard link: skipped */
    }
    int out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int e = 0;
    if (out < 0) {
        e = errno;
        close(in);
        return e;
    }
    for (;;) {
        ssize_t k = read(in, copy_buf, sizeof copy_buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k < 0)
                e = errno;
            break;
        }
        for (ssize_t w = 0; w < k;) {
            ssize_t m = write(out, copy_buf + w, (size_t)(k - w));
            if (m < 0 && errno == EINTR)
                continue;
            if (m <= 0) {
                e = m < 0 ? errno : EIO;
                break;
            }
            w += m;
        }
        if (e)
            break;
    }
    if (own && fchown(out, s->st_uid, s->st_gid) < 0)
        e = first_err(e, errno);
    if (fchmod(out, s->st_mode & (own ? 07777 : 0777)) < 0)
        e = first_err(e, errno);
    struct timespec t[2] = {s->st_atim, s->st_mtim};
    (void)futimens(out, t);
    close(out);
    close(in);
    return e;
}

static int sync_dir(int from, int to, bool own, bool prune, int depth);

/* One entry of `from` into `to`. */
static int sync_entry(int from, int to, const char *name, bool own, bool prune, int depth)
{
    struct stat s, d;
    if (fstatat(from, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : errno;
    bool have = fstatat(to, name, &d, AT_SYMLINK_NOFOLLOW) == 0;
    int e;
    if (S_ISDIR(s.st_mode)) {
        if (have && !S_ISDIR(d.st_mode) && (e = remove_at(to, name, depth)))
            return e;
        if ((!have || !S_ISDIR(d.st_mode)) && mkdirat(to, name, 0700) < 0)
            return errno;
        int f = dir_at(from, name), t = dir_at(to, name);
        e = f < 0 || t < 0 ? errno : sync_dir(f, t, own, prune, depth + 1);
        if (t >= 0) {
            if (own && fchown(t, s.st_uid, s.st_gid) < 0)
                e = first_err(e, errno);
            if (fchmod(t, s.st_mode & (own ? 07777 : 0777)) < 0)
                e = first_err(e, errno);
            close(t);
        }
        if (f >= 0)
            close(f);
        return e;
    }
    if (!S_ISREG(s.st_mode) && !S_ISLNK(s.st_mode))
        return 0;
    if (have && S_ISREG(s.st_mode) && S_ISREG(d.st_mode) && s.st_size == d.st_size &&
        s.st_mtim.tv_sec == d.st_mtim.tv_sec && s.st_mtim.tv_nsec == d.st_mtim.tv_nsec)
        return 0;
    if (have && (e = remove_at(to, name, depth)))
        return e;
    if (S_ISREG(s.st_mode))
        return copy_file(from, to, name, &s, own);
    char target[PATH_MAX];
    ssize_t k = readlinkat(from, name, target, sizeof target - 1);
    if (k < 0)
        return errno;
    target[k] = 0;
    if (symlinkat(target, to, name) < 0)
        return errno;
    if (own && fchownat(to, name, s.st_uid, s.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return errno;
    return 0;
}

/* What `to` holds and `from` does not, removed. */
static int prune_dir(int from, int to, int depth)
{
    char dents[4096];
    int e = 0;
    for (int pass = 0; pass < 1000; pass++) {
        long n;
        if (lseek(to, 0, SEEK_SET) < 0 || (n = syscall(SYS_getdents64, to, dents, sizeof dents)) < 0)
            return first_err(e, errno);
        bool any = false;
        for (long off = 0; off < n;) {
            struct tree_dirent *d = (struct tree_dirent *)(dents + off);
            off += d->d_reclen;
            struct stat s;
            if (is_dot(d->d_name) || fstatat(from, d->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0)
                continue;
            int r = remove_at(to, d->d_name, depth);
            if (r)
                e = first_err(e, r);
            else
                any = true;
        }
        if (!any)
            break;
    }
    return e;
}

static int sync_dir(int from, int to, bool own, bool prune, int depth)
{
    if (depth > SPAK_TREE_DEPTH)
        return ELOOP;
    char dents[4096];
    int e = 0;
    if (lseek(from, 0, SEEK_SET) < 0)
        return errno;
    for (;;) {
        long n = syscall(SYS_getdents64, from, dents, sizeof dents);
        if (n < 0)
            return first_err(e, errno);
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct tree_dirent *d = (struct tree_dirent *)(dents + off);
            off += d->d_reclen;
            if (is_dot(d->d_name))
                continue;
            int r = sync_entry(from, to, d->d_name, own, prune, depth);
            if (r)
                e = first_err(e, r);
        }
    }
    if (prune) {
        int r = prune_dir(from, to, depth);
        if (r)
            e = first_err(e, r);
    }
    return e;
}

int spak_tree_sync(int from, int to, bool own, bool prune)
{
    return sync_dir(from, to, own, prune, 0);
}
