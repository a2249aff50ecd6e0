/*
 * kernels/cpu/common/check.c - the judge's checked calls: where inputs and
 * outputs live in the memory shared with a runner, fresh inputs, the output
 * checks, and the three checked calls per shape before anything is timed.
 *
 * Correctness of one shape (three calls, as before the runner split):
 *   call 1: fresh normal inputs from the judge's generator, the output
 *           poisoned with a NaN bit pattern; call 2: new inputs in the SAME
 *           input set and output slot; call 3: new inputs in ANOTHER set and
 *           slot. Each call: return code; the output snapshot right after
 *           DONE compared again after a settle wait with the runner still
 *           running (late writers); inputs re-hashed (the runner maps them
 *           read-only, so a write faults first: the hash is defence in depth);
 *           every element finite and written; relative error against the
 *           family's double reference <= tol. An output identical to an
 *           earlier call's for other inputs is reported as a cached result;
 *           an error above tol but under 5e-2 spread over most elements as
 *           lower precision than fp32.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "judge.h"

static size_t pad16(size_t n)
{
    return (n + 15) / 16 * 16; /* 64-byte aligned starts */
}

void cpu_layout(const cpu_family *fam, const cpu_shape *sh, layout *L)
{
    memset(L, 0, sizeof *L);
    fam->sizes(sh, L->in, &L->nin, &L->out);
    L->fam = fam;
    L->shape = sh->d[0];
    size_t off = 0;
    for (int i = 0; i < L->nin; i++) {
        L->off[i] = off;
        off += pad16(L->in[i]);
    }
    L->set = off;
    L->slot = pad16(L->out);
}

int cpu_side_map(side *s, const layout *L, int nsets, char *why, size_t n)
{
    if (cpu_runner_map(s->r, L->set * 4 * (size_t)nsets, L->slot * 4 * (size_t)nsets, &s->in, &s->out, why, n))
        return -1;
    s->nsets = nsets;
    return 0;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t cpu_hash_set(const side *s, const layout *L, int k)
{
    uint64_t h = 0;
    for (int i = 0; i < L->nin; i++)
        h = h * 31 + hash_bytes(s->in + (size_t)k * L->set + L->off[i], L->in[i] * sizeof(float));
    return h;
}

/* Normal numbers fast enough for every timed call (Box-Muller costs ~60 ns a
 * number here, so fresh 1024x1024 operands for both sides took 250 ms a
 * repetition): the normal quantiles at i/4096 in a table, and each number
 * uniform between two neighbouring quantiles, drawn with 12 + 20 random bits
 * (two numbers per 64-bit draw). That is the normal distribution up to the
 * shape inside each of the 4096 equal-probability bins, with the tails cut
 * at +-3.9. */
#define NQ 4096
static float quant[NQ + 1];

static void init_quantiles(void)
{
    quant[0] = -3.9f;
    quant[NQ] = 3.9f;
    for (int i = 1; i < NQ; i++) {
        double p = (double)i / NQ, lo = -6, hi = 6; /* Phi(x) = p by bisection */
        for (int t = 0; t < 60; t++) {
            double mid = (lo + hi) / 2;
            if (0.5 * erfc(-mid / sqrt(2.0)) < p)
                lo = mid;
            else
                hi = mid;
        }
        quant[i] = (float)((lo + hi) / 2);
    }
}

void cpu_fill_normal(rng *r, float *x, size_t n)
{
    if (quant[NQ] == 0) init_quantiles();
    size_t j = 0;
    for (; j + 2 <= n; j += 2) {
        uint64_t v = rng_next(r);
        for (int h = 0; h < 2; h++, v >>= 32) {
            uint32_t b = (uint32_t)(v & 0xffffffffu);
            unsigned q = b >> 20;
            float u = (float)(b & 0xfffff) * (1.0f / 1048576.0f);
            x[j + (size_t)h] = quant[q] + (quant[q + 1] - quant[q]) * u;
        }
    }
    if (j < n) x[j] = (float)rng_normal(r);
}

uint64_t cpu_fill_set(const side *s, const layout *L, int k)
{
    rng *r = cpu_judge_rng();
    /* a fresh generator for every input set: the state a runner can solve
     * from one set's values predicts nothing of the next */
    rng_seed(r, cpu_judge_secret());
    if (L->fam && L->fam->fill) {
        L->fam->fill(L->shape, s->in + (size_t)k * L->set, r);
        return cpu_hash_set(s, L, k);
    }
    for (int i = 0; i < L->nin; i++) cpu_fill_normal(r, s->in + (size_t)k * L->set + L->off[i], L->in[i]);
    return cpu_hash_set(s, L, k);
}

void cpu_poison_slot(const side *s, const layout *L, int k)
{
    uint32_t bits = POISON_BITS;
    float *x = s->out + (size_t)k * L->slot;
    if (L->fam && L->fam->init_slot) {
        L->fam->init_slot(L->shape, s->in + (size_t)k * L->set, x);
        return;
    }
    for (size_t i = 0; i < L->out; i++) memcpy(&x[i], &bits, 4);
}

cpu_bufs cpu_bufs_of(const side *s, const layout *L, int set, int slot)
{
    cpu_bufs b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < L->nin; i++) b.in[i] = s->in + (size_t)set * L->set + L->off[i];
    b.out = s->out + (size_t)slot * L->slot;
    return b;
}

