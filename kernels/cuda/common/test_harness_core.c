/*
 * test_harness_core.c - unit tests of the GPU-free logic of spak-harness-cuda:
 * argument and shape parsing, tolerances, statistics, the bottleneck
 * classifier, throttle decoding, the JSON records, and the child-process
 * model (hc_run_child: relay, timeout, crash, exit without a verdict, a line
 * over the cap). TAP output.
 */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/tap.h"
#include "harness_core.h"
#include "test_core.h"

static int parse(const char *line, struct hc_args *a, char *err, size_t n)
{
    char buf[512], *argv[32];
    int argc = test_argv("spak-harness-cuda", line, buf, sizeof buf, argv, 32);
    /* argv points into buf: copy out what the test looks at before buf dies */
    int rc = hc_parse_args(argc, argv, a, err, n);
    a->family = NULL;
    a->candidate = NULL;
    a->ceilings_cache = NULL;
    return rc;
}

/* ---- children for hc_run_child ---- */
static int child_records(int fd, const void *arg)
{
    (void)fd, (void)arg;
    printf("__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true}\n");
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return HC_CHILD_OK;
}
static int child_probe(int fd, const void *arg)
{
    const char *line = "{\"device\":\"Test GPU\",\"copy_gbps\":2900.5,\"peak_tflops\":700,\"sm_count\":132,"
                       "\"max_threads_per_sm\":2048,\"l2_bytes\":52428800,\"cc\":90}\n";
    (void)arg;
    return write(fd, line, strlen(line)) == (ssize_t)strlen(line) ? HC_CHILD_OK : HC_CHILD_HARNESS_ERR;
}
static int child_hang(int fd, const void *arg)
{
    (void)fd, (void)arg;
    sleep(60); /* killed at the deadline, long before */
    return HC_CHILD_OK;
}
static int child_crash(int fd, const void *arg)
{
    (void)fd, (void)arg;
    signal(SIGSEGV, SIG_DFL); /* the default action, also under ASan (which catches SEGV) */
    raise(SIGSEGV);
    return HC_CHILD_OK;
}
static int child_fail_early(int fd, const void *arg)
{
    (void)fd, (void)arg;
    return HC_CHILD_HARNESS_ERR;
}
static int child_check_then_die(int fd, const void *arg)
{
    (void)fd, (void)arg;
    printf("__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true}\n");
    fflush(stdout);
    abort();
}
static int child_long_line(int fd, const void *arg)
{
    (void)fd, (void)arg;
    for (int i = 0; i < 100000; i++)
        putchar('x');
    printf("\n__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":false}\n");
    return HC_CHILD_OK;
}

/* hc_run_child with its relayed lines sent to /dev/null (they are not TAP) */
static int run_quiet(hc_child_fn fn, int timeout_s, bool relay, struct hc_child *r)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    int rc = hc_run_child(fn, NULL, timeout_s, relay, r);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(null);
    return rc;
}

