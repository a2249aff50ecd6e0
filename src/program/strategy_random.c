/* strategy_random.c - the random strategy: a seeded permutation. A pure function of the
 * seed and the finished evaluations, so it has no state of its own. */
#include "program/strategy.h"

static spak_status random_propose(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                               spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    (void)self;
    return spak_strategy_walk(SPAK_STRAT_RANDOM, run, pending, n_pending, out, max, n_out, err);
}

const spak_strategy spak_strategy_random = {
    .name = "random", .propose = random_propose,
};
