/* tests/unit/test_counters.c - which structure a candidate is of, for
 * `spak run --counters new` (src/analyze/counters.h): its design_space
 * values, none without a design_space, a code candidate's source; and the
 * option's values. The engine end to end: tests/suites/engine.sh. */
#include <string.h>

#include "tap.h"
#include "analyze/counters.h"

int main(void)
{
    spak_param_def d[2] = {{.name = "rung"}, {.name = "tile.m"}};
    spak_model m;
    memset(&m, 0, sizeof m);
    m.design = d;
    m.n_design = 2;
    char s[128];
    spak_counters_structure(&m, "rung=rung4_ws,bn=128,tile.m=64", s, sizeof s);
    TAP_STREQ(s, "rung=rung4_ws,tile.m=64", "the design_space values, in the key's order");
    spak_counters_structure(&m, "bn=128,rungx=1", s, sizeof s);
    TAP_STREQ(s, "", "tuning parameters and look-alike names are no structure");
    spak_counters_structure(&m, "code:step-0003|rung=rung1_simt,bn=128", s, sizeof s);
    TAP_STREQ(s, "code:step-0003", "a code candidate: its source (the points of its sweep share it)");
    m.n_design = 0;
    spak_counters_structure(&m, "rung=rung4_ws,bn=128", s, sizeof s);
    TAP_STREQ(s, "", "no design_space: one structure");
    spak_counters_structure(&m, NULL, s, sizeof s);
    TAP_STREQ(s, "", "no key: the one structure");
    spak_counters_when w = SPAK_COUNTERS_NEVER;
    TAP_OK(spak_counters_parse("new", &w) && w == SPAK_COUNTERS_NEW && spak_counters_parse("every", &w) &&
               w == SPAK_COUNTERS_EVERY && spak_counters_parse("never", &w) && w == SPAK_COUNTERS_NEVER,
           "new, every, never");
    TAP_OK(!spak_counters_parse("New", &w) && !spak_counters_parse("", &w) && !spak_counters_parse(NULL, &w) &&
               !strcmp(spak_counters_name(SPAK_COUNTERS_EVERY), "every"),
           "other spellings refused; the names back");
    TAP_OK(spak_counters_flag("--ncu") && !spak_counters_flag("--ncu=1") && !spak_counters_flag(NULL),
           "--ncu is the flag, look-alikes are not");
    return tap_done();
}
