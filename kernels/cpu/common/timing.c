/*
 * kernels/cpu/common/timing.c - the judge's timed calls.
 *
 * Each timed batch, for either side (the candidate's runner or the
 * baseline's, the same code): FRESH normal inputs from the judge's generator
 * into each input set of the batch while the runner is frozen (never a
 * rotation of old ones), every output slot poisoned with NaN, the batch's
 * operands evicted from every cache when they fit in 4*L3 (flush_caches);
 * then thaw, t0, CALL, DONE, t1, freeze
 * (rctl.c). A batch holds n calls, each on its own set and slot, n chosen so
 * a batch lasts >= 1 ms (at most RP_MAX_BATCH), the SAME n for both sides
 * (same_batches: a batch's length is part of what a call costs); the time
 * per call is the batch's over n. Every candidate call of a batch is then checked with a
 * check drawn AFTER DONE (the family's timed_error: Freivalds with two fresh
 * vectors for matmul, fresh sampled rows for attention), plus the return
 * code, a scan for unwritten/NaN elements and the inputs' hash; one failure
 * fails the shape. The baseline's calls are not checked (it is not on trial).
 *
 * Repetitions: interleaved pairs (a candidate batch, a baseline batch)
 * until the candidate ran --min-time and 5 pairs, and then until the paired
 * ratio's interval (src/analyze/stats.h: the geometric mean of the pairs'
 * baseline/candidate, a t-interval on the log ratios at --level) is within
 * +-precision of its point, or --max-reps pairs, or --max-time seconds; the
 * Performance record keeps every pair's times (samples_ms,
 * baseline_samples_ms), ratio_ci, its level, precision_reached and how the
 * repetitions ended (reps_ended).
 *
 * Order: the baseline alone first, on every timed shape, before the
 * candidate's runner exists (solo: beside its twin, a second runner of its
 * code, in the seats the candidates will take; solo_shape says why); then
 * candidate and baseline batches
 * interleaved, the first side alternating, each side frozen while the other
 * runs. Interference: the interleaved baseline's median m_i against the solo
 * median m_s, with spreads s = (p80 - p20) / 2 of each (s_i capped at s_s:
 * the candidate must not widen the noise that hides it): m_i - m_s > 5% of
 * m_s and > 3 sqrt(s_i^2 + s_s^2) means the baseline was slowed down beside
 * the candidate; measured again once; if it persists the Performance record says
 * "verdict":"interference", "passed":false (inconclusive, never a success).
 * Unless other work (load.c) took more than its quiet share of the judge's
 * CPUs while the baseline was timed beside the candidate: then "busy",
 * measured again once too, and more times (at most CPU_BUSY_RETRIES, after
 * waiting for quiet) only where that work outlives the candidate's batches
 * (slowdown_verdict).
 * The Analysis records are written by analysis.c once every shape is timed.
 * Impossible: a candidate above the hardware bound (bound.c) x 1.25 is
 * measured again once; if still above, "verdict":"impossible", "passed":false
 * with the numbers in the reason.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/stats.h"
#include "judge.h"

typedef struct samples {
    double *t;
    int n, cap;
} samples;

static void push(samples *s, double v)
{
    if (s->n < s->cap) s->t[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the q-quantile of s, from a sorted copy: the samples keep their order,
 * which pairs the candidate's i-th batch with the baseline's i-th */
static double pct(const samples *s, double q)
{
    if (!s->n) return NAN;
    double *t = cpu_xmalloc(sizeof(double) * (size_t)s->n);
    memcpy(t, s->t, sizeof(double) * (size_t)s->n);
    qsort(t, (size_t)s->n, sizeof(double), cmp_double);
    double pos = q * (s->n - 1), v;
    int i = (int)pos;
    if (i >= s->n - 1) v = t[s->n - 1];
    else v = t[i] + (pos - i) * (t[i + 1] - t[i]);
    free(t);
    return v;
}

static size_t l3_bytes(void)
{
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return l3 > 0 ? (size_t)l3 : (size_t)32 << 20;
}

/* The caches before a timed batch: neither this batch's operands (its
 * input sets, fresh from the judge's generator, and its output slots) nor
 * the previous batch's (the other side's, most often) are in any cache, so
 * every batch starts from memory for its data, whichever side ran before:
 * a batch's operands are evicted before its timed call and again after its
 * checks (which read them into the judge's caches). Evicted line by line
 * (clflushopt on x86-64 where the CPU has it, else clflush; dc civac on
 * AArch64): through the judge's mappings of the shared memory, the same
 * physical lines the runner reads. Until 2026-12-06 this
 * was a memset of 2x the L3 between batches: on a VM whose L3 reads 480 MiB,
 * 100 ms a batch (most of a test suite's time), every line of the L3 left
 * dirty for the timed calls to write back, and the code and the runners' own
 * buffers evicted as well, which no caller of a kernel in a loop sees.
 * Kept only where the operands fit in 4x the L3 (flusher_for): beyond, they
 * cannot stay cached between batches anyway. The eviction alone left the
 * rest of the caches as the side before had left them: see the scrub. */
typedef struct flusher {
    bool on;
    unsigned char *scrub; /* CPU_SCRUB_BYTES (at most 2x the L3) written after each eviction */
    size_t scrub_n;
} flusher;

/* After the eviction, a write of 64 MiB (at most 2x the L3) from the
 * judge: every batch then finds the private caches and much of the L3
 * holding the judge's lines, not what the side before it (the other
 * runner, or the judge's checks of the candidate's outputs) left there.
 * Without it the A/A of the blocked attention rung at 1x4x256x64 read
 * 0.891 (median of 12 runs, 0.77-1.13; the candidate's side slower) and
 * its interval covered 1 in 4 of 12; with 8 MiB 0.974 and 8 of 10; with
 * 64 MiB before each batch 0.983 and 12 of 12, the matmul A/A 1.003 (64^3)
 * and 1.001 (256^3), 10 of 10 each (docs/aa-calibration.md). About 7-8 ms a
 * batch here, where the 2x-L3 memset before it was 100 ms. Before the call
 * only: the eviction after the checks needs no scrub (the next batch's
 * comes before its call). */
