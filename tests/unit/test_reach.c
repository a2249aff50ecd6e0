/* test_reach.c - does a parameter reach the candidate (src/build/reach.h):
 * the point's source preprocessed in the build's sandbox with each value of
 * a parameter, the others fixed. One parameter selects code under #if (it
 * reaches), one is used in the body (it reaches), one is never used, one
 * only inside a disabled #if region, one only in an #if whose outcome is
 * the same at both its values (none of the three reaches), one named by the
 * measure command's template (it reaches without the source), and the
 * verdicts come back from the cache unchanged. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_fs.h"
#include "build/reach.h"
#include "spec/spec.h"
#include "tap.h"

static const char source[] =
    "#if MODE == 1\n"
    "int f(void) { return 1; }\n"
    "#else\n"
    "int f(void) { return 2; }\n"
    "#endif\n"
    "int g(void) { return SCALE * 3; }\n"
    "#if 0\n"
    "int h(void) { return DEAD; }\n"
    "#endif\n"
    "#if LEVEL > 10\n"
    "int big(void) { return 1; }\n"
    "#endif\n";

static const char spec[] =
    "system R {\n"
    "    problem {\n"
    "        source: \"src.c\"\n"
    "    }\n"
    "    tuning_space {\n"
    "        mode: [1, 2]\n"
    "        scale: [1, 2]\n"
    "        unused: [1, 2]\n"
    "        dead: [1, 2]\n"
    "        level: [1, 2]\n"
    "        named: [1, 2]\n"
    "    }\n"
    "    trace_schema {\n"
    "        variant TraceItem {\n"
    "            case Performance { x: float }\n"
    "        }\n"
    "    }\n"
    "    engineering_loop L {\n"
    "        measure {\n"
    "            cmd: \"true {{named}}\"\n"
    "            metric: \"x\"\n"
    "            objective: maximize\n"
    "        }\n"
    "    }\n"
    "}\n";

static size_t count_files(const char *path)
{
    DIR *d = opendir(path);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/spak-test-reach.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    chmod(dir, 0755);  /* the build's sandbox uid reads the source */
    /* the home lies outside the source's folder, whose files enter the key */
    char home[] = "/tmp/spak-test-reach-home.XXXXXX";
    if (!mkdtemp(home))
        return 1;
    char src[512];
    snprintf(src, sizeof src, "%s/src.c", dir);
    FILE *f = fopen(src, "w");
    if (!f)
        return 1;
    fputs(source, f);
    fclose(f);
    chmod(src, 0644);

    spak_spec *s = NULL;
    spak_err err = {0};
    spak_status st = spak_spec_load_mem("r.spak", spec, sizeof spec - 1, &s, &err);
    TAP_OK(st == SPAK_OK, "the test spec loads (%s)", err.msg);
    if (st != SPAK_OK)
        return tap_done();
    const spak_model *m = spak_spec_model(s);
    spak_space sp;
    st = spak_space_init(&sp, m->loops[0].params, m->loops[0].n_params, &err);
    TAP_OK(st == SPAK_OK, "the space (%s)", err.msg);
    spak_cand_site site = {.m = m, .space = &sp, .spec_dir = dir, .home = home, .run_id = "r", .spec_path = "r.spak"};
    spak_cand_vars v;
    spak_cand_vars_init(&v, &site, 0);
    v.source = src;
    char out[512];
    st = spak_reach_unreached(&v, out, sizeof out, &err);
    TAP_OK(st == SPAK_OK, "the comparison runs (%s)", st == SPAK_OK ? "" : err.msg);
    TAP_OK(strcmp(out, "unused,dead,level") == 0,
           "unused, only in a disabled #if, an #if with one outcome at both values: not reached (%s)", out);
    TAP_OK(!strstr(out, "mode"), "a parameter that selects code under #if reaches");
    TAP_OK(!strstr(out, "scale"), "a parameter used in the body reaches");
    TAP_OK(!strstr(out, "named"), "a parameter the measure command names reaches without the source");
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache/reach", home);
    size_t cached = count_files(cache);
    TAP_OK(cached == 5, "one cached verdict per compared parameter (%zu)", cached);
    /* the cache answers: the same verdicts, nothing new written */
    char again[512];
    st = spak_reach_unreached(&v, again, sizeof again, &err);
    size_t cached2 = count_files(cache);
    TAP_OK(st == SPAK_OK && strcmp(again, out) == 0 && cached2 == cached, "the cache gives the same (%s, %zu files)",
           again, cached2);
    /* the source changes: the key changes, the verdict follows the text */
    f = fopen(src, "w");
    if (f) {
        fputs("int g(void) { return SCALE * 3 + UNUSED; }\n", f);
        fclose(f);
    }
    st = spak_reach_unreached(&v, again, sizeof again, &err);
    TAP_OK(st == SPAK_OK && strcmp(again, "mode,dead,level") == 0, "an edited source is compared again (%s)", again);
    /* a source that does not preprocess: unknown is never "cannot act" */
    f = fopen(src, "w");
    if (f) {
        fputs("#include \"missing.h\"\nint g(void) { return 1; }\n", f);
        fclose(f);
    }
    st = spak_reach_unreached(&v, again, sizeof again, &err);
    TAP_OK(st == SPAK_OK && again[0] == '\0', "a preprocessor failure leaves every parameter reaching (%s)", again);
    spak_spec_free(s);
    spak_rmtree(dir);
    spak_rmtree(home);
    return tap_done();
}
