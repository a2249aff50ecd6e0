/*
 * kernels/cpu/common/judge.h - what the parts of the CPU judge (judge.c:
 * arguments, records, main; check.c: the checked calls; timing.c: the timed
 * calls, interference and the hardware bound; bound.c; ceilings.c; rctl.c:
 * the runners) share. Families see family.h only.
 */
#ifndef SPAK_CPU_JUDGE_H
#define SPAK_CPU_JUDGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "family.h"
#include "rctl.h"
#include "rng.h"

#define MAX_SHAPES 64
#define CPU_MAX_RIVALS 16 /* candidates one session times side by side (--candidate, repeated): the experiments re-time up to 11 arms at once */

/* the machine's ceilings for the roofline (ceilings.c): the highest of the
 * cache's recent measurements, their spread, and where they came from */
typedef struct cpu_ceilings {
    double peak_gflops, peak_gbps;  /* in use: the history's maxima */
    double gflops_lo, gbps_lo;      /* the history's minima (the spread) */
    double now_gflops, now_gbps;    /* this judge's own measurement, NAN when it took none */
    int measured;                   /* measurements in the history */
    double newest_at;               /* unix time of the newest, 0 unknown */
    char source[64];                /* "cache", "no cache", "run start", "contradicted: ..." */
    bool remeasured;                /* measured again because a result contradicted them */
    char isa[16];
    int threads;
} cpu_ceilings;

/* the hardware bound for "impossible": cores x clock x flops/cycle */
typedef struct cpu_bound {
    double gflops;     /* the bound, before the margin */
    int cores;
    double ghz;
    int flops_cycle;
    char ghz_from[24]; /* "cpufreq", "model name", "cpu MHz" */
    char isa[16];
    double scale;      /* 1, or --bound-scale */
} cpu_bound;

#define CPU_BOUND_MARGIN 1.25 /* a candidate above bound x this fails */
/* The default --between-runs: the sd of the log ratio between A/A runs (the
 * same .so on both sides, each run new processes) beyond what each run's
 * own interval accounts for, measured on the project's 2-core VM after the
 * operand-only cache eviction: 1.2% at 256^3, 1.6% at 64^3
 * (docs/aa-calibration.md, "Between runs"). Without it the 95% intervals
 * covered 1 in 60-87% of A/A runs. Since the scrub (timing.c) the spread
 * read 0 on matmul A/A runs (15 each at 64^3 and 256^3): 0.02 is the safe
 * side there. A machine's own figure comes from scripts/aa-calibration.sh
 * ("between runs" in its table). */
#define CPU_BETWEEN_RUNS_SD 0.02

/* --stop-slower-than never stops a candidate whose calls take less than
 * this: timing it to the end costs little, and at that scale the noise of a
 * loaded machine alone can reach the factor (measured: one packed rung's
 * 256^3 calls at 0.33 to 4.5 ms on the shared 2-core machine) */
#define CPU_STOP_MIN_CALL_S 0.02

enum baseline_kind { BASE_NONE, BASE_BUILTIN, BASE_SO };

typedef struct options {
    const cpu_family *fam;
    const char *cand_path; /* the first --candidate */
    /* --candidate given more than once: a session (docs/language.md, "The
     * re-time"); every candidate in its own runner, timed round-robin with
     * the baseline; session: its id, in every record it writes */
    const char *cand_paths[CPU_MAX_RIVALS];
    int ncand;
    char session[32];
    uint64_t seed;
    bool seed_arg; /* --seed was given (and ignored) */
    cpu_shape shapes[MAX_SHAPES];
    int nshapes;
    double min_time;
    /* the ratio's measurement: pairs until its interval at level is within
     * +-precision of its point, or max_reps pairs, or max_time seconds of a
     * shape's timing (--precision, --level, --max-reps, --max-time) */
    double precision, level, max_time;
    /* the spread between runs that no run sees from inside (--between-runs:
     * the sd of the log ratio from one A/A run to the next), added to every
     * ratio's interval in the record; precision is reached on the interval
     * within the run, which more pairs can narrow */
    double between_runs;
    int max_reps;
    enum baseline_kind base;
    const char *base_name;
    const char *base_so;
    double tol;
    bool check_only;
    bool causal_all;
    const char *ceil_cache;
    double bound_scale; /* <= 1: the hardware bound x this (--bound-scale, tests) */
    /* --traffic MODEL[,KEY=VALUE...]: the family's traffic model of the
     * candidate's loops (family.h), NULL: none; its parameters, NULL: none */
    const char *traffic_model, *traffic_params;
    const char *decl; /* --decl: a declared kernel's decl file (family declared) */
    /* --stop-slower-than: per shape, the milliseconds a call after which the
     * candidate is stopped early (0: never) */
    double stop_ms[MAX_SHAPES];
    char traffic_buf[64];
    char runner_exe[4096];
    char builtin_so[4096];
} options;

