/*
 * ws.cuh - the design space the warp-specialized GEMM rungs share (rung 4,
 * and rung 5, which is rung 4 made persistent): one producer warpgroup and
 * CONS consumer warpgroups, each consumer owning MW row blocks of 64 and all
 * BN columns of the block tile. The defaults of their common parameters
 * (-D overrides), the derived block shape, and the checks on them; the
 * ring's parameters and stage layout come from hopper.cuh.
 *
 *   BN       block columns = wgmma N       64, 128, 192, 256   (default 256)
 *   MW       m64 blocks per consumer        1, 2               (default 1)
 *   CONS     consumer warpgroups            1, 2               (default 2)
 *   PRODUCER_REGS / CONSUMER_REGS  setmaxnreg values (default 40 / 232)
 */
#ifndef SPAK_GEMM_WS_CUH
#define SPAK_GEMM_WS_CUH

#include "hopper.cuh"

#ifndef BN
#define BN 256
#endif
#ifndef MW
#define MW 1
#endif
#ifndef CONS
#define CONS 2
#endif
#ifndef PRODUCER_REGS
#define PRODUCER_REGS 40
#endif
#ifndef CONSUMER_REGS
#define CONSUMER_REGS 232
#endif

#define BM (CONS * MW * 64)
#define NTHREADS ((CONS + 1) * 128)
static_assert(BN % 64 == 0 && BN <= 256, "BN in 64..256, multiple of 64");
static_assert(BM <= 256, "TMA box rows <= 256");
static_assert(PRODUCER_REGS * 128 + CONSUMER_REGS * 128 * CONS <= 65536, "register file over 64K");

#endif
