/* test_reach.c - does a parameter reach the candidate (src/build/reach.h):
 * the point's source preprocessed in the build's sandbox with each value of
 * a parameter, the others fixed. One parameter selects code under #if (it
 * reaches), one is used in the body (it reaches), one is never used, one
 * only inside a disabled #if region, one only in an #if whose outcome is
 * the same at both its values (none of the three reaches), one named by the
 * measure command's template (it reaches without the source), and the
 * verdicts come back from the cache unchanged. A declared kernel's
 * parameter named only by its expressions (an argument's count, the
 * launch) reaches through the decl file; a CUDA kernel's architecture
 * follows the compute capability. */
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

/* A declared kernel: rep is named by an argument's count only, bx by the
 * reference's launch only (CUDA: not run here), idle by nothing. */
static const char kspec[] =
    "system K {\n"
    "    problem {\n"
    "        target: \"cpu\"\n"
    "        source: \"k.c\"\n"
    "        shapes: [\"n=8\"]\n"
    "    }\n"
    "    tuning_space {\n"
    "        rep: [1, 2]\n"
    "        idle: [1, 2]\n"
    "    }\n"
    "    kernel k {\n"
    "        language: \"c\"\n"
    "        entry: \"f\"\n"
    "        sizes: [\"n\"]\n"
    "        arg x { type: \"f32\", count: n * rep, access: \"read\" }\n"
    "        arg y { type: \"f32\", count: n, access: \"write\", output: true, tolerance: 1e-5 }\n"
    "        arg s { type: \"f32\", value: 2 }\n"
    "        reference { source: \"k.c\", entry: \"f\" }\n"
    "    }\n"
    "    trace_schema {\n"
    "        variant TraceItem {\n"
    "            case Performance { time_ms: float }\n"
    "        }\n"
    "    }\n"
    "    engineering_loop L {\n"
    "        measure {\n"
    "            metric: \"time_ms\"\n"
    "            objective: minimize\n"
    "        }\n"
    "    }\n"
    "}\n";

static void test_kernel_reach(const char *dir, const char *home)
{
    char src[512];
    snprintf(src, sizeof src, "%s/k.c", dir);
    FILE *f = fopen(src, "w");
    if (!f)
        return;
    fputs("void f(const float *x, float *y, float s) { y[0] = x[0] * s; }\n", f);
    fclose(f);
    chmod(src, 0644);
    spak_spec *s = NULL;
    spak_err err = {0};
    spak_status st = spak_spec_load_mem("k.spak", kspec, sizeof kspec - 1, &s, &err);
    TAP_OK(st == SPAK_OK, "the kernel spec loads (%s)", err.msg);
    if (st != SPAK_OK)
        return;
    const spak_model *m = spak_spec_model(s);
    TAP_OK(spak_kernel_names_param(m->kernel, "rep") && !spak_kernel_names_param(m->kernel, "idle"),
           "the kernel's expressions name rep, not idle");
    spak_space sp;
    st = spak_space_init(&sp, m->loops[0].params, m->loops[0].n_params, &err);
    spak_cand_site site = {.m = m, .space = &sp, .spec_dir = dir, .home = home, .run_id = "r", .spec_path = "k.spak"};
    spak_cand_vars v;
    spak_cand_vars_init(&v, &site, 0);
    v.source = src;
    char out[512] = "";
    st = spak_reach_unreached(&v, out, sizeof out, &err);
    TAP_OK(st == SPAK_OK && strcmp(out, "idle") == 0,
           "a parameter named only by the kernel's count reaches through the decl file; one named nowhere does not (%s)",
           out);
    spak_spec_free(s);
}

static void test_cuda_arch(void)
{
    static const struct {
        const char *cc, *want;
    } cases[] = {{"9.0", "sm_90a"}, {"8.6", "sm_86"}, {"8.0", "sm_80"}, {"7.5", "sm_75"},
                 {"10.0", "sm_100a"}, {"12.0", "sm_120a"}, {"9", NULL}, {"", NULL}, {"9.0 ", NULL},
                 {"x.0", NULL}, {"9.10", NULL}, {"[N/A]", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16] = "";
        bool ok = spak_cand_arch_of_cc(cases[i].cc, out, sizeof out);
        TAP_OK(cases[i].want ? ok && strcmp(out, cases[i].want) == 0 : !ok,
               "compute capability '%s' is %s (got %s)", cases[i].cc, cases[i].want ? cases[i].want : "no arch",
               ok ? out : "none");
    }
    spak_kernel_def k = {.arch = "sm_80"};
    TAP_OK(strcmp(spak_cand_cuda_arch(&k), "sm_80") == 0, "the spec's arch wins over the GPU found");
}

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
    test_kernel_reach(dir, home);
    test_cuda_arch();
    spak_rmtree(dir);
    spak_rmtree(home);
    return tap_done();
}
