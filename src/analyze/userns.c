/* userns.c - root inside a user namespace (userns.h). */
#include "analyze/userns.h"

#include <errno.h>
#include <pwd.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define SUBID_FILE_MAX (1u << 20)
/* 65534 (the sandbox's default candidate uid) must be mapped */
#define NEED_IDS 65535L

bool spak_userns_subrange(const char *path, const char *user, long id, long *start, long *count)
{
    char *text = NULL;
    size_t len = 0;
    if (spak_read_file(path, SUBID_FILE_MAX, &text, &len, NULL) != SPAK_OK)
        return false;
    char idtext[24];
    spak_snprintf(idtext, sizeof idtext, "%ld", id);
    bool found = false;
    for (char *line = text; line && *line && !found;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c1 = *c2 = '\0';
            long s, c;
            if ((strcmp(line, idtext) == 0 || (user && strcmp(line, user) == 0)) &&
                spak_parse_long(c1 + 1, 1, 4294967294L, &s) && spak_parse_long(c2 + 1, 1, 4294967294L, &c))
                *start = s, *count = c, found = true;
        }
        line = next;
    }
    free(text);
    return found;
}

/* Run a map helper (newuidmap/newgidmap PID 0 ID 1 1 START COUNT); its exit
 * status, -1 when it could not run. */
static int run_map(const char *prog, pid_t pid, long id, long start, long count)
{
    char a[5][24];
    spak_snprintf(a[0], sizeof a[0], "%ld", (long)pid);
    spak_snprintf(a[1], sizeof a[1], "%ld", id);
    spak_snprintf(a[2], sizeof a[2], "%ld", start);
    spak_snprintf(a[3], sizeof a[3], "%ld", count);
    const char *argv[] = {prog, a[0], "0", a[1], "1", "1", a[2], a[3], NULL};
    pid_t c;
    if (posix_spawnp(&c, prog, NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    int ws;
    while (waitpid(c, &ws, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

spak_status spak_userns_enter(char *how, size_t n, spak_err *err)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    const struct passwd *pw = getpwuid(uid);
    long us, uc, gs, gc;
    if (!spak_userns_subrange("/etc/subuid", pw ? pw->pw_name : NULL, (long)uid, &us, &uc) ||
        !spak_userns_subrange("/etc/subgid", pw ? pw->pw_name : NULL, (long)gid, &gs, &gc))
        return spak_errf(err, SPAK_ERR_ARG, "no subordinate uids or gids for uid %ld in /etc/subuid, /etc/subgid",
                         (long)uid);
    long count = uc < gc ? uc : gc;
    if (count < NEED_IDS)
        return spak_errf(err, SPAK_ERR_ARG, "the subordinate ranges of uid %ld hold %ld ids, fewer than %ld",
                         (long)uid, count, NEED_IDS);
    /* the helpers map a process that has made the namespace: a child waits
     * until this process has, then maps it from outside */
    int go[2];
    if (pipe(go) != 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "pipe: %s", strerror(errno));
    pid_t self = getpid();
    pid_t c = fork();
    if (c < 0) {
        close(go[0]), close(go[1]);
        return spak_errf(err, SPAK_ERR_SANDBOX, "fork: %s", strerror(errno));
    }
    if (c == 0) {
        close(go[1]);
        char b;
        int rc = 1;
        if (read(go[0], &b, 1) == 1 && b == 'y')
            rc = run_map("newuidmap", self, (long)uid, us, count) == 0 &&
                         run_map("newgidmap", self, (long)gid, gs, count) == 0
                     ? 0
                     : 1;
        _exit(rc);
    }
    close(go[0]);
    bool made = unshare(CLONE_NEWUSER) == 0;
    int e = errno;
    char b = made ? 'y' : 'n';
    (void)!write(go[1], &b, 1);
    close(go[1]);
    int ws = 0;
    while (waitpid(c, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!made)
        return spak_errf(err, SPAK_ERR_ARG, "user namespaces are off here: %s", strerror(e));
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
        return spak_errf(err, SPAK_ERR_SANDBOX,
                         "a user namespace was made but newuidmap/newgidmap could not map it (uidmap installed?)");
    spak_snprintf(how, n, "uid %ld -> 0, %ld+%ld -> 1..%ld", (long)uid, us, count, count);
    return SPAK_OK;
}
