/* tests/unit/test_retime.c - which judges the re-time runs a session of
 * (src/analyze/retime.c): the CPU judge and both CUDA judges by their exact
 * names, nothing else. */
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
    return tap_done();
}