#define CPU_SCRUB_BYTES ((size_t)64 << 20)

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
__attribute__((target("clflushopt"))) static void evict_lines_opt(const char *p, const char *end)
{
    for (; p < end; p += 64) _mm_clflushopt((void *)p);
    _mm_sfence();
}
static void evict_lines(const void *v, size_t n)
{
    static int opt = -1;
    if (opt < 0) {
        unsigned a, b, c, d;
        opt = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 23 & 1);
    }
    const char *p = (const char *)((uintptr_t)v & ~(uintptr_t)63), *end = (const char *)v + n;
    if (opt) {
        evict_lines_opt(p, end);
        return;
    }
    for (; p < end; p += 64) _mm_clflush((const void *)p);
    _mm_mfence();
}
#elif defined(__aarch64__)
static void evict_lines(const void *v, size_t n)
{
    const char *p = (const char *)((uintptr_t)v & ~(uintptr_t)63), *end = (const char *)v + n;
    for (; p < end; p += 64) __asm__ volatile("dc civac, %0" ::"r"(p) : "memory");
    __asm__ volatile("dsb ish" ::: "memory");
}
#else
#error "timing.c: no cache line eviction for this architecture (evict_lines)"
#endif

/* before (the eviction and the scrub) or after (the eviction only) a batch */
static void flush_caches(const flusher *f, const side *s, const layout *L, int nb, bool before)
{
    if (!f->on) return;
    evict_lines(s->in, (size_t)nb * L->set * 4);
    evict_lines(s->out, (size_t)nb * L->slot * 4);
    static unsigned char v;
    if (before && f->scrub) memset(f->scrub, ++v, f->scrub_n);
}

/* One batch of nb calls on s: fresh inputs, poison, flush, timed call; the
 * candidate's calls checked (check). Adds the time per call to t. 0, or -1
 * with fail->reason. */
static int batch(const options *o, side *s, const cpu_shape *sh, const layout *L, int nb, bool check, flusher *f,
                 samples *t, int *checks, call_result *fail)
{
    uint64_t hash[RP_MAX_BATCH];
    int rc[RP_MAX_BATCH];
    for (int k = 0; k < nb; k++) {
        hash[k] = cpu_fill_set(s, L, k);
        cpu_poison_slot(s, L, k);
    }
    flush_caches(f, s, L, nb, true);
    rp_call m;
    cpu_call_msg(&m, sh, L, nb);
    double dt;
    bool input_write;
    if (cpu_runner_call(s->r, &m, rc, 60 + 10 * o->min_time, true, &dt, &input_write, fail->reason,
                        sizeof fail->reason)) {
        s->dead = true;
        if (input_write) cpu_input_write_reason(s, L, fail->reason, sizeof fail->reason);
        return -1;
    }
    push(t, dt / nb);
    for (int k = 0; check && k < nb; k++) {
        call_result r = cpu_check_output(o, sh, s, L, k, rc[k], hash[k], true);
        ++*checks;
        if (!r.ok) {
            *fail = r;
            return -1;
        }
    }
    flush_caches(f, s, L, nb, false);
    return 0;
}

/* maps s for shape sh, warms it up (2 single calls) and picks its batch
 * size (nb_want, or its own: a batch of >= 1 ms measured as a batch), <=
 * RP_MAX_BATCH calls, the sets within 256 MiB;
 * *warm (may be NULL) gets the faster warm-up call's seconds */
static int prepare(const options *o, side *s, const cpu_shape *sh, const layout *L, bool check, int nb_want, int *nb,
                   flusher *f, int *checks, call_result *fail, double *warm)
{
    if (cpu_side_map(s, L, 1, fail->reason, sizeof fail->reason)) return -1;
    double buf[2];
    samples w = {buf, 0, 2};
    for (int k = 0; k < 2; k++)
        if (batch(o, s, sh, L, 1, check, f, &w, checks, fail)) return -1;
    if (warm) *warm = w.t[0] < w.t[1] ? w.t[0] : w.t[1];
    size_t per = (L->set + L->slot) * 4;
    int cap = RP_MAX_BATCH;
    while (cap > 1 && per * (size_t)cap > ((size_t)256 << 20)) cap--;
    int n = nb_want;
    if (n > 0) {
        n = n > cap ? cap : n;
    } else {
        /* each warm-up call was a batch of one after a cache flush: cold,
         * and for a small kernel mostly the batch's fixed cost (waking the
         * runner and its threads, refilling the caches), which is not the
         * cost of a call. Seen at 96^3 on 2 cores: OpenBLAS's cold call
         * ~0.2 ms, its calls in a batch 0.011 ms; a batch sized on the
         * cold call held 5 calls (0.06 ms), its time per call moved 5x
         * from batch to batch and the interference test failed honest
         * candidates. So a batch is sized on batches: grown until one
         * lasts >= 1 ms or reaches the cap. */
        double t1 = w.t[1] > 0 ? w.t[1] : 1e-6;
        n = (int)ceil(1e-3 / t1);
        n = n < 1 ? 1 : n > cap ? cap : n;
        s->sizing_calls = 0;
        for (int grow = 0; grow < 4 && n < cap; grow++) {
            if (n > 1 && cpu_side_map(s, L, n, fail->reason, sizeof fail->reason)) return -1;
            double one[1];
            samples g = {one, 0, 1};
            if (batch(o, s, sh, L, n, check, f, &g, checks, fail)) return -1;
            s->sizing_calls += n;
            double per_call = g.t[0] > 0 ? g.t[0] : 1e-9;
            if (per_call * n >= 1e-3) break;
            int next = (int)ceil(1.2e-3 / per_call);
            n = next > cap ? cap : next;
        }
    }
    *nb = n;
    return n > 1 ? cpu_side_map(s, L, n, fail->reason, sizeof fail->reason) : 0;
}

/* Both sides of a comparison call in batches of one size: the larger of the
 * candidates' choice (*nb, from their warm-ups) and the baseline's (solo_nb,
 * from its solo); the baseline is prepared with it and *nb is set to what it
 * got (never less than asked: both choices obey the same memory cap of one
 * layout). The caller maps its candidates to *nb when it grew. A batch's
 * length is part of what its calls cost, both ways: the fixed cost of waking
 * a frozen runner is shared out over more calls, and on a loaded machine a
 * long batch outlives the head start a runner just thawed gets from the
 * scheduler. With each side choosing its own n, the same .so on both sides
 * (docs/aa-calibration.md) read 0.50 with batches of 1 against 11 and 2.06
 * with 10 against 1 at 64^3; at 256^3 without the cache flush, the side
 * batched 4 at a time was slower a call (paired ratio) than the one batched
 * 1 at a time in 5 of 6 runs. The two choices differed in most runs (the
 * candidate's from its warm-up after its checked calls, the baseline's from
 * its first calls ever), the larger one on either side. */
static int same_batches(const options *o, side *b, const cpu_shape *sh, const layout *L, int solo_nb, int *nb,
                        flusher *f, int *checks, call_result *fail)
{
    int want = solo_nb > *nb ? solo_nb : *nb;
    return prepare(o, b, sh, L, false, want, nb, f, checks, fail, NULL);
}

