/* strategy_default.c - the default strategy: a few seeded random points, then hill climbing (space.h). A pure function of the
 * seed and the finished evaluations, so it has no state of its own. */
#include "program/strategy.h"

static spak_status default_propose(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                               spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    (void)self;
    return spak_strategy_walk(SPAK_STRAT_DEFAULT, run, pending, n_pending, out, max, n_out, err);
}

const spak_strategy spak_strategy_default = {
    .name = "default", .propose = default_propose,
};