static void test_children(void)
{
    struct hc_child r;
    struct hc_device d;
    char why[256], err[256];

    TAP_OK(run_quiet(child_records, 30, true, &r) == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
               r.saw_correctness && r.saw_performance && r.saw_pass && !r.timed_out && !hc_child_no_verdict(&r, false),
           "child: relayed records seen (correctness passed, performance), a verdict of its own");
    free(r.first_line);

    TAP_OK(run_quiet(child_probe, 30, false, &r) == 0 && r.first_line &&
               hc_parse_probe(r.first_line, &d, err, sizeof err) == 0 && !strcmp(d.name, "Test GPU") &&
               d.sm_count == 132 && d.cc == 90 && d.l2_bytes == 52428800 && fabs(d.copy_gbps - 2900.5) < 1e-9,
           "probe child: its first line parsed into the device");
    free(r.first_line);
    TAP_OK(hc_parse_probe("not json", &d, err, sizeof err) == -1 && strstr(err, "bad probe line"),
           "a bad probe line is an error");

    TAP_OK(run_quiet(child_hang, 1, true, &r) == 0 && r.timed_out && hc_child_no_verdict(&r, false),
           "a hanging child is killed at the deadline");
    hc_describe_child(&r, 1, why, sizeof why);
    TAP_STREQ(why, "candidate timed out after 1 s (hang?): child killed", "timeout described");
    free(r.first_line);

    /* after a hang the shapes left are not run: they fail, naming the shape that hung */
    TAP_OK(hc_after_child(&r, 1, 0, 3, 120, why, sizeof why) == 1, "after a hang the shapes left are not run, and fail");
    TAP_STREQ(why, "not run: the candidate hung on shape 1 of 3 (timed out after 120 s)", "the hang named");

    TAP_OK(run_quiet(child_crash, 30, true, &r) == 0 && WIFSIGNALED(r.status) && hc_child_no_verdict(&r, false),
           "a crashing child: no verdict");
    hc_describe_child(&r, 30, why, sizeof why);
    TAP_OK(strstr(why, "signal 11") != NULL, "crash described with its signal (%s)", why);
    TAP_OK(hc_after_child(&r, 1, 0, 3, 30, why, sizeof why) == 0, "after a crash the shapes left still run");
    {
        struct hc_child st = {0};
        st.saw_correctness = st.saw_performance = st.saw_pass = st.saw_stopped = true;
        TAP_OK(hc_after_child(&st, 0, 1, 3, 30, why, sizeof why) == 2 &&
                   !strcmp(why, "not checked: the candidate was stopped early"),
               "after a shape that stopped the candidate early the shapes left are not checked");
        st.saw_stopped = false;
        TAP_OK(hc_after_child(&st, 0, 1, 3, 30, why, sizeof why) == 0, "after a passing shape the shapes left run");
    }
    free(r.first_line);

    TAP_OK(run_quiet(child_fail_early, 30, true, &r) == 0 && hc_child_no_verdict(&r, false), "an early failure: no verdict");
    hc_describe_child(&r, 30, why, sizeof why);
    TAP_STREQ(why, "child exited with status 3 without a verdict", "early exit described");
    free(r.first_line);

    TAP_OK(run_quiet(child_check_then_die, 30, true, &r) == 0 && r.saw_correctness && !r.saw_performance &&
               hc_child_no_verdict(&r, false),
           "a child that dies after a passing check and before its timing: no verdict");
    free(r.first_line);

    TAP_OK(run_quiet(child_long_line, 30, true, &r) == 0 && r.saw_correctness && !r.saw_pass &&
               WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
           "a line over the 64 KB cap is dropped, the next one still read");
    free(r.first_line);
}

/* The phase accounting of the Cost record: marks sum per name with their
 * counts, the record carries them, the process age is read and plausible. */
