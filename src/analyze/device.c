/* device.c - probing the CPU and the GPU (device.h). */
#include "analyze/device.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "analyze/sandbox.h"
#include "util.h"

/* The first line of `nvidia-smi --query-gpu=QUERY --format=csv,noheader`
 * split at commas into f[0..max) (spaces trimmed), in line; the number of
 * fields, 0 when nvidia-smi is missing or failed. */
static size_t smi_query(const char *query, char *line, size_t n, char **f, size_t max)
{
    char q[256];
    spak_snprintf(q, sizeof q, "--query-gpu=%s", query);
    const char *argv[] = {"nvidia-smi", q, "--format=csv,noheader,nounits", NULL};
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = 20;
    lim.run_as_uid = lim.run_as_gid = -1;
    lim.isolation_off = ~0u;
    lim.address_space_bytes = 0;
    spak_sandbox_result r;
    size_t k = 0;
    if (spak_sandbox_run(argv, "/tmp", &lim, &r, NULL) != SPAK_OK)
        return 0;
    if (r.ok && r.out && r.out_len) {
        spak_snprintf(line, n, "%.*s", (int)strcspn(r.out, "\n"), r.out);
        for (char *p = line; p && k < max;) {
            while (*p == ' ')
                p++;
            f[k++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
    }
    spak_sandbox_result_free(&r);
    return k;
}

json_t *spak_device_gpu_detail(void)
{
    char line[512], *f[6];
    if (smi_query("name,compute_cap,clocks.max.sm,clocks.max.memory,memory.total,driver_version", line, sizeof line,
                  f, 6) != 6)
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "gpu", f[0], "compute_cap", f[1], "sm_clock_max_mhz", f[2],
                     "mem_clock_max_mhz", f[3], "memory_total_mib", f[4], "driver", f[5]);
}

json_t *spak_device_gpu_json(void)
{
    const char *argv[] = {"nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm", "--format=csv,noheader",
                          NULL};
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = 20;
    lim.run_as_uid = lim.run_as_gid = -1;
    lim.isolation_off = ~0u;
    lim.address_space_bytes = 0;
    spak_sandbox_result r;
    json_t *g = NULL;
    if (spak_sandbox_run(argv, "/tmp", &lim, &r, NULL) != SPAK_OK)
        return NULL;
    if (r.ok && r.out && r.out_len) {
        char line[512];
        spak_snprintf(line, sizeof line, "%.*s", (int)strcspn(r.out, "\n"), r.out);
        char *f2 = strchr(line, ',');
        char *f3 = f2 ? strchr(f2 + 1, ',') : NULL;
        if (f2)
            *f2++ = '\0';
        if (f3)
            *f3++ = '\0';
        while (f2 && *f2 == ' ')
            f2++;
        while (f3 && *f3 == ' ')
            f3++;
        g = json_pack("{s:s,s:s?,s:s?}", "gpu", line, "driver", f2, "sm_clock_max", f3);
    }
    spak_sandbox_result_free(&r);
    return g;
}

json_t *spak_device_cpu_json(void)
{
    json_t *d = json_object();
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    spak_snprintf(model, sizeof model, "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_object_set_new(d, "cpu", json_string(model));
    json_object_set_new(d, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(d, "host", json_string(host));
    return d;
}

/* The first line of FILE, without its newline, into out ("" when unread). */
static void first_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(out, (int)n, f))
        out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

json_t *spak_device_cpu_detail(void)
{
    /* the flags a kernel's author chooses instructions by, in this order */
    static const char *const wanted[] = {"sse4_2",     "avx",         "avx2",        "fma",        "f16c",
                                         "avx512f",    "avx512dq",    "avx512bw",    "avx512vl",   "avx512_vnni",
                                         "avx512_bf16", "avx512_fp16", "amx_tile",    "amx_bf16",   "asimd",
                                         "sve",        "sve2"};
    json_t *d = spak_device_cpu_json();
    json_object_del(d, "host");  /* not the engineer's business, and not deterministic */
    json_t *isa = json_array();
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        static char line[1 << 14];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "flags", 5) != 0 && strncmp(line, "Features", 8) != 0)
                continue;
            for (size_t i = 0; i < SPAK_ARRAY_LEN(wanted); i++) {
                size_t k = strlen(wanted[i]);
                for (const char *p = strstr(line, wanted[i]); p; p = strstr(p + 1, wanted[i]))
                    if ((p[-1] == ' ' || p[-1] == '\t') && (p[k] == ' ' || p[k] == '\n' || p[k] == '\0')) {
                        json_array_append_new(isa, json_string(wanted[i]));
                        break;
                    }
            }
            break;
        }
        fclose(f);
    }
    json_object_set_new(d, "isa", isa);
    json_t *caches = json_array();
    for (int i = 0; i < 8; i++) {
        char path[128], level[16], type[32], size[32], shared[64];
        spak_snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        first_line(path, level, sizeof level);
        if (!level[0])
            break;
        spak_snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        first_line(path, type, sizeof type);
        spak_snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        first_line(path, size, sizeof size);
        spak_snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_list", i);
        first_line(path, shared, sizeof shared);
        json_array_append_new(caches, json_pack("{s:s,s:s,s:s,s:s}", "level", level, "type", type, "size", size,
                                                "shared_cpus", shared));
    }
    json_object_set_new(d, "caches", caches);
    return d;
}

json_t *spak_device_json(const char *target)
{
    json_t *dev = spak_device_cpu_json();
    if (strcmp(target, "cuda") == 0) {
        json_t *g = spak_device_gpu_json();
        if (g)
            json_object_update(dev, g);
        else
            json_object_set_new(dev, "gpu", json_null());
        json_decref(g);
    }
    json_object_set_new(dev, "spak_version", json_string(SPAK_VERSION));
    return dev;
}
