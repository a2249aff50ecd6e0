/*
 * harness_core.c - GPU-free logic of spak-harness-cuda (see harness_core.h).
 */
#include "harness_core.h"
#include "../../common/record_nulls.h"
#include "../../common/stop_limits.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: spak-harness-cuda --family gemm --candidate PATH.so [--candidate PATH.so ...] --seed N\n"
    "         [--dtype bf16|fp16|fp32] [--shapes MxNxK,...] [--heldout MxNxK,...]\n"
    "         [--reps N] [--warmup N] [--batch-ms MS] [--between-runs SD] [--check-only] [--ceilings-cache PATH]\n"
    "         [--timeout SEC] [--ncu] [--stop-slower-than MS|MxNxK=MS,...]";

bool hc_parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;
    if (!s || !*s)
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int hc_parse_dtype(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        return 0;
    if (!strcmp(s, "fp16") || !strcmp(s, "f16"))
        return 1;
    if (!strcmp(s, "bf16"))
        return 2;
    return -1;
}

const char *hc_dtype_name(int dtype)
{
    switch (dtype) {
    case 0: return "fp32";
    case 1: return "fp16";
    case 2: return "bf16";
    default: return "?";
    }
}

size_t hc_dtype_size(int dtype) { return dtype == 0 ? 4 : 2; }

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double hc_now_s(void) { return monotonic_s(); }

void hc_phases_begin(struct hc_phases *p)
{
    memset(p, 0, sizeof *p);
    p->t0 = p->mark = monotonic_s();
}

void hc_phase_add(struct hc_phases *p, const char *name, double seconds)
{
    int i = 0;
    while (i < p->n && strncmp(p->name[i], name, HC_PHASE_NAME - 1) != 0)
        i++;
    if (i == p->n) {
        if (p->n == HC_PHASES_MAX)  /* full: the last slot becomes "other" */
            i = HC_PHASES_MAX - 1, snprintf(p->name[i], HC_PHASE_NAME, "other");
        else
            snprintf(p->name[p->n++], HC_PHASE_NAME, "%s", name);
    }
    p->s[i] += seconds;
    p->count[i]++;
}

double hc_phase_mark(struct hc_phases *p, const char *name)
{
    double now = monotonic_s(), dt = now - p->mark;
    p->mark = now;
    hc_phase_add(p, name, dt);
    return dt;
}

void hc_phase_add_part(struct hc_phases *p, const char *top, const char *sub, double seconds)
{
    char n[HC_PHASE_NAME];
    snprintf(n, sizeof n, "%s.%s", top, sub);
    hc_phase_add(p, n, seconds);
}

double hc_process_age_s(void)
{
    /* field 22 of /proc/self/stat, after the command name in parentheses
     * (which may hold spaces and parentheses: parse from the last ')') */
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field < 22 && p; field++) { /* p is before field 3's space */
        p = strchr(p + 1, ' ');
    }
    long hz = sysconf(_SC_CLK_TCK);
    char *end = NULL;
    unsigned long long ticks = p ? strtoull(p + 1, &end, 10) : 0;
    struct timespec ts;
    if (!p || end == p + 1 || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
        return -1;
    double age = (double)ts.tv_sec + ts.tv_nsec * 1e-9 - (double)ticks / (double)hz;
    return age >= 0 ? age : -1;
}

/* seconds to 0.1 ms: what a cost table needs, and never a real below 1e-4,
 * which JSON writers print in exponent forms that differ (1e-5, 1e-05) */
static json_t *secs(double s)
{
    return json_real(round(s * 1e4) / 1e4);
}

char *hc_record_cost(const struct hc_phases *p, const char *scope, const char *family, const char *shape,
                     json_t *extra)
{
    json_t *o = json_object(), *ph = json_object(), *ct = json_object();
    if (!o || !ph || !ct) {
        json_decref(o), json_decref(ph), json_decref(ct), json_decref(extra);
        return NULL;
    }
    for (int i = 0; i < p->n; i++) {
        json_object_set_new(ph, p->name[i], secs(p->s[i]));
        json_object_set_new(ct, p->name[i], json_integer(p->count[i]));
    }
    json_object_set_new(o, "type", json_string("Cost"));
    json_object_set_new(o, "scope", json_string(scope));
    json_object_set_new(o, "family", json_string(family));
    json_object_set_new(o, "shape", shape ? json_string(shape) : json_null());
    json_object_set_new(o, "wall_s", secs(monotonic_s() - p->t0));
    json_object_set_new(o, "phases", ph);
    json_object_set_new(o, "counts", ct);
    if (extra)
        json_object_update(o, extra);
    json_decref(extra);
    return hc_dump(o);
}