static void test_phases(void)
{
    struct hc_phases p;
    hc_phases_begin(&p);
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    double a = hc_phase_mark(&p, "context");
    hc_phase_add(&p, "idle_wait", 0.25);
    hc_phase_add(&p, "idle_wait", 0.5);
    double b = hc_phase_mark(&p, "context");
    TAP_OK(a >= 0.019 && b >= 0 && p.n == 2 && p.count[0] == 2 && p.s[0] == a + b,
           "marks of one name sum, with their count (%.3f s in 2)", p.s[0]);
    TAP_OK(p.count[1] == 2 && p.s[1] == 0.75, "adds of one name sum (0.75 s in 2)");
    hc_phase_add_part(&p, "timed", "idle_probes", 0.125);
    TAP_OK(p.n == 3 && !strcmp(p.name[2], "timed.idle_probes") && p.s[2] == 0.125, "a part is named top.sub");
    char *r = hc_record_cost(&p, "shape", "gemm", "128x128x128", json_pack("{s:i}", "rounds", 7));
    json_t *o = r ? json_loads(r, 0, NULL) : NULL;
    json_t *ph = json_object_get(o, "phases"), *ct = json_object_get(o, "counts");
    TAP_OK(o && !strcmp(json_string_value(json_object_get(o, "type")), "Cost") &&
               !strcmp(json_string_value(json_object_get(o, "scope")), "shape") &&
               json_real_value(json_object_get(ph, "idle_wait")) == 0.75 &&
               json_integer_value(json_object_get(ct, "context")) == 2 &&
               json_integer_value(json_object_get(o, "rounds")) == 7 &&
               json_real_value(json_object_get(o, "wall_s")) >= a - 1e-4,
           "the Cost record: type, scope, phases, counts, extra fields, wall_s: %s", r ? r : "(null)");
    json_decref(o);
    free(r);
    for (int i = 0; i < HC_PHASES_MAX + 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        hc_phase_add(&p, name, 1.0);
    }
    TAP_OK(p.n == HC_PHASES_MAX && !strcmp(p.name[HC_PHASES_MAX - 1], "other") &&
               p.count[HC_PHASES_MAX - 1] >= 9,
           "past %d names the rest is summed into 'other' (%ld)", HC_PHASES_MAX, p.count[HC_PHASES_MAX - 1]);
    double age = hc_process_age_s();
    TAP_OK(age >= 0.02 && age < 3600, "the process's age from /proc/self/stat: %.3f s", age);
}

