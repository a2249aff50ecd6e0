/*
 * build_key.h - the build cache's key over everything a build could read
 * (internal to src/build).
 *
 * A key is folded file by file into one 64-bit hash: the contents of every
 * file the preprocessor's dependency list names (`cc -M`, `nvcc -M`: the
 * source, every header at any depth, by absolute path too), and every file
 * beneath the source's folder, by name relative to it (what `.incbin` and
 * friends may pull in, which no dependency list shows). Paths outside the
 * folder do not enter the key, so that a cache built on one machine serves a
 * copy of the tree elsewhere.
 *
 * Everything is capped (files, bytes, depth, a name's length): past a cap the
 * walk says it is not complete, and the build must not be taken from the
 * cache under that key.
 */
#ifndef SPAK_BUILD_KEY_H
#define SPAK_BUILD_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPAK_KEY_MAX_FILES 8192
#define SPAK_KEY_MAX_BYTES ((size_t)1 << 30)
#define SPAK_KEY_MAX_DEPTH 8

typedef struct spak_key_walk {
    uint64_t h;        /* the key so far */
    size_t files;      /* files folded so far */
    size_t bytes;      /* bytes folded so far */
    bool complete;     /* false: a cap was reached or a list was unreadable */
    bool others_only;  /* the compiler runs as another uid: fold the contents
                          only of files and folders it can read (mode o+r,
                          o+x), the name and a marker of the others */
} spak_key_walk;

/* Start a walk from seed h. */
void spak_key_walk_init(spak_key_walk *w, uint64_t h, bool others_only);

/* Fold the contents of one file (a marker for one that is missing, not a
 * regular file, or unreadable to the compiler). */
void spak_key_file(spak_key_walk *w, const char *path);

/* Fold every file beneath dir (depth-first, names sorted, `.git` skipped):
 * its name relative to dir, then its contents. */
void spak_key_tree(spak_key_walk *w, const char *dir);

/* Fold every prerequisite of the make rule in text[len] (the output of
 * `cc -M`: "target: dep dep \\\n dep", with "\ " for a space and "$$" for
 * "$") in the order given. Returns false when text holds no rule (the walk
 * is then not complete). */
bool spak_key_deps(spak_key_walk *w, const char *text, size_t len);

#endif
