/* engine_sched.c - the loop with several evaluations in flight at once
 * (--jobs N, engineering_loop { jobs: N }; engine_priv.h).
 *
 * N slots. Each has its place (eng_place): its sandbox uid (one per slot,
 * from --sandbox-uids, so that candidates in flight never share a uid, an
 * RLIMIT_NPROC count or each other's files), on the CUDA target its device
 * (slot i measures on device i mod the devices: --devices or those
 * detected), on the CPU target its core set when the user gave disjoint
 * ones (--cpus, cpus: [...]: its build and its measurement are confined to
 * them, and it measures under that set's own lock) or else the machine's
 * one CPU lock, which builds take shared and measurements exclusive: builds
 * run side by side and never while a measurement times (measure_lock.h).
 *
 * The engine's thread does everything that touches the run: DECIDE, the
 * strategy's proposals (as many as there are free slots, the points in
 * flight named as pending), the journal, the store, the strategy's
 * observations, the events. A worker thread per evaluation does the slow
 * work in between: the build (eng_build), then, once the engine's thread
 * has journaled ANALYZE and made the measure command, the measurement
 * (spak_measure); it tells the engine's thread when it built, when it waits
 * for the lock and when it is done, through one mutex and condition.
 * Proposals, evaluations and journal rows come in the order the engine's
 * thread handles them; each row names its evaluation (eval_id).
 *
 * A proposal that is not a plain candidate (a suspension, a setup error, a
 * code candidate behind the llm-code gate) waits until nothing is in
 * flight, then takes the serial path (eng_program).
 *
 * A resumed run starts with the jobs a cluster still runs for it in flight
 * (e->attach): a worker each waits for its job (spak_measure_attach), and
 * the engine's thread completes them as they finish, in finishing order,
 * exactly as it completes an evaluation it started (eng_complete: stored
 * with the build log and the note the job's folder kept, observed, its
 * KNOWLEDGE and DECIDE journaled); the slots they free take new proposals
 * as in a fresh run. With --jobs 1 it only collects them, and the serial
 * loop goes on.
 */
