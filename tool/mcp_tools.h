/*
 * mcp_tools.h - the tools and resources of `spak mcp` (mcp_server.h says
 * how the server's parts fit).
 */
#ifndef SPAK_MCP_TOOLS_H
#define SPAK_MCP_TOOLS_H

#include "mcp_server.h"

/* Set r to the error code and message; returns false for `return` chains. */
bool mcp_fail(mcp_reply *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* tools/list's result (new reference). */
json_t *mcp_tools_list(void);
/* tools/call: the tool name with its arguments (may be NULL); id and
 * progress token of the request (borrowed) for spak_wait. */
void mcp_tools_call(mcp_server *s, const char *name, json_t *args, json_t *id, json_t *token, mcp_reply *r);
/* resources/list and resources/read for the current run. */
void mcp_resources_list(mcp_server *s, mcp_reply *r);
void mcp_resources_read(mcp_server *s, json_t *params, mcp_reply *r);

/* Once per turn of the main loop: reap and restart children, answer waits
 * whose proposal ended or whose deadline passed (respond takes id and
 * result), send progress. */
void mcp_tick(mcp_server *s, void (*respond)(mcp_server *s, json_t *id, json_t *result));
/* notifications/cancelled for request id: a wait ends unanswered; a
 * propose's queued items are withdrawn. */
void mcp_cancel(mcp_server *s, json_t *id);

#endif
