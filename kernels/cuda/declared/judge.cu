/*
 * judge.cu - spak-judge-cuda, the generic CUDA judge of declared kernels
 * (issue 17; docs/declared-kernels.md, docs/trust-gpu.md).
 *
 *   spak-judge-cuda --decl PATH [--candidate PATH.cubin ...] [--reps 30] [--warmup 5]
 *       [--batch-ms 3] [--check-only] [--timeout 300] [--ceilings-cache PATH]
 *
 * The decl file (decl_core.h; written by the engine, every expression
 * evaluated per shape) names the kernel, its arguments and shapes, the
 * candidate (a cubin or fatbin built by nvcc in the sandbox; --candidate
 * overrides it, given more than once a session) and the reference kernel
 * (its own cubin) or none. Output: one trace record a line on stdout,
 * "__SPAK_TRACE__ " + JSON, those of the GEMM judge with "family":
 * "declared", "kernel" and "trusted" (false on every record when the decl
 * has no reference); diagnostics on stderr.
 *
 * Process model: the GEMM judge's (harness.cu). The parent never touches
 * CUDA: a probe child (device, ceilings: the copy rate and cuBLAS SGEMM's),
 * then one child per shape, the shape's judge, which starts the candidate
 * and the reference each in its own spak-runner-cuda (family "declared":
 * the runner loads the cubin; no host code of the candidate runs anywhere),
 * gives each two pools of device memory (the "read" arguments' mapped
 * read-only in the runner where the device allows, the others writable),
 * and per call:
 *   - fills every buffer on the device from a seed drawn right before
 *     (decl_fill.h): "read"/"readwrite" by their fill, "write" poisoned with
 *     all-ones bytes (NaN for floats), so an output the kernel leaves
 *     unwritten is seen; hashes the "read" ones;
 *   - launches in the runner (KCALL: grid, block, dynamic shared memory, the
 *     argument array with the buffers relocated into the pools there), timed
 *     by the judge's clock from CALL to DONE between two idle probes
 *     (jd_batch: return codes, errors after the calls, work after return);
 *   - regenerates the same inputs from the same seeds for the reference,
 *     runs it in its runner, and compares every output: ||out - ref|| /
 *     ||ref|| within the output's tolerance (max abs error where ||ref|| is
 *     0), no non-finite output where the reference's is finite; the "read"
 *     arguments' hashes unchanged.
 * Two full checks, then timed rounds (session_device.cuh's js_run: the
 * candidate against the reference as the baseline, every timed call checked
 * as above); held-out shapes and --check-only get the two checks only.
 *
 * Exit status: 0 the judge did its job (a wrong candidate is in the
 * records); 2 usage, a decl it cannot honour (one line naming the field),
 * or no CUDA device; 1 a step of the judge itself failed for some shape.
 */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vector>

#include "../common/harness_core.h"
#include "decl_core.h"
#include "decl_fill.h"

#define SPAK_HARNESS_PROG "spak-judge-cuda"
#include "../common/harness_device.cuh"
#include "../common/judge_device.cuh"
#include "../common/session_device.cuh"
#include "../common/cuda_judge.h"

static struct dc_args g_args;
static struct dc_decl g_decl;
static struct hc_device g_ceil;
static char g_runner[4096];
static const char *g_cand[DC_MAX_CAND];
static int g_ncand;

enum { CAND = 0, REF = JS_BASE };

/* ------------------------------------------------------------------------ */
/* the judge's device kernels, over every element type                       */

template <typename T> __device__ __forceinline__ T dc_cast(double v)
{
    return (T)(long long)rint(v); /* integers: rounded, then C's conversion (index into u8 wraps) */
}
template <> __device__ __forceinline__ float dc_cast<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ double dc_cast<double>(double v) { return v; }
template <> __device__ __forceinline__ __half dc_cast<__half>(double v) { return __float2half_rn((float)v); }
template <> __device__ __forceinline__ __nv_bfloat16 dc_cast<__nv_bfloat16>(double v)
{
    return __float2bfloat16_rn((float)v);
}

template <typename T> __device__ __forceinline__ double dc_val(T v) { return (double)v; }
template <> __device__ __forceinline__ double dc_val<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ double dc_val<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

/* element i of p = its fill's value (decl_fill.h) cast to T */
template <typename T>
__global__ void dk_fill(T *p, size_t n, int fill, double a0, double a1, unsigned long long seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        p[i] = dc_cast<T>(dc_fill_value(fill, a0, a1, seed, i));
}

/* c against the reference r over n elements: sums[0] += (c - r)^2, sums[1]
 * += r^2, cnt[0] = max |c - r| (a double's bits: non-negative doubles order
 * as their bits), cnt[1] += elements where c is not finite while r is, or r
 * is not finite and c is not the same (NaN for NaN, the same infinity).
 * With r == NULL: cnt[1] += non-finite elements of c. */
template <typename T>
__global__ void dk_compare(const T *c, const T *r, size_t n, double *sums, unsigned long long *cnt)
{
    double d2 = 0, r2 = 0, mx = 0;
    unsigned long long bad = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double cv = dc_val<T>(c[i]), rv = r ? dc_val<T>(r[i]) : 0.0;
        if (r && !isfinite(rv)) {
            bad += !((isnan(rv) && isnan(cv)) || cv == rv);
            continue;
        }
        if (!isfinite(cv)) {
            bad++;
            continue;
        }
        double d = cv - rv;
        d2 += d * d, r2 += rv * rv, mx = fmax(mx, fabs(d));
    }
    d2 = block_reduce(d2, 0.0, op_add());
    r2 = block_reduce(r2, 0.0, op_add());
    mx = block_reduce(mx, 0.0, op_max());
    bad = block_reduce(bad, 0ull, op_add());
    if (threadIdx.x == 0) {
        atomicAdd(&sums[0], d2);
        atomicAdd(&sums[1], r2);
        atomicMax(&cnt[0], (unsigned long long)__double_as_longlong(mx));
        if (bad) atomicAdd(&cnt[1], bad);
    }
}

