/*
 * trace.h - trace records: the lines a harness (or any user command) writes to
 * stdout to report measurements, and their validation against the spec's
 * trace_schema.
 *
 * Wire format: one line that starts with the literal __SPAK_TRACE__, then
 * optional spaces or tabs, then exactly one JSON object with a string member
 * "type" that names a case of the schema:
 *
 *     __SPAK_TRACE__ {"type": "Performance", "tflops": 512.3, "ms": 0.27}
 *
 * Policy (docs/store.md says why):
 *   - the marker counts only at the start of a line; a line that holds the
 *     marker anywhere else becomes an error record ("marker not at start of
 *     line"), since interleaved output is the usual cause and a measurement
 *     must never vanish silently;
 *   - lines end at '\n'; one '\r' before it is dropped (CRLF); the last line
 *     may lack its newline (an error message then says the output was cut);
 *   - a record longer than max_record_bytes, one with a NUL byte, invalid
 *     UTF-8, malformed JSON, a non-object, trailing garbage, duplicate keys or
 *     no string "type" is kept as an error record with json == NULL (or json
 *     set but type NULL for a missing/invalid "type");
 *   - past max_records the scan stops keeping records, counts the rest in
 *     n_dropped and appends one error record that says so.
 *
 * Ownership: a spak_trace_list owns its records, their strings and one
 * reference to each json_t; spak_trace_list_free releases all of it. The
 * schema types below are owned by whoever built them (the spec checker);
 * nothing here frees or keeps a pointer to a schema past the call.
 */
#ifndef SPAK_TRACE_H
#define SPAK_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "spak.h"

#define SPAK_TRACE_MARKER "__SPAK_TRACE__"
#define SPAK_TRACE_RECORD_MAX_DEFAULT ((size_t)64 * 1024) /* bytes after the marker */
#define SPAK_TRACE_RECORDS_MAX_DEFAULT ((size_t)10000)
#define SPAK_TRACE_EXCERPT_MAX ((size_t)512) /* raw text kept for an over-long record */

/* ---- schema (filled by the spec checker from trace_schema) ---------------- */
typedef enum { SPAK_FIELD_STRING, SPAK_FIELD_INT, SPAK_FIELD_FLOAT, SPAK_FIELD_BOOL, SPAK_FIELD_ENUM } spak_field_type;
typedef struct { const char *name; spak_field_type type; const char *const *enum_values; size_t n_enum_values; } spak_trace_field;
typedef struct { const char *name; const spak_trace_field *fields; size_t n_fields; } spak_trace_case;
typedef struct { const char *variant_name; const spak_trace_case *cases; size_t n_cases; } spak_trace_schema;

/* "string", "int", "float", "bool", "enum". Static storage. */
const char *spak_field_type_name(spak_field_type t);

/* The case named `name`, or NULL. */
const spak_trace_case *spak_trace_schema_find_case(const spak_trace_schema *s, const char *name);

/* ---- records ---------------------------------------------------------------- */
typedef struct spak_trace_record {
    size_t index;     /* 1-based position among the records of the scan */
    size_t line;      /* 1-based line number in the scanned buffer */
    char *raw;        /* text after the marker (CR dropped), made printable:
                         NUL and invalid UTF-8 bytes become U+FFFD; for an
                         over-long record only the first SPAK_TRACE_EXCERPT_MAX
                         bytes. Never NULL. Owned by the list. */
    json_t *json;     /* parsed object (one owned reference) or NULL */
    const char *type; /* the "type" string inside json, or NULL; borrowed from json */
    bool valid;       /* parsed, and (after validation) fits the schema */
    bool validated;   /* spak_trace_validate ran on it */
    char *error;      /* NULL, or one line: "record 3 (line 17): ..." (owned) */
    char *warnings;   /* NULL, or "; "-separated warnings without the prefix (owned) */
} spak_trace_record;

typedef struct spak_trace_list {
    spak_trace_record *items;
    size_t n, alloc;
    size_t n_lines;     /* lines seen in the buffer (a final partial line counts) */
    size_t n_errors;    /* records with error != NULL */
    size_t n_warnings;  /* records with warnings != NULL */
    size_t n_dropped;   /* marker lines past max_records, not kept */
} spak_trace_list;