/* One untimed batch of s at nb calls, checked when check (every call the
 * judge makes on a candidate is): the first batch on a fresh mapping pays
 * for faulting its pages into the runner, and the sides are remapped at
 * different moments (the baseline's solo, timed again at the common batch
 * size, had warmed its mapping while the candidate's was still cold: the
 * candidate's first pair was the slower in 3 of 3 A/A runs at 64^3, up to 8x,
 * a tenth of the mean log ratio over 20 pairs). Both sides pay it here,
 * before the pairs. 0, or -1 with fail. */
static int warm_batch(const options *o, side *s, const cpu_shape *sh, const layout *L, int nb, bool check,
                      flusher *f, int *checks, call_result *fail)
{
    double buf[1];
    samples w = {buf, 0, 1};
    return batch(o, s, sh, L, nb, check, f, &w, checks, fail);
}

static void flusher_for(const options *o, const cpu_shape *sh, flusher *f)
{
    layout L;
    cpu_layout(o->fam, sh, &L);
    *f = (flusher){.on = 4.0 * (double)(L.set + L.out) < 4.0 * (double)l3_bytes()};
    if (f->on) {
        f->scrub_n = 2 * l3_bytes() < CPU_SCRUB_BYTES ? 2 * l3_bytes() : CPU_SCRUB_BYTES;
        f->scrub = cpu_xmalloc(f->scrub_n);
    }
}

/* The baseline's reference time on one shape (nb_want calls a batch, 0:
 * its own choice) into *out, what the interference test compares the
 * baseline's time beside the candidates with; med NAN when it could not be
 * timed. The baseline is timed beside its twin (b->twin, a second runner of
 * the same code, trusted as the baseline is), the twin in the seats the
 * comparison gives the candidates: in a single comparison's order (pairs,
 * the first side alternating: half of the baseline's batches come right
 * after its own) or, for a session (strict), every baseline batch right
 * after another runner's. A batch thawed right after another runner's batch
 * costs more a call than one right after its own, cache flush or not:
 * measured on 2 cores at 128^3 with the same .so on every side, pinned to one
 * core, 0.049 ms a call back to back against 0.056 in a session, where every
 * side's batch follows another's (the candidates' too); timed back to back,
 * the reference was that much faster than any baseline beside a candidate
 * could be, and a session of two honest rungs failed 'interference' in 3 of 5
 * quiet runs (the retime suite, CI of 2026-12-06). Without a twin (it could
 * not start, or it ended) the baseline is timed back to back, and
 * out->beside_twin says so. The twin's batches are prepared and flushed as
 * any side's (the rhythm matters too: with no flush before the twin's
 * batches, pinned, the baseline beside the candidates read 1.11-1.25x that
 * reference again), and their times count as the baseline's: the same code
 * in the same seats (in either order each side follows itself as often as
 * the baseline does beside a candidate), so the reference costs about as
 * many batches as it did back to back. */
static void solo_shape(const options *o, side *b, const cpu_shape *sh, int nb_want, bool strict, solo_stat *out)
{
    memset(out, 0, sizeof *out);
    out->med = out->foreign = NAN;
    cpu_load_mark m0, m1;
    cpu_load_mark_now(&m0);
    layout L;
    cpu_layout(o->fam, sh, &L);
    flusher f;
    flusher_for(o, sh, &f);
    int checks = 0, cap = 1000, tnb = 0;
    call_result fail = {.ok = false, .rel_err = NAN};
    samples t = {cpu_xmalloc(sizeof(double) * (size_t)cap), 0, cap};
    side *tw = b->twin && !b->twin->dead ? b->twin : NULL;
    double want = o->min_time / 2, start = cpu_now_s();
    if (prepare(o, b, sh, &L, false, nb_want, &out->nb, &f, &checks, &fail, NULL) == 0) {
        if (tw && (prepare(o, tw, sh, &L, false, out->nb, &tnb, &f, &checks, &fail, NULL) || tnb != out->nb)) {
            fprintf(stderr, "spak-harness-cpu: %s: the baseline's twin could not be prepared (%s); the baseline is "
                    "timed back to back\n", sh->str, tnb != out->nb && !fail.reason[0] ? "batch size" : fail.reason);
            tw = NULL;
        }
        double total = 0;
        bool broken = false;
        for (int rep = 0; !broken && (total < want || t.n < 5) && t.n < cap && cpu_now_s() - start < 10 * want + 5;
             rep++) {
            bool twin_first = strict || rep % 2 == 0;
            for (int k = 0; k < (tw ? 2 : 1); k++) {
                side *s = tw && (k == 0) == twin_first ? tw : b;
                if (batch(o, s, sh, &L, out->nb, false, &f, &t, &checks, &fail)) {
                    if (s == b) {
                        broken = true;
                    } else { /* the twin ended: back to back from here, afresh */
                        fprintf(stderr, "spak-harness-cpu: %s: the baseline's twin failed (%s); the baseline is "
                                "timed back to back\n", sh->str, fail.reason);
                        tw = NULL, t.n = 0, total = 0, start = cpu_now_s();
                    }
                    break;
                }
                total += t.t[t.n - 1] * out->nb;
            }
        }
    }
    /* the twin keeps one set mapped, not a batch's (up to 256 MiB), while the
     * candidates are timed */
    if (tw) (void)cpu_side_map(tw, &L, 1, fail.reason, sizeof fail.reason);
    if (t.n >= 3) {
        out->med = pct(&t, 0.5);
        out->p20 = pct(&t, 0.2);
        out->p80 = pct(&t, 0.8);
        out->reps = t.n;
        out->beside_twin = tw != NULL;
        cpu_load_mark_now(&m1);
        out->foreign = cpu_load_foreign(&m0, &m1);
        out->foreign_quiet = cpu_load_quiet_max(&m0, &m1);
    }
    free(t.t);
    free(f.scrub);
}

/* The baseline timed alone again (solo_shape into *again, through a copy):
 * the reference from now on (*solo) when it was timed, and, where quiet,
 * only when other work took no more than its quiet share meanwhile. A
 * failed solo never replaces a reference (the interference test would
 * compare with NAN and pass anything), and a solo slowed by other work (a
 * neighbour, or work a frozen candidate left to the kernel) would raise the
 * reference and hide a slowed baseline: the one before stays. quiet: false
 * where the solo must replace the reference whatever the load (it is timed
 * at another batch size, and only like compares with like). Whether it
 * replaced the reference. */
static bool solo_again_if(const options *o, side *b, const cpu_shape *sh, int nb, bool strict, bool quiet,
                          solo_stat *again, const solo_stat **solo)
{
    solo_stat t;
    solo_shape(o, b, sh, nb, strict, &t);
    if (!(t.med > 0)) return false;
    if (quiet && (*solo)->med > 0 && t.foreign > t.foreign_quiet) return false;
    *again = t;
    *solo = again;
    return true;
}

