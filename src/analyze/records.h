/*
 * records.h - the trace record vocabulary spak itself reads: the record types
 * (trace_schema cases) and the fields the engine, the report and the
 * knowledge step interpret. The harnesses under kernels/ write them; a spec's
 * trace_schema declares them like any other field; docs/language.md (4.5,
 * and the table of what the engine reads from an evaluation's records) says
 * what each means. Every other field of a record belongs to the spec.
 *
 * Declared once, here, so that a reader and the harness that writes a field
 * cannot drift apart by a typo. Only names: nothing to own or free.
 *
 * (The SPAK_FIELD_* names below are field names, strings; the field types of
 * a schema are the enum spak_field_type in trace.h, SPAK_FIELD_INT etc.)
 */
#ifndef SPAK_RECORDS_H
#define SPAK_RECORDS_H

/* the member of every record that names its case */
#define SPAK_REC_TYPE "type"

/* record types */
#define SPAK_REC_PERFORMANCE "Performance" /* one timed shape of a candidate */
#define SPAK_REC_CORRECTNESS "Correctness" /* the check of a candidate against the reference */
#define SPAK_REC_ANALYSIS "Analysis"       /* the bottleneck class of a shape */
#define SPAK_REC_COUNTERS "Counters"       /* a shape's hardware counters (a judge's --ncu pass) */
/* where a judge's wall time went (docs/trust-gpu.md, "Where an evaluation's
 * time goes"): kept in the result's "cost", valid without a case of the
 * spec's schema (a spec that declares a case Cost has it checked) */
#define SPAK_REC_COST "Cost"

/* fields */
#define SPAK_FIELD_PASSED "passed"         /* bool: false on any record fails the evaluation */
#define SPAK_FIELD_REASON "reason"         /* string: why it did not pass */
#define SPAK_FIELD_SHAPE "shape"           /* string: the problem shape the record is about */
#define SPAK_FIELD_HELDOUT "heldout"       /* bool: a held-out shape: checked, it counts in nothing else (trace.h) */
#define SPAK_FIELD_BOTTLENECK "bottleneck" /* string: the bottleneck class */
/* number: the candidate against the baseline, > 1 = better (faster) for
 * every objective: spak's judges write baseline time / candidate time
 * (kernels/cpu/common/timing.c set_ratio, kernels/cuda/common/session.c,
 * harness_core.c, fmha_core.c, declared/judge.cu), which for a rate is
 * metric / baseline and for a time baseline / metric */
#define SPAK_FIELD_RATIO "ratio"
#define SPAK_FIELD_BASELINE "baseline"     /* string: the baseline the ratio is to ("openblas", "cublas") */
/* string: the judge's verdict on a timed shape ("ok", "interference",
 * "impossible", ...); "stopped": a candidate stopped early as hopeless
 * (--stop-slower-than): a censored measurement that counts in nothing */
#define SPAK_FIELD_VERDICT "verdict"
#define SPAK_VERDICT_STOPPED "stopped"
/* the verdicts by which a judge fails a timed shape for the machine's doing
 * (other work slowed the baseline beside the candidate): inconclusive, never
 * a success, but no offence of the candidate (kernels/cpu/common/timing.c) */
#define SPAK_VERDICT_BUSY "busy"
#define SPAK_VERDICT_INTERFERENCE "interference"
#define SPAK_FIELD_STOP_LIMIT_MS "stop_slower_than_ms" /* number: the limit a stopped candidate exceeded */
/* the ratio's interval and its measurement (docs/language.md, "Intervals") */
#define SPAK_FIELD_RATIO_CI "ratio_ci"                 /* [lo, hi]: the ratio's confidence interval */
#define SPAK_FIELD_RATIO_CI_LEVEL "ratio_ci_level"     /* number: its level, e.g. 0.95 */
#define SPAK_FIELD_PRECISION_REACHED "precision_reached" /* bool: the interval is as narrow as asked */
#define SPAK_FIELD_SAMPLES_MS "samples_ms"             /* [number]: every repetition's time, in order */
/* numbers 0-1: the share of the CPU judge's CPUs that work not its own took
 * while it timed the pairs, and while it timed the baseline alone first
 * (kernels/cpu/common/load.c) */
#define SPAK_FIELD_FOREIGN_LOAD "foreign_load"
#define SPAK_FIELD_SOLO_FOREIGN_LOAD "baseline_solo_foreign_load"
#define SPAK_FIELD_TIME_MS "time_ms"       /* number: the median time of one call */
#define SPAK_FIELD_TIME_MS_P20 "time_ms_p20" /* number: its 20th percentile */
#define SPAK_FIELD_TIME_MS_P80 "time_ms_p80" /* number: its 80th percentile */
#define SPAK_FIELD_FLOPS "flops"           /* number: floating-point operations of one call */
/* the fraction of the roofline reached: the first of these a record carries */
#define SPAK_FIELD_ROOFLINE_FRAC "roofline_frac"
#define SPAK_FIELD_FRAC_PEAK_FLOPS "frac_peak_flops"
#define SPAK_FIELD_FRAC_PEAK "frac_peak"
#define SPAK_FIELD_REPS "reps"           /* number: timed repetitions behind time_ms (the noise of a lesson) */
#define SPAK_FIELD_WHY "why"             /* string: the harness's reason for the bottleneck class */
#define SPAK_FIELD_SEED "seed"           /* integer: the seed of the record's inputs */
/* the prefix of the baseline's value in the metric's unit: baseline_<metric> */
#define SPAK_FIELD_BASELINE_PREFIX "baseline_"

/* the roofline of an Analysis record and the rate of its Performance record
 * (docs/reports.md, Roofline): ceilings, arithmetic intensity, achieved rate */
#define SPAK_FIELD_ARITH_INTENSITY "arith_intensity" /* number: flop per byte */
#define SPAK_FIELD_PEAK_GFLOPS "peak_gflops"         /* number: the compute ceiling, GFLOP/s */
#define SPAK_FIELD_PEAK_TFLOPS "peak_tflops"         /* number: the same in TFLOP/s, when peak_gflops is absent */
#define SPAK_FIELD_PEAK_GBPS "peak_gbps"             /* number: the memory ceiling, GB/s */
#define SPAK_FIELD_GFLOPS "gflops"                   /* number: the achieved rate, GFLOP/s */
#define SPAK_FIELD_TFLOPS "tflops"                   /* number: the same in TFLOP/s, when gflops is absent */
/* bool: the harness flags a result it does not trust (faster than the roof) */
#define SPAK_FIELD_ABOVE_ROOFLINE "above_roofline"
#define SPAK_FIELD_SUSPICIOUS "suspicious"

/* the conditions of a measurement, for the report's provenance */
#define SPAK_FIELD_SM_CLOCK_MHZ "sm_clock_mhz"       /* number */
#define SPAK_FIELD_MEM_CLOCK_MHZ "mem_clock_mhz"     /* number */
#define SPAK_FIELD_POWER_W "power_w"                 /* number */
#define SPAK_FIELD_THROTTLE_REASONS "throttle_reasons" /* string */
#define SPAK_FIELD_ISA "isa"                         /* string: the instruction set the CPU harness used */
#define SPAK_FIELD_OPENBLAS_CORE "openblas_core"     /* string: the core OpenBLAS chose */

#endif
