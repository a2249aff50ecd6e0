/* device.c - probing the CPU and the GPU (device.h). */
#include "analyze/device.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "analyze/sandbox.h"
#include "util.h"

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
