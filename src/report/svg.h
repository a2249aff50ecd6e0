/*
 * svg.h - the small pieces the report draws its charts with: a sticky-error
 * text writer with HTML/SVG and Markdown escaping, axis scales (linear and
 * log10), "nice" tick positions and compact number labels.
 *
 * Nothing here knows about runs or the store; src/report.c composes the
 * charts. The writer keeps the first failure (out of memory, over its cap)
 * and ignores every later call, so a long rendering function checks the
 * status once at the end instead of after each append.
 *
 * Ownership: a spak_svg_out owns its buffer (spak_svg_out_free releases it;
 * spak_buf_take on ->b hands it over). Functions that fill a caller's char
 * array never write past n and always NUL-terminate.
 */
#ifndef SPAK_SVG_H
#define SPAK_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include "spak.h"
#include "util.h"

/* ---- writer -------------------------------------------------------------- */
typedef struct spak_svg_out {
    spak_buf b;
    spak_status st; /* SPAK_OK until an append fails; then every call is a no-op */
} spak_svg_out;

void spak_svg_out_init(spak_svg_out *o, size_t cap);
void spak_svg_out_free(spak_svg_out *o);
/* Append trusted text as is (markup written by us, never data). */
void spak_svg_raw(spak_svg_out *o, const char *s);
/* printf of trusted text; %s arguments are NOT escaped: pass only constants
 * and numbers through here, data through spak_svg_text / spak_svg_md. */
void spak_svg_printf(spak_svg_out *o, const char *fmt, ...) SPAK_PRINTF(2, 3);
/* Append s escaped for HTML text and attribute values (& < > " ' become
 * entities; control bytes other than tab/newline become U+FFFD). NULL is "". */
void spak_svg_text(spak_svg_out *o, const char *s);
/* Same, for at most max bytes of s (cut at a UTF-8 boundary, "..." added). */
void spak_svg_text_n(spak_svg_out *o, const char *s, size_t max);
/* Append s escaped for a Markdown table cell or paragraph: the characters
 * Markdown or inline HTML give a meaning to inside a line (\ ` * _ [ ] | ~) are
 * backslash-escaped, < > & become entities, newlines become spaces. Callers
 * never start a line with data, so line-start syntax (# - + 1.) needs none. */
void spak_svg_md(spak_svg_out *o, const char *s);
void spak_svg_md_n(spak_svg_out *o, const char *s, size_t max);

/* ---- scales -------------------------------------------------------------- */
typedef struct spak_svg_scale {
    double d0, d1; /* domain (for a log scale: both > 0) */
    double r0, r1; /* range in pixels */
    bool log;
} spak_svg_scale;

/* Map a domain value to pixels (clamped to 1 px beyond the range ends). */
double spak_svg_map(const spak_svg_scale *s, double v);

/* Tick positions for a linear axis over [lo, hi] at steps of 1, 2 or 5 x
 * 10^k, about `target` of them; writes at most max into ticks and returns
 * how many. *lo_out and *hi_out (may be NULL) get the domain widened to whole
 * steps so the ticks cover it. */
size_t spak_svg_ticks(double lo, double hi, int target, double *ticks, size_t max, double *lo_out,
                      double *hi_out);
/* Tick positions for a log10 axis over [lo, hi] (both > 0): the powers of
 * ten inside, plus 2x and 5x when the span is under three decades. */
size_t spak_svg_log_ticks(double lo, double hi, double *ticks, size_t max);

/* A short label for v: "0", "12.5", "1.2k", "3.4M", "4.5G", "2.1e-05", "-"
 * for NaN. Up to `digits` significant digits (2..6). */
void spak_svg_num(char *buf, size_t n, double v, int digits);

#endif
