/*
 * cli_decision.c - the run's decision for people: how it ended (winner,
 * tied or inconclusive, and why it stopped), the best's ratio with its
 * interval, and the re-time of its leading candidates side by side
 * (analyze/retime.h): which were re-timed, in what session, how they
 * ranked. `spak run` prints it after its last line, `spak show` and
 * `spak status` after the best.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* "1.02x [0.99-1.05]" of a ratio and its interval (JSON values), "-" without */
static void ratio_text(char *buf, size_t n, const json_t *r, const json_t *ci)
{
    if (!json_is_number(r)) {
        snprintf(buf, n, "-");
        return;
    }
    double lo = json_number_value(json_array_get(ci, 0)), hi = json_number_value(json_array_get(ci, 1));
    if (json_array_size(ci) == 2 && lo > 0 && hi >= lo)
        snprintf(buf, n, "%.3fx [%.3f-%.3f]", json_number_value(r), lo, hi);
    else
        snprintf(buf, n, "%.3fx", json_number_value(r));
}

/* the re-time's ranking, one line a candidate */
static void print_retime(FILE *f, const json_t *rt, const char *metric, const char *indent)
{
    const char *status = json_string_value(json_object_get(rt, "status"));
    const json_t *cands = json_object_get(rt, "candidates");
    if (!status || strcmp(status, "done") != 0) {
        fprintf(f, "%sre-time %s: %s\n", indent, cli_safe(status ? status : "?"),
                cli_safe(json_string_value(json_object_get(rt, "why"))));
        return;
    }
    fprintf(f, "%sre-timed side by side: %zu candidates in one session of %s (%s), ranked:\n", indent,
            json_array_size(cands), cli_safe(json_string_value(json_object_get(rt, "judge"))),
            cli_safe(json_string_value(json_object_get(rt, "session"))));
    for (int rank = 0; rank <= (int)json_array_size(cands); rank++) {  /* rank 0 (not correct) last */
        size_t i;
        json_t *c;
        json_array_foreach(cands, i, c) {
            int r = (int)json_integer_value(json_object_get(c, "rank"));
            if (rank == (int)json_array_size(cands) ? r != 0 : r != rank + 1)
                continue;
            char rt_[64], vs[96] = "";
            ratio_text(rt_, sizeof rt_, json_object_get(c, "ratio"), json_object_get(c, "ratio_ci"));
            const json_t *v = json_object_get(c, "versus_winner");
            if (v) {
                char t[64];
                ratio_text(t, sizeof t, json_object_get(v, "ratio"), json_object_get(v, "ratio_ci"));
                snprintf(vs, sizeof vs, "  the first %s faster", t);
            }
            json_t *m = json_object_get(c, metric);
            char mv[32] = "-", rk[16] = "-";
            if (json_is_number(m))
                snprintf(mv, sizeof mv, "%.4g", json_number_value(m));
            if (r)
                snprintf(rk, sizeof rk, "%d.", r);
            fprintf(f, "%s  %-3s %-40s %s %-8s %-22s (evaluation %lld)%s%s\n", indent, rk,
                    cli_safe(json_string_value(json_object_get(c, "candidate"))), cli_safe(metric), mv, rt_,
                    (long long)json_integer_value(json_object_get(c, "eval_id")),
                    json_is_true(json_object_get(c, "correct")) ? "" : "  not correct in the session", vs);
        }
    }
}

void cli_print_decision(FILE *f, const json_t *summary, const char *indent)
{
    const char *d = json_string_value(json_object_get(summary, "decision"));
    const char *metric = json_string_value(json_object_get(summary, "metric"));
    if (!d)
        return;
    char r[64];
    ratio_text(r, sizeof r, json_object_get(summary, "ratio"), json_object_get(summary, "ratio_ci"));
    const json_t *tied = json_object_get(summary, "tied_with");
    fprintf(f, "%sdecision: %s (%s)%s, best %s%s", indent, cli_safe(d),
            cli_safe(json_string_value(json_object_get(summary, "stop_reason"))),
            json_is_string(json_object_get(summary, "decided_by")) ? " on the re-time" : "", r,
            json_array_size(tied) ? "; tied within their intervals: evaluation" : "");
    size_t i;
    json_t *t;
    json_array_foreach(tied, i, t) fprintf(f, "%s %lld", i ? "," : "", (long long)json_integer_value(t));
    fprintf(f, "\n");
    const json_t *ul = json_object_get(summary, "measured_under_load"), *rt = json_object_get(summary, "retime");
    if (ul) {
        long long stops = (long long)json_integer_value(json_object_get(ul, "stops_not_taken"));
        fprintf(f, "%s  measured under load: %lld evaluation(s) while other work took up to %.0f%% of the judge's CPUs "
                   "(above %.0f%%), so nothing was decided on them",
                indent, (long long)json_integer_value(json_object_get(ul, "evaluations")),
                100 * json_number_value(json_object_get(ul, "foreign_load_max")),
                100 * json_number_value(json_object_get(ul, "limit")));
        if (stops > 0)
            fprintf(f, "; the stop condition held %lld time(s) on such measurements and was not taken", stops);
        fprintf(f, "\n");
    }
    if (json_is_number(json_object_get(rt, "foreign_load")))
        fprintf(f, "%s  the re-time was measured under load: other work took %.0f%% of the judge's CPUs, so it decided "
                   "nothing\n", indent, 100 * json_number_value(json_object_get(rt, "foreign_load")));
    if (rt)
        print_retime(f, rt, metric ? metric : "metric", indent);
}
