/* strategy_grid.c - the grid strategy: index order. A pure
 * function of the seed and the finished evaluations (spak_space_next), so
 * it has no state of its own. */
#include "program/strategy.h"

static const spak_strategy_kind grid_walk = SPAK_STRAT_GRID;

const spak_strategy spak_strategy_grid = {.propose = spak_strategy_walk, .arg = &grid_walk};
