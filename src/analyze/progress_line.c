/* progress_line.c - the live progress line of a run (progress_line.h). */
#include "analyze/progress_line.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void spak_live_init(spak_live *l)
{
    memset(l, 0, sizeof *l);
    l->cand_start_s = -1;
    l->best_metric = l->best_ratio = NAN;
}

long spak_live_total(const spak_live *l)
{
    if (l->budget > 0)
        return l->budget;
    return l->space > 0 && l->space < 1000000000ull ? (long)l->space : 0;
}

double spak_live_eta(const spak_live *l)
{
    long total = spak_live_total(l);
    double eta = NAN;
    if (total > 0 && l->n_eval_s > 0) {
        double mean = l->sum_eval_s / (double)l->n_eval_s;
        long left = total - l->done;
        if (left < 0)
            left = 0;
        eta = (double)left * mean;
        if (l->cand_start_s >= 0 && left > 0) { /* the one under way: what it has left of the mean */
            double cur = l->elapsed_s - l->cand_start_s;
            eta -= cur < mean ? cur : mean;
        }
    }
    if (l->max_wall_s > 0) {
        double w = l->max_wall_s - l->elapsed_s;
        w = w < 0 ? 0 : w;
        if (isnan(eta) || w < eta)
            eta = w;
    }
    return isnan(eta) || eta >= 0 ? eta : 0;
}

void spak_live_duration(double s, char *out, size_t n)
{
    if (!(s >= 0) || !isfinite(s)) {
        spak_snprintf(out, n, "?");
        return;
    }
    long t = lround(s);
    if (t >= 3600)
        spak_snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        spak_snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else
        spak_snprintf(out, n, "%lds", t);
}

static void num(char *buf, size_t n, double v)
{
    if (isnan(v))
        spak_snprintf(buf, n, "-");
    else if (fabs(v) >= 100)
        spak_snprintf(buf, n, "%.1f", v);
    else
        spak_snprintf(buf, n, "%.3g", v);
}

void spak_live_line(const spak_live *l, int width, int bar, char *out, size_t n)
{
    if (width < 20)
        width = 20;
    if ((size_t)width >= n)
        width = (int)n - 1;
    long total = spak_live_total(l);
    char head[64] = "", el[16], eta[16], cur[16], bm[32], br[32], tail[256], what[64];
    if (bar && total > 0) { /* [#####.....] over the budget */
        int w = 20, full = (int)((double)w * (double)(l->done < total ? l->done : total) / (double)total);
        head[0] = '[';
        for (int i = 0; i < w; i++)
            head[1 + i] = i < full ? '#' : '.';
        head[1 + w] = ']';
        head[2 + w] = ' ';
        head[3 + w] = '\0';
    }
    spak_live_duration(l->elapsed_s, el, sizeof el);
    double e = spak_live_eta(l);
    spak_live_duration(e, eta, sizeof eta);
    num(bm, sizeof bm, l->best_metric);
    num(br, sizeof br, l->best_ratio);
    if (isnan(l->best_metric))
        spak_snprintf(tail, sizeof tail, "  no best yet");
    else if (isnan(l->best_ratio))
        spak_snprintf(tail, sizeof tail, "  best %s %s", l->metric, bm);
    else
        spak_snprintf(tail, sizeof tail, "  best %s %s (%sx %s)", l->metric, bm, br,
                      l->baseline[0] ? l->baseline : "baseline");
    if (l->key[0] && l->cand_start_s >= 0) {
        spak_live_duration(l->elapsed_s - l->cand_start_s, cur, sizeof cur);
        spak_snprintf(what, sizeof what, "%s %s: ", l->phase ? l->phase : "", cur);
    } else {
        spak_snprintf(what, sizeof what, "%s", l->phase ? l->phase : "");
    }
    char counts[96];
    if (total > 0)
        spak_snprintf(counts, sizeof counts, "%ld/%ld  %s, %s%s left  ", l->done, total, el, isnan(e) ? "" : "~", eta);
    else
        spak_snprintf(counts, sizeof counts, "%ld  %s  ", l->done, el);
    /* the key gets what the rest leaves of the width; on a narrow terminal
     * the best goes first: the candidate being measured matters more */
    size_t fixed = strlen(head) + strlen(counts) + strlen(what) + strlen(tail);
    long room = (long)width - (long)fixed;
    if (room < 12 && l->key[0]) {
        room += (long)strlen(tail);
        tail[0] = '\0';
    }
    char key[512];
    size_t kl = strlen(l->key);
    if (room <= 0)
        key[0] = '\0';
    else if ((long)kl <= room)
        spak_snprintf(key, sizeof key, "%s", l->key);
    else if (room > 3)
        spak_snprintf(key, sizeof key, "%.*s...", (int)(room - 3), l->key);
    else
        key[0] = '\0';
    spak_snprintf(out, n, "%s%s%s%s%s", head, counts, what, key, tail);
    if (strlen(out) > (size_t)width)
        out[width] = '\0';
}
