/* fuzz_diff.c - libFuzzer target for the strict diff applier
 * (src/program/diff.c): the input is a source and a diff separated by the
 * first NUL byte (none: an empty source); every input must apply or fail
 * with a message, never crash, read out of bounds or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "program/diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, 0, size);
    size_t src_len = nul ? (size_t)(nul - s) : 0;
    const char *diff = nul ? nul + 1 : s;
    size_t diff_len = nul ? size - src_len - 1 : size;
    spak_buf out;
    spak_buf_init(&out, 1u << 20);
    spak_err err = {0};
    (void)spak_diff_apply(s, src_len, diff, diff_len, &out, &err);
    spak_buf_free(&out);
    return 0;
}