int hc_run_child(hc_child_fn fn, const void *arg, int timeout_s, bool relay, struct hc_child *res)
{
    int fds[2];
    static char buf[65536];
    size_t len = 0;

    memset(res, 0, sizeof *res);
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        if (relay) {
            if (dup2(fds[1], STDOUT_FILENO) < 0)
                _exit(HC_CHILD_HARNESS_ERR);
            close(fds[1]);
            fds[1] = STDOUT_FILENO;
        }
        int rc = fn(fds[1], arg);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[1]);
    const double deadline = monotonic_s() + timeout_s;
    for (;;) {
        double now = monotonic_s();
        if (now >= deadline) {
            kill(pid, SIGKILL);
            res->timed_out = true;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)((deadline - now) * 1000) + 1);
        if (pr <= 0)
            continue; /* EINTR, or the deadline: checked above */
        ssize_t got = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
        for (;;) {
            char *nl = memchr(buf, '\n', len);
            if (!nl) {
                if (len == sizeof buf - 1)
                    len = 0; /* a line over the cap: dropped */
                break;
            }
            size_t ll = (size_t)(nl - buf) + 1;
            *nl = 0;
            if (!res->first_line)
                res->first_line = strdup(buf);
            if (relay) {
                bool corr = strstr(buf, "\"type\":\"Correctness\"") != NULL;
                res->saw_correctness |= corr;
                res->saw_performance |= strstr(buf, "\"type\":\"Performance\"") != NULL;
                res->saw_pass |= corr && strstr(buf, "\"passed\":true") != NULL;
                res->saw_stopped |= strstr(buf, "\"type\":\"Performance\"") && strstr(buf, "\"verdict\":\"stopped\"");
                printf("%s\n", buf);
                fflush(stdout);
            }
            memmove(buf, buf + ll, len - ll);
            len -= ll;
        }
    }
    close(fds[0]);
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

bool hc_child_no_verdict(const struct hc_child *r, bool check_only)
{
    return r->timed_out || !WIFEXITED(r->status) || (WEXITSTATUS(r->status) != 0 && !r->saw_correctness) ||
           (r->saw_correctness && !r->saw_performance && !check_only && !WIFEXITED(r->status));
}

void hc_describe_child(const struct hc_child *r, int timeout_s, char *buf, size_t n)
{
    if (r->timed_out)
        snprintf(buf, n, "candidate timed out after %d s (hang?): child killed", timeout_s);
    else if (WIFSIGNALED(r->status))
        snprintf(buf, n, "candidate crashed the child: signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
    else if (WIFEXITED(r->status))
        snprintf(buf, n, "child exited with status %d without a verdict", WEXITSTATUS(r->status));
    else
        snprintf(buf, n, "child ended abnormally");
}

int hc_after_child(const struct hc_child *r, int rc, int i, int n, int timeout_s, char *why, size_t whylen)
{
    if (rc == 0 && r->saw_stopped) {
        snprintf(why, whylen, "not checked: the candidate was stopped early");
        return 2;
    }
    if (rc == 1 && r->timed_out) {
        snprintf(why, whylen, "not run: the candidate hung on shape %d of %d (timed out after %d s)", i + 1, n,
                 timeout_s);
        return 1;
    }
    return 0;
}

int hc_parse_probe(const char *line, struct hc_device *d, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    memset(d, 0, sizeof *d);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "bad probe line: %s", j ? "not an object" : je.text);
        json_decref(j);
        return -1;
    }
    const char *name = json_string_value(json_object_get(j, "device"));
    snprintf(d->name, sizeof d->name, "%s", name ? name : "?");
    d->copy_gbps = json_number_value(json_object_get(j, "copy_gbps"));
    d->peak_tflops = json_number_value(json_object_get(j, "peak_tflops"));
    d->sm_count = (int)json_integer_value(json_object_get(j, "sm_count"));
    d->max_threads_per_sm = (int)json_integer_value(json_object_get(j, "max_threads_per_sm"));
    d->l2_bytes = json_integer_value(json_object_get(j, "l2_bytes"));
    d->cc = (int)json_integer_value(json_object_get(j, "cc"));
    json_decref(j);
    return 0;
}

