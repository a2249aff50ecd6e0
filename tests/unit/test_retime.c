/* tests/unit/test_retime.c - which judges the re-time runs a session of
 * (src/analyze/retime.c): the CPU judge and both CUDA judges by their exact
 * names, nothing else; and the profiling flags its session drops (the GEMM
 * judge refused a session with --ncu on the H100, 2026-12-06); and when two
 * declared kernels' decl files allow one session. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "analyze/retime.h"

int main(void)
{
    TAP_OK(spak_retime_session_judge("spak-harness-cpu"), "the CPU judge takes a session");
    TAP_OK(spak_retime_session_judge("spak-harness-cuda"), "the GEMM GPU judge takes a session");
    TAP_OK(spak_retime_session_judge("spak-harness-cuda-fmha"), "the FMHA GPU judge takes a session");
    TAP_OK(spak_retime_session_judge("spak-judge-cuda"), "the declared CUDA kernels' judge takes a session");
    TAP_OK(!spak_retime_session_judge("spak-harness-cuda-fmha2") && !spak_retime_session_judge("spak-harness-cp") &&
               !spak_retime_session_judge("spak-harness-cudax") && !spak_retime_session_judge("python3") &&
               !spak_retime_session_judge("") && !spak_retime_session_judge(NULL),
           "other names (a prefix, a longer name, a user command) do not");
    TAP_OK(spak_retime_profiling_flag("--ncu") && spak_retime_profiling_flag("--profile-one"),
           "--ncu and --profile-one profile one candidate: dropped from a session");
    TAP_OK(!spak_retime_profiling_flag("--reps") && !spak_retime_profiling_flag("--ncu=1") &&
               !spak_retime_profiling_flag("--ceilings-cache") && !spak_retime_profiling_flag(NULL),
           "timing flags and look-alikes are kept");

    /* declared kernels: a session launches every candidate as the first one's decl says */
    char dir[] = "/tmp/spak-retime-XXXXXX";
    if (!mkdtemp(dir))
        return tap_done();
    char p[8][300];
    const char *files[8] = {"a.json", "b.json", "c.json", "d.json", "ra.cubin", "rb.cubin", "rc.cubin", "e.json"};
    for (int i = 0; i < 8; i++)
        snprintf(p[i], sizeof p[i], "%s/%s", dir, files[i]);
    const char *shape = "{\"label\":\"rows=64\",\"counts\":[64],\"grid\":[64,1,1],\"block\":[%d,1,1]}";
    char s128[200], s256[200];
    snprintf(s128, sizeof s128, shape, 128);
    snprintf(s256, sizeof s256, shape, 256);
    const char *drawn1 = "{\"label\":\"rows=17\",\"heldout\":true,\"drawn\":true,\"grid\":[17,1,1],\"block\":[128,1,1]}";
    const char *drawn2 = "{\"label\":\"rows=9\",\"heldout\":true,\"drawn\":true,\"grid\":[9,1,1],\"block\":[128,1,1]}";
    struct {
        int at;
        const char *cand, *ref, *s, *drawn;
    } d[5] = {{0, "x.cubin", p[4], s128, drawn1}, {1, "y.cubin", p[5], s128, drawn2}, {2, "z.cubin", p[4], s256, drawn1},
              {3, "w.cubin", p[6], s128, drawn1}, {7, "v.cubin", p[4], s128, drawn1}};
    for (int i = 0; i < 5; i++) {
        FILE *f = fopen(p[d[i].at], "w");
        if (!f)
            return tap_done();
        fprintf(f, "{\"format\":\"spak-kernel-decl/1\",\"entry\":\"k\",\"candidate\":\"%s\",\"reference\":{\"kind\":"
                   "\"function\",\"path\":\"%s\",\"entry\":\"r\"},\"args\":[{\"name\":\"%s\"}],\"shapes\":[%s,%s]}",
                d[i].cand, d[i].ref, i == 4 ? "y" : "x", d[i].s, d[i].drawn);
        fclose(f);
    }
    for (int i = 4; i < 7; i++) { /* the references' builds: ra and rb the same bytes, rc others */
        FILE *f = fopen(p[i], "w");
        if (f)
            fputs(i == 6 ? "other" : "same", f), fclose(f);
    }
    char what[160] = "";
    TAP_OK(spak_retime_decl_session_ok(p[0], p[1], what, sizeof what),
           "decls that differ in the candidate, the drawn shapes and the reference's folder (same bytes): one session");
    TAP_OK(!spak_retime_decl_session_ok(p[0], p[2], what, sizeof what) && strstr(what, "launches"),
           "another block size: no session (%s)", what);
    TAP_OK(!spak_retime_decl_session_ok(p[0], p[3], what, sizeof what) && strstr(what, "references"),
           "a reference of other bytes: no session (%s)", what);
    TAP_OK(!spak_retime_decl_session_ok(p[0], p[7], what, sizeof what) && !strcmp(what, "args"),
           "other arguments: no session (%s)", what);
    TAP_OK(!spak_retime_decl_session_ok(p[0], "/nonexistent.json", what, sizeof what) && strstr(what, "cannot be read"),
           "a decl that cannot be read: no session");
    for (int i = 0; i < 8; i++)
        unlink(p[i]);
    rmdir(dir);
    return tap_done();
}
