/* strategy_random.c - the random strategy: a seeded permutation. A pure
 * function of the seed and the finished evaluations (spak_space_next), so
 * it has no state of its own. */
#include "program/strategy.h"

static const spak_strategy_kind random_walk = SPAK_STRAT_RANDOM;

const spak_strategy spak_strategy_random = {.propose = spak_strategy_walk, .arg = &random_walk};
