/*
 * crystallize.h - DONE's knowledge: at the end of a run, its lessons go
 * into the store, and spec v(n+1) with an insights log into the run's
 * directory (learn.h does the work; `spak learn RUN` writes v(n+1) next to
 * the original instead).
 */
#ifndef SPAK_CRYSTALLIZE_H
#define SPAK_CRYSTALLIZE_H

#include "store/store.h"

/* Crystallize run_id under home/runs/RUN. A failure is recorded with the
 * run (kv scope SPAK_KV_RUN), not returned: the measurements are already safe. */
void spak_crystallize(spak_store *st, const char *home, const char *run_id);

#endif
