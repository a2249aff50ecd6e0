/*
 * kernels/cpu/common/cpu_model.h - the CPU's model name as the harness reads
 * it (/proc/cpuinfo's first "model name"), the key of the device-ceilings
 * cache (ceilings.c). Header-only (static inline) so that whoever must name
 * the machine the way the harness does reads the same line the same way.
 * No ownership: the name is written into the caller's buffer.
 */
#ifndef SPAK_CPU_MODEL_H
#define SPAK_CPU_MODEL_H

#include <stdio.h>
#include <string.h>

/* The model name into buf (cut to n), "unknown" when /proc/cpuinfo cannot be
 * read or names none. */
static inline void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + (p[1] == ' ');
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, n, "%s", p);
            }
            break;
        }
    fclose(f);
}

#endif