typedef struct spak_trace_scan_opts {
    size_t max_record_bytes; /* 0 = SPAK_TRACE_RECORD_MAX_DEFAULT */
    size_t max_records;      /* 0 = SPAK_TRACE_RECORDS_MAX_DEFAULT */
} spak_trace_scan_opts;

void spak_trace_list_init(spak_trace_list *l);
/* Release every record, string and json reference; leaves l empty (re-usable). */
void spak_trace_list_free(spak_trace_list *l);

/*
 * Scan captured output buf[0..len) (any bytes: NULs, invalid UTF-8, CRLF, a
 * last line without newline) and fill *out (initialized here; free it with
 * spak_trace_list_free even on failure) with every trace record, in order.
 * Structural problems are error records, not a failure of the call: the
 * call fails only when memory runs out (SPAK_ERR_NOMEM) or buf is NULL with
 * len > 0 (SPAK_ERR_ARG). opts may be NULL (defaults).
 */
spak_status spak_trace_scan(const char *buf, size_t len, const spak_trace_scan_opts *opts,
                            spak_trace_list *out, spak_err *err);

/*
 * Validate one parsed record against schema, setting rec->valid,
 * rec->validated, rec->error and rec->warnings (previous values replaced).
 * Rules:
 *   - "type" must name a case (error otherwise);
 *   - each member of the record that the case declares must have a
 *     compatible JSON type: string <- string; int <- JSON integer (not 3.0);
 *     float <- integer or real (JSON has no NaN/Infinity; the scanner already
 *     rejects those tokens); bool <- true/false; enum <- a string equal to one
 *     of the values; null never fits;
 *   - members the case does not declare are kept and reported as warnings
 *     ("field 'x' not declared in case 'C'");
 *   - declared fields that are absent are allowed and reported as warnings
 *     ("field 'x' of case 'C' is absent").
 * schema NULL: only the structural checks of the scan apply (a parsed record
 * with a string "type" is valid). A record that failed to parse keeps its
 * error and stays invalid.
 * Returns SPAK_OK when the record is valid, SPAK_ERR_TRACE when it is not
 * (err gets the same message as rec->error), SPAK_ERR_NOMEM.
 */
spak_status spak_trace_validate(spak_trace_record *rec, const spak_trace_schema *schema, spak_err *err);

/*
 * Validate every record of l (see spak_trace_validate) and recount
 * l->n_errors / l->n_warnings. Invalid records are not a failure of the
 * call: SPAK_OK unless memory runs out.
 */
spak_status spak_trace_validate_all(spak_trace_list *l, const spak_trace_schema *schema, spak_err *err);

/*
 * Copy p[0..n) into a new NUL-terminated string in which NUL bytes and
 * invalid UTF-8 sequences are replaced by U+FFFD, keeping at most cap input
 * bytes (0 = no cap; the cut never splits a valid UTF-8 sequence). Sets
 * *out_len when out_len is not NULL. Returns NULL when out of memory; the
 * caller frees the result. Used for anything outside text that is stored or
 * shown (trace raw text, logs).
 */
char *spak_text_clean(const char *p, size_t n, size_t cap, size_t *out_len);

/*
 * Whether a record counts (case_name NULL: a record of any case, else one of
 * that case): the one rule for every metric, ratio, fact, view, summary,
 * chart and lesson spak derives from records. A record of a held-out shape
 * never counts, even when its case has no other record (the case then has no
 * record that counts): held-out shapes are there to be checked, and a failing
 * check still fails the evaluation (evaluate.c reads "passed" from every
 * record), but the numbers they carry steer and summarise nothing. Nor does
 * a record whose "verdict" is "stopped" (records.h): a candidate stopped
 * early as hopeless is censored data, its time a glimpse, not a measurement.
 * Nor does a judge's Cost record (records.h): it is about the run, not the
 * candidate.
 */
bool spak_trace_counts(const json_t *rec, const char *case_name);

#endif
