/* spak-submit HOME RUN KEY - queue an outside proposal for a run of
 * strategy external (strategy_external.h), as an MCP server will: the
 * external suite's stand-in for whoever proposes from outside. */
#include <stdio.h>

#include "program/strategy_external.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: spak-submit HOME RUN KEY\n");
        return 2;
    }
    spak_engine_opts o = {.home = argv[1], .seed = -1, .llm_temperature = -1};
    spak_err err = {0};
    if (spak_external_submit(&o, argv[2], argv[3], &err) != SPAK_OK) {
        fprintf(stderr, "spak-submit: %s\n", err.msg);
        return 1;
    }
    return 0;
}