#include "engine_priv.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The candidates' uids of the slots when no range is given: far above the
 * uids of people and system services (Debian's dynamic range starts at
 * 65536, systemd's container ranges at 524288), below 2^31 */
#define SCHED_UID_DEFAULT_FIRST 1900000000L
#define SCHED_MAX_JOBS 256

enum { W_IDLE, W_BUILDING, W_BUILT, W_MEASURING, W_DONE };

typedef struct sched sched;

typedef struct slot {
    engine *e;
    sched *sc;
    eng_place pl;
    cpu_set_t cpus;
    bool has_cpus;
    int phase;               /* W_*: changed under sc->mu */
    pthread_t thr;
    spak_proposal p;         /* the evaluation in flight */
    char key[2048];
    int64_t eval_id;
    char *code_source;
    spak_cand_vars *v;
    spak_cand_job job;
    spak_outcome oc;
    spak_cand_argv av;
    spak_measure_job mj;
    bool built, go, analyzed;
    const spak_job *attached;  /* a resumed run's job it re-attached to (e->attach), or NULL */
    spak_status st;
    spak_err err;
    char wait_why[700];
    bool wait_new;
} slot;

struct sched {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *s;
    size_t n;                /* the slots: jobs, or more for a resume's jobs (n_attach) */
    size_t jobs;             /* those that take proposals: 0 .. jobs-1 */
    char cpu_dev[SCHED_MAX_JOBS][40];
};

/* ---- the workers ---- */

/* A worker waits for the measurement lock: the engine's thread says so. */
static void worker_wait(void *ud, const char *path, const char *holder)
{
    slot *s = ud;
    pthread_mutex_lock(&s->sc->mu);
    spak_snprintf(s->wait_why, sizeof s->wait_why, "the measurement lock %s%s%s", path,
                  holder[0] ? ", held by " : "", holder);
    s->wait_new = true;
    pthread_cond_broadcast(&s->sc->cv);
    pthread_mutex_unlock(&s->sc->mu);
}

static void set_phase(slot *s, int phase)
{
    pthread_mutex_lock(&s->sc->mu);
    s->phase = phase;
    pthread_cond_broadcast(&s->sc->cv);
    pthread_mutex_unlock(&s->sc->mu);
}

/* One evaluation's build and measurement, off the engine's thread. */
static void *worker(void *arg)
{
    slot *s = arg;
    if (s->has_cpus)  /* inherited by every process it starts: the build's, the measurement's */
        (void)pthread_setaffinity_np(pthread_self(), sizeof s->cpus, &s->cpus);  /* checked at the start */
    bool built = false;
    spak_status st = eng_build(s->e, s->v, &s->job, &s->pl, &s->oc, &built, &s->err);
    pthread_mutex_lock(&s->sc->mu);
    s->st = st;
    s->built = built;
    s->phase = W_BUILT;
    pthread_cond_broadcast(&s->sc->cv);
    while (s->phase == W_BUILT)  /* the engine's thread journals ANALYZE and makes the command */
        pthread_cond_wait(&s->sc->cv, &s->sc->mu);
    bool go = s->go;
    pthread_mutex_unlock(&s->sc->mu);
    if (go)
        s->st = spak_measure(&s->mj, &s->oc, &s->err);
    spak_cand_release(s->v);  /* its work directory, closed to the next candidate */
    set_phase(s, W_DONE);
    return NULL;
}

/* A resumed run's job: waited for, its outcome read (evaluate.h). */
static void *attach_worker(void *arg)
{
    slot *s = arg;
    s->st = spak_measure_attach(&s->mj, s->attached, &s->oc, &s->p.note, &s->p.note_key, &s->err);
    set_phase(s, W_DONE);
    return NULL;
}

/* ---- the slots ---- */

/* "FIRST-LAST" of --sandbox-uids. */
static bool uid_range(const char *t, long *first, long *last)
{
    char a[24];
    const char *dash = t ? strchr(t, '-') : NULL;
    if (!dash || (size_t)(dash - t) >= sizeof a)
        return false;
    memcpy(a, t, (size_t)(dash - t));
    a[dash - t] = '\0';
    return spak_parse_long(a, 1, 0x7ffffffeL, first) && spak_parse_long(dash + 1, *first, 0x7ffffffeL, last);
}

/* Slot i's core set from the i-th set of --cpus ("0-3/4-7") or the spec's
 * cpus; false when none is given. The sets must be disjoint. */
static spak_status slot_cpus(engine *e, sched *sc, size_t i, uint8_t *seen, spak_err *err)
{
    slot *s = &sc->s[i];
    char set[128] = "";
    size_t n_sets = 0;
    if (e->o->cpus) {
        for (const char *p = e->o->cpus; *p; n_sets++) {
            size_t k = strcspn(p, "/");
            if (n_sets == i)
                spak_snprintf(set, sizeof set, "%.*s", (int)k, p);
            p += k + (p[k] == '/');
        }
    } else {
        n_sets = e->loop->n_cpus;
        if (i < n_sets)
            spak_snprintf(set, sizeof set, "%s", e->loop->cpus[i]);
    }
    if (n_sets == 0)
        return SPAK_OK;
    if (n_sets < sc->jobs)
        return spak_errf(err, SPAK_ERR_ARG, "%zu jobs need %zu core sets; cpus gives %zu", sc->jobs, sc->jobs, n_sets);
    uint8_t mask[SPAK_CPULIST_MAX / 8];
    if (!spak_cpulist_parse(set, mask))
        return spak_errf(err, SPAK_ERR_ARG, "cpus: '%s' is not a core set (N, N-M, comma-separated)", set);
    CPU_ZERO(&s->cpus);
    for (int c = 0; c < SPAK_CPULIST_MAX; c++) {
        if (!(mask[c / 8] & (1u << (c % 8))))
            continue;
        if (seen[c / 8] & (1u << (c % 8)))
            return spak_errf(err, SPAK_ERR_ARG, "cpus: core %d is in two core sets: measurements side by side "
                             "need disjoint ones", c);
        seen[c / 8] |= (uint8_t)(1u << (c % 8));
        if (c < CPU_SETSIZE)
            CPU_SET(c, &s->cpus);
    }
    s->has_cpus = true;
    /* the set's own lock: "cpu-0-3", "cpu-0_2_4" */
    spak_snprintf(sc->cpu_dev[i], sizeof sc->cpu_dev[i], "cpu-%s", set);
    for (char *q = sc->cpu_dev[i]; *q; q++)
        *q = *q == ',' ? '_' : *q;
    spak_snprintf(s->pl.device, sizeof s->pl.device, "%s", sc->cpu_dev[i]);
    s->pl.build_lock = false;  /* its builds run on its own cores */
    return SPAK_OK;
}

static spak_status slots_init(engine *e, sched *sc, spak_err *err)
{
    sc->jobs = (size_t)e->jobs;
    if (sc->jobs > SCHED_MAX_JOBS)
        return spak_errf(err, SPAK_ERR_ARG, "--jobs %ld: at most %d", e->jobs, SCHED_MAX_JOBS);
    sc->n = sc->jobs > e->n_attach ? sc->jobs : e->n_attach;
    sc->s = calloc(sc->n, sizeof *sc->s);
    if (!sc->s)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    long first = SCHED_UID_DEFAULT_FIRST, last = first + SCHED_MAX_JOBS - 1;
    if (e->o->sandbox_uids && !uid_range(e->o->sandbox_uids, &first, &last))
        return spak_errf(err, SPAK_ERR_ARG, "--sandbox-uids '%s': expected FIRST-LAST, e.g. 61000-61015",
                         e->o->sandbox_uids);
    if ((size_t)(last - first + 1) < sc->jobs)
        return spak_errf(err, SPAK_ERR_ARG, "--sandbox-uids %s gives %ld uids for %zu jobs: one a job",
                         e->o->sandbox_uids, last - first + 1, sc->jobs);
    int devs[SCHED_MAX_JOBS];
    int nd = strcmp(e->target, "cuda") == 0 ? eng_devices(e->o->devices, devs, SCHED_MAX_JOBS) : 0;
    if (nd <= 0)
        devs[0] = 0, nd = 1;  /* none detected: the driver's default device */
    uint8_t seen[SPAK_CPULIST_MAX / 8] = {0};
    for (size_t i = 0; i < sc->n; i++) {
        slot *s = &sc->s[i];
        s->e = e;
        s->sc = sc;
        s->pl = e->place;
        if (i >= sc->jobs)  /* a slot of a resume's job only: it takes no proposal */
            continue;
        s->pl.on_wait = worker_wait;
        s->pl.ud = s;
        s->pl.uid = first + (long)i;
        if (strcmp(e->target, "cuda") == 0) {
            s->pl.cuda_device = devs[i % (size_t)nd];
            spak_snprintf(s->pl.device, sizeof s->pl.device, "cuda-%d", s->pl.cuda_device);
        } else {
            spak_status st = slot_cpus(e, sc, i, seen, err);
            if (st != SPAK_OK)
                return st;
        }
    }
    return SPAK_OK;
}

/* ---- the engine's thread ---- */

/* Start proposal p (taken) in free slot s. */
static spak_status launch(engine *e, slot *s, spak_proposal *p, spak_err *err)
{
    s->p = *p;
    spak_proposal_init(p);
    spak_status st = eng_begin_candidate(e, &s->p, s->key, sizeof s->key, &s->eval_id, err);
    s->code_source = (char *)e->code_source;  /* the slot's until it completes */
    e->code_source = NULL;
    s->v = st == SPAK_OK ? malloc(sizeof *s->v) : NULL;
    if (st == SPAK_OK && !s->v)
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    if (st != SPAK_OK) {  /* the run stops; the evaluation begun is marked interrupted by its resume */
        free(s->code_source);
        s->code_source = NULL;
        spak_proposal_free(&s->p);
        return st;
    }
    spak_outcome_init(&s->oc);
    memset(&s->av, 0, sizeof s->av);
    s->job = (spak_cand_job){.index = s->p.index, .eval_id = s->eval_id, .seed = e->seed, .bin_dir = e->o->bin_dir,
                             .target = e->target, .code_source = s->code_source, .others_in_flight = true};
    s->built = s->go = s->analyzed = s->wait_new = false;
    s->st = SPAK_OK;
    s->phase = W_BUILDING;
    if (pthread_create(&s->thr, NULL, worker, s) != 0) {
        s->phase = W_IDLE;
        spak_outcome_free(&s->oc);
        free(s->v);
        s->v = NULL;
        free(s->code_source);
        s->code_source = NULL;
        spak_proposal_free(&s->p);
        return spak_errf(err, SPAK_ERR_NOMEM, "cannot start a worker thread");
    }
    e->in_flight++;
    return SPAK_OK;
}

/* Slot s re-attaches to job j of a resumed run: its evaluation is in
 * flight from the start, already journaled up to ANALYZE by the process
 * that submitted it. */
static spak_status attach_slot(engine *e, slot *s, const spak_job *j, spak_err *err)
{
    spak_eval ev;
    spak_status st = spak_store_eval_get(e->store, e->run_id, j->eval_id, &ev, err);
    if (st != SPAK_OK)
        return st;
    spak_proposal_init(&s->p);
    spak_snprintf(s->key, sizeof s->key, "%s", ev.cand_key ? ev.cand_key : "");
    spak_store_eval_free(&ev);
    s->p.kind = SPAK_PROPOSAL_POINT;
    if (!spak_space_find(&e->space, s->key, &s->p.index))
        s->p.index = UINT64_MAX;  /* an LLM-written source: not a point of the space */
    s->eval_id = j->eval_id;
    s->attached = j;
    spak_outcome_init(&s->oc);
    memset(&s->av, 0, sizeof s->av);
    s->mj = e->mbase;  /* the run's executor, schema and metric */
    s->built = s->go = s->analyzed = true;
    s->wait_new = false;
    s->st = SPAK_OK;
    s->phase = W_MEASURING;
    if (pthread_create(&s->thr, NULL, attach_worker, s) != 0) {
        s->phase = W_IDLE;
        s->attached = NULL;
        spak_outcome_free(&s->oc);
        spak_proposal_free(&s->p);
        return spak_errf(err, SPAK_ERR_NOMEM, "cannot start a worker thread");
    }
    e->in_flight++;
    return SPAK_OK;
}

/* A slot built: journal ANALYZE and give it its measure command. */
static void on_built(engine *e, slot *s)
{
    spak_snprintf(e->pr.current_key, sizeof e->pr.current_key, "%s", s->key);
    bool go = false;
    if (s->st == SPAK_OK && s->built) {
        s->st = eng_analyze_begin(e, s->v, s->eval_id, &s->pl, &s->av, &s->mj, &s->oc, &s->err);
        go = s->analyzed = s->st == SPAK_OK;
        s->mj.note = s->p.note, s->mj.note_key = s->p.note_key;  /* kept with a remote job for its re-attach */
    }
    pthread_mutex_lock(&s->sc->mu);
    s->go = go;
    s->phase = W_MEASURING;
    pthread_cond_broadcast(&s->sc->cv);
    pthread_mutex_unlock(&s->sc->mu);
}

/* A slot is done: its outcome stored and observed (eng_complete). */
static spak_status on_done(engine *e, slot *s, spak_err *err)
{
    pthread_join(s->thr, NULL);
    e->in_flight--;
    spak_status st = s->st;
    if (st != SPAK_OK) {
        if (err)
            *err = s->err;
        spak_outcome_free(&s->oc);
    } else {
        e->code_source = s->code_source;  /* eng_complete frees it */
        s->code_source = NULL;
        st = eng_complete(e, &s->p, s->key, s->eval_id, &s->oc, s->analyzed, err);
    }
    free(s->code_source);
    s->code_source = NULL;
    spak_cand_argv_free(&s->av);
    free(s->v);
    s->v = NULL;
    spak_proposal_free(&s->p);
    s->attached = NULL;
    s->phase = W_IDLE;
    return st;
}

/* Wait until a slot has news, and handle all there is. */
static spak_status handle_news(engine *e, sched *sc, spak_err *err)
{
    spak_status st = SPAK_OK;
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        bool news = false;
        for (size_t i = 0; i < sc->n; i++) {
            slot *s = &sc->s[i];
            news |= s->phase == W_BUILT || s->phase == W_DONE || s->wait_new;
        }
        if (news)
            break;
        pthread_cond_wait(&sc->cv, &sc->mu);
    }
    for (size_t i = 0; i < sc->n; i++) {
        slot *s = &sc->s[i];
        int phase = s->phase;
        bool wait_new = s->wait_new;
        s->wait_new = false;
        pthread_mutex_unlock(&sc->mu);
        if (wait_new) {
            spak_engine_event ev = {.kind = SPAK_EV_WAITING, .why = s->wait_why, .eval_no = e->pr.n_evals,
                                    .key = s->key};
            eng_emit(e, &ev);
        }
        if (phase == W_BUILT)
            on_built(e, s);
        else if (phase == W_DONE) {
            spak_status s2 = on_done(e, s, err);
            st = st != SPAK_OK ? st : s2;
        }
        pthread_mutex_lock(&sc->mu);
    }
    pthread_mutex_unlock(&sc->mu);
    return st;
}