void cpu_time_baseline_solo(const options *o, side *b, solo_stat *solo)
{
    for (int i = 0; i < o->nshapes; i++) {
        memset(&solo[i], 0, sizeof solo[i]);
        solo[i].med = solo[i].foreign = NAN;
        if (!o->shapes[i].heldout && !b->dead)
            solo_shape(o, b, &o->shapes[i], 0, o->ncand > 1, &solo[i]);
    }
}

/* how the ratio's measurement ended */
typedef struct ratio_stat {
    spak_interval iv;   /* the paired ratio and its interval (NAN without a baseline) */
    bool precise;       /* the interval reached --precision */
    const char *ended;  /* "precision", "max-reps", "max-time" */
} ratio_stat;

/* Interleaved pairs (a candidate batch and a baseline batch, the first side
 * alternating) until the candidate ran min_time and 5 pairs, and then, with
 * a baseline, until the paired ratio's interval is within +-precision, or
 * max_reps pairs, or max_time seconds. tc->t[i] and tb->t[i] are pair i.
 * -3 when stop_s > 0 and the candidate's median over its first 3 or more
 * pairs is slower than stop_s a call (--stop-slower-than: hopeless). */
static int measure(const options *o, side *c, side *b, const cpu_shape *sh, const layout *L, int nbc, int nbb,
                   flusher *f, samples *tc, samples *tb, int *checks, call_result *fail, ratio_stat *rs,
                   double stop_s)
{
    tc->n = tb->n = 0;
    memset(rs, 0, sizeof *rs);
    rs->iv.point = rs->iv.lo = rs->iv.hi = NAN;
    rs->ended = "precision";
    double total = 0, start = cpu_now_s();
    for (int rep = 0;; rep++) {
        bool enough = total >= o->min_time && tc->n >= 5;
        if (enough && b) {
            spak_stats_ratio_ci(tb->t, tc->t, (size_t)tc->n, o->level, &rs->iv);
            rs->precise = spak_stats_precise(&rs->iv, o->precision);
        }
        if (enough && (!b || rs->precise)) break;
        if (tc->n >= tc->cap || tc->n >= o->max_reps) {
            rs->ended = "max-reps";
            break;
        }
        if (cpu_now_s() - start >= o->max_time) {
            rs->ended = "max-time";
            break;
        }
        for (int k = 0; k < 2; k++) {
            bool cand = (k + rep) % 2 == 0; /* the first side alternates */
            if (!cand && !b) continue;
            if (cand && batch(o, c, sh, L, nbc, true, f, tc, checks, fail)) return -1;
            if (!cand && batch(o, b, sh, L, nbb, false, f, tb, checks, fail)) {
                char r[200];
                snprintf(r, sizeof r, "%.199s", fail->reason);
                snprintf(fail->reason, sizeof fail->reason, "baseline failed: %s", r);
                return -2;
            }
        }
        total += tc->t[tc->n - 1] * nbc;
        if (stop_s > 0 && tc->n >= 3 && pct(tc, 0.5) > stop_s) return -3;
    }
    if (b && tc->n >= 2) { /* the interval of every pair measured */
        spak_stats_ratio_ci(tb->t, tc->t, (size_t)tc->n, o->level, &rs->iv);
        rs->precise = spak_stats_precise(&rs->iv, o->precision);
    } else if (b && tc->n == 1 && tc->t[0] > 0) {
        /* a candidate so slow that max-time allowed one pair: its ratio,
         * without an interval (a null ratio would fail the record) */
        rs->iv.point = tb->t[0] / tc->t[0];
    }
    return 0;
}

static bool interfered(const solo_stat *s, const samples *tb)
{
    if (!(s->med > 0) || tb->n < 3) return false;
    double mi = pct(tb, 0.5), si = (pct(tb, 0.8) - pct(tb, 0.2)) / 2, ss = (s->p80 - s->p20) / 2;
    /* the interleaved spread counts at most as much as the solo one: a
     * candidate that makes the baseline erratic must not widen the noise
     * that hides its interference */
    if (si > ss) si = ss;
    double d = mi - s->med;
    return d > 0.05 * s->med && d > 3 * sqrt(si * si + ss * ss);
}

typedef struct verdict {
    const char *name; /* "ok", "interference", "busy", "impossible", "stopped", "baseline-failed" */
    char reason[512];
} verdict;

/* The baseline was slower beside the candidates than alone (interfered):
 * whose doing. When other work (load.c) took more than its quiet share of
 * the judge's CPUs while the baseline was timed beside them, the judge
 * cannot put the slowdown on the candidates: "busy"; else "interference".
 * The caller measures again once either way, and once more (at most
 * CPU_BUSY_RETRIES times, within the judge's waiting budget) only where the
 * other work outlived the candidates' batches (cpu_load_busy_outside, which
 * then waits for quiet): a candidate that makes foreign work itself (work
 * it hands the kernel, a process that exits and takes its CPU time along)
 * gets a "busy" label, never more chances to pass. Both fail; never a
 * record. beside, quiet: the foreign share while the baseline was timed
 * beside them and the share that counts as quiet there; where: "beside the
 * candidate", "in the session". */
#define CPU_BUSY_RETRIES 3
#define CPU_BUSY_WAIT_S 20.0
static void slowdown_verdict(verdict *v, const samples *tb, const solo_stat *solo, double beside, double quiet,
                             const char *where, const char *after, int measured)
{
    char times[40] = "";
    if (measured == 2) snprintf(times, sizeof times, " (measured twice)");
    else if (measured > 2) snprintf(times, sizeof times, " (measured %d times)", measured);
    if (beside > quiet) {
        char alone[48] = "unmeasured";
        if (isfinite(solo->foreign)) snprintf(alone, sizeof alone, "%.0f%%", 100 * solo->foreign);
        v->name = "busy";
        snprintf(v->reason, sizeof v->reason,
                 "busy: other work took %.0f%% of the judge's CPUs while the baseline was timed %s (%s "
                 "while it was timed alone%s); the baseline took %.3f ms a call %s, %.3f ms alone: a slowdown "
                 "the judge cannot put on the candidate%s",
                 100 * beside, where, alone, after, pct(tb, 0.5) * 1e3, where, solo->med * 1e3, times);
    } else {
        v->name = "interference";
        snprintf(v->reason, sizeof v->reason,
                 "interference: the baseline took %.3f ms a call %s, %.3f ms alone%s (p20-p80 %.3f-%.3f ms), "
                 "beyond the noise%s",
                 pct(tb, 0.5) * 1e3, where, solo->med * 1e3, after, solo->p20 * 1e3, solo->p80 * 1e3, times);
    }
}

