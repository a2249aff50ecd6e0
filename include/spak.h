/*
 * spak.h - the public surface of libspak: status codes and the error buffer
 * every fallible call fills.
 *
 * Convention (curl style): a function that can fail returns enum spak_status;
 * SPAK_OK (0) means success, anything else means failure and, when the caller
 * passed a struct spak_err, its msg holds one line that says what and why.
 * Library code never prints and never exits; the CLI (tool/spak.c) decides
 * what the user sees.
 */
#ifndef SPAK_H
#define SPAK_H

#include <stddef.h>

#define SPAK_VERSION "0.1.0"

typedef enum spak_status {
    SPAK_OK = 0,
    SPAK_ERR_NOMEM,    /* an allocation failed */
    SPAK_ERR_IO,       /* a file or pipe could not be read or written */
    SPAK_ERR_LIMIT,    /* input over a cap (file size, token length, nesting) */
    SPAK_ERR_SYNTAX,   /* the spec does not parse; diagnostics say where */
    SPAK_ERR_CHECK,    /* the spec parses but is not valid; diagnostics say why */
    SPAK_ERR_ARG,      /* a caller passed something that makes no sense */
    SPAK_ERR_EVAL,     /* an expression could not be evaluated (type, division by zero) */
    SPAK_ERR_SANDBOX,  /* a child process could not be started or supervised */
    SPAK_ERR_BUILD,    /* a candidate did not compile */
    SPAK_ERR_STORE,    /* the SQLite store failed */
    SPAK_ERR_TRACE,    /* a trace record is malformed or does not fit the schema */
    SPAK_ERR_STATE,    /* an operation is not valid in the current state */
    SPAK_ERR_INTERNAL  /* a bug in spak: please report it */
} spak_status;

#define SPAK_ERR_MSG_MAX 1024

/* Error detail filled by a failing call. Owned by the caller (usually on the stack). */
typedef struct spak_err {
    spak_status status;
    char msg[SPAK_ERR_MSG_MAX];
} spak_err;

/* A short constant name for a status ("io error", ...). Never NULL; static storage. */
const char *spak_status_name(spak_status st);

#endif