void cpu_call_msg(rp_call *c, const cpu_shape *sh, const layout *L, int n)
{
    memset(c, 0, sizeof *c);
    c->h = (rp_head){RP_MAGIC, RP_CALL};
    for (int k = 0; k < 4; k++) c->d[k] = sh->d[k];
    c->causal = sh->causal;
    c->n = n;
    for (int i = 0; i < L->nin; i++) c->in_n[i] = L->in[i];
    c->out_n = L->out;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < L->nin; i++) c->item[j].in_off[i] = ((size_t)j * L->set + L->off[i]) * 4;
        c->item[j].out_off = (size_t)j * L->slot * 4;
    }
    if (L->fam && L->fam->call_extra) L->fam->call_extra(L->shape, c);
}

call_result cpu_check_output(const options *o, const cpu_shape *sh, const side *s, const layout *L, int k, int rc,
                             uint64_t hash, bool timed)
{
    call_result r = {.ok = false, .rel_err = NAN};
    cpu_bufs b = cpu_bufs_of(s, L, k, k);
    if (rc != 0) {
        snprintf(r.reason, sizeof r.reason, "candidate returned error code %d", rc);
        return r;
    }
    if (cpu_hash_set(s, L, k) != hash) {
        snprintf(r.reason, sizeof r.reason, "inputs modified (the inputs changed during the call)");
        return r;
    }
    size_t unwritten = 0, nonfinite = 0;
    for (size_t i = 0; i < L->out; i++) {
        uint32_t bits;
        memcpy(&bits, &b.out[i], 4);
        if (bits == POISON_BITS)
            unwritten++;
        else if (!o->fam->typed_output && !isfinite(b.out[i]))
            nonfinite++;
    }
    if (unwritten || nonfinite) {
        snprintf(r.reason, sizeof r.reason,
                 "NaN or unwritten output (%zu of %zu elements never written, %zu NaN/Inf)", unwritten, L->out,
                 nonfinite);
        return r;
    }
    const char *method = "";
    double frac_off = 0;
    if (timed) {
        /* drawn now, after DONE, from the secret draws: the runner cannot know it */
        r.rel_err = o->fam->timed_error(sh, &b, cpu_judge_secret(), &method);
        frac_off = 1;
    } else
        r.rel_err = o->fam->error(sh, &b, o->tol, cpu_judge_secret() & 0x7fffffffffffull, &method, &frac_off);
    if (r.rel_err <= o->tol) {
        r.ok = true;
        snprintf(r.reason, sizeof r.reason, "ok (%s)", method);
        return r;
    }
    bool allzero = true;
    for (size_t i = 0; i < L->out && allzero; i++) allzero = b.out[i] == 0.0f;
    if (allzero)
        snprintf(r.reason, sizeof r.reason, "wrong values (output is all zeros; rel_err %.3g, %s)", r.rel_err, method);
    else if (!timed && !o->fam->typed_output && r.rel_err <= 5e-2 && frac_off >= 0.5) /* a declared kernel's
                                                          precision is its declaration's: no guess at fp16/bf16 */
        snprintf(r.reason, sizeof r.reason,
                 "lower precision than fp32 declared (rel_err %.3g > tol %.3g, error spread over %.0f%% "
                 "of elements, as bf16/fp16/tf32 rounding gives; %s)",
                 r.rel_err, o->tol, 100 * frac_off, method);
    else if (timed)
        snprintf(r.reason, sizeof r.reason, "wrong values (rel_err %.3g > tol %.3g; %s)", r.rel_err, o->tol, method);
    else
        snprintf(r.reason, sizeof r.reason, "wrong values (rel_err %.3g > tol %.3g, %.1f%% of elements off; %s)",
                 r.rel_err, o->tol, 100 * frac_off, method);
    return r;
}

