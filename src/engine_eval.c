/* engine_eval.c - one evaluation's BUILD and ANALYZE work (engine_priv.h):
 * the serial loop does them one after the other, the scheduler's workers
 * do the build and the measurement while the engine's thread journals. */
#include "engine_priv.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/counters.h"
#include "analyze/early_stop.h"
#include "analyze/measure_lock.h"
#include "build/reach.h"

int eng_devices(const char *list, int *out, size_t max)
{
    size_t n = 0;
    if (list) {  /* "0,1,3" */
        for (const char *p = list; *p;) {
            size_t k = strcspn(p, ",");
            char w[16];
            long d;
            if (k == 0 || k >= sizeof w || n == max)
                return -1;
            memcpy(w, p, k);
            w[k] = '\0';
            if (!spak_parse_long(w, 0, 4095, &d))
                return -1;
            for (size_t i = 0; i < n; i++)
                if (out[i] == (int)d)
                    return -1;
            out[n++] = (int)d;
            p += k + (p[k] == ',');
        }
        return (int)n;
    }
    /* detected: the driver's device nodes /dev/nvidiaN (no CUDA in spak itself) */
    DIR *d = opendir("/dev");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        long x;
        if (strncmp(de->d_name, "nvidia", 6) == 0 && spak_parse_long(de->d_name + 6, 0, 4095, &x) && n < max)
            out[n++] = (int)x;
    }
    if (d)
        closedir(d);
    for (size_t i = 1; i < n; i++)  /* in order: the first is the serial loop's */
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return (int)n;
}

/* The serial loop tells the waiting at once: it runs on the engine's thread. */
static void serial_wait(void *ud, const char *path, const char *holder)
{
    engine *e = ud;
    char why[700];
    spak_snprintf(why, sizeof why, "the measurement lock %s%s%s", path, holder[0] ? ", held by " : "", holder);
    spak_engine_event ev = {.kind = SPAK_EV_WAITING, .why = why, .eval_no = e->pr.n_evals,
                            .key = e->pr.current_key};
    eng_emit(e, &ev);
}

void eng_place_serial(engine *e, eng_place *pl)
{
    memset(pl, 0, sizeof *pl);
    bool cuda = strcmp(e->target, "cuda") == 0;
    int devs[256];
    pl->cuda_device = !cuda ? -1 : eng_devices(e->o->devices, devs, 256) > 0 ? devs[0] : 0;
    if (cuda)
        spak_snprintf(pl->device, sizeof pl->device, "cuda-%d", pl->cuda_device);
    else
        spak_snprintf(pl->device, sizeof pl->device, "cpu");
    pl->build_lock = !cuda;  /* a build on the cores a CPU measurement times on waits for it */
    pl->on_wait = serial_wait;
    pl->ud = e;
}

spak_status eng_build(engine *e, spak_cand_vars *v, const spak_cand_job *job, const eng_place *pl, spak_outcome *oc,
                      bool *built, spak_err *err)
{
    spak_cand_vars_init(v, &e->site, job->index);
    spak_mlock l = {.fd = -1};
    spak_status st = SPAK_OK;
    double t0 = spak_now_monotonic();
    if (pl->build_lock)  /* shared: builds side by side, never while a measurement times */
        st = spak_mlock_take(e->o->lock_dir, pl->device, false, NULL, pl->on_wait, pl->ud, &l, err);
    if (st == SPAK_OK)
        st = spak_cand_prepare(v, job, &oc->build_log, built, oc->why, sizeof oc->why, err);
    if (st == SPAK_OK && *built && !job->code_source)  /* which parameters cannot act here (reach.h) */
        oc->reach_checked = spak_reach_unreached(v, oc->unreached, sizeof oc->unreached, NULL) == SPAK_OK;
    spak_mlock_release(&l);
    oc->cost_build_s = spak_now_monotonic() - t0;  /* the lock's wait included: a build waits for a CPU timing */
    return st;
}

spak_status eng_analyze_begin(engine *e, const spak_cand_vars *v, int64_t eval_id, eng_place *pl,
                              spak_cand_argv *av, spak_measure_job *mj, spak_outcome *oc, spak_err *err)
{
    spak_status st = eng_go(e, S_ANALYZE, json_pack("{s:I}", "eval_id", (json_int_t)eval_id), err);
    if (st != SPAK_OK)
        return st;
    (void)spak_store_eval_set_status(e->store, e->run_id, eval_id, SPAK_EVAL_RUNNING, NULL);  /* shown by status only */
    st = spak_cand_argv_make(v, e->loop->cmd, av, err);
    spak_counters_when cw = SPAK_COUNTERS_NEW;
    if (st == SPAK_OK && e->o->counters && !spak_counters_parse(e->o->counters, &cw))
        st = spak_errf(err, SPAK_ERR_ARG, "--counters takes new, every or never, not '%s'", e->o->counters);
    if (st == SPAK_OK)  /* hardware counters only where the analysis needs them (counters.h) */
        st = spak_counters_args(e->store, e->run_id, e->m, cw, eval_id, e->pr.current_key, av, oc->counters,
                                sizeof oc->counters, err);
    if (st == SPAK_OK)  /* a hopeless candidate stopped early (early_stop.h) */
        st = spak_early_stop_args(av, e->pr.views.best, spak_early_stop_factor(e->o, e->loop), e->o->bin_dir,
                                  e->target, NULL, 0, err);
    if (st != SPAK_OK)
        return st;
    /* who holds the lock, for a run that waits for it */
    spak_snprintf(pl->who, sizeof pl->who, "pid %ld, run %s, evaluation %lld (%s)", (long)getpid(), e->run_id,
                  (long long)eval_id, e->pr.current_key);
    *mj = e->mbase;  /* the executor and its options (spak_measure_base), the run's limits */
    mj->argv = (const char *const *)av->argv, mj->workdir = v->workdir, mj->store = e->store, mj->eval_id = eval_id;
    mj->lock_dir = e->o->lock_dir, mj->device = pl->device, mj->lock_who = pl->who, mj->on_lock_wait = pl->on_wait;
    mj->lock_ud = pl->ud, mj->cuda_device = pl->cuda_device, mj->sandbox_uid = pl->uid;
    return SPAK_OK;
}

spak_status eng_evaluate(engine *e, const spak_proposal *p, int64_t eval_id, spak_outcome *oc, spak_err *err)
{
    uint64_t index = p->index;
    spak_outcome_init(oc);
    spak_cand_vars *v = malloc(sizeof *v);
    if (!v)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_cand_job job = {.index = index, .eval_id = eval_id, .seed = e->seed, .bin_dir = e->o->bin_dir,
                         .target = e->target, .code_source = e->code_source};
    bool built = false;
    spak_cand_argv av = {0};
    spak_measure_job mj;
    spak_status st = eng_build(e, v, &job, &e->place, oc, &built, err);
    if (st == SPAK_OK && built)
        st = eng_analyze_begin(e, v, eval_id, &e->place, &av, &mj, oc, err);
    if (st == SPAK_OK && built) {
        mj.note = p->note, mj.note_key = p->note_key;  /* kept with a remote job for its re-attach */
        st = spak_measure(&mj, oc, err);
    }
    spak_cand_release(v);  /* its work directory, closed to the next candidate */
    spak_cand_argv_free(&av);
    free(v);
    return st;
}
