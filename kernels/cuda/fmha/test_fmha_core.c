/*
 * test_fmha_core.c - unit tests of the GPU-free logic of spak-harness-cuda-fmha:
 * argument and shape parsing (GQA and causal suffixes, limits), FLOP and byte
 * counts, tolerances and the JSON records. TAP output.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../../tests/tap.h"
#include "../common/test_core.h"
#include "fmha_core.h"

static char g_buf[1024];

static int parse(const char *line, struct fc_args *a, char *err, size_t n)
{
    char *argv[32];
    int argc = test_argv("spak-harness-cuda-fmha", line, g_buf, sizeof g_buf, argv, 32);
    return fc_parse_args(argc, argv, a, err, n);
}

int main(void)
{
    static struct fc_args a;
    char err[1024], buf[96];
    struct fc_shape sh[8];
    int n;

    /* a session: the shared options give FMHA every --candidate and --batch-ms */
    TAP_OK(parse("--family fmha --candidate a.so --candidate b.so --seed 1 --batch-ms 30 --no-baseline", &a, err,
                 sizeof err) == 0 && a.ncand == 2 && !strcmp(a.candidates[1], "b.so") &&
               !strcmp(a.candidate, "a.so") && a.batch_ms == 30 && a.no_baseline,
           "fmha: --candidate twice is a session of 2, --batch-ms 30");
    TAP_OK(parse("--family fmha --candidate a.so --seed 1", &a, err, sizeof err) == 0 && a.ncand == 1 &&
               a.batch_ms == 3,
           "fmha: one --candidate, batches of 3 ms");
    TAP_OK(a.between_runs == CS_BETWEEN_RUNS_SD &&
               parse("--family fmha --candidate a.so --seed 1 --between-runs 0.01", &a, err, sizeof err) == 0 &&
               a.between_runs == 0.01,
           "fmha: --between-runs, default %.2f", CS_BETWEEN_RUNS_SD);

    /* arguments */
    TAP_OK(parse("--family fmha --candidate x.so --seed 3", &a, err, sizeof err) == 0, "minimal args parse");
    TAP_OK(a.dtype == 1 && a.reps == 30 && a.warmup == 5 && a.nshapes == 4, "defaults: fp16, 30 reps, 4 shapes");
    TAP_OK(a.shapes[1].causal && !a.shapes[0].causal && a.shapes[3].heldout && a.shapes[3].hkv == 2,
           "default shapes: causal and held-out GQA");
    TAP_OK(parse("--family gemm --candidate x.so --seed 3", &a, err, sizeof err) == -1 && strstr(err, "fmha"),
           "--family gemm refused");
    TAP_OK(parse("--family fmha --seed 3", &a, err, sizeof err) == -1 && strstr(err, "--candidate"),
           "missing --candidate");
    TAP_OK(parse("--family fmha --candidate x.so", &a, err, sizeof err) == -1 && strstr(err, "--seed"),
           "missing --seed");
    TAP_OK(parse("--family fmha --candidate x.so --seed 1 --dtype fp32", &a, err, sizeof err) == -1,
           "fp32 refused");
    TAP_OK(parse("--family fmha --candidate x.so --seed 1 --dtype bf16 --lse --no-baseline --check-only "
                 "--shapes 1x2x64x64 --reps 7",
                 &a, err, sizeof err) == 0 &&
               a.dtype == 2 && a.time_lse && a.no_baseline && a.check_only && a.nshapes == 1 && a.reps == 7,
           "flags parse");
    TAP_OK(parse("--family fmha --candidate x.so --seed 1 --bogus 1", &a, err, sizeof err) == -1,
           "unknown option");
    TAP_OK(parse("--help", &a, err, sizeof err) == 1 && strstr(err, "BxHxSxD"), "--help shows the shape syntax");

    /* shapes */
    err[0] = 0;
    n = 0;
    TAP_OK(fc_parse_shapes("4x16x4096x128,4x16x4096x128c,2x8x1000x64g2c,3x6x77x64cg3,1x4x9x128g1", false, sh, 8,
                           &n, err, sizeof err) == 0 && n == 5,
           "five shapes parse: %s", err);
    TAP_OK(sh[0].b == 4 && sh[0].h == 16 && sh[0].hkv == 16 && sh[0].s == 4096 && sh[0].d == 128 && !sh[0].causal,
           "plain MHA shape");
    TAP_OK(sh[2].hkv == 2 && sh[2].causal && sh[2].s == 1000 && sh[2].d == 64, "g2c suffixes");
    TAP_OK(sh[3].hkv == 3 && sh[3].causal, "suffixes in the other order");
    TAP_OK(sh[4].hkv == 1 && !sh[4].causal, "MQA (g1)");
    TAP_STREQ(fc_shape_str(&sh[2], buf, sizeof buf), "2x8x1000x64g2c", "canonical text with g and c");
    TAP_STREQ(fc_shape_str(&sh[0], buf, sizeof buf), "4x16x4096x128", "canonical text of MHA omits g");
    {
        static const char *bad[] = {"4x16x4096",  "4x16x4096x128x1", "4x16x4096x100", "4x16x4096x128g3",
                                    "4x16x4096x128cc", "4x16x4096x128g", "0x1x1x64", "4x16x4096x512",
                                    "4x16x4096x128,", "4x16x4096x128q", "4096x1024x4096x128", "-1x2x3x64"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            n = 0;
            TAP_OK(fc_parse_shapes(bad[i], false, sh, 8, &n, err, sizeof err) == -1, "bad shape '%s' refused (%s)",
                   bad[i], err);
        }
    }
    n = 0;
    TAP_OK(fc_parse_shapes("1x1x8x64,1x1x8x64,1x1x8x64", false, sh, 2, &n, err, sizeof err) == -1 &&
               strstr(err, "too many"),
           "shape cap");

    /* counts */
    n = 0;
    fc_parse_shapes("4x16x4096x128,4x16x4096x128c,4x32x4096x64g8", false, sh, 8, &n, err, sizeof err);
    TAP_OK(fabs(fc_flops(&sh[0]) - 4.0 * 4 * 16 * 4096.0 * 4096 * 128) < 1, "FLOPs 4BHS^2D");
    TAP_OK(fabs(fc_flops(&sh[1]) * 2 - fc_flops(&sh[0])) < 1, "causal FLOPs halved");
    TAP_OK(fc_q_elems(&sh[2]) == (size_t)4 * 32 * 4096 * 64 && fc_kv_elems(&sh[2]) == (size_t)4 * 8 * 4096 * 64,
           "GQA element counts");
    TAP_OK(fabs(fc_bytes(&sh[2], 1, false) - 2.0 * (2.0 * 4 * 32 * 4096 * 64 + 2.0 * 4 * 8 * 4096 * 64)) < 1,
           "bytes: Q,O full heads, K,V kv heads");
    TAP_OK(fabs(fc_bytes(&sh[2], 2, true) - fc_bytes(&sh[2], 2, false) - 4.0 * 4 * 32 * 4096) < 1, "bytes + LSE");
    TAP_OK(fc_tolerance(1) < fc_tolerance(2) && fc_tolerance(1) >= 1e-3 && fc_tolerance(2) <= 2e-2,
           "tolerances ordered fp16 < bf16, in range");
    TAP_OK(fc_lse_tolerance() > 0 && fc_lse_tolerance() <= 1e-3, "LSE tolerance");

    /* records */
    {
        struct fc_correctness c;
        json_t *j;
        memset(&c, 0, sizeof c);
        c.shape = &sh[1];
        c.dtype = 2;
        c.passed = true;
        c.rel_err = 1e-3;
        c.tolerance = fc_tolerance(2);
        c.lse_err = NAN;
        c.baseline_rel_err = NAN;
        c.baseline_error = "cudnn: no engine";
        c.seed = 9;
        c.reason = "ok";
        j = test_load(fc_record_correctness(&c));
        TAP_OK(j != NULL, "correctness record is JSON");
        TAP_STREQ(json_string_value(json_object_get(j, "type")), "Correctness", "type");
        TAP_STREQ(json_string_value(json_object_get(j, "shape")), "4x16x4096x128c", "shape text");
        TAP_OK(json_is_true(json_object_get(j, "causal")) && json_is_null(json_object_get(j, "lse_err")),
               "causal true, NaN lse_err is null");
        TAP_STREQ(json_string_value(json_object_get(j, "baseline_error")), "cudnn: no engine", "baseline_error");
        json_decref(j);
    }
    {
        struct fc_performance p;
        json_t *j;
        double t[3] = {2.0, 2.0, 2.0}, u[3] = {1.0, 1.0, 1.0};
        memset(&p, 0, sizeof p);
        p.shape = &sh[0];
        p.dtype = 1;
        hc_stats(t, 3, &p.cand);
        hc_stats(u, 3, &p.base);
        p.have_base = true;
        p.reps = 3;
        j = test_load(fc_record_performance(&p));
        TAP_OK(j && fabs(json_number_value(json_object_get(j, "ratio")) - 0.5) < 1e-12, "ratio = base/cand");
        TAP_OK(j && fabs(json_number_value(json_object_get(j, "tflops")) - fc_flops(&sh[0]) / 2e9) < 1e-6,
               "tflops from the convention");
        TAP_STREQ(json_string_value(json_object_get(j, "baseline")), "cudnn", "baseline named");
        json_decref(j);
        p.have_base = false;
        p.baseline_error = "cudnn graph did not finalize";
        j = test_load(fc_record_performance(&p));
        TAP_OK(j && json_is_null(json_object_get(j, "ratio")) && json_is_null(json_object_get(j, "baseline_tflops")),
               "no baseline: ratio null, never a number");
        json_decref(j);
    }
    {
        struct hc_perf_in in;
        struct hc_perf_out o;
        json_t *j;
        test_perf_in(&in, fc_flops(&sh[0]), fc_bytes(&sh[0], 1, false), 1.0);
        in.sm_count = 132;
        in.max_threads_per_sm = 2048;
        hc_classify(&in, &o);
        j = test_load(fc_record_analysis(&sh[0], 1, &in, &o));
        TAP_OK(j && json_string_value(json_object_get(j, "bottleneck")), "analysis record has a bottleneck");
        json_decref(j);
    }
    return tap_done();
}
