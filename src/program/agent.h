/*
 * agent.h - agent_loop executes: the prototype's step list, run for real.
 *
 *   agent_loop NAME {
 *       step "Title" {
 *           llm.query { prompt: "... {{var}} ...", output_var: "x", input: file("notes.md") }
 *           tool.read { path: "f", output_var: "y" }
 *           tool.write { path: "f", content: "{{x}}" }
 *           tool.run { cmd: "...", output_var: "z" }
 *           tool.engineering_loop { name: "Tuner" }
 *           emit TraceItem.Case | emit "message"
 *           if "CONDITION" { ... } else { ... }
 *       }
 *   }
 *
 * Every statement is journaled in the store like the engine's transitions
 * (state "agent", one row per statement with what it did), and the
 * variables are kept with the run, so `spak resume RUN` continues after the
 * last finished statement (the manual LLM backend suspends the run). Files
 * are read and written only inside the run's directory; tool.run goes
 * through the sandbox, never a shell, and refuses templates that name a
 * variable an LLM wrote (LLM output is never put into a command line).
 * Failures (an LLM error, a bad path, a command that fails) are recorded
 * statements; the agent goes on.
 */
#ifndef SPAK_AGENT_H
#define SPAK_AGENT_H

#include "run_opts.h"

/* Run agent_loop `name` (NULL: the first) of the spec. */
spak_status spak_agent_run(const spak_engine_opts *o, const char *spec_path, const char *name,
                           char run_id[SPAK_STORE_ID_MAX], spak_err *err);
/* Continue an agent run (the CLI's resume calls it for a run whose strategy
 * is "agent:NAME"). */
spak_status spak_agent_resume(const spak_engine_opts *o, const char *run_id, spak_err *err);

#endif