/* CALL(T) with T the element type of dc_type t */
#define DC_DISPATCH(t, CALL)                                                                                        \
    switch (t) {                                                                                                    \
    case DC_F16: CALL(__half); break;                                                                               \
    case DC_BF16: CALL(__nv_bfloat16); break;                                                                       \
    case DC_F32: CALL(float); break;                                                                                \
    case DC_F64: CALL(double); break;                                                                               \
    case DC_I8: CALL(int8_t); break;                                                                                \
    case DC_I32: CALL(int32_t); break;                                                                              \
    case DC_I64: CALL(long long); break;                                                                            \
    case DC_U8: CALL(uint8_t); break;                                                                               \
    default: CALL(uint32_t); break;                                                                                 \
    }

/* ------------------------------------------------------------------------ */
/* one shape's judge                                                         */

struct dj {
    const struct dc_shape *s;
    struct dc_layout L;
    int nsets;                      /* sets a side's pools hold */
    bool trusted;
    cj_side side[JS_SIDES];         /* CAND, REF, then a session's other candidates (js_side) */
    cp_kinfo ki[JS_SIDES];
    jd_state j;
    unsigned long long seed[JS_SIDES][RP_MAX_BATCH][DC_MAX_ARGS];
    unsigned long long hash[JS_SIDES][RP_MAX_BATCH][DC_MAX_ARGS];
    int checks[JS_SIDES];
    /* In the timed rounds every side of a round gets the same inputs (the
     * round's seeds, drawn at its first fill), so one batch of the
     * reference a round is what every candidate's calls of the round are
     * checked against: its timed one when it came first. With one
     * candidate (rounds ordered candidate, reference or the reverse) the
     * batch run for the candidate's check is the round's timed one too:
     * the reference runs once a round (it ran twice: a naive reference
     * was most of a declared evaluation's time). In a session the order
     * rotates, so there the reference's timed batch stays in its place. */
    bool in_rounds, for_check;      /* in js_run; a batch of REF run by reference_for */
    int seed_round;                 /* the round rseed was drawn for (-1 none) */
    int ref_out_round;              /* the round whose inputs REF's sets hold, with its outputs (-1 none) */
    int ref_timed_round;            /* the round whose timed REF batch ran (-1 none) ... */
    double ref_dt;                  /* ... and its time */
    unsigned long long rseed[RP_MAX_BATCH][DC_MAX_ARGS];
    double err;                     /* the last compare: the worst output's error ... */
    int err_arg;                    /* ... which output (-1 none) */
    json_t *outs;                   /* ... every output's error and tolerance */
};

#define DCK(call) JD_CK(&g->j, call)

/* buffer a of set k of side, in the judge's mapping of its pool */
static void *buf_of(const struct dj *g, int side, int k, int a)
{
    int slot = g->L.slot[a];
    uint64_t base = slot == 1 ? g->side[side].ro_pool : g->side[side].pool;
    return (void *)(uintptr_t)(base + (uint64_t)k * g->L.set_bytes[slot] + g->L.off[a]);
}

/* the "read" args' names, for a fault's reason */
static const char *read_args(char *buf, size_t n)
{
    size_t at = 0;
    buf[0] = 0;
    for (int a = 0; a < g_decl.nargs && at < n; a++)
        if (!g_decl.args[a].scalar && g_decl.args[a].access == DC_READ)
            at += (size_t)snprintf(buf + at, n - at, "%s%s", at ? ", " : "", g_decl.args[a].name);
    return buf;
}

/* Set k of side: every buffer from seeds[] (DC_MAX_ARGS of them): "read" and
 * "readwrite" by their fill, "write" poisoned; the "read" ones hashed into a
 * result word each (hidx[a]; -1 for the others), enqueued. 0 or -1. */
static int fill_set(struct dj *g, int side, int k, const unsigned long long *seeds, int *hidx)
{
    for (int a = 0; a < g_decl.nargs; a++) {
        const struct dc_arg *x = &g_decl.args[a];
        hidx[a] = -1;
        if (x->scalar)
            continue;
        void *p = buf_of(g, side, k, a);
        size_t n = (size_t)g->s->count[a];
        if (x->access == DC_WRITE) {
            DCK(cudaMemsetAsync(p, 0xFF, g->L.bytes[a], g->j.st));
            continue;
        }
#define FILL(T) dk_fill<T><<<launch_grid(n), 256, 0, g->j.st>>>((T *)p, n, x->fill, x->fill_args[0], x->fill_args[1], seeds[a])
        DC_DISPATCH(x->type, FILL);
#undef FILL
        DCK(cudaGetLastError());
        if (x->access == DC_READ &&
            ((hidx[a] = jd_res_take(&g->j, 1)) < 0 ||
             jd_hash_to(&g->j, p, (g->L.bytes[a] + 3) / 4 * 4, g->j.res + hidx[a])))
            return -1;
    }
    return 0;
}

/* Sets 0..n-1 of side from seeds[k], enqueued together, the "read"
 * buffers' hashes read back at once into g->hash[side]. 0 or -1. */
