/* views.c - trace.latest and trace.best for expressions (views.h). */
#include "analyze/views.h"

#include <math.h>
#include <string.h>

#include "analyze/records.h"
#include "analyze/trace.h"

const json_t *spak_views_find_case(const json_t *arr, const char *case_name)
{
    const json_t *found = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        if (spak_trace_counts(r, case_name))
            found = r;
    }
    return found;
}

static const json_t *cb_latest(void *ud, const char *case_name)
{
    const spak_views *v = ud;
    return v->latest ? spak_views_find_case(v->latest, case_name) : NULL;
}

static const json_t *cb_best(void *ud, const char *case_name)
{
    const spak_views *v = ud;
    return v->best ? spak_views_find_case(v->best, case_name) : NULL;
}

static bool cb_param(void *ud, const char *name, spak_value *out)
{
    const spak_views *v = ud;
    return v->param && v->param(v->param_ud, name, out);
}

static const json_t *cb_latest_all(void *ud)
{
    return ((const spak_views *)ud)->latest;
}

static const json_t *cb_best_all(void *ud)
{
    return ((const spak_views *)ud)->best;
}

spak_eval_env spak_views_env(const spak_views *v)
{
    spak_eval_env env = {.model = v->m, .latest = cb_latest, .best = cb_best, .param = cb_param, .ud = (void *)v,
                         .latest_all = cb_latest_all, .best_all = cb_best_all};
    return env;
}

double spak_views_roofline(const json_t *records)
{
    static const char *const fields[] = {SPAK_FIELD_ROOFLINE_FRAC, SPAK_FIELD_FRAC_PEAK_FLOPS,
                                          SPAK_FIELD_FRAC_PEAK};
    double sum = 0;
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        if (!spak_trace_counts(r, NULL))
            continue;
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            json_t *v = json_object_get(r, fields[k]);
            if (json_is_number(v)) {
                sum += json_number_value(v);
                n++;
                break;
            }
        }
    }
    return n ? sum / n : -1;
}

bool spak_views_ratio_ci(const json_t *records, double *lo, double *hi, bool *precise)
{
    double sl = 0, sh = 0;
    int n = 0;
    bool all = true;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        json_t *ci = json_object_get(r, SPAK_FIELD_RATIO_CI);
        double a = json_number_value(json_array_get(ci, 0)), b = json_number_value(json_array_get(ci, 1));
        if (json_is_true(json_object_get(r, SPAK_FIELD_HELDOUT)) || !json_is_number(json_object_get(r, SPAK_FIELD_RATIO)) ||
            json_array_size(ci) != 2 || !(a > 0) || !(b >= a))
            continue;
        sl += log(a);
        sh += log(b);
        n++;
        all = all && json_is_true(json_object_get(r, SPAK_FIELD_PRECISION_REACHED));
    }
    *lo = n ? exp(sl / n) : NAN;
    *hi = n ? exp(sh / n) : NAN;
    if (precise)
        *precise = n && all;
    return n > 0;
}

double spak_views_foreign_load(const json_t *records)
{
    double most = 0;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        if (!spak_trace_counts(r, NULL))
            continue;
        double a = json_number_value(json_object_get(r, SPAK_FIELD_FOREIGN_LOAD)),
               b = json_number_value(json_object_get(r, SPAK_FIELD_SOLO_FOREIGN_LOAD));
        most = fmax(most, fmax(a, b));
    }
    return most;
}

bool spak_views_baseline(const json_t *records, char *buf, size_t n)
{
    const char *name = NULL;
    bool ok = n > 0;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        if (!spak_trace_counts(r, NULL) || !json_is_number(json_object_get(r, SPAK_FIELD_RATIO)))
            continue;
        const char *b = json_string_value(json_object_get(r, SPAK_FIELD_BASELINE));
        ok = ok && b && b[0] && (!name || strcmp(name, b) == 0);
        if (b && !name)
            name = b;
    }
    ok = ok && name && strlen(name) < n;
    if (n)
        buf[0] = 0;
    if (ok)
        memcpy(buf, name, strlen(name) + 1);
    return ok;
}
