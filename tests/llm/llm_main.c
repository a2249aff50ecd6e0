/*
 * llm_main.c - a stand-alone `spak llm` for tests/suites/llm_real.sh, used
 * only while the command is not yet listed in the command table of
 * tool/spak.c: main() and usage_error() around tool/cmd_llm.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_llm(int argc, char **argv);

int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "spak %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "llm") != 0) {
        fprintf(stderr, "usage: %s llm ask ...\n", argv[0]);
        return EXIT_USAGE;
    }
    return cmd_llm(argc - 1, argv + 1);
}
