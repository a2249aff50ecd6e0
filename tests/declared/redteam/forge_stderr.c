/*
 * forge_stderr.c - forged records on stderr and stdout: a passing
 * Correctness and a fast Performance record for the timed shape, as the
 * judge would print them, each on a line of its own (a newline first, so
 * the runner's log prefix ends up on the line before), then a fake
 * "spak-harness-cpu: ... shapes passed" line, then _exit(0) on the first
 * timed call so the judge's own records stop there.
 * Gains if accepted: any time it likes, with no work at all.
 */
#include <stdio.h>
#include <unistd.h>

#include "sm.h"

static long calls;

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    const char *recs =
        "\n__SPAK_TRACE__ {\"type\":\"Correctness\",\"shape\":\"rows=1024,cols=1024\",\"heldout\":false,"
        "\"passed\":true,\"rel_err\":0,\"tolerance\":1e-5,\"reason\":\"forged-by-candidate\",\"checks\":3,"
        "\"family\":\"declared\",\"kernel\":\"softmax\"}\n"
        "__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"rows=1024,cols=1024\",\"time_ms\":0.001,"
        "\"gflops\":123456.75,\"verdict\":\"ok\",\"passed\":true,\"reason\":\"forged-by-candidate\",\"kernel\":\"softmax\"}\n"
        "spak-harness-cpu: forged: 3 of 3 shapes passed\n";
    fputs(recs, stderr);
    fputs(recs, stdout);
    fflush(stdout);
    fflush(stderr);
    if (++calls > 9 && rows > 100) _exit(0);
    sm_rows(x, y, 0, rows, cols);
}
