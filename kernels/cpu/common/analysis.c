/*
 * kernels/cpu/common/analysis.c - the judge's Analysis records: for each
 * timed shape, its place under the roofline and its bottleneck class with
 * the numbers behind it (classify.h).
 *
 * Written after every shape was timed, because the fixed cost per call
 * (cpu_fixed_cost) needs the times of two shapes. Two traffics per shape:
 *   - the compulsory one, 4 bytes x (inputs + output): the problem's minimum.
 *     The roofline fields (arith_intensity, roofline_gflops, roofline_frac)
 *     and the "faster than the roofline" flag rest on it, because a model
 *     that overstates the traffic must never flag an honest result;
 *   - the candidate's, from the family's traffic model named by --traffic
 *     (traffic_source "modelled", traffic_model says which and with what
 *     blocking), or else the compulsory one as a lower bound (traffic_source
 *     "compulsory"). The class rests on this one.
 *
 * Before any record is written, a result above the roofline at the
 * compulsory traffic contradicts the ceilings: they are measured again
 * (ceilings.c, once), and the flag rests on the new ones. The records say
 * where the ceilings came from and their spread (ceilings_source,
 * peak_gflops_range, peak_gbps_range, ceilings_measured).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "judge.h"

static double l2_bytes(void)
{
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l2 > 0 ? (double)l2 : 1024.0 * 1024.0; /* a VM that names none: 1 MiB */
}

static double compulsory_bytes(const options *o, const cpu_shape *sh)
{
    double declared = o->fam->bytes ? o->fam->bytes(sh) : -1;
    if (declared >= 0) return declared;
    layout L;
    cpu_layout(o->fam, sh, &L);
    double by = 4.0 * (double)L.out;
    for (int i = 0; i < L.nin; i++) by += 4.0 * (double)L.in[i];
    return by;
}

/* the fraction of the roofline at the compulsory traffic */
static double roof_frac(double fl, double by, double gf, const cpu_ceilings *ceil)
{
    double ai = fl / by;
    double roof = ceil->peak_gflops < ai * ceil->peak_gbps ? ceil->peak_gflops : ai * ceil->peak_gbps;
    return gf / roof;
}

/* where the ceilings came from and their spread */
static void ceiling_fields(json_t *rec, const cpu_ceilings *ceil)
{
    json_object_set_new(rec, "ceilings_source", json_string(ceil->source));
    json_object_set_new(rec, "ceilings_measured", json_integer(ceil->measured));
    json_object_set_new(rec, "peak_gflops_range", json_pack("[f,f]", ceil->gflops_lo, ceil->peak_gflops));
    json_object_set_new(rec, "peak_gbps_range", json_pack("[f,f]", ceil->gbps_lo, ceil->peak_gbps));
    json_object_set_new(rec, "ceilings_remeasured", json_boolean(ceil->remeasured));
}

static void roofline_fields(json_t *rec, double fl, double by, double gf, const cpu_ceilings *ceil, char *flag,
                            size_t nflag)
{
    double ai = fl / by, bw = gf / ai;
    double roof = ceil->peak_gflops < ai * ceil->peak_gbps ? ceil->peak_gflops : ai * ceil->peak_gbps;
    double eff = roof_frac(fl, by, gf, ceil);
    cpu_set_num(rec, "flops", fl);
    cpu_set_num(rec, "bytes", by);
    cpu_set_num(rec, "arith_intensity", ai);
    cpu_set_num(rec, "peak_gflops", ceil->peak_gflops);
    cpu_set_num(rec, "peak_gbps", ceil->peak_gbps);
    cpu_set_num(rec, "frac_peak_flops", gf / ceil->peak_gflops);
    cpu_set_num(rec, "frac_peak_bw", bw / ceil->peak_gbps);
    cpu_set_num(rec, "roofline_gflops", roof);
    cpu_set_num(rec, "roofline_frac", eff);
    json_object_set_new(rec, "above_roofline", json_boolean(eff > 1.05));
    flag[0] = 0;
    if (eff > 1.05)
        snprintf(flag, nflag, "; FLAGGED: %.0f%% of the roofline at the minimum traffic (AI %.2f flop/B), faster "
                 "than it allows (cache-resident operands or a measurement problem; the ceilings were %s)", 100 * eff,
                 ai, ceil->remeasured ? "measured again before flagging" : "measured by this judge");
}