static int fill_from(struct dj *g, int side, int n, const unsigned long long (*seeds)[DC_MAX_ARGS])
{
    static int hidx[RP_MAX_BATCH][DC_MAX_ARGS];
    if (jd_res_begin(&g->j))
        return -1;
    for (int k = 0; k < n; k++)
        if (fill_set(g, side, k, seeds[k], hidx[k]))
            return -1;
    if (jd_res_read(&g->j))
        return -1;
    for (int k = 0; k < n; k++)
        for (int a = 0; a < g_decl.nargs; a++)
            if (hidx[k][a] >= 0)
                g->hash[side][k][a] = g->j.hres[hidx[k][a]];
    return 0;
}

/* Fresh inputs (seeds drawn now) into sets 0..n-1 of side; in the timed
 * rounds the round's (drawn at its first fill), and nothing for the
 * reference when its sets already hold its batch on them. */
static int fill_sets(struct dj *g, int side, int n)
{
    if (g->in_rounds && g->seed_round != js_round) {
        for (int k = 0; k < n; k++)
            for (int a = 0; a < g_decl.nargs; a++)
                g->rseed[k][a] = jd_draw();
        g->seed_round = js_round;
    }
    if (g->in_rounds && side == REF && g->ref_timed_round == js_round)
        return 0;
    for (int k = 0; k < n; k++)
        for (int a = 0; a < g_decl.nargs; a++)
            g->seed[side][k][a] = g->in_rounds ? g->rseed[k][a] : jd_draw();
    return fill_from(g, side, n, g->seed[side]);
}

/* Sets 0..n-1 of side made new for a confirming repeat (jd_batch_with):
 * fresh seeds (in the timed rounds the round's drawn again), and the
 * reference's outputs of the round no longer the answer to them. 0 or -1. */
static int refill_sets(struct dj *g, int side, int n)
{
    if (g->in_rounds) {
        g->seed_round = g->ref_out_round = -1;
        if (side == REF)
            g->ref_timed_round = -1;
    }
    return fill_sets(g, side, n);
}

/* One batch of n launches of side on sets 0..n-1 (jd_batch's codes); the
 * reference's of a round once: run already (for a check), its time.
 * refill(): the sets made new for a confirming repeat. */
template <typename Refill>
static int batch(struct dj *g, int side, int n, double *dt, char *why, size_t nwhy, Refill refill)
{
    static cp_kcall c;
    const struct dc_shape *s = g->s;
    bool ref = side == REF;
    if (ref && g->in_rounds && !g->for_check && g->ref_timed_round == js_round) {
        *dt = g->ref_dt;
        return 0;
    }
    uint32_t off[DC_MAX_ARGS], size[DC_MAX_ARGS];
    uint64_t addr[DC_MAX_ARGS];
    memset(&c, 0, sizeof c);
    c.h = (rp_head){RP_MAGIC, CP_KCALL};
    c.n = n;
    memcpy(c.grid, ref ? s->rgrid : s->grid, sizeof c.grid);
    memcpy(c.block, ref ? s->rblock : s->block, sizeof c.block);
    c.smem = ref ? s->rsmem : s->smem;
    for (int k = 0; k < n; k++) {
        for (int a = 0; a < g_decl.nargs; a++) /* offsets into the pools: the runner relocates them */
            addr[a] = g->L.slot[a] < 0 ? 0 : (uint64_t)k * g->L.set_bytes[g->L.slot[a]] + g->L.off[a];
        c.param_bytes = (uint32_t)dc_pack_params(&g_decl, s, addr, c.param[k], sizeof c.param[k], off, size);
    }
    for (int a = 0; a < g_decl.nargs; a++)
        if (g->L.slot[a] >= 0) {
            if (g_decl.args[a].constant) /* its data is this buffer: the runner copies it into the symbol */
                c.cmem_reloc[c.ncmem++] = c.nreloc;
            c.reloc[c.nreloc++] = (cp_kreloc){off[a], g->L.slot[a], g->L.bytes[a]};
        }
    int r = jd_kbatch(&g->j, &g->side[side], &c, g_args.timeout_s, dt, why, nwhy, refill);
    if (ref && g->in_rounds) { /* REF's sets hold its batch on the round's inputs (or nothing usable) */
        g->ref_out_round = r == 0 ? js_round : -1;
        if (r == 0 && (!g->for_check || g_ncand == 1))
            g->ref_timed_round = js_round, g->ref_dt = *dt;
    }
    char names[256];
    if (r == 1 && strstr(why, "IllegalAddress") && g->side[side].ro_readonly && read_args(names, sizeof names)[0]) {
        size_t l = strlen(why);
        snprintf(why + l, nwhy - l, " (a write to a read-only argument: %s, mapped read-only; or an access out of "
                 "bounds)", names);
    }
    return r;
}

/* Output a of set k of side against set k of the reference (rk < 0: none,
 * non-finite elements only), enqueued into four result words at w (the
 * sums, the max error's bits, the bad count: dk_compare's). 0 or -1. */
static int compare_to(struct dj *g, int side, int k, int a, int rk, unsigned long long *w)
{
    size_t n = (size_t)g->s->count[a];
    const void *c = buf_of(g, side, k, a), *r = rk >= 0 ? buf_of(g, REF, rk, a) : NULL;
#define CMP(T) dk_compare<T><<<reduce_grid(n), 256, 0, g->j.st>>>((const T *)c, (const T *)r, n, (double *)w, w + 2)
    DC_DISPATCH(g_decl.args[a].type, CMP);
#undef CMP
    DCK(cudaGetLastError());
    return 0;
}

/* Every output of a call against the reference's (trusted) or for
 * non-finite elements alone, from compare_to's words read back (hw[a]: the
 * four of output a): *ok, g->err/err_arg/outs, why. */