int hc_parse_shapes(const char *s, bool heldout, struct hc_shape *shapes, int max, int *n,
                    char *err, size_t errlen)
{
    const char *p = s;
    if (!s || !*s) {
        snprintf(err, errlen, "empty shape list");
        return -1;
    }
    while (*p) {
        long long d[3];
        for (int i = 0; i < 3; i++) {
            char buf[24];
            size_t len = 0;
            while (p[len] && p[len] != 'x' && p[len] != ',')
                len++;
            if (len == 0 || len >= sizeof buf) {
                snprintf(err, errlen, "bad shape near '%.20s' (want MxNxK)", p);
                return -1;
            }
            memcpy(buf, p, len);
            buf[len] = 0;
            /* 1 .. 2^20 per dimension: the harness's buffers are sized from these. */
            if (!hc_parse_ll(buf, 1, 1 << 20, &d[i])) {
                snprintf(err, errlen, "bad dimension '%s' (want an integer in 1..1048576)", buf);
                return -1;
            }
            p += len;
            if (i < 2) {
                if (*p != 'x') {
                    snprintf(err, errlen, "bad shape near '%.20s' (want MxNxK)", p);
                    return -1;
                }
                p++;
            }
        }
        if (*n >= max) {
            snprintf(err, errlen, "too many shapes (at most %d)", max);
            return -1;
        }
        shapes[*n].m = (long)d[0];
        shapes[*n].n = (long)d[1];
        shapes[*n].k = (long)d[2];
        shapes[*n].heldout = heldout;
        (*n)++;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "trailing ',' in shape list");
                return -1;
            }
        } else if (*p) {
            snprintf(err, errlen, "bad shape list near '%.20s'", p);
            return -1;
        }
    }
    return 0;
}

/* The shared options with a value: strings kept as given (the field at off
 * in struct hc_common_opts, a const char *), integers in lo..hi (an int at
 * off; what: how the usage error names the value), and --seed. */
static const struct {
    const char *name;
    size_t off;
} text_opts[] = {
    {"--family", offsetof(struct hc_common_opts, family)},
    {"--candidate", offsetof(struct hc_common_opts, candidate)},
    {"--dtype", offsetof(struct hc_common_opts, dtype)},
    {"--shapes", offsetof(struct hc_common_opts, shapes)},
    {"--heldout", offsetof(struct hc_common_opts, heldout)},
    {"--ceilings-cache", offsetof(struct hc_common_opts, ceilings_cache)},
    {"--stop-slower-than", offsetof(struct hc_common_opts, stop_slower)},
};
static const struct {
    const char *name;
    long long lo, hi;
    const char *what;
    size_t off;
} int_opts[] = {
    {"--reps", 1, 100000, "an integer", offsetof(struct hc_common_opts, reps)},
    {"--warmup", 0, 10000, "an integer", offsetof(struct hc_common_opts, warmup)},
    {"--timeout", 1, 86400, "seconds", offsetof(struct hc_common_opts, timeout_s)},
    {"--batch-ms", 1, 1000, "milliseconds", offsetof(struct hc_common_opts, batch_ms)},
};

/* argv[*i] when it is a shared option: 1 taken (*i moved onto its value, if
 * any), 0 not a shared option, 2 --help (usage in err), -1 usage error. */
static int common_option(int argc, char **argv, int *i, struct hc_common_opts *c, const char *usage, char *err,
                         size_t errlen)
{
    const char *o = argv[*i];
    int t = -1, k = -1;
    long long v;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
        snprintf(err, errlen, "%s", usage);
        return 2;
    }
    if (!strcmp(o, "--check-only")) {
        c->check_only = true;
        return 1;
    }
    for (size_t j = 0; j < sizeof text_opts / sizeof text_opts[0]; j++)
        if (!strcmp(o, text_opts[j].name))
            t = (int)j;
    for (size_t j = 0; j < sizeof int_opts / sizeof int_opts[0]; j++)
        if (!strcmp(o, int_opts[j].name))
            k = (int)j;
    bool between = !strcmp(o, "--between-runs");
    if (t < 0 && k < 0 && !between && strcmp(o, "--seed") != 0)
        return 0;
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "%s: missing value\n%s", o, usage);
        return -1;
    }
    const char *val = argv[++*i];
    if (t >= 0 && text_opts[t].off == offsetof(struct hc_common_opts, candidate)) {
        /* repeated: a session of several candidates timed side by side */
        if (c->ncand >= HC_MAX_CAND) {
            snprintf(err, errlen, "--candidate: at most %d in one session", HC_MAX_CAND);
            return -1;
        }
        c->candidates[c->ncand++] = val;
        if (!c->candidate)
            c->candidate = val;
    } else if (t >= 0) {
        *(const char **)((char *)c + text_opts[t].off) = val;
    } else if (k >= 0) {
        if (!hc_parse_ll(val, int_opts[k].lo, int_opts[k].hi, &v)) {
            snprintf(err, errlen, "%s: want %s in %lld..%lld, got '%s'", o, int_opts[k].what, int_opts[k].lo,
                     int_opts[k].hi, val);
            return -1;
        }
        *(int *)((char *)c + int_opts[k].off) = (int)v;
    } else if (between) {
        if (!cs_parse_between_runs(val, &c->between_runs, err, errlen))
            return -1;
    } else { /* --seed */
        char *end;
        errno = 0;
        c->seed = val[0] && val[0] != '-' ? strtoull(val, &end, 10) : 0;
        if (!val[0] || val[0] == '-' || errno || *end) {
            snprintf(err, errlen, "--seed: want a non-negative integer, got '%s'", val);
            return -1;
        }
        c->have_seed = true;
    }
    return 1;
}

