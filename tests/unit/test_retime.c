/* tests/unit/test_retime.c - which judges the re-time runs a session of
 * (src/analyze/retime.c): the CPU judge and both CUDA judges by their exact
 * names, nothing else; and the profiling flags its session drops (the GEMM
 * judge refused a session with --ncu on the H100, 2026-12-06). */
#include <stddef.h>

#include "tap.h"
#include "analyze/retime.h"

int main(void)
{
    TAP_OK(spak_retime_session_judge("spak-harness-cpu"), "the CPU judge takes a session");
    TAP_OK(spak_retime_session_judge("spak-harness-cuda"), "the GEMM GPU judge takes a session");
    TAP_OK(spak_retime_session_judge("spak-harness-cuda-fmha"), "the FMHA GPU judge takes a session");
    TAP_OK(!spak_retime_session_judge("spak-harness-cuda-fmha2") && !spak_retime_session_judge("spak-harness-cp") &&
               !spak_retime_session_judge("spak-harness-cudax") && !spak_retime_session_judge("python3") &&
               !spak_retime_session_judge("") && !spak_retime_session_judge(NULL),
           "other names (a prefix, a longer name, a user command) do not");
    TAP_OK(spak_retime_profiling_flag("--ncu") && spak_retime_profiling_flag("--profile-one"),
           "--ncu and --profile-one profile one candidate: dropped from a session");
    TAP_OK(!spak_retime_profiling_flag("--reps") && !spak_retime_profiling_flag("--ncu=1") &&
               !spak_retime_profiling_flag("--ceilings-cache") && !spak_retime_profiling_flag(NULL),
           "timing flags and look-alikes are kept");
    return tap_done();
}