static void outputs_judged(struct dj *g, const unsigned long long *const *hw, bool *ok, char *why, size_t n)
{
    *ok = true;
    g->err = 0, g->err_arg = -1;
    json_decref(g->outs);
    g->outs = json_array();
    double worst = -1;
    for (int a = 0; a < g_decl.nargs; a++) {
        const struct dc_arg *x = &g_decl.args[a];
        if (!x->output)
            continue;
        double sums[2], mx;
        memcpy(sums, hw[a], sizeof sums);
        memcpy(&mx, hw[a] + 2, sizeof mx);
        unsigned long long bad = hw[a][3];
        double e = !g->trusted ? 0 : sums[1] > 0 ? sqrt(sums[0] / sums[1]) : mx;
        json_array_append_new(g->outs, json_pack("{s:s, s:o, s:f, s:I}", "name", x->name, "rel_err", hc_jnum(e),
                                                 "tolerance", x->tolerance, "nonfinite", (json_int_t)bad));
        double rel = x->tolerance > 0 ? e / x->tolerance : (e > 0 ? INFINITY : 0);
        if (rel > worst)
            worst = rel, g->err = e, g->err_arg = a;
        if (*ok && bad) {
            *ok = false;
            snprintf(why, n, "output '%s': %llu of %zu elements NaN/Inf where the reference's are finite (unwritten: "
                     "the judge poisons \"write\" outputs before each call)", x->name, bad, (size_t)g->s->count[a]);
        } else if (*ok && !(e <= x->tolerance)) {
            *ok = false;
            snprintf(why, n, "output '%s': relative error %.3g above its tolerance %.3g", x->name, e, x->tolerance);
        }
    }
}

/* The reference on the inputs of side's last n calls: the same seeds into
 * the reference's sets 0..n-1, one batch (in the timed rounds the round's
 * timed one: none when it ran already on the round's inputs). 0, or -1
 * (g->j.err: the reference failing is the judge's failure, not the
 * candidate's). */
static int reference_for(struct dj *g, int side, int n)
{
    char why[512];
    double dt;
    if (g->in_rounds && g->ref_out_round == js_round)
        return 0;
    if (fill_from(g, REF, n, g->seed[side]))
        return -1;
    g->for_check = true;
    /* a repeat of the reference: the same inputs as the candidate's, its outputs poisoned again */
    int r = batch(g, REF, n, &dt, why, sizeof why, [&] { return fill_from(g, REF, n, g->seed[side]); });
    g->for_check = false;
    if (r == 0)
        return 0;
    snprintf(g->j.err, sizeof g->j.err, "%s%.480s", r == 1 ? "the reference kernel failed: " : "", why);
    return -1;
}

/* The checks of the n calls of side's last batch (js_run's check), enqueued
 * together and read back at once: every call's "read" arguments unchanged
 * (the reference's too); a candidate's outputs against the reference on
 * the same inputs (run first, one batch for all n: its batch has idle
 * probes, so nothing of the checks may be queued before it), or without a
 * reference its outputs finite. 0 with *bad the first call that failed
 * (why) or -1; -1 the judge failed (g->j.err). */
