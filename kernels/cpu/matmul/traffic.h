/*
 * kernels/cpu/matmul/traffic.h - the matmul ladder's traffic models
 * (traffic.c), the family descriptor's .traffic (../common/family.h).
 */
#ifndef SPAK_CPU_MATMUL_TRAFFIC_H
#define SPAK_CPU_MATMUL_TRAFFIC_H

#include <stddef.h>

#include "../common/caller.h"

#define MATMUL_TRAFFIC_MODELS "naive|reorder|blocked|packed"

/* Bytes one call of sh moves beyond L2 (l2 bytes) under the named model, its
 * blocking from params; -1 for an unknown model. desc: the model and values. */
double matmul_traffic(const cpu_shape *sh, const char *model, const char *params, double l2, char *desc,
                      size_t ndesc);

#endif
