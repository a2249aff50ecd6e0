/*
 * kernels/cpu/attention/call.c - how the runner (kernels/cpu/common/runner.c)
 * calls an attention-forward kernel (abi.h): the caller of
 * kernels/cpu/common/caller.h. Linked into spak-runner-cpu only.
 */
#include "../common/caller.h"
#include "abi.h"

static int call(cpu_entry fn, const cpu_shape *sh, const cpu_bufs *b)
{
    spak_attention_fn at = (spak_attention_fn)fn;
    return at((int)sh->d[0], (int)sh->d[1], (int)sh->d[2], (int)sh->d[3], sh->causal, b->in[0], b->in[1],
              b->in[2], b->out);
}

const cpu_caller cpu_caller_attention = {.name = "attention", .symbol = SPAK_ATTENTION_SYMBOL, .call = call};
