/* early_stop.c - a hopeless candidate stopped early (early_stop.h). */
#include "analyze/early_stop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/evaluate.h"
#include "analyze/records.h"
#include "analyze/trace.h"
#include "util.h"

double spak_early_stop_factor(const spak_engine_opts *o, const spak_loop_def *loop)
{
    if (o && o->early_stop != 0)
        return o->early_stop > 0 ? o->early_stop : 0;
    if (loop && loop->early_stop_set)
        return loop->early_stop;
    return SPAK_EARLY_STOP_DEFAULT;
}

bool spak_early_stop_limits(const json_t *best, double factor, char *out, size_t n)
{
    spak_buf b;
    spak_buf_init(&b, n);
    bool fits = true; /* a limit left out would let that shape run on: all or none */
    size_t i;
    json_t *r;
    json_array_foreach(best, i, r) {
        const char *shape = json_string_value(json_object_get(r, SPAK_FIELD_SHAPE));
        double t = json_number_value(json_object_get(r, SPAK_FIELD_TIME_MS));
        /* a shape name with a separator of the argument cannot be given */
        if (!spak_trace_counts(r, SPAK_REC_PERFORMANCE) || !shape || !(t > 0) || !isfinite(t) ||
            strpbrk(shape, ",= ") || !shape[0])
            continue;
        fits = fits && spak_buf_printf(&b, "%s%s=%.6g", b.len ? "," : "", shape, t * factor) == SPAK_OK;
    }
    bool ok = fits && b.len > 0 && b.len < n;
    spak_snprintf(out, n, "%s", ok ? b.data : "");
    spak_buf_free(&b);
    return ok;
}

spak_status spak_early_stop_args(spak_cand_argv *a, const json_t *best, double factor, const char *bin_dir,
                                 const char *target, char *limit_out, size_t n_out, spak_err *err)
{
    char lim[4096];
    if (limit_out && n_out)
        limit_out[0] = '\0';
    if (!(factor > 0) || !best || a->n == 0 || a->n + 2 > SPAK_TEMPLATE_MAX_WORDS ||
        !spak_measure_judge_stops_early(a->argv[0], bin_dir, target) || !spak_early_stop_limits(best, factor, lim, sizeof lim))
        return SPAK_OK;
    char *flag = strdup("--stop-slower-than"), *val = strdup(lim);
    if (!flag || !val) {
        free(flag);
        free(val);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    a->argv[a->n++] = flag;
    a->argv[a->n++] = val;
    a->argv[a->n] = NULL;
    if (limit_out)
        spak_snprintf(limit_out, n_out, "%s", lim);
    return SPAK_OK;
}
