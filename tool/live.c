/* live.c - the CLI's live progress of a run (live.h). */
#include "live.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "analyze/progress_line.h"
#include "util.h"

/* a plain line while one candidate takes longer than this: 30 s, or
 * SPAK_PROGRESS_HEARTBEAT seconds (>= 1; the suites use a short one) */
static double heartbeat_s(void)
{
    const char *v = getenv("SPAK_PROGRESS_HEARTBEAT");
    double x;
    return v && spak_parse_double(v, &x) && x >= 1 && x <= 86400 ? x : 30.0;
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thr;
    bool started, quit, active, paused, bar, drawn;
    FILE *f;
    spak_live st;
    double at_event_mono; /* when st.elapsed_s was last set from an event */
    double last_beat;     /* elapsed_s of the last heartbeat line */
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int term_width(void)
{
    struct winsize w;
    if (L.f && ioctl(fileno(L.f), TIOCGWINSZ, &w) == 0 && w.ws_col >= 20)
        return w.ws_col > 400 ? 400 : w.ws_col;
    return 100;
}

/* the run's elapsed time now: the last event's, plus the time since */
static void tick_elapsed(void)
{
    L.st.elapsed_s += spak_now_monotonic() - L.at_event_mono;
    L.at_event_mono = spak_now_monotonic();
}

void live_clear(void)
{
    if (L.bar && L.drawn) {
        fputs("\r\033[K", L.f);
        L.drawn = false;
    }
}

void live_draw(void)
{
    if (!L.bar || !L.active || L.paused || !L.f)
        return;
    char line[512];
    tick_elapsed();
    /* one column short of the width: a full line would wrap on some terminals */
    spak_live_line(&L.st, term_width() - 1, 1, line, sizeof line);
    fprintf(L.f, "\r\033[K%s", line);
    fflush(L.f);
    L.drawn = true;
}

/* a plain line while one candidate has taken HEARTBEAT_S (not a terminal) */
static void heartbeat(void)
{
    if (L.bar || !L.active || L.paused || !L.f || !L.st.key[0] || L.st.cand_start_s < 0)
        return;
    tick_elapsed();
    double every = heartbeat_s();
    if (L.st.elapsed_s - L.st.cand_start_s < every || L.st.elapsed_s - L.last_beat < every)
        return;
    char line[512];
    spak_live_line(&L.st, 200, 0, line, sizeof line);
    fprintf(L.f, "  ... %s\n", line);
    fflush(L.f);
    L.last_beat = L.st.elapsed_s;
}

static void *timer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&L.mu);
    while (!L.quit) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += 1;
        int rc = pthread_cond_timedwait(&L.cv, &L.mu, &t);
        if (L.quit)
            break;
        if (rc == ETIMEDOUT) {
            live_draw();
            heartbeat();
        }
    }
    pthread_mutex_unlock(&L.mu);
    return NULL;
}

static void note(const spak_engine_event *ev)
{
    spak_live *s = &L.st;
    s->elapsed_s = ev->elapsed_s;
    L.at_event_mono = spak_now_monotonic();
    s->max_wall_s = ev->max_wall_s;
    s->done = ev->eval_no;
    s->budget = ev->budget;
    if (ev->total)
        s->space = ev->total;
    if (ev->metric_name)
        spak_snprintf(s->metric, sizeof s->metric, "%s", ev->metric_name);
    if (ev->baseline)
        spak_snprintf(s->baseline, sizeof s->baseline, "%s", ev->baseline);
    if (ev->kind != SPAK_EV_RUN_STARTED) {
        s->best_metric = ev->best_metric;
        s->best_ratio = ev->best_ratio;
    }
    switch (ev->kind) {
    case SPAK_EV_RUN_STARTED:
        L.active = true;
        break;
    case SPAK_EV_PHASE:
        L.active = true;
        s->phase = ev->phase;
        if (ev->key && strcmp(ev->key, s->key) != 0) { /* a new candidate */
            spak_snprintf(s->key, sizeof s->key, "%s", ev->key);
            s->cand_start_s = ev->elapsed_s;
            L.last_beat = ev->elapsed_s;
        } else if (!ev->key) {
            s->key[0] = '\0';
        }
        break;
    case SPAK_EV_EVAL_DONE:
        if (s->cand_start_s >= 0) {
            s->sum_eval_s += ev->elapsed_s - s->cand_start_s;
            s->n_eval_s++;
        }
        s->key[0] = '\0';
        s->cand_start_s = -1;
        break;
    case SPAK_EV_RUN_DONE:
    case SPAK_EV_SUSPENDED:
        L.active = false;
        break;
    case SPAK_EV_WAITING:  /* the line says so until the next phase */
        s->phase = "waiting for the measurement lock";
        break;
    }
}

void live_lock_note(FILE *f, bool bar, const spak_engine_event *ev)
{
    pthread_mutex_lock(&L.mu);
    if (!L.started) {
        spak_live_init(&L.st);
        L.f = f;
        L.bar = bar;
        L.quit = false;
        /* without the thread the line is still drawn on every event */
        L.started = pthread_create(&L.thr, NULL, timer, NULL) == 0;
    }
    note(ev);
}

void live_unlock(void)
{
    pthread_mutex_unlock(&L.mu);
}

void live_pause(bool paused)
{
    pthread_mutex_lock(&L.mu);
    if (paused)
        live_clear();
    L.paused = paused;
    pthread_mutex_unlock(&L.mu);
}

void live_stop(void)
{
    pthread_mutex_lock(&L.mu);
    bool joined = L.started;
    live_clear();
    L.quit = true;
    L.active = false;
    if (L.f)
        fflush(L.f);
    pthread_cond_broadcast(&L.cv);
    pthread_mutex_unlock(&L.mu);
    if (joined)
        pthread_join(L.thr, NULL);
    pthread_mutex_lock(&L.mu);
    L.started = false;
    pthread_mutex_unlock(&L.mu);
}
