/*
 * kernels/cpu/common/ceilings.c - the machine's ceilings for the CPU
 * harness's roofline: peak FMA GFLOP/s (register-only FMA chains on every
 * core, AVX-512 where present) and memory bandwidth (a stream copy of
 * 2x128 MiB, read+write bytes, every core), cached in a JSON file keyed on
 * the CPU model and thread count. Family-independent.
 *
 * Ceilings that stay true (docs/bottleneck.md, "Ceilings"). A ceiling is
 * what the machine can do; a measurement taken while other processes load
 * it can only come out low, never high. So the cache keeps the last
 * CEIL_HISTORY measurements (each with its time and why it was taken) and
 * the ceilings in use are the highest of them; their spread (lowest,
 * highest) goes into every Analysis record. They are measured again (about
 * a second):
 *   - when the cache is missing, names another CPU, or has no history;
 *   - at the start of each run: the engine leaves PATH.remeasure beside the
 *     cache (spak_cand_ceilings_expire), the first judge of the run measures
 *     and removes it;
 *   - when a result contradicts them (above the roofline, analysis.c):
 *     measured again before anything is flagged, so that a ceiling measured
 *     under load never turns an honest result into "above the roofline".
 */
#include <immintrin.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_model.h"
#include "family.h"
#include "judge.h"

#define CEIL_HISTORY 8 /* measurements kept; the ceilings are their maxima */

typedef struct cjob {
    long iters;
    int kind; /* 0 avx512, 1 avx2, 2 sse */
    double flops;
    float *src, *dst;
    size_t n;
    double secs;
    pthread_barrier_t *bar;
} cjob;

/* 12 independent FMA chains in registers (FMA latency 4 x 2 pipes = 8 in
 * flight needed); explicit variables so even -O1 (the ASan build) keeps them
 * in registers. */
#define FMA12(F, T)                                                                  \
    do {                                                                             \
        a0 = F(a0, m, c), a1 = F(a1, m, c), a2 = F(a2, m, c), a3 = F(a3, m, c);      \
        a4 = F(a4, m, c), a5 = F(a5, m, c), a6 = F(a6, m, c), a7 = F(a7, m, c);      \
        a8 = F(a8, m, c), a9 = F(a9, m, c), a10 = F(a10, m, c), a11 = F(a11, m, c);  \
    } while (0)

__attribute__((target("avx512f"))) static double fma_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    /* distinct starting values, or the compiler merges identical chains */
    __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f), a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f), a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f), a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
    for (long t = 0; t < iters; t++) FMA12(_mm512_fmadd_ps, __m512);
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(a0);
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    /* distinct starting values, or the compiler merges identical chains */
    __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f), a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f), a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f), a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
    for (long t = 0; t < iters; t++) FMA12(_mm256_fmadd_ps, __m256);
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    a0 = _mm256_add_ps(a0, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8], s = 0;
    _mm256_storeu_ps(out, a0);
    for (int k = 0; k < 8; k++) s += out[k];
    return s;
}

#define SSE_MULADD(x, y, z) _mm_add_ps(_mm_mul_ps(x, y), z)
static double fma_sse(long iters)
{
    __m128 m = _mm_set1_ps(0.999999f), c = _mm_set1_ps(1e-6f);
    /* distinct starting values, or the compiler merges identical chains */
    __m128 a0 = _mm_set1_ps(1.00f), a1 = _mm_set1_ps(1.01f), a2 = _mm_set1_ps(1.02f), a3 = _mm_set1_ps(1.03f), a4 = _mm_set1_ps(1.04f), a5 = _mm_set1_ps(1.05f), a6 = _mm_set1_ps(1.06f), a7 = _mm_set1_ps(1.07f), a8 = _mm_set1_ps(1.08f), a9 = _mm_set1_ps(1.09f), a10 = _mm_set1_ps(1.10f), a11 = _mm_set1_ps(1.11f);
    for (long t = 0; t < iters; t++) FMA12(SSE_MULADD, __m128);
    a0 = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)), _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
    a0 = _mm_add_ps(a0, _mm_add_ps(_mm_add_ps(a8, a9), _mm_add_ps(a10, a11)));
    float out[4];
    _mm_storeu_ps(out, a0);
    return out[0] + out[1] + out[2] + out[3];
}

static volatile double ceil_sink;

static void *ceil_flops_worker(void *p)
{
    cjob *j = p;
    pthread_barrier_wait(j->bar);
    double t0 = cpu_now_s();
    ceil_sink = j->kind == 0 ? fma_avx512(j->iters) : j->kind == 1 ? fma_avx2(j->iters) : fma_sse(j->iters);
    j->secs = cpu_now_s() - t0;
    return NULL;
}