int hc_parse_common(int argc, char **argv, const char *family, const char *usage, hc_own_flag own, void *ud,
                    struct hc_common_opts *c, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        int r = common_option(argc, argv, &i, c, usage, err, errlen);
        if (r == 2)
            return 1;
        if (r < 0)
            return -1;
        if (r == 0 && !own(argv[i], ud)) {
            snprintf(err, errlen, "unknown option '%s'\n%s", argv[i], usage);
            return -1;
        }
    }
    if (!c->family || strcmp(c->family, family) != 0) {
        snprintf(err, errlen, "--family: this harness does '%s'%s%s", family, c->family ? ", got " : "",
                 c->family ? c->family : "");
        return -1;
    }
    if (!c->candidate) {
        snprintf(err, errlen, "--candidate PATH.so is required");
        return -1;
    }
    if (!c->have_seed) {
        snprintf(err, errlen, "--seed N is required (inputs are generated from it)");
        return -1;
    }
    if (c->stop_slower && hc_stop_ms(c->stop_slower, "") < 0) {
        snprintf(err, errlen, "--stop-slower-than: want milliseconds a call > 0, or SHAPE=MS,..., got '%.200s'",
                 c->stop_slower);
        return -1;
    }
    return 0;
}

/* hc_stop_ms's callback: the limit of its shape, or of every shape */
struct stop_find {
    const char *shape;
    double found;
};
static bool stop_find_each(const char *name, size_t len, double ms, void *ud)
{
    struct stop_find *f = ud;
    if (!name || (f->shape && strlen(f->shape) == len && !strncmp(name, f->shape, len)))
        f->found = ms;
    return true;
}

double hc_stop_ms(const char *spec, const char *shape)
{
    struct stop_find f = {shape, 0};
    return spak_stop_parse(spec, stop_find_each, &f) ? f.found : -1;
}

/* hc_stop_names's callback: a name of the list, else the first unknown one in bad */
struct stop_known {
    const char *const *names;
    int n;
    char *bad;
    size_t nbad;
};
static bool stop_known_each(const char *name, size_t len, double ms, void *ud)
{
    struct stop_known *k = ud;
    (void)ms;
    for (int i = 0; name && i < k->n; i++)
        if (strlen(k->names[i]) == len && !strncmp(k->names[i], name, len))
            return true;
    if (name)
        snprintf(k->bad, k->nbad, "%.*s", (int)len, name);
    return !name;
}

bool hc_stop_names(const char *spec, const char *const *names, int n, char *bad, size_t nbad)
{
    if (!spec || !strchr(spec, '='))
        return true;
    struct stop_known k = {names, n, bad, nbad};
    if (nbad)
        bad[0] = 0;
    return spak_stop_parse(spec, stop_known_each, &k);
}

static bool gemm_flag(const char *flag, void *ud)
{
    struct hc_args *a = ud;
    if (!strcmp(flag, "--ncu"))
        a->ncu = true;
    else if (!strcmp(flag, "--profile-one"))
        a->profile_one = true;
    else
        return false;
    return true;
}

int hc_parse_args(int argc, char **argv, struct hc_args *a, char *err, size_t errlen)
{
    struct hc_common_opts c = {.reps = 30, .warmup = 5, .timeout_s = 300, .between_runs = -1};

    memset(a, 0, sizeof *a);
    int r = hc_parse_common(argc, argv, "gemm", USAGE, gemm_flag, a, &c, err, errlen);
    if (r)
        return r;
    a->dtype = c.dtype ? hc_parse_dtype(c.dtype) : 2;
    if (a->dtype < 0) {
        snprintf(err, errlen, "--dtype: want bf16, fp16 or fp32, got '%s'", c.dtype);
        return -1;
    }
    HC_TAKE_COMMON(a, c);
    if (a->ncand > 1 && (a->ncu || a->profile_one)) {
        snprintf(err, errlen, "--ncu profiles one candidate: give one --candidate");
        return -1;
    }
    if (!c.shapes && !c.heldout) {
        c.shapes = "4096x4096x4096";
        c.heldout = "3000x5000x2000,129x263x72";
    }
    if (c.shapes && hc_parse_shapes(c.shapes, false, a->shapes, HC_MAX_SHAPES, &a->nshapes, err, errlen))
        return -1;
    if (c.heldout && hc_parse_shapes(c.heldout, true, a->shapes, HC_MAX_SHAPES, &a->nshapes, err, errlen))
        return -1;
    return 0;
}