/* where the inputs and the output of one call live in the shared memory:
 * set s's input k at floats s * set + off[k]; slot s's output at s * slot */
typedef struct layout {
    size_t in[3], out;
    int nin;
    size_t off[3], set, slot;
    const cpu_family *fam; /* its hooks (family.h), for a family described at run time */
    long shape;            /* the shape's d[0]: its index in such a family */
} layout;

/* one runner (the candidate's or the baseline's) and its shared memory */
typedef struct side {
    cpu_runner *r;
    const char *label; /* "candidate", "baseline" */
    char name[96], prec[16];
    float *in, *out;   /* the judge's (writable) mappings */
    int nsets;         /* input sets and output slots mapped */
    bool dead;         /* the runner ended or broke the protocol */
    int sizing_calls;  /* calls in the batches that sized its last batch (timing.c) */
    char late_once[512]; /* the one checked call whose settle wait saw work after return
                          * and was checked again (check.c), else "" */
    bool late_reported;  /* late_once is in a Correctness record already */
    struct side *twin; /* the baseline's: a second runner of its code, in the candidates'
                        * seats while the baseline is timed alone (timing.c, solo_shape) */
} side;

/* the outcome of one checked call */
typedef struct call_result {
    bool ok;
    bool late; /* failed for CPU used in the settle wait after it returned (cpu_runner_late) */
    double rel_err;
    char reason[256];
} call_result;

/* judge.c */
double cpu_now_s(void);
int cpu_ncpus(void);
void cpu_set_num(json_t *o, const char *k, double v);
void cpu_emit(json_t *o);
/* The judge's generator of inputs (xoshiro256**, fast enough for fresh
 * inputs on every timed call). Its outputs reach the runner (they are the
 * inputs), and its state can be solved from them (GF(2) equations, a few
 * thousand outputs: tests/declared/redteam/predict.c), so it never runs
 * from one input set into the next: cpu_fill_set seeds it afresh for every
 * set from cpu_judge_secret(). */
rng *cpu_judge_rng(void);
/* A draw no runner can predict: SipHash-2-4 keyed by the judge's seed (from
 * getrandom() at start, written only in finished records) of a counter.
 * Every seed of an input set, every check's seed and every CALL's nonce
 * comes from here: what a runner sees of one (an input set's generator
 * state, a nonce) tells it nothing of the next without the key. */
uint64_t cpu_judge_secret(void);

/* check.c */
/* "inputs modified (the LABEL wrote to its read-only inputs[ (argument
 * NAME)]: the write faulted)" into buf, the argument named by the family
 * from the fault's offset when it can */
void cpu_input_write_reason(const side *s, const layout *L, char *buf, size_t n);
void cpu_layout(const cpu_family *fam, const cpu_shape *sh, layout *L);
/* maps nsets input sets and output slots of shape sh for s; 0 or -1 (why) */
int cpu_side_map(side *s, const layout *L, int nsets, char *why, size_t n);
/* fresh normal inputs into set k (from the judge's generator); its hash */
uint64_t cpu_fill_set(const side *s, const layout *L, int k);
uint64_t cpu_hash_set(const side *s, const layout *L, int k);
void cpu_poison_slot(const side *s, const layout *L, int k);
cpu_bufs cpu_bufs_of(const side *s, const layout *L, int set, int slot);
/* sets up c for n calls, call i on set sets[i] and slot sets[i] */
void cpu_call_msg(rp_call *c, const cpu_shape *sh, const layout *L, int n);
/* the output of one call: rc, unwritten/NaN elements, inputs unchanged
 * (hash), then the family's check; the reason on failure */
call_result cpu_check_output(const options *o, const cpu_shape *sh, const side *s, const layout *L, int k,
                             int rc, uint64_t hash, bool timed);
/* three checked calls on shape idx; fills rec (the Correctness record, not
 * emitted) and returns whether they passed. stop_s > 0: when the first two
 * calls passed and both took longer than stop_s, the third is not made:
 * *stopped is set, call_s[0..1] hold their seconds, and rec says
 * "verdict":"stopped" (no "passed": the check was not finished) */
bool cpu_check_shape(const options *o, side *c, const cpu_shape *sh, json_t *rec, double stop_s, bool *stopped,
                     double call_s[2]);

/* timing.c */
/* load.c: the share of the judge's CPUs that went to work that is not the
 * judge's (neither it nor its runners: other processes, the kernel's
 * threads, a hypervisor's steal) between two marks */
typedef struct cpu_load_mark {
    double wall, idle, own; /* seconds: the judge's clock, its CPUs' idle time, its and its runners' CPU time */
    bool ok;                /* every part could be read */
} cpu_load_mark;
/* the share of the judge's CPUs above which a phase was busy (beyond the
 * marks' resolution, cpu_load_quiet_max) */
#define CPU_LOAD_QUIET 0.05
void cpu_load_mark_now(cpu_load_mark *m);
/* foreign work between a and b as a share of the judge's CPUs (0-1); NAN
 * when it could not be measured */
