/*
 * build_fs.h - file operations the build and the candidate's directories
 * share (internal to src/build): copying a file that an untrusted process
 * may have placed, and removing a tree it wrote.
 */
#ifndef SPAK_BUILD_FS_H
#define SPAK_BUILD_FS_H

#include <stddef.h>
#include <sys/types.h>
#include "util.h"

/* Copy the regular file from (its last component is not followed if it is a
 * symbolic link, and it must have one link only, so that an untrusted writer
 * cannot point us at another file) to a new file to, of the given mode,
 * written whole before it takes the name (a temporary beside it, created
 * exclusively). At most max bytes. Fails with SPAK_ERR_IO (err says why). */
spak_status spak_copy_untrusted(const char *from, const char *to, mode_t mode, size_t max, spak_err *err);

/* Remove dir and everything beneath it, never following a symbolic link nor
 * leaving the file system. What cannot be removed stays (best effort). */
void spak_rmtree(const char *dir);

#endif