static slot *free_slot(sched *sc)
{
    for (size_t i = 0; i < sc->jobs; i++)
        if (sc->s[i].phase == W_IDLE)
            return &sc->s[i];
    return NULL;
}

/* Fill the free slots with the strategy's proposals. *held gets one that
 * must wait for the serial path (*have_held); *none: the strategy had
 * nothing to propose now. */
static spak_status fill(engine *e, sched *sc, spak_proposal *held, bool *have_held, bool *none, spak_err *err)
{
    uint64_t pending[2 * SCHED_MAX_JOBS];
    size_t np = 0, nfree = 0;
    for (size_t i = 0; i < sc->n; i++) {
        if (sc->s[i].phase == W_IDLE)
            nfree += i < sc->jobs;
        else if (!sc->s[i].code_source && sc->s[i].p.index != UINT64_MAX)  /* a code candidate is no point */
            pending[np++] = sc->s[i].p.index;
    }
    /* no more in flight than jobs (a resume's jobs may be more), nor than
     * the evaluation budget leaves */
    size_t room = (size_t)e->jobs > (size_t)e->in_flight ? (size_t)(e->jobs - e->in_flight) : 0;
    if (e->max_evals > 0) {
        long left = e->max_evals - e->pr.n_evals - e->in_flight;
        room = left <= 0 ? 0 : (size_t)left < room ? (size_t)left : room;
    }
    nfree = nfree < room ? nfree : room;
    if (nfree == 0)
        return SPAK_OK;
    spak_proposal ps[SCHED_MAX_JOBS];  /* nfree <= jobs <= SCHED_MAX_JOBS */
    for (size_t i = 0; i < nfree; i++)
        spak_proposal_init(&ps[i]);
    size_t n = 0;
    spak_status st = eng_propose(e, pending, np, ps, nfree, &n, err);
    *none = st == SPAK_OK && n == 0;
    for (size_t i = 0; st == SPAK_OK && i < n; i++) {
        bool plain = ps[i].kind == SPAK_PROPOSAL_POINT ||
                     (ps[i].kind == SPAK_PROPOSAL_CODE && !(e->gates & SPAK_GATE_LLM_CODE));
        if (plain) {
            st = launch(e, free_slot(sc), &ps[i], err);
        } else if (!*have_held) {  /* those after it are proposed again once it is handled */
            *held = ps[i];
            spak_proposal_init(&ps[i]);
            *have_held = true;
            break;
        }
    }
    for (size_t i = 0; i < nfree; i++)
        spak_proposal_free(&ps[i]);
    return st;
}

