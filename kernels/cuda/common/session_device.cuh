/*
 * session_device.cuh - the timed rounds both CUDA judges run (included by
 * kernels/cuda/gemm/harness.cu and kernels/cuda/fmha/harness_fmha.cu after
 * judge_device.cuh): one candidate against the baseline, or a session of
 * several candidates (--candidate repeated) timed side by side, each in its
 * own runner, one batch of every candidate and one of the baseline a round
 * (session.h: the order, the limits, the precision rule). A batch is
 * jd_batch (idle before and after, return codes, errors after the calls,
 * late work); every call of every batch is checked after it, as in the
 * single-candidate path, by the family's check.
 *
 * The family gives three functions: fill(side, n) (fresh inputs into sets
 * 0..n-1 of side, outputs poisoned; 0 or -1 with j->err), batch(side, n,
 * &dt, why, nwhy) (jd_batch's codes) and check(side, n, &bad, why, nwhy):
 * every one of the batch's n calls checked, their checks enqueued together
 * and read back at once (jd_res_*); *bad the first call that failed (why) or
 * -1; 0, or -1 with j->err. It writes the records from the js_rounds result, with
 * js_perf_fields for the Performance record's shared fields.
 */
#ifndef SPAK_CUDA_SESSION_DEVICE_CUH
#define SPAK_CUDA_SESSION_DEVICE_CUH

#include "session.h"

/* The session of this run ("" with one candidate): drawn once in the
 * parent, so every shape child's records name the same session. */
static char js_session[24];
static int js_size = 1;   /* candidates in the session */
static int js_rival = 0;  /* the candidate whose record is written now */
/* the round js_run is in (warm-up rounds counted), -1 outside: how a
 * judge's callbacks tell one round from the next */
static int js_round = -1;

/* A session of nc candidates for this run: its id drawn now (in the
 * parent, before the shape children). 0, or -1 with a message on stderr. */
static int js_open_session(int nc)
{
    if (cs_session_id(js_session, sizeof js_session)) {
        fprintf(stderr, "%s: getrandom failed\n", SPAK_HARNESS_PROG);
        return -1;
    }
    js_size = nc;
    return 0;
}

/* A record, with the session's fields when there is a session, on stdout. */
static void js_emit(char *rec)
{
    if (rec && js_session[0]) {
        json_t *x = json_object();
        cs_session_fields(x, js_session, js_rival, js_size);
        rec = with_fields(rec, x);
    }
    emit(rec);
}

/* The side of candidate k: 0 for the first (the judges' CAND), then after
 * the baseline's 1. */
static inline int js_side(int k)
{
    return k == 0 ? 0 : k + 1;
}
#define JS_SIDES (CS_MAX_CAND + 1)
#define JS_BASE 1

/* "candidate" alone, "candidate 2" in a session: what the reasons call it */
static const char *js_label(int k)
{
    static const char *names[CS_MAX_CAND] = {"candidate 0", "candidate 1", "candidate 2", "candidate 3",
                                             "candidate 4", "candidate 5", "candidate 6", "candidate 7"};
    return js_size > 1 && k >= 0 && k < CS_MAX_CAND ? names[k] : "candidate";
}

struct js_rounds {
    int nc, n;                   /* candidates, calls per batch */
    int done;                    /* rounds recorded (after the warm-up) */
    double *t[CS_MAX_CAND], *tb; /* ms a call, per round (tb NULL without a baseline) */
    bool timed[CS_MAX_CAND];     /* entered the rounds (passed its checks) */
    bool in[CS_MAX_CAND];        /* still in: no batch or check of it failed */
    char why[CS_MAX_CAND][512];  /* why candidate k went out */
    const char *verdict;         /* "ok", "interference" */
    char all[600];               /* what ended the rounds for every candidate ("" none) */
    int rc;                      /* the child's exit code */
    double between_runs;         /* --between-runs: every ratio interval widened by it (session.h) */
    struct clocks ck;            /* sampled half-way */
    /* --stop-slower-than (one candidate only, harness_core.h): stop_ms the
     * shape's limit a call (0: none); the candidate's first two batches each
     * slower than it end the rounds with stopped set, early_ms their times */
    double stop_ms, early_ms[2];
    int nearly;
    bool stopped;
};

static void js_free(js_rounds *R)
{
    for (int k = 0; k < CS_MAX_CAND; k++)
        free(R->t[k]);
    free(R->tb);
    memset(R, 0, sizeof *R);
}

/* The rounds of one shape: candidates k < nc with timed[k] (R->timed set by
 * the caller), the baseline on base_side (-1: none), n calls a batch. At
 * least --reps rounds, then until every ratio's interval reaches the
 * precision, at most 4x --reps (a session: at least 10); warm-up rounds
 * first (at most 2, not recorded). 0, or -1 out of host memory. */