static void *ceil_bw_worker(void *p)
{
    cjob *j = p;
    pthread_barrier_wait(j->bar);
    double t0 = cpu_now_s();
    memcpy(j->dst, j->src, j->n * sizeof(float));
    j->secs = cpu_now_s() - t0;
    return NULL;
}

static double run_threads(int nt, void *(*fn)(void *), cjob *jobs)
{
    pthread_t tid[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nt);
    for (int t = 0; t < nt; t++) {
        jobs[t].bar = &bar;
        if (pthread_create(&tid[t], NULL, fn, &jobs[t]) != 0) {
            fprintf(stderr, "spak-harness-cpu: pthread_create failed\n");
            exit(4);
        }
    }
    double worst = 0;
    for (int t = 0; t < nt; t++) {
        pthread_join(tid[t], NULL);
        if (jobs[t].secs > worst) worst = jobs[t].secs;
    }
    pthread_barrier_destroy(&bar);
    return worst;
}

static void measure_ceilings(cpu_ceilings *c)
{
    int nt = cpu_ncpus();
    __builtin_cpu_init();
    int kind = __builtin_cpu_supports("avx512f") ? 0 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 2;
    int lanes = kind == 0 ? 16 : kind == 1 ? 8 : 4;
    double per_iter = 12.0 * lanes * 2;
    snprintf(c->isa, sizeof c->isa, "%s", kind == 0 ? "avx512" : kind == 1 ? "avx2+fma" : "sse");
    c->threads = nt;
    cjob jobs[64];
    double best = 0;
    long iters = 2000000;
    for (int rep = 0; rep < 3; rep++) {
        for (int t = 0; t < nt; t++) jobs[t] = (cjob){.iters = iters, .kind = kind};
        double s = run_threads(nt, ceil_flops_worker, jobs);
        double g = nt * per_iter * (double)iters / s * 1e-9;
        if (g > best) best = g;
    }
    c->peak_gflops = best;
    size_t n = (size_t)(128u << 20) / sizeof(float); /* 128 MiB per array */
    float *src = cpu_xmalloc(n * sizeof(float)), *dst = cpu_xmalloc(n * sizeof(float));
    memset(src, 1, n * sizeof(float));
    memset(dst, 0, n * sizeof(float));
    best = 0;
    for (int rep = 0; rep < 4; rep++) {
        size_t per = n / (size_t)nt;
        for (int t = 0; t < nt; t++) jobs[t] = (cjob){.src = src + per * t, .dst = dst + per * t, .n = per};
        double s = run_threads(nt, ceil_bw_worker, jobs);
        double g = 2.0 * (double)(per * nt) * sizeof(float) / s * 1e-9;
        if (rep > 0 && g > best) best = g; /* rep 0 faults the pages in */
    }
    c->peak_gbps = best;
    free(src);
    free(dst);
}

/* the history's entries, newest last; the ceilings in use are their maxima */
static void ceilings_from_history(json_t *hist, cpu_ceilings *c)
{
    c->peak_gflops = c->peak_gbps = 0;
    c->gflops_lo = c->gbps_lo = INFINITY;
    c->measured = 0;
    size_t i;
    json_t *h;
    json_array_foreach(hist, i, h) {
        double g = json_number_value(json_object_get(h, "peak_gflops")), b = json_number_value(json_object_get(h, "peak_gbps"));
        if (!(g > 0) || !(b > 0)) continue;
        c->peak_gflops = g > c->peak_gflops ? g : c->peak_gflops;
        c->peak_gbps = b > c->peak_gbps ? b : c->peak_gbps;
        c->gflops_lo = g < c->gflops_lo ? g : c->gflops_lo;
        c->gbps_lo = b < c->gbps_lo ? b : c->gbps_lo;
        c->measured++;
        c->newest_at = json_number_value(json_object_get(h, "at"));
    }
}

/* the cache at path when it names this CPU model and thread count: its
 * history (a new reference; an old cache's single figures become one
 * entry), or NULL */
static json_t *load_history(const char *path, const char *model, int nt, char *isa, size_t isa_n)
{
    json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
    json_t *m = json_object_get(j, "cpu"), *t = json_object_get(j, "threads"), *hist = NULL;
    if (json_is_string(m) && strcmp(json_string_value(m), model) == 0 && json_is_integer(t) &&
        json_integer_value(t) == nt) {
        hist = json_object_get(j, "history");
        if (json_is_array(hist) && json_array_size(hist) > 0)
            json_incref(hist);
        else if (json_is_number(json_object_get(j, "peak_gflops")) && json_is_number(json_object_get(j, "peak_gbps")))
            hist = json_pack("[{s:O,s:O,s:s}]", "peak_gflops", json_object_get(j, "peak_gflops"), "peak_gbps",
                             json_object_get(j, "peak_gbps"), "why", "an older cache");
        else
            hist = NULL;
        json_t *is = json_object_get(j, "isa");
        snprintf(isa, isa_n, "%s", json_is_string(is) ? json_string_value(is) : "?");
    }
    json_decref(j);
    return hist;
}

