/*
 * sandbox_tree.h - copy a directory tree between two directory fds without
 * allocating: the sandbox's supervisor (after clone, before and after the
 * candidate) moves a work directory into its byte budget (a size-capped
 * tmpfs mounted over it) and back. Internal to src/analyze/sandbox.c.
 *
 * Only regular files, directories and symbolic links are copied (links as
 * links, never followed); other entries are skipped. Async-signal-safe: raw
 * system calls, fixed buffers (one static 64 KiB copy buffer: a supervisor
 * is single-threaded), recursion at most SPAK_TREE_DEPTH deep.
 */
#ifndef SPAK_SANDBOX_TREE_H
#define SPAK_SANDBOX_TREE_H

#include <stdbool.h>

#define SPAK_TREE_DEPTH 16

/* Copy every entry of the directory `from` into the directory `to` (both
 * fds opened O_RDONLY|O_DIRECTORY; neither is moved). own: keep each
 * entry's owner, mode (set-id bits included) and times, and skip regular
 * files of more than one link (a hard link to a file elsewhere: what the
 * supervisor copies as root); else modes lose their set-id bits and the
 * copies are owned by the caller. An entry already in `to` is replaced,
 * except a regular file of the same size and modification time (left as it
 * is). prune: afterwards remove what `to` holds and `from` does not, so
 * that `to` mirrors `from`. Returns 0, or the errno of the first failure
 * (the copy goes on past it). */
int spak_tree_sync(int from, int to, bool own, bool prune);

#endif
