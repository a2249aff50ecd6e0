/*
 * kernels/cpu/matmul/call.c - how the runner (kernels/cpu/common/runner.c)
 * calls a matmul kernel (abi.h): the caller of kernels/cpu/common/caller.h.
 * Linked into spak-runner-cpu; nothing here references the judge.
 */
#include "../common/caller.h"
#include "abi.h"

static int call(cpu_entry fn, const cpu_shape *sh, const cpu_bufs *b)
{
    spak_matmul_fn mm = (spak_matmul_fn)fn;
    return mm((int)sh->d[0], (int)sh->d[1], (int)sh->d[2], b->in[0], b->in[1], b->out);
}

const cpu_caller cpu_caller_matmul = {.name = "matmul", .symbol = SPAK_MATMUL_SYMBOL, .call = call};
