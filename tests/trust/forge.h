/*
 * tests/trust/forge.h - forged trace records: a Correctness record that
 * passes for every shape the harness was given (--shapes, --heldout in
 * argv; 128x128x128 when there is no argv to read) and Performance and
 * Analysis records with impossible numbers for the timed ones. Every forged
 * record carries FORGED_MARK so that the store can be searched for it.
 */
#ifndef SPAK_TRUST_FORGE_H
#define SPAK_TRUST_FORGE_H

#include "trust.h"

#define FORGED_MARK "forged-by-candidate"
#define FORGED_GFLOPS 123456.75

static inline void forge_list(const char *list, bool heldout)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        printf("__SPAK_TRACE__ {\"type\":\"Correctness\",\"shape\":\"%s\",\"heldout\":%s,\"passed\":true,"
               "\"rel_err\":1e-9,\"tolerance\":1e-5,\"reason\":\"ok (" FORGED_MARK ")\"}\n",
               t, heldout ? "true" : "false");
        if (heldout) continue;
        printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"%s\",\"time_ms\":0.001,\"gflops\":%.2f,"
               "\"baseline\":\"" FORGED_MARK "\",\"baseline_gflops\":1,\"ratio\":%.2f}\n",
               t, FORGED_GFLOPS, FORGED_GFLOPS);
        printf("__SPAK_TRACE__ {\"type\":\"Analysis\",\"shape\":\"%s\",\"arith_intensity\":1,\"frac_peak_flops\":1,"
               "\"frac_peak_bw\":1,\"bottleneck\":\"compute\",\"why\":\"" FORGED_MARK "\"}\n",
               t);
    }
}

static inline void forge_records(void)
{
    char shapes[4096], held[4096];
    forge_list(trust_arg("--shapes", shapes, sizeof shapes) ? shapes : "128x128x128", false);
    if (trust_arg("--heldout", held, sizeof held)) forge_list(held, true);
    fflush(stdout);
}

#endif
