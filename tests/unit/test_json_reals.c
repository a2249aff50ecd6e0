/* test_json_reals.c - JSON reals in their shortest form (spak_json_shorten_reals,
 * src/util.c): what jansson prints with %.17g comes back as the shortest text
 * that reads back as the same double; integers, strings and the rest untouched. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"

/* json text shortened, compared with want */
static void expect(const char *json, const char *want)
{
    char buf[512];
    spak_snprintf(buf, sizeof buf, "%s", json);
    spak_json_shorten_reals(buf);
    TAP_OK(strcmp(buf, want) == 0, "%s -> %s (got %s)", json, want, buf);
}

int main(void)
{
    expect("{\"a\": 58.873071400000001}", "{\"a\": 58.8730714}");
    expect("[0.10000000000000001, -2.5, 1.0, 3]", "[0.1, -2.5, 1.0, 3]");
    expect("{\"x\": 1.0000000000000001e+300}", "{\"x\": 1e+300}");
    expect("{\"x\": 0.38772134499959066}", "{\"x\": 0.38772134499959066}");
    expect("{\"id\": 12345678901234567}", "{\"id\": 12345678901234567}");
    /* numbers inside strings, escaped quotes and backslashes: untouched */
    expect("{\"s\": \"0.10000000000000001 \\\" 2.5000000000000000\", \"t\": 0.20000000000000001}",
           "{\"s\": \"0.10000000000000001 \\\" 2.5000000000000000\", \"t\": 0.2}");
    expect("{\"s\": \"a\\\\\", \"t\": 0.30000000000000004}", "{\"s\": \"a\\\\\", \"t\": 0.30000000000000004}");
    spak_json_shorten_reals(NULL);
    TAP_OK(1, "NULL is nothing to do");

    /* every real of a jansson dump reads back as the same double */
    json_t *arr = json_array();
    double v = 0.1;
    for (int i = 0; i < 200; i++, v = v * 1.37 + 1e-3 * i)
        json_array_append_new(arr, json_real(i % 2 ? -v : v));
    char *t = json_dumps(arr, JSON_COMPACT);
    size_t before = strlen(t);
    spak_json_shorten_reals(t);
    json_t *back = json_loads(t, 0, NULL);
    bool same = back && json_array_size(back) == 200;
    for (size_t i = 0; same && i < 200; i++)
        same = json_is_real(json_array_get(back, i)) &&
               json_real_value(json_array_get(back, i)) == json_real_value(json_array_get(arr, i));
    TAP_OK(same, "200 reals: each reads back as the same double, still a real");
    TAP_OK(strlen(t) < before, "and the text is shorter (%zu < %zu)", strlen(t), before);
    free(t);
    json_decref(back);
    json_decref(arr);
    return tap_done();
}