void cpu_emit_analyses(const options *o, const double *time_s, cpu_ceilings *ceil)
{
    /* a result above the roofline contradicts the ceilings: measure them
     * again before anything is flagged (a stale or loaded figure is low) */
    for (int i = 0; i < o->nshapes; i++) {
        if (!(time_s[i] > 0)) continue;
        double f = o->fam->flops(&o->shapes[i]);
        if (roof_frac(f, compulsory_bytes(o, &o->shapes[i]), f / time_s[i] * 1e-9, ceil) > 1.05) {
            fprintf(stderr, "spak-harness-cpu: %s is above the roofline of the ceilings in use (%.0f GFLOP/s, %.1f "
                    "GB/s, %s): measuring them again\n", o->shapes[i].str, ceil->peak_gflops, ceil->peak_gbps,
                    ceil->source);
            cpu_ceilings_contradicted(o->ceil_cache, ceil);
            break;
        }
    }
    double fl[MAX_SHAPES], ts[MAX_SHAPES];
    int conv[MAX_SHAPES], n = 0;
    for (int i = 0; i < o->nshapes; i++)
        if (time_s[i] > 0) {
            fl[n] = o->fam->flops(&o->shapes[i]), ts[n] = time_s[i];
            conv[n++] = o->shapes[i].causal ? 1 : 0;  /* causal flops leave the masked half out */
        }
    double fixed = cpu_fixed_cost(fl, ts, conv, n), l2 = l2_bytes();
    int used = o->traffic_model ? (int)cpu_traffic_param(o->traffic_params, "THREADS", 0) : 0;
    for (int i = 0; i < o->nshapes; i++) {
        if (!(time_s[i] > 0)) continue;
        const cpu_shape *sh = &o->shapes[i];
        double f = o->fam->flops(sh), by = compulsory_bytes(o, sh), gf = f / time_s[i] * 1e-9;
        char model[200] = "", flag[300];
        double traffic = o->traffic_model && o->fam->traffic
                             ? o->fam->traffic(sh, o->traffic_model, o->traffic_params, l2, model, sizeof model)
                             : -1;
        bool modelled = traffic > 0;
        cpu_class_in in = {.flops = f, .time_s = time_s[i], .bytes = modelled ? traffic : by,
                           .traffic_source = modelled ? CPU_TRAFFIC_MODELLED : CPU_TRAFFIC_COMPULSORY,
                           .peak_gflops = ceil->peak_gflops, .peak_gbps = ceil->peak_gbps, .fixed_s = fixed,
                           .threads = ceil->threads, .threads_used = used};
        cpu_class_out c;
        cpu_classify(&in, &c);
        json_t *rec = json_object();
        json_object_set_new(rec, "type", json_string("Analysis"));
        json_object_set_new(rec, "shape", json_string(sh->str));
        roofline_fields(rec, f, by, gf, ceil, flag, sizeof flag);
        ceiling_fields(rec, ceil);
        json_object_set_new(rec, "bottleneck", json_string(c.cls));
        json_object_set_new(rec, "traffic_source", json_string(in.traffic_source));
        json_object_set_new(rec, "traffic_model", modelled ? json_string(model) : json_null());
        cpu_set_num(rec, "traffic_bytes", in.bytes);
        cpu_set_num(rec, "traffic_ai", c.ai);
        cpu_set_num(rec, "frac_traffic_bw", c.frac_bw);
        if (fixed >= 0) {
            cpu_set_num(rec, "fixed_ms", fixed * 1e3);
            cpu_set_num(rec, "fixed_frac", c.fixed_frac);
        } else {
            json_object_set_new(rec, "fixed_ms", json_null());
            json_object_set_new(rec, "fixed_frac", json_null());
        }
        json_object_set_new(rec, "threads_used", used > 0 ? json_integer(used) : json_null());
        char why[1000];
        snprintf(why, sizeof why, "%s%s", c.why, flag);
        json_object_set_new(rec, "why", json_string(why));
        json_object_set_new(rec, "isa", json_string(ceil->isa));
        json_object_set_new(rec, "threads", json_integer(ceil->threads));
        cpu_emit(rec);
    }
}