int main(void)
{
    struct hc_args a;
    char err[1024];
    struct hc_shape sh[8];
    int n = 0;

    /* ---- arguments ---- */
    TAP_OK(parse("--family gemm --candidate x.so --seed 7", &a, err, sizeof err) == 0, "minimal args parse");
    TAP_OK(a.seed == 7 && a.dtype == 2 && a.reps == 30 && !a.check_only, "defaults: bf16, 30 reps");
    TAP_OK(a.nshapes == 3 && !a.shapes[0].heldout && a.shapes[1].heldout && a.shapes[2].m == 129,
           "default shapes: 4096^3 + two held-out");
    TAP_OK(parse("--family gemm --candidate x.so --seed 1 --dtype fp32 --shapes 64x32x16 --heldout 3x5x8,7x9x16 "
                 "--reps 50 --check-only --timeout 9",
                 &a, err, sizeof err) == 0,
           "full args parse");
    TAP_OK(a.dtype == 0 && a.reps == 50 && a.check_only && a.timeout_s == 9 && a.nshapes == 3, "full args values");
    TAP_OK(a.shapes[0].m == 64 && a.shapes[0].n == 32 && a.shapes[0].k == 16 && !a.shapes[0].heldout &&
               a.shapes[2].n == 9 && a.shapes[2].heldout,
           "shape values and held-out flags");
    TAP_OK(parse("--family gemm --candidate x.so", &a, err, sizeof err) == -1 && strstr(err, "--seed"),
           "missing seed is an error");
    TAP_OK(parse("--family fmha --candidate x.so --seed 1", &a, err, sizeof err) == -1, "unknown family rejected");
    TAP_OK(parse("--family gemm --candidate x.so --seed 1 --dtype int8", &a, err, sizeof err) == -1,
           "unknown dtype rejected");
    TAP_OK(parse("--family gemm --candidate x.so --seed 1 --reps 0", &a, err, sizeof err) == -1, "reps 0 rejected");
    TAP_OK(parse("--family gemm --candidate x.so --seed -3", &a, err, sizeof err) == -1, "negative seed rejected");
    TAP_OK(parse("--family gemm --candidate x.so --seed 1 --bogus 3", &a, err, sizeof err) == -1,
           "unknown option rejected");
    TAP_OK(parse("--help", &a, err, sizeof err) == 1 && strstr(err, "usage:"), "--help gives usage");

    /* ---- shapes ---- */
    TAP_OK(hc_parse_shapes("1x2x3,4x5x6", false, sh, 8, &n, err, sizeof err) == 0 && n == 2 && sh[1].k == 6,
           "two shapes");
    {
        /* lists refused, each into an empty list of at most max shapes */
        static const struct {
            const char *list;
            int max;
            const char *name;
        } bad[] = {
            {"1x2", 8, "2-d shape rejected"},
            {"1x2x3,", 8, "trailing comma rejected"},
            {"0x2x3", 8, "zero dimension rejected"},
            {"1x2x9999999", 8, "huge dimension rejected"},
            {"1x2xa", 8, "non-number rejected"},
            {"1x1x1,1x1x1,1x1x1", 2, "shape cap enforced"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            n = 0;
            TAP_OK(hc_parse_shapes(bad[i].list, false, sh, bad[i].max, &n, err, sizeof err) == -1, "%s", bad[i].name);
        }
    }

    /* ---- tolerances: ordered, and between honest and lower-precision error ---- */
    TAP_OK(hc_tolerance(0) < hc_tolerance(1) && hc_tolerance(1) < hc_tolerance(2), "tolerances fp32 < fp16 < bf16");
    TAP_OK(hc_tolerance(0) > 1e-5 && hc_tolerance(0) < 3e-4, "fp32 tolerance rejects TF32 (~5e-4)");
    TAP_OK(hc_tolerance(2) > 2e-3 && hc_tolerance(2) < 1e-2, "bf16 tolerance above its rounding error (~1.1e-3)");
    TAP_OK(hc_dtype_size(0) == 4 && hc_dtype_size(2) == 2 && hc_parse_dtype("fp16") == 1, "dtype helpers");

    /* ---- statistics ---- */
    {
        double v[5] = {5, 1, 4, 2, 3};
        struct hc_stats s;
        hc_stats(v, 5, &s);
        TAP_OK(s.median == 3 && s.min == 1 && s.max == 5, "median/min/max");
        TAP_OK(fabs(s.p20 - 1.8) < 1e-12 && fabs(s.p80 - 4.2) < 1e-12, "p20/p80 interpolate");
        double w[1] = {2.5};
        hc_stats(w, 1, &s);
        TAP_OK(s.median == 2.5 && s.p20 == 2.5 && s.p80 == 2.5, "single sample");
    }

    /* ---- classifier ---- */
    {
        struct hc_perf_in in;
        struct hc_perf_out o;
        const double flops = 2.0 * 4096 * 4096 * 4096;
        test_perf_in(&in, flops, 2.0 * 3 * 4096 * 4096, flops / 650e9); /* 650 TFLOP/s */
        in.block_threads = 384;
        in.blocks_per_sm = 1;
        in.max_threads_per_sm = 2048;
        in.sm_count = 132;
        in.grid_blocks = 512;
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "compute") && fabs(o.tflops - 650) < 1e-6, "near peak -> compute (%s)",
               o.bottleneck);
        in.time_ms = in.flops / (0.81 * 700e9);
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "compute"), "0.81 of the peak -> compute (%s)", o.bottleneck);
        in.time_ms = in.flops / (0.79 * 700e9);
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "pipeline"), "0.79 of the peak, full waves, 0.19 occupancy -> pipeline (%s)",
               o.bottleneck);
        in.time_ms = in.flops / 100e9;
        in.local_bytes = 64;
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "spills"), "local memory -> spills (%s)", o.bottleneck);
        in.local_bytes = 0;
        in.grid_blocks = 66;
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "parallelism"), "fewer blocks than SMs -> parallelism (%s)", o.bottleneck);
        in.grid_blocks = 140;
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "tail") && o.wave_eff < 0.6, "1.06 waves -> tail (%s)", o.bottleneck);
        in.time_ms = in.flops / 5000e9; /* 5 PFLOP/s: impossible */
        hc_classify(&in, &o);
        TAP_OK(o.suspicious && !strcmp(o.bottleneck, "suspicious"), "faster than the roofline is flagged");
        const double thin_bytes = 2.0 * (8192.0 * 16 * 2 + 8192.0 * 8192); /* thin K: low intensity */
        test_perf_in(&in, 2.0 * 8192 * 8192 * 16, thin_bytes, thin_bytes / 2500e6); /* 2.5 TB/s */
        in.sm_count = 132;
        hc_classify(&in, &o);
        TAP_OK(!strcmp(o.bottleneck, "memory"), "low intensity at 2.5 TB/s -> memory (%s)", o.bottleneck);
    }

    /* ---- throttle names ---- */
    {
        char b[128];
        TAP_STREQ(hc_throttle_names(0, b, sizeof b), "none", "no throttle reason");
        TAP_STREQ(hc_throttle_names(0x4 | 0x40, b, sizeof b), "sw_power_cap,hw_thermal", "two reasons");
        TAP_STREQ(hc_throttle_names(0x1000, b, sizeof b), "other:0x1000", "unknown bit");
    }

    /* ---- records ---- */
    {
        struct hc_shape s = {3000, 5000, 2000, true};
        struct hc_correctness c;
        memset(&c, 0, sizeof c);
        c.shape = &s;
        c.dtype = 2;
        c.passed = false;
        c.rel_err = NAN;
        c.tolerance = hc_tolerance(2);
        c.seed = 42;
        c.reason = "1 of 2 outputs are NaN";
        json_t *j = test_load(hc_record_correctness(&c));
        TAP_OK(j && !strcmp(json_string_value(json_object_get(j, "type")), "Correctness") &&
                   !strcmp(json_string_value(json_object_get(j, "shape")), "3000x5000x2000") &&
                   json_is_true(json_object_get(j, "heldout")) && json_is_false(json_object_get(j, "passed")) &&
                   json_is_null(json_object_get(j, "rel_err")) && json_integer_value(json_object_get(j, "seed")) == 42,
               "Correctness record (NaN error -> null)");
        json_decref(j);

        struct hc_performance p;
        memset(&p, 0, sizeof p);
        p.shape = &s;
        p.dtype = 1;
        p.cand.median = 2.0;
        p.base.median = 1.0;
        p.flops = 2e12;
        p.reps = 30;
        p.sm_clock_mhz = 1980;
        j = test_load(hc_record_performance(&p));
        TAP_OK(j && fabs(json_real_value(json_object_get(j, "ratio")) - 0.5) < 1e-12 &&
                   fabs(json_real_value(json_object_get(j, "tflops")) - 1000) < 1e-9 &&
                   !strcmp(json_string_value(json_object_get(j, "baseline")), "cublas") &&
                   json_integer_value(json_object_get(j, "sm_clock_mhz")) == 1980 &&
                   !strcmp(json_string_value(json_object_get(j, "throttle_reasons")), "none"),
               "Performance record: ratio = baseline/candidate time");
        json_decref(j);

        struct hc_perf_in in;
        struct hc_perf_out o;
        test_perf_in(&in, 1e12, 1e9, 10);
        in.registers = 168;
        hc_classify(&in, &o);
        j = test_load(hc_record_analysis(&s, 2, &in, &o));
        TAP_OK(j && !strcmp(json_string_value(json_object_get(j, "type")), "Analysis") &&
                   json_integer_value(json_object_get(j, "registers")) == 168 &&
                   json_string_value(json_object_get(j, "bottleneck")) &&
                   fabs(json_real_value(json_object_get(j, "arith_intensity")) - 1000) < 1e-9,
               "Analysis record");
        json_decref(j);
    }
    /* ---- ncu --csv parsing and the Counters record ---- */
    {
        static const char csv[] =
            "==PROF== Connected to process 123 (/x/spak-harness-cuda)\n"
            "==PROF== Profiling \"gemm_kernel\" - 0: 0%....50%....100% - 9 passes\n"
            "\"ID\",\"Process ID\",\"Process Name\",\"Host Name\",\"Kernel Name\",\"Context\",\"Stream\","
            "\"Block Size\",\"Grid Size\",\"Device\",\"CC\",\"Section Name\",\"Metric Name\",\"Metric Unit\","
            "\"Metric Value\"\r\n"
            "\"0\",\"1\",\"h\",\"127.0.0.1\",\"prep(int, float)\",\"1\",\"7\",\"(128, 1, 1)\",\"(8, 1, 1)\","
            "\"0\",\"9.0\",\"Command line profiler metrics\",\"gpu__time_duration.sum\",\"usecond\",\"3.50\"\n"
            "\"1\",\"1\",\"h\",\"127.0.0.1\",\"gemm_kernel<128, 256>\",\"1\",\"7\",\"(384, 1, 1)\",\"(132, 1, 1)\","
            "\"0\",\"9.0\",\"Command line profiler metrics\",\"dram__bytes.sum\",\"Gbyte\",\"1.25\"\n"
            "\"1\",\"1\",\"h\",\"127.0.0.1\",\"gemm_kernel<128, 256>\",\"1\",\"7\",\"(384, 1, 1)\",\"(132, 1, 1)\","
            "\"0\",\"9.0\",\"Command line profiler metrics\",\"gpu__time_duration.sum\",\"msecond\",\"1.02\"\n"
            "\"1\",\"1\",\"h\",\"127.0.0.1\",\"gemm_kernel<128, 256>\",\"1\",\"7\",\"(384, 1, 1)\",\"(132, 1, 1)\","
            "\"0\",\"9.0\",\"Command line profiler metrics\",\"launch__registers_per_thread\","
            "\"register/thread\",\"1,168\"\n"
            "==PROF== Disconnected from process 123\n";
        struct hc_ncu_result r;
        struct hc_shape s = {4096, 4096, 4096, false};
        json_t *j, *m;
        TAP_OK(hc_ncu_parse_csv(csv, &r) == 3 && r.kernels == 2, "ncu CSV: 3 metrics of the longest of 2 kernels");
        TAP_OK(!strcmp(r.kernel, "gemm_kernel<128, 256>") && !strcmp(r.m[0].name, "dram__bytes.sum") &&
                   fabs(r.m[0].value - 1.25e9) < 1 && !strcmp(r.m[0].unit, "byte") &&
                   fabs(r.m[1].value - 1.02e6) < 1e-6 && !strcmp(r.m[1].unit, "ns") &&
                   r.m[2].value == 1168 && !r.error[0],
               "ncu CSV: kernel name, unit normalization, thousands separators");
        TAP_OK(hc_ncu_parse_csv("==PROF== Connected\n==ERROR== ERR_NVGPUCTRPERM - The user does not have permission\n"
                                "==PROF== Disconnected\n", &r) == 0 &&
                   !strncmp(r.error, "==ERROR== ERR_NVGPUCTRPERM", 26),
               "ncu CSV: no rows, the error line kept");
        TAP_OK(hc_ncu_parse_csv("", &r) == 0 && hc_ncu_parse_csv(NULL, &r) == 0 &&
                   hc_ncu_parse_csv("\"ID\",\"Metric Name\",\"Metric Value\"\n\"0\",\"x\",\"n/a\"\n", &r) == 0 &&
                   r.nmetrics == 1 && isnan(r.m[0].value),
               "ncu CSV: empty input and non-numeric values give no numbers (n/a kept as NaN)");
        j = test_load(hc_record_counters(&s, 2, &r, "ncu printed no numbers"));
        TAP_OK(j && json_is_false(json_object_get(j, "available")), "only n/a values: Counters unavailable");
        json_decref(j);
        hc_ncu_parse_csv(csv, &r);
        j = test_load(hc_record_counters(&s, 2, &r, NULL));
        m = j ? json_object_get(j, "metrics") : NULL;
        TAP_OK(j && json_is_true(json_object_get(j, "available")) && r.nfinite == 3 &&
                   !strcmp(json_string_value(json_object_get(j, "type")), "Counters") &&
                   fabs(json_real_value(json_object_get(m, "launch__registers_per_thread")) - 1168) < 1e-9,
               "Counters record with metrics");
        json_decref(j);
        j = test_load(hc_record_counters(&s, 2, NULL, "ncu not found"));
        TAP_OK(j && json_is_false(json_object_get(j, "available")) && !json_object_get(j, "metrics") &&
                   !strcmp(json_string_value(json_object_get(j, "reason")), "ncu not found"),
               "Counters record unavailable: reason, no numbers");
        json_decref(j);
        TAP_OK(parse("--family gemm --candidate x.so --seed 1 --ncu", &a, err, sizeof err) == 0 && a.ncu &&
                   !a.profile_one,
               "--ncu parses");
    }
    {
        /* a session: --candidate repeated (up to HC_MAX_CAND), each kept in order */
        char buf[512], *argv[40];
        int argc = test_argv("spak-harness-cuda", "--family gemm --candidate a.so --seed 1 --candidate b.so "
                             "--candidate c.so --batch-ms 30", buf, sizeof buf, argv, 40);
        int rc = hc_parse_args(argc, argv, &a, err, sizeof err);
        TAP_OK(rc == 0 && a.ncand == 3 && !strcmp(a.candidate, "a.so") && !strcmp(a.candidates[0], "a.so") &&
                   !strcmp(a.candidates[1], "b.so") && !strcmp(a.candidates[2], "c.so") && a.batch_ms == 30,
               "--candidate repeated: a session of 3, in order, the first is the candidate; --batch-ms 30");
        TAP_OK(parse("--family gemm --candidate a.so --seed 1", &a, err, sizeof err) == 0 && a.ncand == 1 &&
                   a.batch_ms == 3,
               "one --candidate: no session, batches of 3 ms");
        char line[400] = "--family gemm --seed 1";
        for (int i = 0; i < HC_MAX_CAND; i++)
            snprintf(line + strlen(line), sizeof line - strlen(line), " --candidate c%d.so", i);
        TAP_OK(parse(line, &a, err, sizeof err) == 0 && a.ncand == HC_MAX_CAND, "%d candidates: a session",
               HC_MAX_CAND);
        snprintf(line + strlen(line), sizeof line - strlen(line), " --candidate one-too-many.so");
        TAP_OK(parse(line, &a, err, sizeof err) == -1 && strstr(err, "at most 8"), "%d candidates refused: %s",
               HC_MAX_CAND + 1, err);
        TAP_OK(parse("--family gemm --candidate a.so --candidate b.so --seed 1 --ncu", &a, err, sizeof err) == -1 &&
                   strstr(err, "--ncu"),
               "--ncu with a session refused: %s", err);
        TAP_OK(parse("--family gemm --candidate a.so --seed 1 --batch-ms 0", &a, err, sizeof err) == -1 &&
                   strstr(err, "--batch-ms"),
               "--batch-ms 0 refused");
        TAP_OK(parse("--family gemm --candidate a.so --seed 1", &a, err, sizeof err) == 0 &&
                   a.between_runs == CS_BETWEEN_RUNS_SD,
               "--between-runs defaults to %.2f", CS_BETWEEN_RUNS_SD);
        TAP_OK(parse("--family gemm --candidate a.so --seed 1 --between-runs 0", &a, err, sizeof err) == 0 &&
                   a.between_runs == 0 &&
                   parse("--family gemm --between-runs 0.035 --candidate a.so --seed 1", &a, err, sizeof err) == 0 &&
                   a.between_runs == 0.035,
               "--between-runs 0 and 0.035, in any position");
        const char *bad[] = {"1", "-0.01", "0.02x", "", "nan"};
        int refused = 0;
        for (int i = 0; i < 5; i++) {
            char bl[160];
            snprintf(bl, sizeof bl, "--family gemm --candidate a.so --seed 1 --between-runs %s", bad[i]);
            refused += parse(bl, &a, err, sizeof err) == -1 && strstr(err, "--between-runs");
        }
        TAP_OK(refused == 5, "--between-runs 1, -0.01, 0.02x, a missing value and nan refused (%d of 5): %s", refused,
               err);
    }
    {
        /* what emit() writes: a passing record leaves out what it has no value for (the engine's
         * validator rejects a null outside a failure record); a failure record keeps its nulls */
        char *r = hc_omit_nulls(strdup("{\"type\":\"Correctness\",\"shape\":\"1x3x1000x128\",\"passed\":true,"
                                       "\"rel_err\":0.5,\"baseline_rel_err\":null,\"lse_err\":null,"
                                       "\"baseline_error\":\"not run\"}"));
        TAP_STREQ(r, "{\"type\":\"Correctness\",\"shape\":\"1x3x1000x128\",\"passed\":true,\"rel_err\":0.5,"
                     "\"baseline_error\":\"not run\"}",
                  "a passing record: its null members left out, the rest in order");
        free(r);
        r = hc_omit_nulls(strdup("{\"type\":\"Performance\",\"time_ms\":1.5,\"ratio\":null}"));
        TAP_STREQ(r, "{\"type\":\"Performance\",\"time_ms\":1.5}", "a record without passed: its nulls left out");
        free(r);
        const char *kept[] = {"{\"type\":\"Correctness\",\"passed\":false,\"rel_err\":null}",
                              "{\"type\":\"Performance\",\"verdict\":\"stopped\",\"ratio\":null}",
                              "{\"type\":\"Cost\",\"wall_s\":1}", "not json"};
        int same = 0;
        for (int i = 0; i < 4; i++) {
            char *x = hc_omit_nulls(strdup(kept[i]));
            same += x && !strcmp(x, kept[i]);
            free(x);
        }
        TAP_OK(same == 4 && hc_omit_nulls(NULL) == NULL,
               "a failure, a stopped record, one without nulls and text that is not JSON pass unchanged (%d of 4)",
               same);
    }
    {
        /* --stop-slower-than: the engine's early stop (harness_core.h) */
        TAP_OK(hc_stop_ms("2.5", "4096x4096x4096") == 2.5 && hc_stop_ms("2.5", "") == 2.5, "MS: every timed shape");
        TAP_OK(hc_stop_ms("4096x4096x4096=2,8192x8192x8192=16", "8192x8192x8192") == 16 &&
                   hc_stop_ms("4096x4096x4096=2,8192x8192x8192=16", "4096x4096x4096") == 2 &&
                   hc_stop_ms("4096x4096x4096=2", "1024x1024x1024") == 0,
               "SHAPE=MS,...: each shape's limit, 0 for a shape not named");
        const char *bad[] = {"0", "-1", "x", "", "4096x4096x4096=", "=3", "4096x4096x4096=2,", "4096x4096x4096=0",
                             "a=1,b", "nan", "inf"};
        int refused = 0;
        for (int i = 0; i < 11; i++)
            refused += hc_stop_ms(bad[i], "4096x4096x4096") < 0;
        TAP_OK(refused == 11, "malformed limits refused (%d of 11)", refused);
        const char *names[] = {"4096x4096x4096", "8192x8192x8192"};
        char which[64] = "";
        TAP_OK(hc_stop_names("4096x4096x4096=2,8192x8192x8192=16", names, 2, which, sizeof which) &&
                   hc_stop_names("3", names, 2, which, sizeof which) &&
                   !hc_stop_names("4096x4096x4096=2,1x1x1=3", names, 2, which, sizeof which) && !strcmp(which, "1x1x1"),
               "a name that is no timed shape is found (%s)", which);
        TAP_OK(parse("--family gemm --candidate a.so --seed 1 --stop-slower-than 4096x4096x4096=2.5", &a, err,
                     sizeof err) == 0 && a.stop_slower && !strcmp(a.stop_slower, "4096x4096x4096=2.5"),
               "--stop-slower-than parses");
        TAP_OK(parse("--family gemm --candidate a.so --seed 1 --stop-slower-than 0", &a, err, sizeof err) == -1 &&
                   strstr(err, "--stop-slower-than"),
               "--stop-slower-than 0 refused: %s", err);
    }
    test_children();
    test_phases();
    return tap_done();
}