static int check_calls(struct dj *g, int side, int n, int *bad, char *why, size_t nwhy)
{
    static int hidx[RP_MAX_BATCH][DC_MAX_ARGS], cidx[RP_MAX_BATCH][DC_MAX_ARGS];
    bool cand = side != REF;
    *bad = -1;
    if (cand && g->trusted && reference_for(g, side, n))
        return -1;
    if (jd_res_begin(&g->j))
        return -1;
    for (int k = 0; k < n; k++)
        for (int a = 0; a < g_decl.nargs; a++) {
            const struct dc_arg *x = &g_decl.args[a];
            hidx[k][a] = cidx[k][a] = -1;
            if (!x->scalar && x->access == DC_READ &&
                ((hidx[k][a] = jd_res_take(&g->j, 1)) < 0 ||
                 jd_hash_to(&g->j, buf_of(g, side, k, a), (g->L.bytes[a] + 3) / 4 * 4, g->j.res + hidx[k][a])))
                return -1;
            if (cand && x->output &&
                ((cidx[k][a] = jd_res_take(&g->j, 4)) < 0 ||
                 compare_to(g, side, k, a, g->trusted ? k : -1, g->j.res + cidx[k][a])))
                return -1;
        }
    if (jd_res_read(&g->j))
        return -1;
    for (int k = 0; k < n; k++) {
        const unsigned long long *hw[DC_MAX_ARGS];
        bool ok = true;
        g->checks[side]++;
        for (int a = 0; a < g_decl.nargs && ok; a++)
            if (hidx[k][a] >= 0 && g->j.hres[hidx[k][a]] != g->hash[side][k][a]) {
                ok = false;
                snprintf(why, nwhy, "the %s wrote its read-only argument '%s' (its hash changed during the call)",
                         g->side[side].label, g_decl.args[a].name);
            }
        if (ok && cand) {
            for (int a = 0; a < g_decl.nargs; a++)
                hw[a] = cidx[k][a] >= 0 ? g->j.hres + cidx[k][a] : NULL;
            outputs_judged(g, hw, &ok, why, nwhy);
        }
        if (!ok) {
            *bad = k;
            return 0;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* records                                                                   */

/* a record begun with the fields every one of this judge's has */
static json_t *rec_common(const char *type, const struct dc_shape *s)
{
    json_t *o = json_pack("{s:s}", "type", type);
    json_object_set_new(o, "shape", json_string(s->label));
    json_object_set_new(o, "heldout", json_boolean(s->heldout));
    if (s->drawn) json_object_set_new(o, "drawn", json_true());
    json_object_set_new(o, "family", json_string("declared"));
    json_object_set_new(o, "kernel", json_string(g_decl.name));
    json_object_set_new(o, "trusted", json_boolean(g_decl.ref != DC_REF_NONE));
    return o;
}

static void correctness_rec(struct dj *g, bool passed, bool skipped, double err, const char *reason)
{
    const struct dc_shape *s = g->s;
    json_t *o = rec_common("Correctness", s);
    int a = g->err_arg;
    json_object_set_new(o, "passed", json_boolean(passed));
    json_object_set_new(o, "skipped", json_boolean(skipped));
    json_object_set_new(o, "rel_err", g->trusted ? hc_jnum(err) : json_null());
    json_object_set_new(o, "tolerance", a >= 0 ? json_real(g_decl.args[a].tolerance) : json_null());
    json_object_set_new(o, "output", a >= 0 ? json_string(g_decl.args[a].name) : json_null());
    json_object_set_new(o, "outputs", g->outs ? json_incref(g->outs) : json_array());
    json_object_set_new(o, "seed", json_integer((json_int_t)jd_seed));
    json_object_set_new(o, "reason", json_string(reason ? reason : ""));
    json_object_set_new(o, "candidate", json_string(g_cand[js_rival]));
    json_object_set_new(o, "reference", g->trusted ? json_string(g_decl.ref_path) : json_null());
    json_object_set_new(o, "inputs_readonly", json_boolean(g->side[js_side(js_rival)].ro_readonly));
    json_object_set_new(o, "signature_checked", json_boolean(g->ki[js_side(js_rival)].sig_checked == 1));
    js_emit(hc_dump(o));
}

/* The rate bound for the impossible check: the dense fp16 tensor rate of the
 * chip (jd_bound_tflops) doubled, the int8/fp8 rate, which no declared
 * element type's kernel beats. 0: none (no flops given, or no table entry). */
static double rate_bound(double flops, double median_ms, bool *impossible, char *bt, size_t nbt, char *why,
                         size_t nwhy)
{
    int max_mhz = 0, sms = 0;
    char t[120];
    *impossible = false;
    snprintf(bt, nbt, "no flops given");
    if (!(flops > 0))
        return 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    if (g_nvml.ok && g_nvml.max_clock)
        g_nvml.max_clock(g_nvml.dev, 1, (unsigned *)&max_mhz);
    if (max_mhz <= 0 && cudaDeviceGetAttribute(&max_mhz, cudaDevAttrClockRate, 0) == cudaSuccess)
        max_mhz /= 1000;
    double b = 2 * jd_bound_tflops(g_ceil.cc, sms, max_mhz, 1, t, sizeof t);
    snprintf(bt, nbt, "2 x %s (the int8 rate)", t);
    double tf = flops / median_ms / 1e9;
    *impossible = b > 0 && tf > b * JD_BOUND_MARGIN;
    if (*impossible)
        snprintf(why, nwhy, "impossible: %.0f TFLOP/s > bound %.0f TFLOP/s = %s, +%.0f%%", tf, b, bt,
                 100 * (JD_BOUND_MARGIN - 1));
    return b;
}

/* Candidate k's Performance (and, alone, Analysis) from the rounds R. */
static void emit_timed(struct dj *g, const js_rounds *R, int k, double err)
{
    const struct dc_shape *s = g->s;
    const char *verdict = R->verdict, *fail = R->all[0] ? R->all : NULL;
    char why[512] = "", bt[200];
    struct hc_stats c, b;
    memset(&c, 0, sizeof c), memset(&b, 0, sizeof b);
    c.median = b.median = NAN;
    if (!fail && R->done >= 2) {
        std::vector<double> tc(R->t[k], R->t[k] + R->done);
        hc_stats(tc.data(), R->done, &c);
        if (R->tb) {
            std::vector<double> tb(R->tb, R->tb + R->done);
            hc_stats(tb.data(), R->done, &b);
        }
    }
    bool impossible = false;
    double bound = rate_bound(s->flops, c.median, &impossible, bt, sizeof bt, why, sizeof why);
    if (!fail && impossible) {
        verdict = "impossible", fail = why;
        correctness_rec(g, false, false, NAN, fail);
    } else {
        char okr[200];
        snprintf(okr, sizeof okr, "ok (%d calls checked: every output against the reference kernel on the same "
                 "inputs)", g->checks[js_side(k)]);
        correctness_rec(g, true, false, err, g->trusted ? okr : "untrusted: no reference kernel; outputs finite, "
                        "inputs unchanged");
    }
    json_t *o = rec_common("Performance", s);
    json_object_set_new(o, "time_ms", hc_jnum(c.median));
    json_object_set_new(o, "time_ms_p20", hc_jnum(c.p20));
    json_object_set_new(o, "time_ms_p80", hc_jnum(c.p80));
    json_object_set_new(o, "reps", json_integer(R->done));
    json_object_set_new(o, "gflops", hc_jnum(s->flops > 0 ? s->flops / c.median / 1e6 : NAN));
    json_object_set_new(o, "gbps", hc_jnum(s->bytes > 0 ? s->bytes / c.median / 1e6 : NAN));
    json_object_set_new(o, "baseline", R->tb ? json_string("reference") : json_null());
    json_object_set_new(o, "baseline_time_ms", hc_jnum(b.median));
    json_object_set_new(o, "ratio", hc_jnum(R->tb ? b.median / c.median : NAN));
    json_object_update_new(o, js_perf_fields(R, k, verdict, fail, bound, bt, &g->side[js_side(k)]));
    js_emit(hc_finish_clocks(o, R->ck.sm_mhz, R->ck.mem_mhz, R->ck.power_w, R->ck.reasons, false));
    /* a session ranks; a roofline needs both counts given (< 0: not), and
     * bytes moved: 0 flops is a count (a copy, whose class is memory) */
    if (fail || R->nc != 1 || s->flops < 0 || !(s->bytes > 0))
        return;
    const int64_t *ki = g->ki[js_side(k)].kinfo;
    struct hc_perf_in in;
    struct hc_perf_out out;
    memset(&in, 0, sizeof in);
    in.flops = s->flops, in.bytes = s->bytes, in.time_ms = c.median;
    in.peak_tflops = g_ceil.peak_tflops, in.peak_gbps = g_ceil.copy_gbps;
    in.registers = (int)ki[0], in.smem_bytes = (int)ki[1] + (int)s->smem, in.local_bytes = (int)ki[2];
    in.block_threads = (int)(s->block[0] * s->block[1] * s->block[2]), in.blocks_per_sm = (int)ki[4];
    in.grid_blocks = (long long)s->grid[0] * s->grid[1] * s->grid[2];
    in.sm_count = g_ceil.sm_count, in.max_threads_per_sm = g_ceil.max_threads_per_sm;
    hc_classify(&in, &out);
    js_emit(hc_finish_analysis(rec_common("Analysis", s), &in, &out));
}

/* ------------------------------------------------------------------------ */
/* the shape child                                                           */

/* A side's runner started, its kernel found and its parameters matched.
 * 0; 1 the side failed (why); 2 the runner could not start (why). */
static int start_side(struct dj *g, int side, const char *image, const char *entry, bool ref, char *why, size_t n)
{
    const struct dc_shape *s = g->s;
    int r = hd_timed("spawn", [&] { return cj_side_start(&g->side[side], g_runner, image, "declared", why, n); });
    if (r)
        return r == 4 ? 2 : 1;
    cp_kquery q;
    uint32_t off[DC_MAX_ARGS], size[DC_MAX_ARGS];
    uint64_t addr[DC_MAX_ARGS] = {0};
    unsigned char tmp[CP_KPARAM_BYTES];
    memset(&q, 0, sizeof q);
    q.h = (rp_head){RP_MAGIC, CP_KQUERY};
    snprintf(q.entry, sizeof q.entry, "%s", entry);
    dc_pack_params(&g_decl, s, addr, tmp, sizeof tmp, off, size);
    q.nparams = g_decl.nargs;
    memcpy(q.poff, off, sizeof off), memcpy(q.psize, size, sizeof size);
    q.block_threads = ref ? s->rblock[0] * s->rblock[1] * s->rblock[2] : s->block[0] * s->block[1] * s->block[2];
    q.smem = ref ? s->rsmem : s->smem;
    /* the candidate must have every __constant__ symbol; the reference may
     * read the same data through its parameter instead */
    q.cmem_required = !ref;
    for (int a = 0; a < g_decl.nargs; a++)
        if (g_decl.args[a].constant) {
            snprintf(q.cmem_name[q.ncmem], sizeof q.cmem_name[q.ncmem], "%s", g_decl.args[a].name);
            q.cmem_bytes[q.ncmem++] = g->L.bytes[a];
        }
    /* the pools first: the runner's context and stream come with them */
    if (hd_timed("pools", [&] {
            return (g->L.set_bytes[0] && cj_side_map(&g->side[side], g->L.set_bytes[0] * (size_t)g->nsets, why, n)) ||
                   (g->L.set_bytes[1] && cj_side_map_ro(&g->side[side], g->L.set_bytes[1] * (size_t)g->nsets, why, n));
        }))
        return 2;
    if (hd_timed("query", [&] { return cj_side_kquery(&g->side[side], &q, &g->ki[side], why, n); }))
        return 1;
    if (g->ki[side].rc != 0) {
        snprintf(why, n, "the %s's kernel '%s': %s", g->side[side].label, entry, g->ki[side].msg);
        return 1;
    }
    return 0;
}

/* Calls per batch: about --batch-ms of work at a first guess of the call's
 * time from its bytes (1 TB/s) or flops (20 TFLOP/s), within the pools. */
static int sets_for(const struct dc_shape *s, size_t set_bytes)
{
    double est = 5e-6 + fmax(s->bytes > 0 ? s->bytes / 1e12 : 0, s->flops > 0 ? s->flops / 20e12 : 0);
    return cs_calls_per_batch(est, g_args.batch_ms, set_bytes, 0, g_ncand, RP_MAX_BATCH);
}

/* Candidate k's two full checks. 1 passed (*err the larger), 0 failed (its
 * record written), -1 the judge failed (its record written). */
static int check_candidate(struct dj *g, int k, double *err)
{
    int side = js_side(k);
    double dt, e[2] = {NAN, NAN};
    char why[512] = "", cw[440] = "";
    bool ok = false;
    int i, r = 0;
    js_rival = k;
    json_decref(g->outs);
    g->outs = NULL, g->err_arg = -1;
    for (i = 0; i < 2; i++) {
        int bad = -1;
        if (fill_sets(g, side, 1))
            r = -1;
        else if ((r = batch(g, side, 1, &dt, cw, sizeof cw, [&] { return refill_sets(g, side, 1); })) == 0 &&
                 (r = check_calls(g, side, 1, &bad, cw, sizeof cw)) == 0)
            ok = bad < 0;
        e[i] = g->err;
        if (r != 0 || !ok)
            break;
    }
    if (r < 0) {
        correctness_rec(g, false, false, NAN, g->j.err);
        return -1;
    }
    if (r != 0 || !ok) {
        snprintf(why, sizeof why, "full check %d of 2 (%s): %s", i + 1, g->trusted ? "reference kernel" : "untrusted",
                 cw);
        correctness_rec(g, false, false, r == 0 ? e[i] : NAN, why);
        return 0;
    }
    *err = fmax(e[0], e[1]);
    if (cj_side_denied(&g->side[side], why, sizeof why)) {
        correctness_rec(g, false, false, NAN, why);
        return 0;
    }
    return 1;
}

/* A failed Correctness record for every candidate with up[k]. */
static void fail_all(struct dj *g, const bool *up, const char *why)
{
    for (int k = 0; k < g_ncand; k++)
        if (up[k]) {
            js_rival = k;
            correctness_rec(g, false, false, NAN, why);
        }
}

/* The timed rounds of the candidates that passed, then their records. */
static int timed(struct dj *g, const bool *pass, const double *err)
{
    static js_rounds R;
    memset(&R, 0, sizeof R);
    R.nc = g_ncand, R.n = g->nsets, R.between_runs = g_args.between_runs;
    memcpy(R.timed, pass, sizeof R.timed);
    g->in_rounds = true, g->seed_round = g->ref_out_round = g->ref_timed_round = -1;
    int r = js_run(
        &R, &g->j, g->trusted ? REF : -1, g_args.reps, g_args.warmup,
        [&](int side, int n) { return fill_sets(g, side, n); },
        [&](int side, int n, double *dt, char *why, size_t nw) {
            return batch(g, side, n, dt, why, nw, [&] { return refill_sets(g, side, n); });
        },
        [&](int side, int n, int *bad, char *why, size_t nw) { return check_calls(g, side, n, bad, why, nw); });
    g->in_rounds = false;
    hd_phase("records");
    if (r)
        snprintf(R.all, sizeof R.all, "judge: out of host memory"), R.rc = HC_CHILD_HARNESS_ERR;
    for (int k = 0; k < R.nc; k++) {
        if (!R.timed[k])
            continue;
        js_rival = k;
        const char *fail = R.all[0] ? R.all : !R.in[k] ? R.why[k] : NULL;
        if (fail && strcmp(R.verdict, "interference") != 0)
            correctness_rec(g, false, false, NAN, fail);
        else
            emit_timed(g, &R, k, err[k]);
    }
    int rc = R.rc;
    js_free(&R);
    return rc;
}

/* The runners' ends: a candidate whose sandbox denied a call gets a failing
 * record of its own (shape "runner"). */
static void stop_all(struct dj *g)
{
    for (int k = 0; k < g_ncand; k++) {
        char sw[300] = "";
        js_rival = k;
        if (cj_side_stop(&g->side[js_side(k)], sw, sizeof sw) != 0) {
            json_t *o = rec_common("Correctness", g->s);
            json_object_set_new(o, "shape", json_string("runner"));
            json_object_set_new(o, "passed", json_false());
            json_object_set_new(o, "reason", json_string(sw));
            json_object_set_new(o, "seed", json_integer((json_int_t)jd_seed));
            js_emit(hc_dump(o));
        }
    }
    cj_side_stop(&g->side[REF], NULL, 0);
    json_decref(g->outs);
    g->outs = NULL;
    jd_close(&g->j);
}

static int run_shape(const struct dc_shape *s)
{
    static struct dj gs;
    struct dj *g = &gs;
    char why[512] = "";
    bool up[DC_MAX_CAND] = {false}, pass[DC_MAX_CAND] = {false};
    double err[DC_MAX_CAND];
    int rc = HC_CHILD_OK, nup = 0, npass = 0;
    bool broken = false; /* the judge's own step failed: nothing after it is trusted */
    memset(g, 0, sizeof *g);
    g->s = s;
    g->err_arg = -1;
    g->trusted = g_decl.ref != DC_REF_NONE;
    dc_layout_of(&g_decl, s, &g->L);
    jd_seed_for((long)(s - g_decl.shapes) * 1000003L + 17);
    g->nsets = g_args.check_only || s->heldout ? 1 : sets_for(s, g->L.set_bytes[0] + g->L.set_bytes[1]);
    for (int i = 0; i < JS_SIDES; i++)
        g->side[i].dead = true, g->side[i].label = "candidate";
    g->side[REF].label = "reference";
    for (int k = 0; k < g_ncand; k++)
        g->side[js_side(k)].label = js_label(k), up[k] = true;
    hd_name_shape(s->label, s->heldout);
    /* (the phases of the Cost record move on between the steps) */
    if (cudaSetDevice(0) != cudaSuccess || jd_open(&g->j) || (hd_phase("idle_calibrate"), jd_calibrate(&g->j))) {
        fail_all(g, up, g->j.err[0] ? g->j.err : "judge: CUDA setup failed");
        return HC_CHILD_HARNESS_ERR;
    }
    hd_phase("nvml");
    if (!g_args.check_only && !s->heldout) /* the clocks are read while timing only: not for a check */
        nvml_open(0);
    hd_phase("runners_start");
    for (int k = 0; k < g_ncand; k++) {
        js_rival = k;
        int r = start_side(g, js_side(k), g_cand[k], g_decl.entry, false, why, sizeof why);
        if (r)
            correctness_rec(g, false, false, NAN, why), up[k] = false, rc = r == 2 ? HC_CHILD_HARNESS_ERR : rc;
        nup += r == 0;
    }
    if (nup && g->trusted && start_side(g, REF, g_decl.ref_path, g_decl.ref_entry, true, why, sizeof why)) {
        char w2[600];
        snprintf(w2, sizeof w2, "judge: the reference cannot run: %s", why);
        fail_all(g, up, w2);
        rc = HC_CHILD_HARNESS_ERR, nup = 0, broken = true;
    }
    hd_phase("checks");
    for (int k = 0; k < g_ncand && nup; k++) {
        if (!up[k])
            continue;
        int r = check_candidate(g, k, &err[k]);
        if (r < 0) { /* its record written; the others after it get theirs */
            bool rest[DC_MAX_CAND] = {false};
            for (int j = k + 1; j < g_ncand; j++)
                rest[j] = up[j];
            fail_all(g, rest, "not checked: the judge failed on an earlier candidate of the session");
            rc = HC_CHILD_HARNESS_ERR, broken = true;
            break;
        }
        pass[k] = r == 1, npass += r == 1;
    }
    if (!broken && (g_args.check_only || s->heldout)) {
        for (int k = 0; k < g_ncand; k++)
            if (pass[k]) {
                js_rival = k;
                correctness_rec(g, true, false, err[k], g->trusted ? "ok (2 checks, reference kernel)"
                                                                   : "untrusted: no reference kernel (2 checks: "
                                                                     "outputs finite, inputs unchanged)");
            }
    } else if (!broken && npass) {
        int t = timed(g, pass, err);
        rc = t != HC_CHILD_OK ? t : rc;
    }
    hd_phase("teardown");
    stop_all(g);
    return rc;
}

static int shape_fn(int fd, const void *arg)
{
    (void)fd;
    return run_shape((const struct dc_shape *)arg);
}

/* The compute ceiling for the Analysis record: cuBLAS SGEMM 8192^3 (fp32
 * without tensor cores: the rate a plain fp32 kernel can reach). */
static double measure_sgemm_peak(int dt)
{
    const int n = 8192;
    (void)dt;
    return cublas_peak_tflops(
        n, (size_t)n * n * sizeof(float),
        [&](void *a, void *b) {
            dk_fill<float><<<4096, 256>>>((float *)a, (size_t)n * n, 0, 0.0, 1.0, 1);
            dk_fill<float><<<4096, 256>>>((float *)b, (size_t)n * n, 0, 0.0, 1.0, 2);
            return cudaDeviceSynchronize() == cudaSuccess;
        },
        [&](cublasHandle_t h, void *a, void *b, void *c) {
            const float one = 1, zero = 0;
            cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, (const float *)a, n, (const float *)b, n, &zero,
                        (float *)c, n);
        });
}

/* The images the runners load must be readable files (the engine's
 * sandbox wrote them; a missing one is a refusal naming the field). */
static int images_ok(void)
{
    for (int k = 0; k < g_ncand; k++)
        if (access(g_cand[k], R_OK) != 0) {
            fprintf(stderr, "%s: %s: %s: cannot read the candidate's image: %s\n", SPAK_HARNESS_PROG, g_args.decl,
                    g_args.ncand ? "--candidate" : "candidate", strerror(errno));
            return -1;
        }
    if (g_decl.ref == DC_REF_FUNCTION && access(g_decl.ref_path, R_OK) != 0) {
        fprintf(stderr, "%s: %s: reference.path: '%s' cannot be loaded: %s\n", SPAK_HARNESS_PROG, g_args.decl,
                g_decl.ref_path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[1024];
    hd_cost_begin("declared");
    int rc = args_exit(dc_parse_args(argc, argv, &g_args, err, sizeof err), err);
    if (rc >= 0)
        return rc;
    if (dc_load(g_args.decl, &g_decl, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", SPAK_HARNESS_PROG, err);
        return 2;
    }
    g_ncand = g_args.ncand;
    memcpy(g_cand, g_args.candidates, sizeof g_cand);
    if (!g_ncand) {
        if (!g_decl.candidate[0]) {
            fprintf(stderr, "%s: %s: candidate: missing (and no --candidate given)\n", SPAK_HARNESS_PROG, g_args.decl);
            return 2;
        }
        g_cand[0] = g_decl.candidate, g_ncand = 1;
    }
    if (images_ok())
        return 2;
    if (cj_find_runner(g_runner, sizeof g_runner)) {
        fprintf(stderr, "%s: spak-runner-cuda is missing beside the judge\n", SPAK_HARNESS_PROG);
        return 2;
    }
    if (jd_draw_seed()) {
        fprintf(stderr, "%s: getrandom failed\n", SPAK_HARNESS_PROG);
        return 2;
    }
    const struct probe_args pa = {0, "fp32", measure_sgemm_peak, g_args.ceilings_cache};
    if (probe_device(&pa, g_args.timeout_s, "sgemm fp32", &g_ceil) != 0)
        return 2;
    if (g_ncand > 1 && js_open_session(g_ncand))
        return 2;
    return run_shapes(shape_fn, g_decl.shapes, g_decl.nshapes, g_args.timeout_s * g_ncand, g_args.check_only,
                      [](const struct dc_shape *s, int done, const struct hc_child *r, const char *why) {
                          (void)r;
                          if (done > 0) {
                              static struct dj g; /* only for the records' fields */
                              bool all[DC_MAX_CAND];
                              memset(&g, 0, sizeof g);
                              g.s = s, g.err_arg = -1, g.trusted = g_decl.ref != DC_REF_NONE;
                              for (int k = 0; k < DC_MAX_CAND; k++)
                                  all[k] = k < g_ncand;
                              fail_all(&g, all, why);
                          }
                      });
}