/* the load fields of a Performance record (load.c) */
static json_t *load_fields(double beside, const solo_stat *solo, int busy_retries)
{
    json_t *o = json_object();
    cpu_set_num(o, "foreign_load", beside);
    cpu_set_num(o, "baseline_solo_foreign_load", solo->foreign);
    json_object_set_new(o, "busy_retries", json_integer(busy_retries));
    return o;
}

/* every sample of s, in ms, in the order measured */
static json_t *samples_ms(const samples *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->n; i++) json_array_append_new(a, json_real(s->t[i] * 1e3));
    return a;
}

static json_t *interval_json(const spak_interval *iv)
{
    return isfinite(iv->lo) && isfinite(iv->hi) ? json_pack("[f,f]", iv->lo, iv->hi) : json_null();
}

/* the ratio's interval and how its measurement ended: ratio_ci is the
 * interval within the run (rs->iv, what --precision was reached on)
 * widened by the spread between runs (--between-runs), which the record
 * names; ratio_ci_within is the interval before */
static void set_ratio(const options *o, json_t *rec, const samples *tb, const ratio_stat *rs)
{
    spak_interval wide = rs->iv;
    spak_stats_widen(&wide, o->between_runs);
    cpu_set_num(rec, "ratio", rs->iv.point);
    json_object_set_new(rec, "ratio_ci", interval_json(&wide));
    json_object_set_new(rec, "ratio_ci_within", interval_json(&rs->iv));
    cpu_set_num(rec, "ratio_between_runs_sd", o->between_runs);
    cpu_set_num(rec, "ratio_ci_level", o->level);
    cpu_set_num(rec, "ratio_precision", o->precision);
    cpu_set_num(rec, "ratio_rel_halfwidth", spak_stats_rel_halfwidth(&wide));
    json_object_set_new(rec, "precision_reached", json_boolean(rs->precise));
    json_object_set_new(rec, "reps_ended", json_string(rs->ended));
    json_object_set_new(rec, "ratio_method",
                        json_string("paired: geometric mean of baseline/candidate per interleaved pair, Student "
                                    "t-interval on the log ratios, widened by the spread between runs"));
    json_object_set_new(rec, "baseline_samples_ms", samples_ms(tb));
}

static void emit_performance(const options *o, const side *c, const side *b, const cpu_shape *sh, samples *tc,
                             samples *tb, const solo_stat *solo, int nbc, int nbb, int checks, const verdict *v,
                             const cpu_bound *bound, bool flushed, const ratio_stat *rs, json_t *extra,
                             double *gf_out)
{
    double fl_shape = o->fam->flops(sh), med = pct(tc, 0.5);
    json_t *rec = json_object();
    json_object_set_new(rec, "type", json_string("Performance"));
    json_object_set_new(rec, "shape", json_string(sh->str));
    cpu_set_num(rec, "time_ms", med * 1e3);
    cpu_set_num(rec, "time_ms_p20", pct(tc, 0.2) * 1e3);
    cpu_set_num(rec, "time_ms_p80", pct(tc, 0.8) * 1e3);
    json_object_set_new(rec, "reps", json_integer(tc->n));
    json_object_set_new(rec, "samples_ms", samples_ms(tc));
    double gf = fl_shape / med * 1e-9;
    *gf_out = gf;
    cpu_set_num(rec, "gflops", gf);
    cpu_set_num(rec, "tflops", gf * 1e-3);
    json_object_set_new(rec, "baseline", json_string(o->base_name));
    if (b) {
        double bm = pct(tb, 0.5);
        json_object_set_new(rec, "baseline_kernel", json_string(b->name));
        if (o->base == BASE_BUILTIN && o->fam->baseline_describe) o->fam->baseline_describe(rec, b->name);
        cpu_set_num(rec, "baseline_time_ms", bm * 1e3);
        cpu_set_num(rec, "baseline_time_ms_p20", pct(tb, 0.2) * 1e3);
        cpu_set_num(rec, "baseline_time_ms_p80", pct(tb, 0.8) * 1e3);
        cpu_set_num(rec, "baseline_gflops", fl_shape / bm * 1e-9);
        set_ratio(o, rec, tb, rs);
        cpu_set_num(rec, "baseline_solo_time_ms", solo->med * 1e3);
        cpu_set_num(rec, "baseline_solo_time_ms_p20", solo->p20 * 1e3);
        cpu_set_num(rec, "baseline_solo_time_ms_p80", solo->p80 * 1e3);
        json_object_set_new(rec, "baseline_calls_per_batch", json_integer(nbb));
        /* the solo the interference test compared against: at nbb too (same_batches) */
        json_object_set_new(rec, "baseline_solo_calls_per_batch", json_integer(solo->nb));
        json_object_set_new(rec, "baseline_solo_beside_twin", json_boolean(solo->beside_twin));
    } else {
        json_object_set_new(rec, "baseline_time_ms", json_null());
        json_object_set_new(rec, "baseline_gflops", json_null());
        json_object_set_new(rec, "ratio", json_null());
        json_object_set_new(rec, "ratio_ci", json_null());
    }
    json_object_set_new(rec, "cache_flush", json_boolean(flushed));
    json_object_set_new(rec, "candidate", json_string(c->name));
    json_object_set_new(rec, "calls_per_batch", json_integer(nbc));
    json_object_set_new(rec, "sizing_calls", json_integer(c->sizing_calls));
    json_object_set_new(rec, "timed_checks", json_integer(checks));
    json_object_set_new(rec, "freeze", json_string(cpu_runner_freeze_how(c->r)));
    double late_max;
    long windows;
    const char *late_how;
    cpu_runner_late_stats(c->r, &late_max, &windows, &late_how);
    cpu_set_num(rec, "late_cpu_max_us", late_max); /* the most CPU after any of its calls returned */
    json_object_set_new(rec, "late_cpu_windows", json_integer(windows));
    json_object_set_new(rec, "late_cpu_source", json_string(late_how));
    cpu_set_num(rec, "bound_gflops", bound->gflops * CPU_BOUND_MARGIN);
    json_object_set_new(rec, "verdict", json_string(v->name));
    json_object_set_new(rec, "passed", json_boolean(!strcmp(v->name, "ok")));
    if (strcmp(v->name, "ok")) json_object_set_new(rec, "reason", json_string(v->reason));
    json_object_set_new(rec, "seed", json_integer((json_int_t)o->seed));
    if (extra) json_object_update(rec, extra); /* a session's fields (cpu_time_session) */
    cpu_emit(rec);
}

