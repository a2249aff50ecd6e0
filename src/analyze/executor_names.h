/*
 * executor_names.h - the executors' names and the Slurm option values, for
 * the spec checker (no executor linked: executor_names.c).
 */
#ifndef SPAK_EXECUTOR_NAMES_H
#define SPAK_EXECUTOR_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* Whether an executor is called name (spak_executor_find finds it). */
bool spak_executor_known(const char *name);
/* How many executors there are, and the i-th one's name (NULL past the end). */
size_t spak_executor_count(void);
const char *spak_executor_name(size_t i);
/* The executors' names, "local or slurm", into buf. */
void spak_executor_names(char *buf, size_t n);

/* Whether v is a well-formed value of the Slurm option key ("partition":
 * names, comma-separated; "account": a name; "time": minutes, MM:SS,
 * HH:MM:SS or D-HH[:MM[:SS]]; "gpus": a count or TYPE:COUNT); else false
 * and why[n] says what is expected. Values go to sbatch as one argument
 * each (never through a shell); this catches typos before a job is. */
bool spak_slurm_value_ok(const char *key, const char *v, char *why, size_t n);

#endif