/*
 * Tolerances on ||C - R||_F / ||R||_F, R computed in fp64 from the very same
 * (already rounded) inputs, inputs ~ N(0,1):
 *  - fp16/bf16 out: the final rounding of C alone gives a relative error of
 *    about u/sqrt(3) per element (u = 2^-11 fp16, 2^-8 bf16): 2.8e-4 and
 *    2.3e-3 (measured ~1.1e-3 for bf16 since rounding is to nearest); fp32
 *    accumulation adds ~1e-6. Accumulating in the 16-bit type instead adds
 *    about u*sqrt(K/6): 1e-2 (fp16) / 8e-2 (bf16) at K=4096, and for bf16
 *    still 1.3e-2 at K=72. Tolerances: fp16 1.5e-3, bf16 5e-3 (about 5x the
 *    honest error, well under the low-precision error at the shapes we run).
 *  - fp32 out: fp32 accumulation gives ~1e-6 (sqrt(K)*2^-24 at worst a few
 *    e-6); TF32 inputs give ~5e-4 and bf16 inputs ~4e-3. Tolerance 5e-5.
 */
double hc_tolerance(int dtype)
{
    switch (dtype) {
    case 0: return 5e-5;
    case 1: return 1.5e-3;
    case 2: return 5e-3;
    default: return 0;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hc_quantile_sorted(const double *v, int n, double q)
{
    double pos, frac;
    int i;
    if (n <= 0)
        return NAN;
    if (q <= 0)
        return v[0];
    if (q >= 1)
        return v[n - 1];
    pos = q * (n - 1);
    i = (int)pos;
    frac = pos - i;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + frac * (v[i + 1] - v[i]);
}

void hc_stats(double *v, int n, struct hc_stats *out)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out->min = v[0];
    out->max = v[n - 1];
    out->median = hc_quantile_sorted(v, n, 0.5);
    out->p20 = hc_quantile_sorted(v, n, 0.2);
    out->p80 = hc_quantile_sorted(v, n, 0.8);
}

/* A kernel at this fraction of the cuBLAS peak or more is compute-bound
 * (issue 14: "a GEMM at 80-100% of the compute roof is compute-bound"; at
 * 0.85, rung4_ws bn=256 at 0.804 of it at 4096^3 on the H100 was classed
 * "pipeline", 2026-12-07). */
#define HC_COMPUTE_FRAC 0.80

void hc_classify(const struct hc_perf_in *in, struct hc_perf_out *o)
{
    double t = in->time_ms, attainable, waves = 0;
    long long per_wave;

    memset(o, 0, sizeof *o);
    o->tflops = in->flops / t / 1e9;
    o->gbps = in->bytes / t / 1e6;
    o->arith_intensity = in->bytes > 0 ? in->flops / in->bytes : 0;
    o->ridge = in->peak_gbps > 0 ? in->peak_tflops * 1000.0 / in->peak_gbps : 0;
    o->frac_peak = in->peak_tflops > 0 ? o->tflops / in->peak_tflops : 0;
    o->frac_bw = in->peak_gbps > 0 ? o->gbps / in->peak_gbps : 0;
    o->occupancy = in->max_threads_per_sm > 0
                       ? (double)in->blocks_per_sm * in->block_threads / in->max_threads_per_sm
                       : 0;
    per_wave = (long long)in->sm_count * (in->blocks_per_sm > 0 ? in->blocks_per_sm : 1);
    o->wave_eff = 1.0;
    if (per_wave > 0 && in->grid_blocks > 0) {
        waves = (double)in->grid_blocks / (double)per_wave;
        o->wave_eff = waves / ceil(waves);
    }
    attainable = in->peak_tflops;
    if (in->peak_gbps > 0 && o->arith_intensity * in->peak_gbps / 1000.0 < attainable)
        attainable = o->arith_intensity * in->peak_gbps / 1000.0;
    o->suspicious = (attainable > 0 && o->tflops > 1.25 * attainable) ||
                    (in->peak_gbps > 0 && o->gbps > 1.25 * in->peak_gbps);

    if (o->suspicious)
        o->bottleneck = "suspicious";
    else if (in->local_bytes > 0 && o->frac_peak < 0.9)
        o->bottleneck = "spills";
    else if (o->arith_intensity < o->ridge && o->frac_bw > 0.5)
        o->bottleneck = "memory";
    else if (o->frac_peak >= HC_COMPUTE_FRAC)
        o->bottleneck = "compute";
    else if (in->grid_blocks > 0 && in->grid_blocks < in->sm_count)
        o->bottleneck = "parallelism";
    else if (o->wave_eff < 0.8)
        o->bottleneck = "tail";
    else if (o->occupancy < 0.25 && o->frac_peak < 0.5)
        o->bottleneck = "latency";
    else
        o->bottleneck = "pipeline";

    snprintf(o->why, sizeof o->why,
             "%.1f TFLOP/s = %.2f of the cuBLAS peak %.1f; %.0f GB/s = %.2f of copy %.0f GB/s; "
             "AI %.0f flop/B vs ridge %.0f; occupancy %.2f (%d blocks x %d thr/SM, %d regs, "
             "%d B smem, %d B local); %lld blocks = %.2f waves (efficiency %.2f)",
             o->tflops, o->frac_peak, in->peak_tflops, o->gbps, o->frac_bw, in->peak_gbps,
             o->arith_intensity, o->ridge, o->occupancy, in->blocks_per_sm, in->block_threads,
             in->registers, in->smem_bytes, in->local_bytes, in->grid_blocks, waves, o->wave_eff);
}

const char *hc_throttle_names(unsigned long long mask, char *buf, size_t n)
{
    static const struct { unsigned long long bit; const char *name; } names[] = {
        {0x1ull, "gpu_idle"},          {0x2ull, "applications_clocks"},
        {0x4ull, "sw_power_cap"},      {0x8ull, "hw_slowdown"},
        {0x10ull, "sync_boost"},       {0x20ull, "sw_thermal"},
        {0x40ull, "hw_thermal"},       {0x80ull, "hw_power_brake"},
        {0x100ull, "display_clocks"},
    };
    size_t len = 0;
    if (n == 0)
        return buf;
    buf[0] = 0;
    if (mask == 0) {
        snprintf(buf, n, "none");
        return buf;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (mask & names[i].bit) {
            int w = snprintf(buf + len, n - len, "%s%s", len ? "," : "", names[i].name);
            if (w < 0 || (size_t)w >= n - len)
                return buf;
            len += (size_t)w;
            mask &= ~names[i].bit;
        }
    }
    if (mask)
        snprintf(buf + len, n - len, "%sother:0x%llx", len ? "," : "", mask);
    return buf;
}

const char *hc_shape_str(const struct hc_shape *s, char *buf, size_t n)
{
    snprintf(buf, n, "%ldx%ldx%ld", s->m, s->n, s->k);
    return buf;
}

json_t *hc_jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }

char *hc_dump(json_t *o)
{
    char *s;
    if (!o)
        return NULL;
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

char *hc_omit_nulls(char *rec)
{
    if (!rec)
        return NULL;
    json_t *o = json_loads(rec, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return rec;
    }
    if (!spak_record_omit_nulls(o)) {
        json_decref(o);
        return rec;
    }
    char *out = hc_dump(o);
    if (!out)
        return rec; /* out of memory: the record as it was */
    free(rec);
    return out;
}

/* the fields of t appended to rec in t's order; t's reference taken; rec
 * released when t is NULL (out of memory) */
static char *finish(json_t *rec, json_t *t)
{
    const char *k;
    json_t *v;
    if (!rec || !t) {
        json_decref(rec);
        json_decref(t);
        return NULL;
    }
    json_object_foreach(t, k, v)
        json_object_set(rec, k, v);
    json_decref(t);
    return hc_dump(rec);
}

char *hc_finish_analysis(json_t *rec, const struct hc_perf_in *in, const struct hc_perf_out *o)
{
    return finish(rec, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:i, s:i, s:i, s:o, s:I, s:o, s:b}",
                                 "flops", hc_jnum(in->flops),
                                 "bytes", hc_jnum(in->bytes),
                                 "arith_intensity", hc_jnum(o->arith_intensity),
                                 "peak_tflops", hc_jnum(in->peak_tflops),
                                 "peak_gbps", hc_jnum(in->peak_gbps),
                                 "frac_peak", hc_jnum(o->frac_peak),
                                 "frac_bw", hc_jnum(o->frac_bw),
                                 "bottleneck", o->bottleneck,
                                 "why", o->why,
                                 "registers", in->registers,
                                 "smem_bytes", in->smem_bytes,
                                 "spills", in->local_bytes,
                                 "occupancy", hc_jnum(o->occupancy),
                                 "grid_blocks", (json_int_t)in->grid_blocks,
                                 "wave_efficiency", hc_jnum(o->wave_eff),
                                 "suspicious", o->suspicious));
}

char *hc_finish_clocks(json_t *rec, int sm_clock_mhz, int mem_clock_mhz, double power_w,
                       unsigned long long throttle_mask, bool l2_flushed)
{
    char thr[160];
    return finish(rec, json_pack("{s:i, s:i, s:o, s:s, s:I, s:b}",
                                 "sm_clock_mhz", sm_clock_mhz,
                                 "mem_clock_mhz", mem_clock_mhz,
                                 "power_w", hc_jnum(power_w),
                                 "throttle_reasons", hc_throttle_names(throttle_mask, thr, sizeof thr),
                                 "throttle_mask", (json_int_t)throttle_mask,
                                 "l2_flush", l2_flushed));
}

