/*
 * kernels/cpu/matmul/traffic.c - traffic models of the matmul ladder's loop
 * nests, for the CPU bottleneck class (kernels/cpu/common/classify.h): the
 * bytes one call moves beyond the private caches (L1+L2 of a core), fp32,
 * 64-byte lines, A: MxK, B: KxN, C: MxN. The compulsory traffic
 * 4(MK + KN + MN) is the minimum; each rung's loops reread operands that do
 * not stay in L2:
 *
 *   naive    (i, j, k; B walked down a column) A once (a row of A is reused
 *            for every j), C once; B once when it fits in L2, else once per
 *            row of C, and a 64-byte line per element when the K lines of a
 *            column (64 K bytes) do not survive in L2 from one j to the next
 *   reorder  (i, k, j; rows of B and of C streamed) A once; B once when it
 *            fits in L2, else once per row of C; C once when a row of C
 *            and a row of B fit in L2, else read and written on every k
 *   blocked  (tiles TILE_M x TILE_N, K in TILE_K slices; defaults 64, 256,
 *            128 as in blocked.c) A once per column tile, ceil(N/TILE_N)
 *            times; B once per row tile, ceil(M/TILE_M) times, unless it fits
 *            in L2; C once when a tile of C fits in L2, else read and written
 *            per K slice
 *   packed   (Goto/BLIS: KC = TILE_K, MC = TILE_M, NC = TILE_N; defaults 384,
 *            96, 2048 as in packed.c) B once (packed); A once per NC block
 *            of columns; C read and written once per KC slice, written once
 *            on the first
 *
 * A model, not a measurement (the development machines have no hardware
 * counters): it ignores hardware prefetching, TLB misses and the sharing of
 * L3 between cores, and it assumes the compiler kept the rung's loop order.
 * Its record says "traffic_source": "modelled" and names the model and the
 * values it used. kernels/cpu/tests/test_classify.c tests it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../common/classify.h"
#include "../common/family.h"
#include "traffic.h"

double matmul_traffic(const cpu_shape *sh, const char *model, const char *params, double l2, char *desc,
                      size_t ndesc)
{
    double M = (double)sh->d[0], N = (double)sh->d[1], K = (double)sh->d[2];
    double A = 4 * M * K, B = 4 * K * N, C = 4 * M * N, bytes = -1;
    if (!model) return -1;
    if (!strcmp(model, "naive")) {
        double per_row = 64 * K <= l2 ? B : 16 * B;
        bytes = A + C + (B <= l2 ? B : M * per_row);
        snprintf(desc, ndesc, "matmul/naive (L2 %.0f KiB)", l2 / 1024);
    } else if (!strcmp(model, "reorder")) {
        bytes = A + (B <= l2 ? B : M * B) + (8 * N <= l2 ? C : 2 * C * K);
        snprintf(desc, ndesc, "matmul/reorder (L2 %.0f KiB)", l2 / 1024);
    } else if (!strcmp(model, "blocked")) {
        long tm = cpu_traffic_param(params, "TILE_M", 64), tn = cpu_traffic_param(params, "TILE_N", 256),
             tk = cpu_traffic_param(params, "TILE_K", 128);
        bytes = A * ceil(N / (double)tn) + (B <= l2 ? B : B * ceil(M / (double)tm)) +
                (4.0 * (double)tm * (double)tn <= l2 ? C : 2 * C * ceil(K / (double)tk));
        snprintf(desc, ndesc, "matmul/blocked TILE_M=%ld TILE_N=%ld TILE_K=%ld (L2 %.0f KiB)", tm, tn, tk, l2 / 1024);
    } else if (!strcmp(model, "packed")) {
        long kc = cpu_traffic_param(params, "TILE_K", 384), mc = cpu_traffic_param(params, "TILE_M", 96),
             nc = cpu_traffic_param(params, "TILE_N", 2048);
        bytes = B + A * ceil(N / (double)nc) + C * (2 * ceil(K / (double)kc) - 1);
        snprintf(desc, ndesc, "matmul/packed TILE_K=%ld TILE_M=%ld TILE_N=%ld", kc, mc, nc);
    }
    return bytes;
}
