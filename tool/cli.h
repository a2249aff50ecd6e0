/*
 * cli.h - what the command files of the CLI share. Each command lives in
 * tool/spak.c or a tool/cmd_*.c file of its own and is listed in the command
 * table of tool/spak.c; tool/cli.c holds the option parser, the home lookup
 * and the JSON printer every command uses. Exit status (docs/cli.md, and
 * `spak --help`): 0 success (a run: done, whatever its stop reason), 1 the
 * command ran and found a problem (an invalid spec, a failed run), 2 usage
 * error, 3 the run is suspended, waiting for an answer.
 */
#ifndef SPAK_CLI_H
#define SPAK_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define EXIT_PROBLEM 1
#define EXIT_USAGE 2
#define EXIT_SUSPENDED 3

/* Print "spak CMD: <message>" and the command's usage line to stderr;
 * returns EXIT_USAGE. fmt has one %s for arg. */
int usage_error(const char *cmd, const char *fmt, const char *arg);

/* One option of a command. name (and alias, may be NULL) either sets
 * *flag, or takes a value (the next argument, or the text after '=' in
 * --name=VALUE) into *value (borrowed from argv; given twice, the last
 * wins). A value that must be checked or converted is, after the parse. */
typedef struct cli_opt {
    const char *name, *alias;
    bool *flag;
    const char **value;
} cli_opt;

/* The entry of opts that arg names (by name or alias), or NULL. */
const cli_opt *cli_find_opt(const cli_opt *opts, const char *arg);

/* Parse the options of `spak CMD` wherever they stand among argv[1..argc-1]
 * (opts ends with an entry whose name is NULL), as getopt_long does with
 * permutation: options and operands may come in any order, "--" ends the
 * options (what follows are operands, even when they start with '-'), and
 * "-" alone is an operand. argv is reordered so that the operands, in their
 * order, come last; *first gets the index of the first. An unknown option,
 * a value option without its value or a flag given a value is a usage
 * error: returns usage_error's status (the command's usage printed), else 0.
 * -h and --help never reach here: main answers them for every command. */
int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts, unsigned how, int *first);
/* how: 0. These two were its flags before every command took options
 * anywhere; they are accepted and change nothing ("--" always ends the
 * options; a missing value always says so). */
#define CLI_DASHDASH 0x1u
#define CLI_MISSING_VALUE 0x2u

/* ---- --set NAME=VALUES (docs/t1.md) ----
 * Take every --set NAME=VALUES (or --set=NAME=VALUES), an option given once
 * per T1 parameter, out of argv (before "--") into sets (at most
 * CLI_MAX_SETS; name and values live in a static store, valid until the
 * next call); returns the new argc, the others kept in order, or -1 after a
 * usage error of cmd. */
#define CLI_MAX_SETS 64
struct spak_t1_set;
int cli_take_sets(const char *cmd, int argc, char **argv, struct spak_t1_set *sets, size_t *n);

/* ---- the home (the state directory) ----
 * Found as git finds its folder: --home DIR, else $SPAK_HOME, else the
 * nearest .spak/ folder from the current directory up to /. */

/* Resolve the home of `spak CMD` given --home given (may be NULL) into
 * out[n]. Where none is found: when create, the home is .spak in the
 * current directory and a note says so on stderr (the caller's store open
 * makes it); else the command fails: "no spak home here or above" (or "no
 * spak home at DIR" for a --home or SPAK_HOME that does not exist; a home
 * without its store, spak.db, is refused too) and nothing is created. Returns 0 or the exit status after saying why.
 * Remembers how the home was named, for cli_hint and cli_command. */
int cli_home(const char *cmd, const char *given, bool create, char *out, size_t n);

/* msg, a message naming commands as 'spak CMD ARGS' (the library's
 * convention), with --home DIR added to each where the home in use is not
 * the one the same command would find by itself (it was given by --home),
 * so that every command a message names works as printed. Lives in a ring
 * of 8 buffers as cli_safe's result does; NULL gives NULL. */
const char *cli_hint(const char *msg);
/* "spak CMD[ --home DIR] ARG" (ARG may be NULL), as cli_hint would write it. */
const char *cli_command(const char *cmd, const char *arg);

/* Print j on stdout as JSON (jansson's flags), its reals in the shortest
 * form that reads back the same (spak_json_shorten_reals), escaped for the
 * terminal; none (NULL: nothing) when it cannot be dumped. */
void cli_print_json(const json_t *j, size_t flags, const char *none);

/* s made safe for the terminal (spak_escape_term, util.h): text that comes
 * from records, candidates, models or servers goes through this where it is
 * printed. The result lives in one of a ring of 8 buffers, so up to 8 may be
 * used in one printf; NULL gives NULL. flags as spak_escape_term's. */
const char *cli_safe(const char *s);
const char *cli_safe_flags(const char *s, unsigned flags);

/* The run's decision (summary: the run's summary JSON) for
 * people, each line starting with indent: how it ended, the best's ratio
 * with its interval, the candidates tied with it, and the re-time's ranking
 * (cli_decision.c). Nothing for a summary without a decision. */
void cli_print_decision(FILE *f, const json_t *summary, const char *indent);

/* Commands that live in their own files. */
int cmd_learn(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_llm(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_mcp_call(int argc, char **argv);

#endif
