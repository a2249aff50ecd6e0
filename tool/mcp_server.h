/*
 * mcp_server.h - the state of `spak mcp` that its parts share (tool/cmd_mcp.c
 * is the protocol: JSON-RPC 2.0 over stdio, the lifecycle, the waits;
 * mcp_tools.c the tools and resources; mcp_run.c the children and the
 * store reads; mcp_elicit.c the gates put to the client's user).
 *
 * Every tool acts on the store and the runs exactly as the CLI does: the
 * read-only tools run `spak status/show/learn/report --json` as children,
 * spak_start runs `spak run --strategy external`, and a proposal is queued
 * in the store (program/strategy_external.h) and judged by a child
 * `spak resume RUN` that the server supervises (its own session, so a
 * server killed mid-evaluation leaves it finishing its work, and the run
 * resumable). No tool answers an approval gate: that is `spak approve`,
 * or the client's user through an elicitation (mcp_elicit.h).
 * docs/mcp.md is the manual.
 */
#ifndef SPAK_MCP_SERVER_H
#define SPAK_MCP_SERVER_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define MCP_MAX_KIDS 16
#define MCP_MAX_WAITS 32
#define MCP_MAX_PROPOSES 64
#define MCP_RUN_ID_MAX 64

/* JSON-RPC error codes the server answers with. */
#define MCP_PARSE_ERROR (-32700)
#define MCP_INVALID_REQUEST (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS (-32602)
#define MCP_INTERNAL_ERROR (-32603)

/* A `spak resume RUN` the server started. */
typedef struct mcp_kid {
    pid_t pid;
    char run[MCP_RUN_ID_MAX];
    double started;
} mcp_kid;

/* A spak_wait not answered yet: answered when its proposal's evaluations
 * are all final, at its deadline, or never (cancelled). */
typedef struct mcp_wait {
    json_t *id;     /* the request's id (owned); NULL = free slot */
    json_t *token;  /* its _meta.progressToken (owned) or NULL */
    char run[MCP_RUN_ID_MAX];
    long proposal;
    double deadline, next_progress;
    long last_progress;
} mcp_wait;

/* A spak_propose answered lately: a cancellation of it withdraws what of
 * it is still queued. */
typedef struct mcp_propose {
    json_t *id;
    char run[MCP_RUN_ID_MAX];
    long proposal;
} mcp_propose;

/* An approval gate asked of the person through the client (elicitation,
 * mcp_elicit.h): which run, the pending approval asked about (its JSON
 * text: a gate is asked once), the request's id while unanswered. */
#define MCP_MAX_ELICITS 8
typedef struct mcp_elicit {
    char run[MCP_RUN_ID_MAX];
    char *pending;   /* owned; NULL = free slot */
    long request;    /* our request's id; 0 once answered */
    char outcome[128];
} mcp_elicit;

typedef struct mcp_server {
    char exe[PATH_MAX];   /* this spak binary, for the children */
    char home[PATH_MAX];  /* the home every child is given */
    char run[MCP_RUN_ID_MAX]; /* the run started or attached last: the default of every tool */
    char version[16];     /* the protocol revision agreed at initialize */
    mcp_kid kids[MCP_MAX_KIDS];
    mcp_wait waits[MCP_MAX_WAITS];
    mcp_propose proposes[MCP_MAX_PROPOSES];
    size_t next_propose;
    double respawn_after; /* a child that died at once is not started again before this */
    bool elicit;          /* the client declared the elicitation capability */
    mcp_elicit elicits[MCP_MAX_ELICITS];
    long next_request;    /* ids of the requests the server sends */
    double next_gate_look;
    void (*notify)(struct mcp_server *s, json_t *msg); /* send a notification (takes msg) */
} mcp_server;

/* What a method or tool call gives back: a result, a JSON-RPC error
 * (code != 0), or nothing yet (deferred: a wait answered later). */
typedef struct mcp_reply {
    json_t *result;
    int code;
    char msg[1024];
    bool deferred;
} mcp_reply;

#endif