template <class Fill, class Batch, class Check>
static int js_run(js_rounds *R, jd_state *j, int base_side, int reps, int warmup, Fill fill, Batch batch, Check check)
{
    int nc = R->nc, n = R->n, lo, cap, wu = warmup < 2 ? warmup : 2, order[CS_MAX_CAND + 1];
    bool sampled = false;
    char why[512];
    cs_round_limits(reps, nc, &lo, &cap);
    R->verdict = "ok";
    R->rc = HC_CHILD_OK;
    R->done = 0;
    R->tb = base_side >= 0 ? (double *)calloc(cap, sizeof(double)) : NULL;
    if (base_side >= 0 && !R->tb)
        return -1;
    for (int k = 0; k < nc; k++) {
        R->in[k] = R->timed[k];
        if (!(R->t[k] = (double *)calloc(cap, sizeof(double))))
            return -1;
    }
    const char *stop = "failure";
    R->stopped = false;
    R->nearly = 0;
    hd_phase(wu ? "warmup" : "timed");
    for (int r = 0; r < wu + cap && !R->all[0] && !R->stopped; r++) {
        js_round = r;
        if (r == wu && wu)
            hd_phase("timed");
        cs_order(r, nc, order);
        for (int o = 0; o <= nc && !R->all[0]; o++) {
            int k = order[o], side = k < 0 ? base_side : js_side(k);
            const char *who = k < 0 ? "baseline" : js_label(k);
            double dt = 0;
            if (side < 0 || (k >= 0 && !R->in[k]))
                continue;
            double t0 = hc_now_s();
            int filled = fill(side, n);
            hd_part("inputs", hc_now_s() - t0);
            if (filled) {
                snprintf(R->all, sizeof R->all, "%.500s", j->err);
                R->rc = HC_CHILD_HARNESS_ERR;
                break;
            }
            int b = batch(side, n, &dt, why, sizeof why);
            if (b == 2) { /* the device was busy: nobody's time counts */
                R->verdict = "interference";
                snprintf(R->all, sizeof R->all, "%s", why);
                break;
            }
            if (b != 0 && (b < 0 || k < 0)) {
                snprintf(R->all, sizeof R->all, "%.500s", b < 0 ? j->err : why);
                R->rc = HC_CHILD_HARNESS_ERR;
                break;
            }
            if (b != 0) {
                R->in[k] = false;
                snprintf(R->why[k], sizeof R->why[k], "%s", why);
                continue;
            }
            if (r == wu + reps / 2 && !sampled)
                R->ck = nvml_sample(), sampled = true;
            t0 = hc_now_s();
            int bad = -1;
            char cw[400] = "";
            int chk = check(side, n, &bad, cw, sizeof cw);
            hd_part("call_checks", hc_now_s() - t0);
            if (chk) {
                snprintf(R->all, sizeof R->all, "%.500s", j->err);
                R->rc = HC_CHILD_HARNESS_ERR;
            } else if (bad >= 0) {
                char *dst = k < 0 ? R->all : R->why[k];
                snprintf(dst, k < 0 ? sizeof R->all : sizeof R->why[k], "timed call %d (%s): %s", r * n + bad + 1,
                         who, cw);
                if (k < 0)
                    R->rc = HC_CHILD_HARNESS_ERR;
                else
                    R->in[k] = false;
            }
            if (r >= wu && (k < 0 || R->in[k]))
                (k < 0 ? R->tb : R->t[k])[r - wu] = dt / n * 1e3;
            if (k == 0 && nc == 1 && R->stop_ms > 0 && R->in[0] && R->nearly < 2) {
                /* hopeless? its first two batches, checked, each slower than the limit a call */
                R->early_ms[R->nearly++] = dt / n * 1e3;
                if (R->nearly == 2 && R->early_ms[0] > R->stop_ms && R->early_ms[1] > R->stop_ms) {
                    R->stopped = true;
                    stop = "stopped early";
                    break;
                }
            }
        }
        if (R->stopped)
            break;
        if (r < wu || R->all[0])
            continue;
        R->done = r - wu + 1;
        bool any = false;
        for (int k = 0; k < nc; k++)
            any = any || R->in[k];
        if (!any || cs_enough(R->t, R->in, nc, R->tb, R->done, lo)) {
            stop = any ? "precision" : "every candidate out";
            break;
        }
        if (R->done == cap)
            stop = "cap";
    }
    js_round = -1;
    /* how many rounds, and what stopped them: the Cost record's */
    json_decref(hd_shape_extra);
    hd_shape_extra = json_pack("{s:i,s:i,s:i,s:i,s:s}", "rounds", R->done, "rounds_min", lo, "rounds_cap", cap,
                               "calls_per_batch", n, "rounds_stopped_by", stop);
    return 0;
}

/* The Performance record of a candidate stopped early (R->stopped): its two
 * batches' time a call (the mean: time_ms), no ratio, "verdict":"stopped"
 * (no "passed": it was not timed to the end; the engine keeps it censored,
 * src/analyze/early_stop.h). fields: the family's own (type, shape, heldout,
 * dtype, ...), taken. */