/* Let every worker end (an error stops the run: what is in flight is
 * finished, not stored as done). */
static void drain(engine *e, sched *sc)
{
    while (e->in_flight > 0) {
        pthread_mutex_lock(&sc->mu);
        for (size_t i = 0; i < sc->n; i++) {
            slot *s = &sc->s[i];
            if (s->phase == W_BUILT) {  /* no command: it ends without measuring */
                s->go = false;
                s->phase = W_MEASURING;
                pthread_cond_broadcast(&sc->cv);
            }
            if (s->phase == W_DONE) {
                s->st = SPAK_ERR_STATE;  /* not stored: the resume marks it interrupted */
                pthread_mutex_unlock(&sc->mu);
                (void)on_done(e, s, NULL);
                pthread_mutex_lock(&sc->mu);
            }
        }
        if (e->in_flight > 0)
            pthread_cond_wait(&sc->cv, &sc->mu);
        pthread_mutex_unlock(&sc->mu);
    }
}

static spak_status sched_run(engine *e, sched *sc, spak_err *err)
{
    spak_proposal held;
    spak_proposal_init(&held);
    bool have_held = false;
    bool attach_only = e->jobs <= 1;  /* --jobs 1: the serial loop goes on once they are collected */
    spak_status st = SPAK_OK;
    for (size_t i = 0; i < e->n_attach && st == SPAK_OK; i++)
        st = attach_slot(e, &sc->s[i], &e->attach[i], err);
    for (;;) {
        const char *reason = NULL;
        bool none = false;
        if (st == SPAK_OK && !attach_only && !have_held && free_slot(sc) && !(reason = eng_decide(e)))
            st = fill(e, sc, &held, &have_held, &none, err);
        if (st != SPAK_OK)
            break;
        if (e->in_flight > 0) {
            if ((st = handle_news(e, sc, err)) != SPAK_OK)
                break;
            continue;
        }
        if (attach_only)
            break;
        if (have_held) {  /* nothing in flight: the serial path */
            bool more = false;
            have_held = false;
            st = eng_program(e, &held, &more, err);
            spak_proposal_free(&held);
            if (st != SPAK_OK || !more)
                return st;
            continue;
        }
        if (reason || none) {
            st = eng_finish_run(e, reason ? reason : "search space exhausted", err);
            break;
        }
    }
    spak_proposal_free(&held);
    drain(e, sc);
    return st;
}

spak_status eng_sched_loop(engine *e, spak_err *err)
{
    sched sc = {.n = 0};
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    spak_status st = slots_init(e, &sc, err);
    if (st == SPAK_OK) {
        if (e->jobs > 1)
            spak_cand_close_run(&e->site);  /* before evaluations start side by side */
        st = sched_run(e, &sc, err);
    }
    free(sc.s);
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&sc.mu);
    return st;
}
