/* owner.c - run owners and their liveness (owner.h). */
#include "store/owner.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

bool spak_owner_is_dead(const char *owner)
{
    if (!owner || !*owner)
        return true;
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    const char *colon = strrchr(owner, ':');
    if (!colon || (size_t)(colon - owner) != strlen(host) || strncmp(owner, host, strlen(host)) != 0)
        return false;  /* another machine: we cannot tell */
    long pid;
    if (!spak_parse_long(colon + 1, 1, 1L << 30, &pid))
        return false;
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    /* a zombie (killed, not yet reaped by its parent) holds nothing: its
     * state, the field after the parenthesized name in /proc/PID/stat */
    char path[64], stat[512] = "";
    spak_snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t k = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[k] = 0;
    const char *rp = strrchr(stat, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

void spak_owner_id(char *buf, size_t n)
{
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    spak_snprintf(buf, n, "%s:%ld", host, (long)getpid());
}

const char *spak_run_status_shown(const char *status, const char *owner)
{
    if (status && strcmp(status, "running") == 0 && owner && *owner && spak_owner_is_dead(owner))
        return SPAK_RUN_INTERRUPTED;
    return status;
}