char *hc_record_correctness(const struct hc_correctness *c)
{
    char shape[64];
    return hc_dump(json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:o, s:o, s:o, s:I, s:s, s:s}",
                          "type", "Correctness",
                          "shape", hc_shape_str(c->shape, shape, sizeof shape),
                          "heldout", c->shape->heldout,
                          "dtype", hc_dtype_name(c->dtype),
                          "passed", c->passed,
                          "skipped", c->skipped,
                          "rel_err", hc_jnum(c->rel_err),
                          "tolerance", hc_jnum(c->tolerance),
                          "baseline_rel_err", hc_jnum(c->baseline_rel_err),
                          "seed", (json_int_t)c->seed,
                          "reason", c->reason ? c->reason : "",
                          "candidate", c->candidate ? c->candidate : ""));
}

char *hc_record_performance(const struct hc_performance *p)
{
    char shape[64];
    double tf = p->flops / p->cand.median / 1e9, btf = p->flops / p->base.median / 1e9;
    return hc_finish_clocks(json_pack("{s:s, s:s, s:b, s:s, s:o, s:o, s:o, s:i, s:o, s:s, s:o, s:o, s:o}",
                                      "type", "Performance",
                                      "shape", hc_shape_str(p->shape, shape, sizeof shape),
                                      "heldout", p->shape->heldout,
                                      "dtype", hc_dtype_name(p->dtype),
                                      "time_ms", hc_jnum(p->cand.median),
                                      "time_ms_p20", hc_jnum(p->cand.p20),
                                      "time_ms_p80", hc_jnum(p->cand.p80),
                                      "reps", p->reps,
                                      "tflops", hc_jnum(tf),
                                      "baseline", "cublas",
                                      "baseline_time_ms", hc_jnum(p->base.median),
                                      "baseline_tflops", hc_jnum(btf),
                                      "ratio", hc_jnum(p->base.median / p->cand.median)),
                            p->sm_clock_mhz, p->mem_clock_mhz, p->power_w, p->throttle_mask, p->l2_flushed);
}

char *hc_record_analysis(const struct hc_shape *shape, int dtype, const struct hc_perf_in *in,
                         const struct hc_perf_out *o)
{
    char s[64];
    return hc_finish_analysis(json_pack("{s:s, s:s, s:b, s:s}",
                                        "type", "Analysis",
                                        "shape", hc_shape_str(shape, s, sizeof s),
                                        "heldout", shape->heldout,
                                        "dtype", hc_dtype_name(dtype)),
                              in, o);
}

/* ------------------------------------------------------------------------ */
/* ncu --csv                                                                  */

#define CSV_MAX_FIELDS 24
#define CSV_FIELD_LEN 256

/* Splits one CSV line ("a","b,c","d""e") into fields (truncated to
 * CSV_FIELD_LEN - 1). Returns the field count. */
