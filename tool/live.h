/*
 * live.h - the CLI's live progress of a run (spak run, resume, agent,
 * approve): on a terminal a status line (analyze/progress_line.h) redrawn
 * in place every second by a timer thread, so it never freezes while one
 * candidate is measured; elsewhere plain lines, with a heartbeat line every
 * 30 s (SPAK_PROGRESS_HEARTBEAT seconds) while one candidate takes that
 * long. One display per process.
 */
#ifndef SPAK_TOOL_LIVE_H
#define SPAK_TOOL_LIVE_H

#include <stdbool.h>
#include <stdio.h>
#include "run_opts.h"

/* Take the display's lock (every line the run prints is written under it,
 * so the timer never draws into the middle of one) and note the event:
 * the first one starts the timer; RUN_DONE and SUSPENDED end its drawing.
 * live_draw and live_unlock follow. f: where lines go; bar: f is a terminal.
 * The event's texts (key, metric, baseline) must be escaped for the
 * terminal already: they are drawn as they are. */
void live_lock_note(FILE *f, bool bar, const spak_engine_event *ev);
/* Erase the status line (a terminal), before a line is printed. Lock held. */
void live_clear(void);
/* Draw the status line (a terminal) where a run is under way. Lock held. */
void live_draw(void);
void live_unlock(void);
/* Pause the timer's drawing (an approval question is on the terminal) or
 * let it draw again. */
void live_pause(bool paused);
/* End the timer (the run returned): the line erased, the thread joined. */
void live_stop(void);

#endif