double cpu_load_foreign(const cpu_load_mark *a, const cpu_load_mark *b);
/* the share above which the phase a-b counts as busy: CPU_LOAD_QUIET plus
 * the marks' resolution over that phase */
double cpu_load_quiet_max(const cpu_load_mark *a, const cpu_load_mark *b);
/* Every runner frozen: whether the judge's CPUs stay busy with foreign work
 * over the next quarter second, i.e. work that outlives the candidates'
 * batches (a neighbour, another suite), not what a candidate left behind
 * or hid (work of its that ended with its batch: a process that exited, a
 * burst of kernel work it caused). If so it waits until a quarter second
 * passes quiet, at most max_s seconds and at most what is left of
 * CPU_LOAD_WAIT_TOTAL_S (or --busy-wait's) for the whole judge (so that its evaluation ends
 * within the engine's timeout however busy the machine), and returns true;
 * false (at once) when the first quarter second is quiet or unmeasurable,
 * or no waiting is left. */
#define CPU_LOAD_WAIT_TOTAL_S 45.0
bool cpu_load_busy_outside(double max_s);
/* --busy-wait SEC: the judge's whole waiting budget instead of
 * CPU_LOAD_WAIT_TOTAL_S (0: never wait; a "busy" verdict stands at once) */
void cpu_load_wait_budget(double s);

/* the baseline alone on every timed shape, before the candidate's runner
 * starts: solo[i] per shape (median, spread) */
typedef struct solo_stat {
    double med, p20, p80;
    int reps, nb;
    bool beside_twin; /* timed beside the baseline's twin (else back to back: no twin) */
    double foreign;   /* the share of the judge's CPUs other work took meanwhile (load.c), NAN unknown */
    double foreign_quiet; /* the share above which that counts as busy (cpu_load_quiet_max) */
} solo_stat;
void cpu_time_baseline_solo(const options *o, side *b, solo_stat *solo);
/* times shape sh (interleaved with the baseline when b), checks every timed
 * call, emits Performance, sets *time_s to the candidate's median time of a
 * call (NAN when it has none); returns false when a timed call failed its
 * check (creco then says why). stop_ms > 0: a candidate slower than that a
 * call after its warm-up (or over its first pairs) is not timed further:
 * its Performance record says "verdict":"stopped" and *stopped is set */
bool cpu_time_shape(const options *o, side *c, side *b, const cpu_shape *sh, const solo_stat *solo,
                    const cpu_bound *bound, double stop_ms, json_t *creco, double *time_s, bool *stopped);

/* The Performance record of a candidate stopped early (--stop-slower-than)
 * on shape sh: what it measured (n calls of t_s seconds each), the limit
 * (stop_s), "verdict":"stopped", no ratio and no "passed". A censored
 * measurement: spak counts it in no metric (src/analyze/trace.h). */
void cpu_emit_stopped(const options *o, const side *c, const cpu_shape *sh, const double *t_s, int n, double stop_s,
                      int nbc, int checks);

/* A session on one timed shape: the candidates cs[k] with alive[k] (those
 * that passed their checks) and the baseline b (may be NULL) timed in
 * rounds, one batch of each a round in a rotating order, every candidate
 * call checked; emits each alive candidate's Correctness record (crecs[k])
 * and Performance record with "session", "rival" (k), "session_size" and
 * "versus" (its paired ratio against every other timed candidate: the
 * other's time over its own, with the interval); alive[k] turns false when
 * a timed call of k failed its check. */
void cpu_time_session(const options *o, side *const *cs, int nc, side *b, const cpu_shape *sh, const solo_stat *solo,
                      const cpu_bound *bound, json_t *const *crecs, bool *alive);

/* analysis.c: the Analysis record of every shape with time_s[i] > 0 (its
 * roofline place, its bottleneck class and the numbers behind it); a shape
 * above the roofline first has the ceilings measured again (ceil updated) */
void cpu_emit_analyses(const options *o, const double *time_s, cpu_ceilings *ceil);

/* bound.c */
void cpu_get_bound(cpu_bound *b);
/* "2 cores x 3.0 GHz (cpufreq) x 32 flop/cycle (avx2+fma)" */
void cpu_bound_text(const cpu_bound *b, char *buf, size_t n);

/* ceilings.c: fills c from the JSON cache at path cache when it names this
 * CPU model and thread count and no run asked for a new measurement
 * (PATH.remeasure); otherwise measures (about a second), adds it to the
 * cache's history and, when cache is not NULL, writes the cache (a warning
 * on stderr when it cannot). */
void cpu_get_ceilings(const char *cache, cpu_ceilings *c);
/* A result contradicted c (above the roofline): measure again, now, into
 * the cache's history and c. False when c was already measured again by
 * this judge (nothing new to learn). */
bool cpu_ceilings_contradicted(const char *cache, cpu_ceilings *c);

#endif
