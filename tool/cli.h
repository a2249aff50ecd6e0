/*
 * cli.h - what the command files of the CLI share. Each command lives in
 * tool/spak.c or a tool/cmd_*.c file of its own and is listed in the command
 * table of tool/spak.c. Exit status: 0 success, 1 the command ran and found a
 * problem, 2 usage error.
 */
#ifndef SPAK_CLI_H
#define SPAK_CLI_H

#define EXIT_PROBLEM 1
#define EXIT_USAGE 2

/* Print "spak CMD: <message>" and the command's usage line to stderr;
 * returns EXIT_USAGE. fmt has one %s for arg. */
int usage_error(const char *cmd, const char *fmt, const char *arg);

/* Commands that live in their own files. */
int cmd_learn(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_llm(int argc, char **argv);

#endif