static void write_cache(const char *cache, const char *model, int nt, const cpu_ceilings *c, json_t *hist)
{
    json_t *j = json_object();
    json_object_set_new(j, "cpu", json_string(model));
    json_object_set_new(j, "threads", json_integer(nt));
    json_object_set_new(j, "isa", json_string(c->isa));
    cpu_set_num(j, "peak_gflops", c->peak_gflops);
    cpu_set_num(j, "peak_gbps", c->peak_gbps);
    json_object_set_new(j, "rule", json_string("the highest of the history's measurements: load only lowers one"));
    json_object_set(j, "history", hist);
    json_object_set_new(j, "method",
                        json_string("peak: 12 independent FMA chains per core, register-only, all cores; "
                                    "bandwidth: memcpy of 128 MiB split over all cores, read+write bytes, best of 3"));
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", cache, (long)getpid()) < (int)sizeof tmp &&
        json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
        if (rename(tmp, cache) != 0) {
            fprintf(stderr, "spak-harness-cpu: cannot write ceilings cache %s\n", cache);
            remove(tmp);
        }
    } else {
        fprintf(stderr, "spak-harness-cpu: cannot write ceilings cache %s\n", cache);
    }
    json_decref(j);
}

/* measure now, append to the history (at most CEIL_HISTORY, the oldest
 * dropped), recompute c from it and write the cache when there is one */
static void measure_into(const char *cache, const char *model, int nt, json_t *hist, const char *why, cpu_ceilings *c)
{
    cpu_ceilings now;
    memset(&now, 0, sizeof now);
    measure_ceilings(&now);
    json_array_append_new(hist, json_pack("{s:f,s:f,s:f,s:s}", "at", (double)time(NULL), "peak_gflops",
                                          now.peak_gflops, "peak_gbps", now.peak_gbps, "why", why));
    while (json_array_size(hist) > CEIL_HISTORY) json_array_remove(hist, 0);
    snprintf(c->isa, sizeof c->isa, "%s", now.isa);
    c->threads = nt;
    ceilings_from_history(hist, c);
    c->now_gflops = now.peak_gflops;
    c->now_gbps = now.peak_gbps;
    snprintf(c->source, sizeof c->source, "%s", why);
    if (cache) write_cache(cache, model, nt, c, hist);
}

/* PATH.remeasure beside the cache: left by the engine at a run's start */
static bool remeasure_asked(const char *cache, char *marker, size_t n)
{
    return cache && snprintf(marker, n, "%s.remeasure", cache) < (int)n && access(marker, F_OK) == 0;
}

void cpu_get_ceilings(const char *cache, cpu_ceilings *c)
{
    memset(c, 0, sizeof *c);
    c->now_gflops = c->now_gbps = NAN;
    char model[256], marker[4200];
    cpu_model(model, sizeof model);
    int nt = cpu_ncpus();
    c->threads = nt;
    json_t *hist = load_history(cache, model, nt, c->isa, sizeof c->isa);
    bool ask = remeasure_asked(cache, marker, sizeof marker);
    if (hist && !ask) {
        ceilings_from_history(hist, c);
        if (c->measured > 0) {
            snprintf(c->source, sizeof c->source, "cache");
            json_decref(hist);
            return;
        }
    }
    if (!hist) hist = json_array();
    measure_into(cache, model, nt, hist, ask ? "run start" : "no cache", c);
    if (ask) (void)unlink(marker); /* measured for this run; a marker left behind only costs a second */
    json_decref(hist);
}

bool cpu_ceilings_contradicted(const char *cache, cpu_ceilings *c)
{
    if (c->remeasured) return false; /* once per judge: a second figure would not be fresher */
    char model[256], isa[16];
    cpu_model(model, sizeof model);
    int nt = cpu_ncpus();
    json_t *hist = load_history(cache, model, nt, isa, sizeof isa);
    if (!hist) hist = json_array();
    double g = c->peak_gflops, b = c->peak_gbps;
    measure_into(cache, model, nt, hist, "contradicted: a result above the roofline", c);
    json_decref(hist);
    /* the run's own figure may also have been in use without a cache */
    c->peak_gflops = g > c->peak_gflops ? g : c->peak_gflops;
    c->peak_gbps = b > c->peak_gbps ? b : c->peak_gbps;
    c->remeasured = true;
    return true;
}