void cpu_emit_stopped(const options *o, const side *c, const cpu_shape *sh, const double *t_s, int n, double stop_s,
                      int nbc, int checks)
{
    samples t = {(double *)t_s, n, n};
    double med = pct(&t, 0.5);
    json_t *rec = json_object();
    json_object_set_new(rec, "type", json_string("Performance"));
    json_object_set_new(rec, "shape", json_string(sh->str));
    cpu_set_num(rec, "time_ms", med * 1e3);
    cpu_set_num(rec, "time_ms_p20", pct(&t, 0.2) * 1e3);
    cpu_set_num(rec, "time_ms_p80", pct(&t, 0.8) * 1e3);
    json_object_set_new(rec, "reps", json_integer(n));
    json_object_set_new(rec, "samples_ms", samples_ms(&t));
    cpu_set_num(rec, "gflops", o->fam->flops(sh) / med * 1e-9);
    json_object_set_new(rec, "baseline", json_string(o->base_name));
    json_object_set_new(rec, "ratio", json_null());
    json_object_set_new(rec, "ratio_ci", json_null());
    cpu_set_num(rec, "stop_slower_than_ms", stop_s * 1e3);
    json_object_set_new(rec, "candidate", json_string(c->name));
    json_object_set_new(rec, "calls_per_batch", json_integer(nbc));
    json_object_set_new(rec, "timed_checks", json_integer(checks));
    json_object_set_new(rec, "verdict", json_string("stopped"));
    char why[256];
    snprintf(why, sizeof why,
             "stopped early: %.4g ms a call over %d call%s, slower than the limit of %.4g ms "
             "(--stop-slower-than); not timed further",
             med * 1e3, n, n == 1 ? "" : "s", stop_s * 1e3);
    json_object_set_new(rec, "reason", json_string(why));
    json_object_set_new(rec, "seed", json_integer((json_int_t)o->seed));
    cpu_emit(rec);
}

/* the Correctness record of a shape whose timed call failed */
static void fail_correctness(json_t *creco, const call_result *r, int checks)
{
    char reason[400];
    snprintf(reason, sizeof reason, "%s (a timed call, checked after it returned)", r->reason);
    json_object_set_new(creco, "passed", json_false());
    json_object_set_new(creco, "reason", json_string(reason));
    cpu_set_num(creco, "rel_err", r->rel_err);
    json_object_set_new(creco, "checks", json_integer(3 + checks));
}

bool cpu_time_shape(const options *o, side *c, side *b, const cpu_shape *sh, const solo_stat *solo_first,
                    const cpu_bound *bound, double stop_ms, json_t *creco, double *time_s, bool *stopped)
{
    *time_s = NAN;
    *stopped = false;
    double stop_s = stop_ms > 0 ? stop_ms * 1e-3 : 0, warm = NAN;
    /* what is compared: the limit, never below the floor */
    double stop_lim = stop_s > 0 && stop_s < CPU_STOP_MIN_CALL_S ? CPU_STOP_MIN_CALL_S : stop_s;
    solo_stat solo_again;
    const solo_stat *solo = solo_first;
    layout L;
    cpu_layout(o->fam, sh, &L);
    flusher f;
    flusher_for(o, sh, &f);
    int cap = 100000, nbc = 1, nbb = 1, checks = 0, rc = 0;
    samples tc = {cpu_xmalloc(sizeof(double) * (size_t)cap), 0, cap};
    samples tb = {cpu_xmalloc(sizeof(double) * (size_t)cap), 0, cap};
    call_result fail = {.ok = false, .rel_err = NAN};
    verdict v = {"ok", ""};
    ratio_stat rs = {{NAN, NAN, NAN, 0, 0}, false, "precision"};
    if (b && b->dead) b = NULL;
    if (prepare(o, c, sh, &L, true, 0, &nbc, &f, &checks, &fail, &warm)) rc = -1;
    nbb = nbc;
    if (rc == 0 && b && same_batches(o, b, sh, &L, solo->nb, &nbb, &f, &checks, &fail)) rc = -1;
    if (rc == 0 && nbb != nbc) { /* the candidate calls in batches of the baseline's size too */
        if (cpu_side_map(c, &L, nbb, fail.reason, sizeof fail.reason)) rc = -1;
        nbc = nbb;
    }
    if (rc == 0 && b && nbb != solo->nb) {
        /* the baseline alone again, at the batch size it is now timed with:
         * the interference test compares like with like */
        solo_again_if(o, b, sh, nbb, false, false, &solo_again, &solo);
    }
    if (rc == 0 && warm_batch(o, c, sh, &L, nbc, true, &f, &checks, &fail)) rc = -1;
    if (rc == 0 && b && warm_batch(o, b, sh, &L, nbb, false, &f, &checks, &fail)) {
        char r[200];
        snprintf(r, sizeof r, "%.199s", fail.reason);
        snprintf(fail.reason, sizeof fail.reason, "baseline failed: %s", r);
        rc = -2;
    }
    if (rc == 0 && stop_lim > 0 && warm > stop_lim) { /* hopeless after its two warm-up calls */
        push(&tc, warm);
        rc = -3;
    }
    double beside = NAN;
    int busy_retries = 0;
    /* measured again once after "interference", "impossible" or "busy";
     * after "busy" once more, at most CPU_BUSY_RETRIES times, where the other
     * work outlived the candidate's batches (cpu_load_busy_outside, which
     * waits for quiet): those rounds are the machine's, never more chances
     * for a candidate that made the work itself */
    for (int round = 0; rc == 0 && round < 2 + busy_retries; round++) {
        if (round && b && strcmp(v.name, "impossible"))
            /* the machine's load may have changed since the baseline was timed
             * alone: time it alone again now (the candidate's runner frozen),
             * so the second verdict compares like with like */
            solo_again_if(o, b, sh, nbb, false, true, &solo_again, &solo);
        cpu_load_mark m0, m1;
        cpu_load_mark_now(&m0);
        rc = measure(o, c, b, sh, &L, nbc, nbb, &f, &tc, &tb, &checks, &fail, &rs, stop_lim);
        cpu_load_mark_now(&m1);
        if (rc != 0) break;
        beside = cpu_load_foreign(&m0, &m1);
        double gf = o->fam->flops(sh) / pct(&tc, 0.5) * 1e-9, lim = bound->gflops * CPU_BOUND_MARGIN;
        bool impossible = gf > lim, slowed = b && interfered(solo, &tb);
        if (!impossible && !slowed) {
            v = (verdict){"ok", ""};
            break;
        }
        if (impossible) {
            char bt[160];
            cpu_bound_text(bound, bt, sizeof bt);
            v.name = "impossible";
            snprintf(v.reason, sizeof v.reason, "impossible: %.0f GFLOP/s > bound %.0f GFLOP/s = %s, +%.0f%%%s", gf,
                     lim, bt, 100 * (CPU_BOUND_MARGIN - 1), round ? " (measured twice)" : "");
        } else {
            slowdown_verdict(&v, &tb, solo, beside, cpu_load_quiet_max(&m0, &m1), "beside the candidate", "",
                             round + 1);
            if (!strcmp(v.name, "busy") && busy_retries < CPU_BUSY_RETRIES && cpu_load_busy_outside(CPU_BUSY_WAIT_S))
                busy_retries++;
        }
        bool again = round + 1 < 2 + busy_retries;
        fprintf(stderr, "spak-harness-cpu: %s: %s%s\n", sh->str, v.reason,
                !again ? "" : !strcmp(v.name, "busy") ? "; measuring again (the machine quiet, or its wait over)"
                                                      : "; measuring again");
    }
    bool ok = rc != -1;
    if (rc == -1) fail_correctness(creco, &fail, checks);
    else json_object_set_new(creco, "checks", json_integer(3 + checks));
    cpu_emit(json_incref(creco));
    if (rc == -2) {
        v.name = "baseline-failed";
        snprintf(v.reason, sizeof v.reason, "%s", fail.reason);
    }
    if (rc == -3) {
        *stopped = true;
        cpu_emit_stopped(o, c, sh, tc.t, tc.n, stop_s, nbc, checks);
    } else if (rc != -1) {
        double gf = 0;
        json_t *extra = b ? load_fields(beside, solo, busy_retries) : NULL;
        emit_performance(o, c, b, sh, &tc, &tb, solo, nbc, nbb, checks, &v, bound, f.on, &rs, extra, &gf);
        json_decref(extra);
        *time_s = o->fam->flops(sh) / gf * 1e-9; /* the median the record states (analysis.c classifies it) */
    }
    free(tc.t);
    free(tb.t);
    free(f.scrub);
    return ok;
}

