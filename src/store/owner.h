/*
 * owner.h - who holds a run: "host:pid" of the process that claimed it
 * (spak_store_run_claim), and whether that process is gone, so that a
 * resume may take over a run whose process was killed.
 */
#ifndef SPAK_OWNER_H
#define SPAK_OWNER_H

#include <stdbool.h>
#include <stddef.h>

/* This process as an owner: "host:pid" into buf[n]. */
void spak_owner_id(char *buf, size_t n);
/* True when owner ("host:pid") is a process of this host that no longer
 * runs (or owner is empty). Another host's process: false (we cannot tell). */
bool spak_owner_is_dead(const char *owner);

/* What a run's status is to be shown as: "interrupted" (SPAK_RUN_INTERRUPTED)
 * for one recorded as running whose owner is a process of this host that no
 * longer runs (it was killed: nothing will finish it until 'spak resume'),
 * else status itself. A run with no owner recorded keeps its status. */
#define SPAK_RUN_INTERRUPTED "interrupted"
const char *spak_run_status_shown(const char *status, const char *owner);

#endif
