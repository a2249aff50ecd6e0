/* strategy_grid.c - the grid strategy: index order. A pure function of the
 * seed and the finished evaluations, so it has no state of its own. */
#include "program/strategy.h"

static spak_status grid_propose(void *self, const spak_strategy_run *run, const uint64_t *pending, size_t n_pending,
                               spak_proposal *out, size_t max, size_t *n_out, spak_err *err)
{
    (void)self;
    return spak_strategy_walk(SPAK_STRAT_GRID, run, pending, n_pending, out, max, n_out, err);
}

const spak_strategy spak_strategy_grid = {
    .name = "grid", .propose = grid_propose,
};
