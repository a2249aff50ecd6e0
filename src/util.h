/*
 * util.h - small things every module uses: error formatting, a growable byte
 * buffer with a hard cap, an arena allocator, bounded file reading, and
 * checked number parsing (in place of atoi/strtol without checks).
 */
#ifndef SPAK_UTIL_H
#define SPAK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "spak.h"

#if defined(__GNUC__)
#define SPAK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SPAK_PRINTF(a, b)
#endif

#define SPAK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fill err (may be NULL) with st and a formatted message; returns st so a
 * caller can write `return spak_errf(err, SPAK_ERR_IO, "...")`. */
spak_status spak_errf(spak_err *err, spak_status st, const char *fmt, ...) SPAK_PRINTF(3, 4);

/* ---- growable buffer ---------------------------------------------------
 * A NUL-terminated byte buffer. `cap` is a hard limit on len (0 = 1 GiB);
 * an append that would exceed it fails with SPAK_ERR_LIMIT and leaves the
 * buffer as it was. The buffer owns data; free with spak_buf_free. */
typedef struct spak_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
} spak_buf;

void spak_buf_init(spak_buf *b, size_t cap);
void spak_buf_free(spak_buf *b);
void spak_buf_reset(spak_buf *b);
spak_status spak_buf_append(spak_buf *b, const void *p, size_t n);
spak_status spak_buf_puts(spak_buf *b, const char *s);
spak_status spak_buf_putc(spak_buf *b, char c);
spak_status spak_buf_printf(spak_buf *b, const char *fmt, ...) SPAK_PRINTF(2, 3);
spak_status spak_buf_vprintf(spak_buf *b, const char *fmt, va_list ap);
/* Hand the data over to the caller (who frees it) and reset the buffer. */
char *spak_buf_take(spak_buf *b);

/* ---- growing arrays ------------------------------------------------------
 * The array arr, holding n elements of elem bytes in room for *alloc, with
 * room for at least one more and element n zeroed, ready to be filled:
 * arr itself when there is room, else the array moved to a block twice as
 * large (16 elements at first) and *alloc updated. NULL when out of memory:
 * arr and *alloc are then untouched and still the caller's. The caller owns
 * the result (free). */
void *spak_grow(void *arr, size_t *alloc, size_t n, size_t elem);

/* ---- arena ---------------------------------------------------------------
 * Bump allocator for trees that die together (a parsed spec). Memory is
 * zeroed. spak_arena_alloc returns NULL when out of memory. */
typedef struct spak_arena_block spak_arena_block;
typedef struct spak_arena {
    spak_arena_block *head;
    size_t total;
} spak_arena;

void spak_arena_init(spak_arena *a);
void spak_arena_free(spak_arena *a);
void *spak_arena_alloc(spak_arena *a, size_t n);
/* Copy n bytes of s into the arena and NUL-terminate. NULL when out of memory. */
char *spak_arena_strndup(spak_arena *a, const char *s, size_t n);
char *spak_arena_strdup(spak_arena *a, const char *s);

/* ---- files --------------------------------------------------------------- */
/* Read a whole file into *out (malloc'd, NUL-terminated, caller frees). Fails
 * with SPAK_ERR_LIMIT if the file is larger than max_bytes. */
spak_status spak_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, spak_err *err);
/* Write data to path atomically (temp file in the same directory + rename). */
spak_status spak_write_file_atomic(const char *path, const char *data, size_t len, spak_err *err);
/* mkdir -p. */
spak_status spak_mkdirs(const char *path, spak_err *err);

/* ---- numbers ------------------------------------------------------------- */
/* Parse a whole string as a base-10 integer in [lo, hi]; false if it is not one. */
bool spak_parse_long(const char *s, long lo, long hi, long *out);
/* Parse a whole string as a finite double; false if it is not one. */
bool spak_parse_double(const char *s, double *out);
/* Parse a core list as taskset takes it ("0-3", "0,2,4-5": N or N-M with
 * M >= N, comma-separated, cores below SPAK_CPULIST_MAX) into the bit set
 * mask (bit c: core c; NULL: only check); false if it is not one. */
#define SPAK_CPULIST_MAX 1024
bool spak_cpulist_parse(const char *s, uint8_t mask[SPAK_CPULIST_MAX / 8]);

/* ---- time ---------------------------------------------------------------- */
double spak_now_monotonic(void);  /* seconds, CLOCK_MONOTONIC */
double spak_now_wall(void);       /* seconds since the epoch */
/* Format t (epoch seconds) as UTC ISO-8601 into buf. */
void spak_format_utc(double t, char *buf, size_t n);

/* ---- strings ------------------------------------------------------------- */
/* snprintf that never overflows and reports truncation: returns false when
 * the output did not fit. */
bool spak_snprintf(char *buf, size_t n, const char *fmt, ...) SPAK_PRINTF(3, 4);
/* "a, b, c or d": the n names joined into buf (cap bytes; cut short where
 * they do not fit); returns buf. */
const char *spak_join_names(const char *const *names, size_t n, char *buf, size_t cap);
/* Check that s[0..n) is valid UTF-8. */
bool spak_utf8_valid(const char *s, size_t n);
/* The length of the UTF-8 sequence at p (n >= 1 bytes left) and its code
 * point in *cp; 0 when the bytes there are not a valid sequence (overlong
 * forms, surrogates and values past U+10FFFF included). */
size_t spak_utf8_seq(const unsigned char *p, size_t n, unsigned *cp);
/* Text from records, candidates, models or servers made safe for a
 * terminal, appended to out: C0 controls (ESC included), DEL, C1 controls
 * (U+0080-U+009F) and bidirectional overrides become visible escapes, \xNN
 * below U+0100 and \uNNNN above, and a byte that is not part of valid UTF-8
 * becomes \xNN; everything else, backslashes included, is copied as is, so
 * ordinary text comes out byte-identical. Flags:
 *   SPAK_ESC_KEEP_NL  newline and tab pass (multi-line text such as a
 *                     model's reply, where lines are the content)
 *   SPAK_ESC_JSON     s is JSON text that jansson wrote (its C0 controls are
 *                     already escaped): the rest become \u00NN, which keeps
 *                     the JSON valid and equal in meaning
 * Fails only as out does (SPAK_ERR_LIMIT, SPAK_ERR_NOMEM). */
#define SPAK_ESC_KEEP_NL 1u
#define SPAK_ESC_JSON 2u
spak_status spak_escape_term(spak_buf *out, const char *s, size_t len, unsigned flags);
/* JSON text (as jansson writes it, which prints a real with %.17g) with
 * every real number rewritten in place in the shortest form that reads back
 * as the same double: 58.873071400000001 becomes 58.8730714. A real stays a
 * real (1.0 is not shortened to 1, which a reader would take for an
 * integer); integers, strings (escapes included) and the rest are copied as
 * they are. The text only shrinks, so no room is needed. */
void spak_json_shorten_reals(char *json);
/* 64-bit FNV-1a, for cache keys and dedup (not for security). */
uint64_t spak_hash64(const void *p, size_t n, uint64_t seed);

#endif