/* ---- a session: several candidates timed round-robin with the baseline ----
 * (the winner decided side by side, docs/language.md "The re-time") */

typedef struct session_side {
    samples t;
    int nb, checks;
    double total;
    bool failed;      /* a check failed: no more batches */
    call_result fail;
} session_side;

/* The rounds of a session on one shape: each round one batch of every
 * candidate still in and one of the baseline, in an order that rotates
 * by one each round and is reversed every other cycle (so each side runs
 * after each other side as often as before it), until every candidate ran
 * min_time and 10 rounds and
 * (with a baseline) every ratio's interval is within +-precision, or
 * max_reps rounds, or nc x max_time seconds. -2: the baseline failed. */
static int session_rounds(const options *o, side *const *cs, int nc, side *b, const cpu_shape *sh, const layout *L,
                          flusher *f, session_side *ss, samples *tb, int nbb, call_result *bfail, const char **ended)
{
    double start = cpu_now_s();
    *ended = "precision";
    int bchecks = 0;
    for (int round = 0;; round++) {
        bool enough = true, precise = true;
        for (int k = 0; k < nc; k++) {
            if (ss[k].failed) continue;
            /* 10 rounds at least: the engine's sign test can decide from 9 of 10 */
            enough = enough && ss[k].total >= o->min_time && ss[k].t.n >= 10;
            spak_interval iv;
            if (b && spak_stats_ratio_ci(tb->t, ss[k].t.t, (size_t)ss[k].t.n, o->level, &iv))
                precise = precise && spak_stats_precise(&iv, o->precision);
            else if (b)
                precise = false;
        }
        if (enough && precise) return 0;
        if (round >= o->max_reps) {
            *ended = "max-reps";
            return 0;
        }
        if (cpu_now_s() - start >= o->max_time * nc) {
            *ended = "max-time";
            return 0;
        }
        /* the order rotates by one each round and runs backwards every other
         * cycle of nc + 1 rounds: a rotation alone keeps the cyclic order
         * (c1 always right after c0), and a side that runs right after
         * another one pays for what that one left behind (two builds of one
         * kernel measured 2.9x apart, [1.32-6.33], on a loaded machine) */
        bool back = (round / (nc + 1)) % 2 == 1;
        for (int s = 0; s <= nc; s++) {
            int pos = (s + round) % (nc + 1);
            int k = (back ? nc - pos : pos) - 1; /* -1: the baseline's turn */
            if (k < 0) {
                if (b && batch(o, b, sh, L, nbb, false, f, tb, &bchecks, bfail)) {
                    char r[200];
                    snprintf(r, sizeof r, "%.199s", bfail->reason);
                    snprintf(bfail->reason, sizeof bfail->reason, "baseline failed: %s", r);
                    return -2;
                }
                continue;
            }
            if (ss[k].failed) continue;
            if (batch(o, cs[k], sh, L, ss[k].nb, true, f, &ss[k].t, &ss[k].checks, &ss[k].fail)) {
                ss[k].failed = true;
                continue;
            }
            ss[k].total += ss[k].t.t[ss[k].t.n - 1] * ss[k].nb;
        }
    }
}

/* candidate k against every other that was timed: t_j / t_k per round,
 * over the rounds both have (> 1: k is faster than j) */
static json_t *versus(const options *o, const session_side *ss, int nc, int k)
{
    json_t *a = json_array();
    for (int j = 0; j < nc; j++) {
        if (j == k || ss[j].failed) continue;
        int n = ss[j].t.n < ss[k].t.n ? ss[j].t.n : ss[k].t.n;
        spak_interval iv;
        if (!spak_stats_ratio_ci(ss[j].t.t, ss[k].t.t, (size_t)n, o->level, &iv)) continue;
        spak_stats_widen(&iv, o->between_runs); /* two candidates are two runs' worth of layout apart */
        int faster = 0; /* rounds where k took less time than j: a sign test's count, which heavy tails
                         * (a thread descheduled now and then) do not sway as they sway a t-interval */
        for (int i = 0; i < n; i++) faster += ss[k].t.t[i] < ss[j].t.t[i];
        json_array_append_new(a, json_pack("{s:i,s:f,s:[f,f],s:i,s:i}", "rival", j, "ratio", iv.point, "ratio_ci",
                                           iv.lo, iv.hi, "rounds", n, "faster_rounds", faster));
    }
    return a;
}

