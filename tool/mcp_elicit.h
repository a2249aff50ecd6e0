/*
 * mcp_elicit.h - approval gates put to the person through the client: when
 * a run the server drives suspends at a gate (docs/language.md 6.12) and
 * the client declared the elicitation capability at initialize, the server
 * sends elicitation/create (MCP 2025-06-18 and later: a message and a form
 * of one boolean, "approve") and applies the answer as `spak approve` or
 * `spak reject` would: the decision recorded (spak_engine_answer), then the
 * run resumed by a `spak resume` the server supervises. accept with approve
 * true approves; accept with approve false, or decline, rejects (a rejected
 * kernel is a recorded failed step); cancel leaves the gate pending, for
 * `spak approve`/`spak reject`, and it is not asked again by this server.
 * This is the client's human answering, never the engineer: no tool can
 * answer a gate. A client without the capability is never asked; its
 * spak_wait and spak_status describe the gate and the command to run.
 */
#ifndef SPAK_MCP_ELICIT_H
#define SPAK_MCP_ELICIT_H

#include "mcp_server.h"

/* Once a turn: ask about every gate of the runs the server drives (the
 * current run and those waited for) that was not asked yet. send takes the
 * request. */
void mcp_elicit_tick(mcp_server *s, void (*send)(json_t *msg));

/* A response to one of the server's requests (result or error, borrowed):
 * true when it was an elicitation's, and then applied. */
bool mcp_elicit_response(mcp_server *s, json_t *id, json_t *result, json_t *error);

/* Whether a wait on run should go on past its gate: the person is being
 * asked about it, or is about to be (a client with the capability, a gate
 * not asked yet). */
bool mcp_elicit_holds(mcp_server *s, const char *run);

#endif