static int csv_split(const char *p, const char *end, char f[][CSV_FIELD_LEN], int max)
{
    int n = 0;
    while (p <= end && n < max) {
        size_t len = 0;
        if (p < end && *p == '"') {
            p++;
            while (p < end) {
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        if (len < CSV_FIELD_LEN - 1)
                            f[n][len++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (len < CSV_FIELD_LEN - 1)
                    f[n][len++] = *p;
                p++;
            }
            while (p < end && *p != ',')
                p++;
        } else {
            while (p < end && *p != ',') {
                if (len < CSV_FIELD_LEN - 1)
                    f[n][len++] = *p;
                p++;
            }
        }
        f[n][len] = 0;
        n++;
        if (p >= end)
            break;
        p++; /* the comma */
    }
    return n;
}

static bool parse_value(const char *s, double *v)
{
    char buf[CSV_FIELD_LEN], *e;
    size_t len = 0;
    for (; *s && len < sizeof buf - 1; s++)
        if (*s != ',' && *s != ' ')
            buf[len++] = *s;
    buf[len] = 0;
    if (!len)
        return false;
    errno = 0;
    *v = strtod(buf, &e);
    return !errno && !*e;
}

static void normalize_unit(const char *unit, double *v, char *out, size_t n)
{
    static const struct { const char *u; double f; const char *to; } t[] = {
        {"byte", 1, "byte"}, {"Kbyte", 1e3, "byte"}, {"Mbyte", 1e6, "byte"}, {"Gbyte", 1e9, "byte"},
        {"Tbyte", 1e12, "byte"}, {"nsecond", 1, "ns"}, {"usecond", 1e3, "ns"}, {"msecond", 1e6, "ns"},
        {"second", 1e9, "ns"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(unit, t[i].u)) {
            *v *= t[i].f;
            snprintf(out, n, "%s", t[i].to);
            return;
        }
    snprintf(out, n, "%s", unit);
}

int hc_ncu_parse_csv(const char *text, struct hc_ncu_result *r)
{
    static char f[CSV_MAX_FIELDS][CSV_FIELD_LEN];
    int c_id = -1, c_kname = -1, c_mname = -1, c_unit = -1, c_val = -1;
    char best_id[CSV_FIELD_LEN] = "", seen_last[CSV_FIELD_LEN] = "";
    double best_t = -1;
    bool any = false;

    memset(r, 0, sizeof *r);
    if (!text)
        return 0;
    /* pass 1: header, error line, kernel count, the kernel to report */
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n'), *end = e ? e : p + strlen(p);
        const char *le = end > p && end[-1] == '\r' ? end - 1 : end;
        if (!strncmp(p, "==ERROR==", 9) && !r->error[0])
            snprintf(r->error, sizeof r->error, "%.*s", (int)(le - p), p);
        else if (*p == '"') {
            int n = csv_split(p, le, f, CSV_MAX_FIELDS);
            if (c_val < 0) {
                for (int i = 0; i < n; i++) {
                    if (!strcmp(f[i], "ID")) c_id = i;
                    else if (!strcmp(f[i], "Kernel Name")) c_kname = i;
                    else if (!strcmp(f[i], "Metric Name")) c_mname = i;
                    else if (!strcmp(f[i], "Metric Unit")) c_unit = i;
                    else if (!strcmp(f[i], "Metric Value")) c_val = i;
                }
                if (c_mname < 0 || c_id < 0)
                    c_val = -1;
            } else if (n > c_val && n > c_mname && n > c_id) {
                double v;
                if (!any || strcmp(seen_last, f[c_id])) {
                    r->kernels++;
                    snprintf(seen_last, sizeof seen_last, "%s", f[c_id]);
                }
                if (!any) {
                    snprintf(best_id, sizeof best_id, "%s", f[c_id]);
                    any = true;
                }
                if (!strcmp(f[c_mname], "gpu__time_duration.sum") && parse_value(f[c_val], &v)) {
                    char u[24];
                    normalize_unit(c_unit >= 0 && n > c_unit ? f[c_unit] : "", &v, u, sizeof u);
                    if (v > best_t) {
                        best_t = v;
                        snprintf(best_id, sizeof best_id, "%s", f[c_id]);
                    }
                }
            }
        }
        p = e ? e + 1 : end;
    }
    if (!any)
        return 0;
    /* pass 2: that kernel's metrics */
    {
        bool header = true;
        for (const char *p = text; *p;) {
            const char *e = strchr(p, '\n'), *end = e ? e : p + strlen(p);
            const char *le = end > p && end[-1] == '\r' ? end - 1 : end;
            if (*p == '"') {
                int n = csv_split(p, le, f, CSV_MAX_FIELDS);
                if (header)
                    header = !(n > c_val && !strcmp(f[c_val], "Metric Value"));
                else if (n > c_val && n > c_mname && n > c_id && !strcmp(f[c_id], best_id) &&
                         r->nmetrics < HC_NCU_MAX_METRICS) {
                    struct hc_ncu_metric *m = &r->m[r->nmetrics];
                    double v;
                    if (parse_value(f[c_val], &v))
                        r->nfinite++;
                    else
                        v = NAN;
                    normalize_unit(c_unit >= 0 && n > c_unit ? f[c_unit] : "", &v, m->unit, sizeof m->unit);
                    snprintf(m->name, sizeof m->name, "%s", f[c_mname]);
                    m->value = v;
                    if (!r->kernel[0] && c_kname >= 0 && n > c_kname)
                        snprintf(r->kernel, sizeof r->kernel, "%s", f[c_kname]);
                    r->nmetrics++;
                }
            }
            p = e ? e + 1 : end;
        }
    }
    return r->nfinite;
}

char *hc_record_counters(const struct hc_shape *shape, int dtype, const struct hc_ncu_result *r,
                         const char *reason)
{
    char s[64];
    json_t *o, *m, *u;
    if (!r || r->nfinite <= 0)
        return hc_dump(json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "Counters", "shape",
                              hc_shape_str(shape, s, sizeof s), "dtype", hc_dtype_name(dtype), "available", 0,
                              "reason", reason ? reason : "no metrics"));
    m = json_object();
    u = json_object();
    for (int i = 0; i < r->nmetrics; i++) {
        json_object_set_new(m, r->m[i].name, hc_jnum(r->m[i].value));
        json_object_set_new(u, r->m[i].name, json_string(r->m[i].unit));
    }
    o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:i, s:o, s:o}", "type", "Counters", "shape",
                  hc_shape_str(shape, s, sizeof s), "dtype", hc_dtype_name(dtype), "available", 1, "tool", "ncu",
                  "kernel", r->kernel, "kernels_profiled", r->kernels, "metrics", m, "units", u);
    if (o && reason && *reason)
        json_object_set_new(o, "note", json_string(reason));
    return hc_dump(o);
}
