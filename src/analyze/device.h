/*
 * device.h - what machine a run measures on: the CPU from /proc/cpuinfo,
 * the GPU from nvidia-smi (run through the sandbox, no shell). Recorded
 * with every run, and the key under which lessons are kept (transfer.h).
 */
#ifndef SPAK_DEVICE_H
#define SPAK_DEVICE_H

#include <jansson.h>

/* {"cpu": model name, "cores": n, "host": name}. The caller owns it. */
json_t *spak_device_cpu_json(void);
/* {"gpu": name, "driver": v, "sm_clock_max": c} of the first GPU, or NULL
 * (no nvidia-smi, or it failed). The caller owns it. */
json_t *spak_device_gpu_json(void);

/* What an engineer reads of the CPU before each move (the prompt's Machine
 * section): {"cpu": model, "cores": n, "isa": [the flags that matter to a
 * kernel: sse4_2, avx, avx2, fma, avx512f, ...], "caches": [{"level": 1,
 * "type": "Data", "size": "48K", "shared_cpus": "0"}, ...]} from
 * /proc/cpuinfo and /sys/devices/system/cpu/cpu0/cache; what cannot be read
 * is left out. The caller owns it. */
json_t *spak_device_cpu_detail(void);
/* The same of the first GPU: {"gpu", "compute_cap", "sm_clock_max_mhz",
 * "mem_clock_max_mhz", "memory_total_mib", "driver"} from nvidia-smi, or
 * NULL (no nvidia-smi, or it failed). The caller owns it. */
json_t *spak_device_gpu_detail(void);

/* What a run records of its device: the CPU's, the GPU's for target "cuda"
 * ("gpu": null when there is none), and spak's version. The caller owns it. */
json_t *spak_device_json(const char *target);

#endif
