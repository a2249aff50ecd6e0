/* build_key.c - see build_key.h. */
#include "build/build_key.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

void spak_key_walk_init(spak_key_walk *w, uint64_t h, bool others_only)
{
    memset(w, 0, sizeof *w);
    w->h = h;
    w->complete = true;
    w->others_only = others_only;
}

static void fold(spak_key_walk *w, const void *p, size_t n)
{
    w->h = spak_hash64(p, n, w->h);
}

/* A marker in place of contents: distinct from any file's bytes because it
 * is folded with its own length word before it. */
static void fold_marker(spak_key_walk *w, const char *what)
{
    uint64_t tag = 0xfeedfacecafebeefULL;
    fold(w, &tag, sizeof tag);
    fold(w, what, strlen(what) + 1);
}

void spak_key_file(spak_key_walk *w, const char *path)
{
    if (w->files >= SPAK_KEY_MAX_FILES) {
        w->complete = false;
        return;
    }
    w->files++;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fold_marker(w, "missing");
        return;
    }
    if (!S_ISREG(sb.st_mode)) {
        fold_marker(w, "not a file");  /* a FIFO would block us; a device is not source */
        return;
    }
    if (w->others_only && !(sb.st_mode & S_IROTH)) {
        /* the compiler (another uid) cannot read it: neither do we, so that
         * no hash of a secret leaves through the key */
        fold_marker(w, "unreadable");
        return;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fold_marker(w, "unopenable");
        return;
    }
    uint64_t size = (uint64_t)sb.st_size;
    fold(w, &size, sizeof size);
    char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (w->bytes + (size_t)r > SPAK_KEY_MAX_BYTES) {
            w->complete = false;
            break;
        }
        w->bytes += (size_t)r;
        fold(w, buf, (size_t)r);
    }
    close(fd);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir (not . and .., not .git), sorted, malloc'd; NULL when it
 * cannot be read. Past max names the walk is not complete. */
static char **dir_names(spak_key_walk *w, const char *dir, size_t max, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = calloc(max, sizeof *names);
    struct dirent *de;
    while (names && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
            continue;
        if (*n == max) {
            w->complete = false;
            break;
        }
        if (!(names[*n] = strdup(de->d_name))) {
            w->complete = false;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (names)
        qsort(names, *n, sizeof *names, cmp_names);
    else
        w->complete = false;
    return names;
}

static void tree(spak_key_walk *w, const char *dir, const char *rel, int depth)
{
    if (depth > SPAK_KEY_MAX_DEPTH) {
        w->complete = false;
        return;
    }
    size_t n = 0;
    char **names = dir_names(w, dir, 4096, &n);
    if (!names) {
        fold_marker(w, "unlistable");
        return;
    }
    for (size_t i = 0; i < n && w->complete; i++) {
        char path[PATH_MAX], sub[PATH_MAX];
        if (!spak_snprintf(path, sizeof path, "%s/%s", dir, names[i]) ||
            !spak_snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i])) {
            w->complete = false;
            break;
        }
        fold(w, sub, strlen(sub) + 1);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (w->others_only && (sb.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH))
                fold_marker(w, "closed folder");
            else
                tree(w, path, sub, depth + 1);
        } else {
            spak_key_file(w, path);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void spak_key_tree(spak_key_walk *w, const char *dir)
{
    tree(w, dir, "", 0);
}

/* One word of the rule: before the colon it is a target, after it a file. */
static void deps_word(spak_key_walk *w, const char *word, bool *after_colon)
{
    size_t l = strlen(word);
    if (*after_colon) {
        spak_key_file(w, word);
        return;
    }
    if (l && word[l - 1] == ':')
        *after_colon = true;
}

bool spak_key_deps(spak_key_walk *w, const char *t, size_t len)
{
    char word[PATH_MAX];
    size_t k = 0;
    bool after = false, overlong = false;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? t[i] : '\n';
        if (c == '\\' && i + 1 < len && (t[i + 1] == '\n' || t[i + 1] == '\r')) {
            c = ' ';  /* a continuation line */
            i++;
        } else if (c == '\\' && i + 1 < len && (t[i + 1] == ' ' || t[i + 1] == '#' || t[i + 1] == '\\')) {
            c = t[++i];  /* an escaped space: part of the name */
            goto append;
        } else if (c == '$' && i + 1 < len && t[i + 1] == '$') {
            i++;
            goto append;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (k && !overlong) {
                word[k] = '\0';
                deps_word(w, word, &after);
            }
            if (k && overlong)
                w->complete = false;
            k = 0;
            overlong = false;
            continue;
        }
    append:
        if (k + 1 < sizeof word)
            word[k++] = c;
        else
            overlong = true;
    }
    if (!after)
        w->complete = false;
    return after;
}