static void js_emit_stopped(json_t *fields, const js_rounds *R)
{
    double ms = (R->early_ms[0] + R->early_ms[1]) / 2;
    char why[300];
    snprintf(why, sizeof why,
             "stopped early: %.4g and %.4g ms a call in its first two batches, each slower than the limit of %.4g "
             "ms (--stop-slower-than); not timed further",
             R->early_ms[0], R->early_ms[1], R->stop_ms);
    json_t *x = json_pack("{s:f, s:i, s:o, s:f, s:i, s:s, s:s}", "time_ms", ms, "reps", 2, "ratio", json_null(),
                          "stop_slower_than_ms", R->stop_ms, "calls_per_batch", R->n, "verdict", "stopped", "reason",
                          why);
    if (fields && x)
        json_object_update(fields, x);
    json_decref(x);
    js_emit(hc_dump(fields));
}

/* --stop-slower-than's shape names, each one of the run's timed shapes
 * (str: the family's shape text, as the records write it); false after a
 * message when one is not. */
template <typename Shape>
static bool js_stop_names_ok(const char *spec, const Shape *shapes, int n,
                             const char *(*str)(const Shape *, char *, size_t))
{
    static char buf[64][96];
    const char *names[64];
    int k = 0;
    for (int i = 0; i < n && k < 64; i++)
        if (!shapes[i].heldout) {
            names[k] = str(&shapes[i], buf[k], sizeof buf[k]);
            k++;
        }
    char bad[96];
    if (!spec || hc_stop_names(spec, names, k, bad, sizeof bad))
        return true;
    fprintf(stderr, "%s: --stop-slower-than: '%s' is not a timed shape of this run\n", SPAK_HARNESS_PROG, bad);
    return false;
}

/* A shape not run because an earlier one stopped the candidate early
 * (run_shapes' after() with rc 2): a Correctness record with no "passed",
 * "verdict":"stopped" (the CPU judge's "not checked" record). */
static void js_emit_not_checked(const char *shape, bool heldout)
{
    js_emit(hc_dump(json_pack("{s:s, s:s, s:b, s:s, s:s}", "type", "Correctness", "shape", shape, "heldout", heldout,
                              "verdict", "stopped", "reason", "not checked: the candidate was stopped early")));
}

/* The chip's rate bound and whether a median of median_ms for flops is
 * above it by JD_BOUND_MARGIN (*impossible, the reason in why). bt gets how
 * the bound was computed; returns it in TFLOP/s (0: none). */
static double js_bound(int cc, int dtype, double flops, double median_ms, bool *impossible, char *bt, size_t nbt,
                       char *why, size_t nwhy)
{
    int max_mhz = 0, sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    if (g_nvml.ok && g_nvml.max_clock)
        g_nvml.max_clock(g_nvml.dev, 1, (unsigned *)&max_mhz);
    if (max_mhz <= 0 && cudaDeviceGetAttribute(&max_mhz, cudaDevAttrClockRate, 0) == cudaSuccess)
        max_mhz /= 1000; /* kHz */
    double bound = jd_bound_tflops(cc, sms, max_mhz, dtype, bt, nbt);
    double tf = flops / median_ms / 1e9;
    *impossible = bound > 0 && tf > bound * JD_BOUND_MARGIN;
    if (*impossible)
        snprintf(why, nwhy, "impossible: %.0f TFLOP/s > bound %.0f TFLOP/s = %s, +%.0f%%", tf, bound, bt,
                 100 * (JD_BOUND_MARGIN - 1));
    return bound;
}

/* The Performance record's fields both judges write for candidate k (on
 * side): the verdict, passed, reason, calls_per_batch, timed_by, the bound,
 * freeze, batches_repeated (its batches of the shape repeated to confirm
 * late work or a busy device, jd_batch_with: 0 or 1), the ratio with its
 * intervals and every sample (cs_ratio_fields) and, in a session, versus
 * (cs_versus). A new JSON object. */
static json_t *js_perf_fields(const js_rounds *R, int k, const char *verdict, const char *fail, double bound,
                              const char *bt, cj_side *side)
{
    json_t *o = json_pack("{s:s, s:b, s:s, s:i, s:s, s:o, s:s, s:s, s:i}", "verdict", verdict, "passed", !fail,
                          "reason", fail ? fail : "", "calls_per_batch", R->n, "timed_by",
                          "judge host clock, CALL to DONE (runner synchronized its device)", "bound_tflops",
                          hc_jnum(bound > 0 ? bound : NAN), "bound_from", bt, "freeze", cj_side_freeze_how(side),
                          "batches_repeated", side->confirmed);
    json_object_update_new(o, cs_ratio_fields(R->t[k], R->tb, R->done, fail != NULL, R->between_runs));
    if (R->nc > 1)
        json_object_set_new(o, "versus", cs_versus(R->t, R->in, R->nc, k, R->done, R->between_runs));
    return o;
}

#endif
