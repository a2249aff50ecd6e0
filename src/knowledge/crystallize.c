/* crystallize.c - the end of a run's knowledge (crystallize.h). */
#include "knowledge/crystallize.h"

#include <limits.h>
#include <stdlib.h>

#include "knowledge/learn.h"
#include "store/scopes.h"

void spak_crystallize(spak_store *store, const char *home, const char *run_id)
{
    char dir[PATH_MAX + 64], out[PATH_MAX + 128], ins[PATH_MAX + 128];
    spak_snprintf(dir, sizeof dir, "%s/runs/%s", home, run_id);
    (void)spak_mkdirs(dir, NULL);  /* spak_learn says so when it cannot write there */
    spak_snprintf(out, sizeof out, "%s/spec.next.spak", dir);
    spak_snprintf(ins, sizeof ins, "%s/insights.jsonl", dir);
    spak_learn_opts lo = {.out_path = out, .write_spec = true, .record = true, .insights_path = ins};
    spak_learn_result r;
    spak_err err = {0};
    spak_status st = spak_learn(store, run_id, &lo, &r, &err);
    json_t *d = st == SPAK_OK ? json_pack("{s:s,s:I,s:s}", "crystallized", out, "lessons", (json_int_t)r.n,
                                          "insights", ins)
                              : json_pack("{s:s}", "crystallize_error", err.msg);
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    (void)spak_store_run_summary_put(store, run_id, dj ? dj : "{}", NULL);  /* a note for `spak show`; best effort */
    free(dj);
    spak_learn_result_free(&r);
}