void cpu_time_session(const options *o, side *const *cs, int nc, side *b, const cpu_shape *sh, const solo_stat *solo,
                      const cpu_bound *bound, json_t *const *crecs, bool *alive)
{
    layout L;
    cpu_layout(o->fam, sh, &L);
    flusher f;
    flusher_for(o, sh, &f);
    int cap = o->max_reps + 2, nbb = 1;
    session_side ss[CPU_MAX_RIVALS];
    samples tb = {cpu_xmalloc(sizeof(double) * (size_t)cap), 0, cap};
    memset(ss, 0, sizeof ss);
    if (b && b->dead) b = NULL;
    for (int k = 0; k < nc; k++) {
        ss[k].t = (samples){cpu_xmalloc(sizeof(double) * (size_t)cap), 0, cap};
        ss[k].fail = (call_result){.ok = false, .rel_err = NAN};
        ss[k].failed = !alive[k] || prepare(o, cs[k], sh, &L, true, 0, &ss[k].nb, &f, &ss[k].checks, &ss[k].fail, NULL);
    }
    /* one batch size for every candidate, the largest they chose: a batch's
     * fixed cost (waking a frozen runner) is then shared out alike, and the
     * candidates' times compare as they are */
    int nbc = 1;
    for (int k = 0; k < nc; k++)
        if (!ss[k].failed && ss[k].nb > nbc) nbc = ss[k].nb;
    int rc = 0, bchecks = 0;
    call_result bfail = {.ok = false, .rel_err = NAN};
    solo_stat solo_again;
    nbb = nbc; /* and the baseline's too (same_batches) */
    if (b && same_batches(o, b, sh, &L, solo->nb, &nbb, &f, &bchecks, &bfail)) rc = -2;
    if (rc == 0) nbc = nbb;
    if (rc == 0 && b && nbb != solo->nb) /* alone again at that size, as in cpu_time_shape */
        solo_again_if(o, b, sh, nbb, true, false, &solo_again, &solo);
    for (int k = 0; k < nc; k++) {
        if (ss[k].failed) continue;
        if (ss[k].nb != nbc && cpu_side_map(cs[k], &L, nbc, ss[k].fail.reason, sizeof ss[k].fail.reason))
            ss[k].failed = true;
        ss[k].nb = nbc;
        if (!ss[k].failed && warm_batch(o, cs[k], sh, &L, nbc, true, &f, &ss[k].checks, &ss[k].fail))
            ss[k].failed = true;
    }
    if (rc == 0 && b && warm_batch(o, b, sh, &L, nbb, false, &f, &bchecks, &bfail)) rc = -2;
    const char *ended = "precision";
    verdict slow = {"ok", ""};
    double beside = NAN;
    int busy_retries = 0;
    for (int round = 0; rc == 0; round++) {
        if (round) { /* "busy" by work that outlived the session's rounds, waited out: the session again */
            tb.n = 0;
            for (int k = 0; k < nc; k++) ss[k].t.n = 0, ss[k].total = 0;
        }
        cpu_load_mark m0, m1;
        cpu_load_mark_now(&m0);
        rc = session_rounds(o, cs, nc, b, sh, &L, &f, ss, &tb, nbb, &bfail, &ended);
        cpu_load_mark_now(&m1);
        beside = cpu_load_foreign(&m0, &m1);
        if (rc != 0 || !b || !interfered(solo, &tb)) break;
        /* as in cpu_time_shape: the machine's load may have changed since
         * the baseline was timed alone (beside a one-core burner a session's
         * baseline read 7% slower than its solo, and the re-time of 2 of 3
         * main-job runs failed on it): time it alone again now, every runner
         * frozen, and judge the session's baseline against that */
        /* whether it was timed again, told by the call: solo may already
         * point at solo_again (timed again at the session's batch size before
         * the rounds), which this overwrites in place, so comparing the
         * pointers missed the new figure and failed an honest session for
         * the old one (a fresh clone's retime suite, alone on the machine,
         * 2026-12-07: "0.228 ms a call in the session, 0.229 ms alone") */
        bool again_solo = solo_again_if(o, b, sh, nbb, true, true, &solo_again, &solo);
        if (again_solo && !interfered(solo, &tb)) break;
        slowdown_verdict(&slow, &tb, solo, beside, cpu_load_quiet_max(&m0, &m1), "in the session",
                         again_solo ? " after the session" : "", round + 1);
        bool again = !strcmp(slow.name, "busy") && busy_retries < CPU_BUSY_RETRIES &&
                     cpu_load_busy_outside(CPU_BUSY_WAIT_S);
        fprintf(stderr, "spak-harness-cpu: %s: %s%s\n", sh->str, slow.reason,
                again ? "; the session again (the machine quiet, or its wait over)" : "");
        if (!again) break;
        busy_retries++;
        slow = (verdict){"ok", ""};
    }
    for (int k = 0; k < nc; k++) {
        if (!alive[k]) continue;
        if (ss[k].failed) { /* a check failed: the session's verdict on it is that failure */
            fail_correctness(crecs[k], &ss[k].fail, ss[k].checks);
            alive[k] = false;
        } else {
            json_object_set_new(crecs[k], "checks", json_integer(3 + ss[k].checks));
        }
        cpu_emit(json_incref(crecs[k]));
        if (!alive[k]) continue;
        ratio_stat rs = {{NAN, NAN, NAN, 0, 0}, false, ended};
        if (b && ss[k].t.n >= 2) {
            spak_stats_ratio_ci(tb.t, ss[k].t.t, (size_t)ss[k].t.n, o->level, &rs.iv);
            rs.precise = spak_stats_precise(&rs.iv, o->precision);
        }
        verdict v = {"ok", ""};
        double gf = o->fam->flops(sh) / pct(&ss[k].t, 0.5) * 1e-9, lim = bound->gflops * CPU_BOUND_MARGIN;
        if (rc == -2) {
            v.name = "baseline-failed";
            snprintf(v.reason, sizeof v.reason, "%s", bfail.reason);
        } else if (gf > lim) {
            char bt[160];
            cpu_bound_text(bound, bt, sizeof bt);
            v.name = "impossible";
            snprintf(v.reason, sizeof v.reason, "impossible: %.0f GFLOP/s > bound %.0f GFLOP/s = %s, +%.0f%% (in a "
                     "session: not measured again)", gf, lim, bt, 100 * (CPU_BOUND_MARGIN - 1));
        } else if (strcmp(slow.name, "ok")) {
            v = slow;
        }
        json_t *extra = json_pack("{s:s,s:i,s:i,s:o}", "session", o->session, "rival", k, "session_size", nc,
                                  "versus", versus(o, ss, nc, k));
        if (b) json_object_update_new(extra, load_fields(beside, solo, busy_retries));
        double gfo;
        emit_performance(o, cs[k], b, sh, &ss[k].t, &tb, solo, ss[k].nb, nbb, ss[k].checks, &v, bound, f.on,
                         &rs, extra, &gfo);
        json_decref(extra);
    }
    for (int k = 0; k < nc; k++) free(ss[k].t.t);
    free(tb.t);
    free(f.scrub);
}
