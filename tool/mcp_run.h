/*
 * mcp_run.h - what `spak mcp` does to runs beneath its tools: children
 * (a command captured; a `spak resume` supervised), and a proposal's
 * evaluations read back from the store.
 */
#ifndef SPAK_MCP_RUN_H
#define SPAK_MCP_RUN_H

#include "mcp_server.h"
#include "run_opts.h"
#include "util.h"

/* Run `spak ARGS...` (this binary, --home given first) to its end: its
 * stdout and stderr (capped at 1 MiB each; owned by the caller) and its
 * exit status (-1: it could not be started or died of a signal). */
int mcp_capture(const mcp_server *s, const char *const *args, char **out, char **errout);

/* Start `spak resume RUN` for run unless one of ours is alive or nothing
 * waits in its queue. */
void mcp_ensure_child(mcp_server *s, const char *run);
/* Start `spak resume RUN` for run unless one of ours is alive, whatever
 * its queue holds (a gate just answered: the run goes on with its kernel). */
void mcp_resume_child(mcp_server *s, const char *run);
/* Our live child of run, or NULL. */
mcp_kid *mcp_child_of(mcp_server *s, const char *run);

/* The server's home is path, made absolute (children and messages name
 * it so). false when it is too long. */
bool mcp_set_home(mcp_server *s, const char *path);

/* The engine options of the server's home (for the library calls). */
spak_engine_opts mcp_opts(const mcp_server *s);

/* Why run cannot go on by itself now (a gate: what it asks and the
 * command a person runs; its end), into buf; false when it can. */
bool mcp_waiting_for(mcp_server *s, const char *run, char *buf, size_t n);

/* Whether run is being advanced now (a live process holds it: a resume of
 * this server's or of another's); false when it waits, has ended or cannot
 * be read. */
bool mcp_run_running(const mcp_server *s, const char *run);

/* Whether run has ended (done, failed: a run that suspends, runs or was
 * interrupted has not): why[wn] then says so. */
bool mcp_run_ended(const mcp_server *s, const char *run, char *why, size_t wn);

/* Where proposal id of run stands, as a tool result's structured content:
 * {"run", "proposal", "done": all its items final, "finished", "of",
 *  "queued", "evaluations": [...], "waiting_for": why the run cannot go on
 *  by itself (a gate, its end) or absent}. NULL when the run cannot be read
 * (why in why[wn]). */
json_t *mcp_proposal_state(mcp_server *s, const char *run, long proposal, char *why, size_t wn);

/* What the sweeps of run's proposals' tunables found (program/sweep.h),
 * the newest max of them, as a section of the engineer's context into b:
 * per proposal its strategy, the points judged and failed, how it ended
 * (or that it goes on), its best point with its ratio, the spread of the
 * correct points' ratios, and every point in the order tried (without the
 * measurements in a run that leaves them out). false when the run has had
 * no sweep (b unchanged). */
bool mcp_sweep_summary(const mcp_server *s, const char *run, size_t max, spak_buf *b);

/* Whether the person is being asked about run's gate now through the
 * client (an elicitation not answered yet: mcp_elicit.h), and the outcome
 * of the last one asked (why[wn], "" when none). Here, beside the wait's
 * states that say it. */
bool mcp_elicit_asking(const mcp_server *s, const char *run, char *why, size_t wn);

#endif
