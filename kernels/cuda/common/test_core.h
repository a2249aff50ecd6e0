/*
 * test_core.h - what the unit tests of the CUDA harnesses' GPU-free cores
 * share (test_harness_core.c, ../fmha/test_fmha_core.c): a command line as
 * an argv, a record as JSON, the roofline input on the device they assume.
 * Test code only; static functions.
 */
#ifndef SPAK_CUDA_TEST_CORE_H
#define SPAK_CUDA_TEST_CORE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_core.h"

/* line split at spaces into argv (prog first, at most max - 1 words, NULL
 * after them); the words point into buf (n bytes, which keeps line's
 * first n - 1). Returns argc. */
static int test_argv(const char *prog, const char *line, char *buf, size_t n, char **argv, int max)
{
    int argc = 0;
    snprintf(buf, n, "%s", line);
    argv[argc++] = (char *)prog;
    for (char *t = strtok(buf, " "); t && argc < max - 1; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return argc;
}

/* A record (malloc'd JSON text, freed here; NULL allowed) parsed: the
 * object, or NULL. */
static json_t *test_load(char *s)
{
    json_error_t e;
    json_t *j = s ? json_loads(s, 0, &e) : NULL;
    free(s);
    return j;
}

/* *in for a kernel of flops and bytes that took time_ms, on the tests'
 * device (an H100's ceilings: 700 TFLOP/s, 3000 GB/s); the rest zero. */
static void test_perf_in(struct hc_perf_in *in, double flops, double bytes, double time_ms)
{
    memset(in, 0, sizeof *in);
    in->flops = flops;
    in->bytes = bytes;
    in->time_ms = time_ms;
    in->peak_tflops = 700;
    in->peak_gbps = 3000;
}

#endif
