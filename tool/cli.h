/*
 * cli.h - what the command files of the CLI share. Each command lives in
 * tool/spak.c or a tool/cmd_*.c file of its own and is listed in the command
 * table of tool/spak.c. Exit status: 0 success, 1 the command ran and found a
 * problem, 2 usage error.
 */
#ifndef SPAK_CLI_H
#define SPAK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define EXIT_PROBLEM 1
#define EXIT_USAGE 2

/* Print "spak CMD: <message>" and the command's usage line to stderr;
 * returns EXIT_USAGE. fmt has one %s for arg. */
int usage_error(const char *cmd, const char *fmt, const char *arg);

/* One option of a command: name (and alias, may be NULL) either set *flag
 * or take the next argument into *value (borrowed from argv). */
typedef struct cli_opt {
    const char *name, *alias;
    bool *flag;
    const char **value;
} cli_opt;

#define CLI_DASHDASH 0x1u      /* "--" ends the options (else it is an unknown option) */
#define CLI_MISSING_VALUE 0x2u /* say "unknown option or missing value" */

/* The entry of opts that arg names (by name or alias), or NULL. */
const cli_opt *cli_find_opt(const cli_opt *opts, const char *arg);

/* Parse the options of `spak CMD` from argv[1] up to the first operand
 * (opts ends with an entry whose name is NULL). An option that takes a
 * value and is last is unknown. Sets *first to the first operand's index and
 * returns 0, or returns usage_error's status. */
int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts, unsigned how,
                   int *first);

/* s made safe for the terminal (spak_escape_term, util.h): text that comes
 * from records, candidates, models or servers goes through this where it is
 * printed. The result lives in one of a ring of 8 buffers, so up to 8 may be
 * used in one printf; NULL gives NULL. flags as spak_escape_term's. */
const char *cli_safe(const char *s);
const char *cli_safe_flags(const char *s, unsigned flags);

/* The run's decision (summary: the run's summary JSON, a json_t *) for
 * people, each line starting with indent: how it ended, the best's ratio
 * with its interval, the candidates tied with it, and the re-time's ranking
 * (cli_decision.c). Nothing for a summary without a decision. */
void cli_print_decision(FILE *f, const struct json_t *summary, const char *indent);

/* Commands that live in their own files. */
int cmd_learn(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_llm(int argc, char **argv);

#endif