void cpu_input_write_reason(const side *s, const layout *L, char *buf, size_t n)
{
    long long off = cpu_runner_fault_offset(s->r);
    const char *name = off >= 0 && L->fam && L->fam->input_name && L->set
                           ? L->fam->input_name(L->shape, (unsigned long long)off % (L->set * 4))
                           : NULL;
    char arg[96] = "";
    if (name) snprintf(arg, sizeof arg, " (argument %s)", name);
    snprintf(buf, n, "inputs modified (the %s wrote to its read-only inputs%s: the write faulted)", s->label, arg);
}

static void sleep_s(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* One checked call on set/slot k (inputs already written, hash theirs);
 * prev[0..nprev) are outputs of earlier calls with other inputs. */
static call_result checked_call(const options *o, side *c, const cpu_shape *sh, const layout *L, int k,
                                uint64_t hash, float *const *prev, int nprev, double *dt_out)
{
    call_result r = {.ok = false, .rel_err = NAN};
    *dt_out = NAN;
    cpu_poison_slot(c, L, k);
    rp_call m;
    cpu_call_msg(&m, sh, L, 1);
    m.item[0].out_off = (size_t)k * L->slot * 4;
    for (int i = 0; i < L->nin; i++) m.item[0].in_off[i] = ((size_t)k * L->set + L->off[i]) * 4;
    int rc = 0;
    double dt;
    bool input_write;
    if (cpu_runner_call(c->r, &m, &rc, 60 + 10 * o->min_time, false, &dt, &input_write, r.reason, sizeof r.reason)) {
        c->dead = true;
        if (input_write) cpu_input_write_reason(c, L, r.reason, sizeof r.reason);
        return r;
    }
    *dt_out = dt;
    float *out = c->out + (size_t)k * L->slot, *snap = cpu_xmalloc(L->out * sizeof(float));
    memcpy(snap, out, L->out * sizeof(float));
    /* settle, the runner let run again after the stop it put itself in at
     * DONE: long enough for a stray thread to show itself, by writing the
     * output or by using CPU (cpu_runner_late) */
    cpu_runner_resume(c->r);
    double wait = 3 * dt < 0.02 ? 0.02 : 3 * dt > 1.0 ? 1.0 : 3 * dt;
    sleep_s(wait);
    double late_us, window_s;
    char late_why[sizeof r.reason];
    if (memcmp(snap, out, L->out * sizeof(float)) != 0)
        snprintf(r.reason, sizeof r.reason,
                 "output changed after return (written again within %.0f ms after the call returned: "
                 "candidate threads still running)",
                 wait * 1e3);
    else if (cpu_runner_late(c->r, &late_us, &window_s, late_why, sizeof late_why)) {
        snprintf(r.reason, sizeof r.reason, "%s", late_why); /* busy in the settle wait, the output unchanged */
        r.late = true;
    }
    else
        r = cpu_check_output(o, sh, c, L, k, rc, hash, false);
    for (int p = 0; !r.ok && r.rel_err > o->tol && p < nprev; p++)
        if (memcmp(prev[p], out, L->out * sizeof(float)) == 0)
            snprintf(r.reason, sizeof r.reason,
                     "result does not change with inputs (cached from an earlier call; rel_err %.3g)", r.rel_err);
    free(snap);
    return r;
}

bool cpu_check_shape(const options *o, side *c, const cpu_shape *sh, json_t *rec, double stop_s, bool *stopped,
                     double call_s[2])
{
    *stopped = false;
    layout L;
    cpu_layout(o->fam, sh, &L);
    call_result res[3];
    for (int k = 0; k < 3; k++) res[k] = (call_result){.ok = false, .rel_err = NAN};
    /* a drawn shape is one no call has seen: a single checked call tells
     * whether the kernel is right there (caching across calls is the
     * listed shapes' three calls' business), and keeps its cost to one call */
    int want = sh->drawn ? 1 : 3;
    int ncalls = 0;
    const char *what[3] = {"", " (call 2: new inputs, same buffers)", " (call 3: new inputs, new buffers)"};
    float *prev[2] = {cpu_xmalloc(L.out * sizeof(float)), cpu_xmalloc(L.out * sizeof(float))};
    char why[256] = "";
    if (c->dead)
        snprintf(res[ncalls++].reason, sizeof res[0].reason, "not checked: the candidate's process ended earlier");
    else if (cpu_side_map(c, &L, 2, why, sizeof why) || cpu_runner_freeze(c->r, false)) {
        snprintf(res[ncalls++].reason, sizeof res[0].reason, "%s", why);
        c->dead = true;
    } else {
        int set[3] = {0, 0, 1};
        for (int k = 0; k < want; k++) {
            uint64_t h = cpu_fill_set(c, &L, set[k]);
            double dt;
            res[ncalls] = checked_call(o, c, sh, &L, set[k], h, prev, k, &dt);
            /* CPU in a settle wait is charged to whatever ran when the
             * machine took it: with interrupt time not accounted apart
             * (CONFIG_IRQ_TIME_ACCOUNTING off, as on the development
             * machine), an interrupt's or softirq's work lands on the runner
             * back in its recv(); an honest one-thread naive matmul read
             * 3218 us in a 24 ms settle wait beside a sanitizer build's
             * suites (2026-12-07). So the first such call of a runner is
             * checked again, once an evaluation, on fresh inputs; a second
             * fails. Work after return that a candidate does on purpose
             * recurs (and in timed calls it is frozen with its runner);
             * the record names the call checked again. */
            if (!res[ncalls].ok && res[ncalls].late && !c->late_once[0] && !c->dead) {
                snprintf(c->late_once, sizeof c->late_once, "%s%s: %.200s", sh->str, what[k], res[ncalls].reason);
                fprintf(stderr, "spak-harness-cpu: %s; checking the call again (once an evaluation)\n", c->late_once);
                k--;
                continue;
            }
            if (!res[ncalls++].ok) break;
            if (k < 2) call_s[k] = dt;
            /* hopeless: two correct calls, each slower than the limit */
            double lim = stop_s > CPU_STOP_MIN_CALL_S ? stop_s : CPU_STOP_MIN_CALL_S;
            if (k == 1 && stop_s > 0 && call_s[0] > lim && call_s[1] > lim) {
                *stopped = true;
                break;
            }
            if (k < 2) memcpy(prev[k], c->out + (size_t)set[k] * L.slot, L.out * sizeof(float));
        }
        if (!c->dead) cpu_runner_freeze(c->r, true);
    }
    free(prev[0]);
    free(prev[1]);
    bool passed = ncalls == want && res[want - 1].ok;
    double worst = 0;
    for (int k = 0; k < ncalls; k++)
        if (!(res[k].rel_err <= worst)) worst = res[k].rel_err;
    json_object_set_new(rec, "type", json_string("Correctness"));
    json_object_set_new(rec, "shape", json_string(sh->str));
    json_object_set_new(rec, "heldout", json_boolean(sh->heldout));
    if (sh->drawn) json_object_set_new(rec, "drawn", json_true());
    if (*stopped) { /* not finished: neither passed nor failed */
        json_object_set_new(rec, "verdict", json_string("stopped"));
        char r[200];
        snprintf(r, sizeof r, "stopped early after %d checked calls that passed, each slower than %.4g ms", ncalls,
                 stop_s * 1e3);
        json_object_set_new(rec, "reason", json_string(r));
        cpu_set_num(rec, "rel_err", worst);
        json_object_set_new(rec, "calls", json_integer(ncalls));
        json_object_set_new(rec, "checks", json_integer(ncalls));
        json_object_set_new(rec, "family", json_string(o->fam->name));
        return false;
    }
    json_object_set_new(rec, "passed", json_boolean(passed));
    cpu_set_num(rec, "rel_err", worst);
    cpu_set_num(rec, "tolerance", o->tol);
    char reason[320];
    snprintf(reason, sizeof reason, "%s%s", res[ncalls - 1].reason, passed ? "" : what[ncalls - 1]);
    json_object_set_new(rec, "reason", json_string(reason));
    json_object_set_new(rec, "calls", json_integer(ncalls));
    json_object_set_new(rec, "checks", json_integer(passed ? want : ncalls));
    json_object_set_new(rec, "check_method",
                        json_string(o->fam->check_method ? o->fam->check_method
                                                         : "reference per checked call; freivalds2 (matmul) or "
                                                           "sampled-rows (attention) per timed call, drawn after it"));
    json_object_set_new(rec, "family", json_string(o->fam->name));
    if (c->late_once[0] && !c->late_reported) {
        json_object_set_new(rec, "late_rechecked", json_string(c->late_once));
        c->late_reported = true;
    }
    return passed;
}
