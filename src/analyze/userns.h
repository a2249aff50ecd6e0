/*
 * userns.h - root inside a user namespace, for spak's sandbox where spak is
 * not root (a Slurm job runs as the user). The sandbox makes PID, network
 * and mount namespaces, a tmpfs byte budget and drops candidates to an
 * unprivileged uid only as root (docs/sandbox.md); in a user namespace of
 * its own, whose root is the user, it can do all of that again: the
 * namespaces belong to the user namespace, and the candidates' uid (65534
 * by default) is one of the user's subordinate uids (/etc/subuid), mapped
 * by newuidmap and newgidmap (Debian's uidmap: setuid helpers that map
 * only the ranges /etc/subuid and /etc/subgid grant the user).
 *
 *   inside            outside (the host)
 *   0                 the user's uid (gid)
 *   1 .. count        start .. start + count - 1 of the user's subordinate range
 *
 * What it is not: the host's root. Inside, root has capabilities over the
 * namespace's own resources only; files the candidates write belong to a
 * subordinate uid on the host.
 */
#ifndef SPAK_USERNS_H
#define SPAK_USERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "util.h"

/* The subordinate range of user (name) or uid in the file at path
 * ("/etc/subuid", "/etc/subgid": lines NAME_OR_ID:START:COUNT; the first
 * line that names it), into *start and *count. false when none. */
bool spak_userns_subrange(const char *path, const char *user, long id, long *start, long *count);

/* Make this process root of a new user namespace with the mapping above
 * (count: the smaller of the user's ranges, at least 65535 so that 65534 is
 * mapped), through newuidmap and newgidmap found on PATH. Call it while
 * the process has one thread. On success this process is uid and gid 0
 * inside, with every capability there; how[n] says what was mapped. On
 * failure (no range, no helpers, user namespaces off) nothing changed
 * unless the namespace was made and the mapping failed, which is said
 * (SPAK_ERR_SANDBOX); the caller then runs on as the user. */
spak_status spak_userns_enter(char *how, size_t n, spak_err *err);

#endif
