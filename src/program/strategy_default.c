/* strategy_default.c - the default strategy: a few seeded random points, then hill climbing (space.h). A pure
 * function of the seed and the finished evaluations (spak_space_next), so
 * it has no state of its own. */
#include "program/strategy.h"

static const spak_strategy_kind default_walk = SPAK_STRAT_DEFAULT;

const spak_strategy spak_strategy_default = {.propose = spak_strategy_walk, .arg = &default_walk};
