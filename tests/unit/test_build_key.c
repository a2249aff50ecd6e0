/* test_build_key.c - the build cache's key (src/build/build_key.h): a make
 * rule's prerequisites as cc -M and nvcc -M write them (continuations,
 * escaped spaces, "$$"), a folder's files by name (sorted, .git skipped, a
 * FIFO never opened), and what the sandbox uid cannot read kept out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_key.h"
#include "tap.h"

static char dir[64];

static void put(const char *name, const char *text, mode_t mode)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(p, mode);
}

/* The key of a walk over the rule text. */
static uint64_t deps_key(const char *text, bool *complete, bool *rule)
{
    spak_key_walk w;
    spak_key_walk_init(&w, 7, false);
    bool r = spak_key_deps(&w, text, strlen(text));
    if (rule)
        *rule = r;
    if (complete)
        *complete = w.complete;
    return w.h;
}

/* The key of folding the named files of dir directly, in order. */
static uint64_t files_key(const char *const *names, size_t n)
{
    spak_key_walk w;
    spak_key_walk_init(&w, 7, false);
    for (size_t i = 0; i < n; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        spak_key_file(&w, p);
    }
    return w.h;
}

static uint64_t tree_key(bool others_only, bool *complete)
{
    spak_key_walk w;
    spak_key_walk_init(&w, 7, others_only);
    spak_key_tree(&w, dir);
    if (complete)
        *complete = w.complete;
    return w.h;
}

static void test_deps(void)
{
    put("a.h", "int a;\n", 0644);
    put("b c.h", "int bc;\n", 0644);
    put("d$.h", "int d;\n", 0644);
    char rule[1024];
    /* gcc's form: "target: dep \\\n dep", a space escaped, $ doubled */
    snprintf(rule, sizeof rule, "v.o: %s/a.h \\\n  %s/b\\ c.h %s/d$$.h\n", dir, dir, dir);
    const char *const names[] = {"a.h", "b c.h", "d$.h"};
    bool complete = false, r = false;
    uint64_t k = deps_key(rule, &complete, &r);
    TAP_OK(r && complete, "a gcc rule is read whole");
    TAP_OK(k == files_key(names, 3), "its prerequisites are the files, escapes undone, in order");
    /* nvcc's form: "target : dep \\\n    dep" */
    snprintf(rule, sizeof rule, "v.o : %s/a.h \\\n    %s/b\\ c.h \\\n    %s/d$$.h\n", dir, dir, dir);
    TAP_OK(deps_key(rule, NULL, NULL) == k, "nvcc's form (a spaced colon, indented continuations) gives the same key");
    put("d$.h", "int d2;\n", 0644);
    TAP_OK(deps_key(rule, NULL, NULL) != k, "a prerequisite's contents changed: another key");
    deps_key("no rule here", &complete, &r);
    TAP_OK(!r && !complete, "text without a rule: no rule, the walk incomplete (never cached)");
}

static void test_tree(void)
{
    bool complete = false;
    uint64_t k0 = tree_key(false, &complete);
    TAP_OK(complete, "a small folder is walked whole");
    TAP_OK(tree_key(false, NULL) == k0, "the same folder: the same key");
    char p[256];
    snprintf(p, sizeof p, "%s/.git", dir);
    mkdir(p, 0755);
    put(".git/HEAD", "ref\n", 0644);
    TAP_OK(tree_key(false, NULL) == k0, ".git is skipped");
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0755);
    put("sub/data.bin", "abc", 0644);
    uint64_t k1 = tree_key(false, NULL);
    TAP_OK(k1 != k0, "a new file in a subfolder: another key");
    put("sub/data.bin", "abd", 0644);
    TAP_OK(tree_key(false, NULL) != k1, "a file's contents changed: another key");
    snprintf(p, sizeof p, "%s/fifo", dir);
    TAP_OK(mkfifo(p, 0644) == 0 && (tree_key(false, &complete), complete), "a FIFO in the folder does not block the walk");
    put("secret", "one", 0600);
    uint64_t s1 = tree_key(true, NULL), o1 = tree_key(false, NULL);
    put("secret", "two", 0600);
    TAP_OK(tree_key(true, NULL) == s1, "others_only: a file the sandbox uid cannot read is not read (its contents do not enter)");
    TAP_OK(tree_key(false, NULL) != o1, "without others_only it is");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/spak-test-key.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_deps();
    test_tree();
    /* remove the scratch folder: its few known entries */
    static const char *const rm[] = {"a.h", "b c.h", "d$.h", ".git/HEAD", ".git", "sub/data.bin", "sub", "fifo",
                                     "secret"};
    for (size_t i = 0; i < sizeof rm / sizeof rm[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, rm[i]);
        if (remove(p) != 0)
            (void)rmdir(p);
    }
    rmdir(dir);
    return tap_done();
}
