/*
 * spak - the command-line interface. The only place that prints to the user
 * or exits; everything else lives in libspak and returns a status.
 */
#include <stdio.h>
#include <string.h>

#include "spak.h"

static const char usage_text[] =
    "usage: spak <command> [options] [args]\n"
    "\n"
    "commands:\n"
    "  version               print the version\n"
    "  help                  this text\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("spak %s\n", SPAK_VERSION);
        return 0;
    }
    fprintf(stderr, "spak: unknown command '%s' (see 'spak help')\n", argv[1]);
    return 2;
}
