/* store.c - see store.h; the schema and the durability policy are in docs/store.md.
 *
 * Every statement is prepared with bound parameters (the only SQL built with
 * snprintf is PRAGMA user_version = <our own integer constant>). Each writing
 * call is atomic on its own: outside an explicit transaction it runs in
 * BEGIN IMMEDIATE .. COMMIT, inside one in a SAVEPOINT, so a failed call
 * never leaves half its rows behind.
 */
#include "store/store.h"

#include <math.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

struct spak_store {
    sqlite3 *db;
    char *path;
    bool in_tx; /* explicit transaction open (spak_store_begin) */
};

/* ---- schema ----------------------------------------------------------------- */

/* the columns of evaluations after status, and its keys (v1 and v2 share them) */
#define EVALUATIONS_REST \
    "  started_at REAL NOT NULL, finished_at REAL," \
    "  build_log TEXT, stdout_tail TEXT, stderr_tail TEXT, exit_desc TEXT," \
    "  correct INTEGER CHECK (correct IS NULL OR correct IN (0, 1))," \
    "  metric REAL, ratio REAL, bottleneck TEXT, result_json TEXT, error TEXT," \
    "  PRIMARY KEY (run_id, eval_id)," \
    "  FOREIGN KEY (run_id, cand_id) REFERENCES candidates(run_id, cand_id));"

static const char schema_v1[] =
    "CREATE TABLE runs("
    "  id TEXT PRIMARY KEY,"
    "  spec_path TEXT, spec_text TEXT, spec_hash TEXT,"
    "  created_at REAL NOT NULL, updated_at REAL NOT NULL,"
    "  state TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('running','suspended','done','failed')),"
    "  stop_reason TEXT, strategy TEXT, seed INTEGER NOT NULL DEFAULT 0,"
    "  budget_json TEXT, device_json TEXT, summary_json TEXT, owner TEXT);"
    "CREATE TABLE journal("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, at REAL NOT NULL,"
    "  from_state TEXT, to_state TEXT NOT NULL, detail_json TEXT,"
    "  PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE candidates("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  cand_id INTEGER NOT NULL, key TEXT NOT NULL,"
    "  params_json TEXT, source_path TEXT, source_hash TEXT, created_at REAL NOT NULL,"
    "  PRIMARY KEY (run_id, cand_id), UNIQUE (run_id, key));"
    "CREATE TABLE evaluations("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  eval_id INTEGER NOT NULL, cand_id INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('planned','building','running','done','failed','interrupted')),"
    EVALUATIONS_REST
    "CREATE INDEX evaluations_cand ON evaluations(run_id, cand_id);"
    "CREATE TABLE traces("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  eval_id INTEGER NOT NULL, seq INTEGER NOT NULL, line INTEGER,"
    "  case_name TEXT, record_json TEXT, raw TEXT,"
    "  valid INTEGER NOT NULL, error TEXT, warnings TEXT,"
    "  PRIMARY KEY (run_id, eval_id, seq));"
    "CREATE TABLE kv("
    "  scope TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT NOT NULL, updated_at REAL NOT NULL,"
    "  PRIMARY KEY (scope, key));"
    "CREATE TABLE lessons("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,"
    "  created_at REAL NOT NULL, device TEXT, family TEXT, shape_class TEXT,"
    "  kind TEXT, subject TEXT, effect REAL, uncertainty REAL, confidence REAL,"
    "  evidence_json TEXT, text TEXT);"
    "CREATE INDEX lessons_scope ON lessons(device, family);";

/* v2: an evaluation may end 'stopped' (a candidate stopped early as
 * hopeless, docs/store.md). SQLite cannot change a CHECK in place: the
 * table is copied into one with the new CHECK. */
static const char schema_v2[] =
    "CREATE TABLE evaluations_v2("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  eval_id INTEGER NOT NULL, cand_id INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('planned','building','running','done','failed','interrupted','stopped')),"
    EVALUATIONS_REST
    "INSERT INTO evaluations_v2 SELECT * FROM evaluations;"
    "DROP TABLE evaluations;"
    "ALTER TABLE evaluations_v2 RENAME TO evaluations;"
    "CREATE INDEX evaluations_cand ON evaluations(run_id, cand_id);";

/* v3: the jobs a remote executor submitted (Slurm), one per evaluation at
 * most: a resumed run re-attaches to the open ones (docs/store.md). */
static const char schema_v3[] =
    "CREATE TABLE jobs("
    "  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  eval_id INTEGER NOT NULL, executor TEXT NOT NULL, job_id TEXT NOT NULL, job_dir TEXT NOT NULL,"
    "  trusted INTEGER NOT NULL, submitted_at REAL NOT NULL, finished_at REAL, state TEXT,"
    "  PRIMARY KEY (run_id, eval_id));";

/* migrations[v] takes a store from user_version v to v + 1. Version 0 is an
 * empty file; later versions append scripts here. */
static const char *const migrations[SPAK_STORE_SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3};

/* ---- small helpers -------------------------------------------------------------- */

static spak_status db_fail(spak_store *st, spak_err *err, const char *what)
{
    return spak_errf(err, SPAK_ERR_STORE, "store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static spak_status nomem(spak_err *err)
{
    return spak_errf(err, SPAK_ERR_NOMEM, "store: out of memory");
}

static spak_status prep(spak_store *st, const char *sql, sqlite3_stmt **s, spak_err *err)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK) {
        *s = NULL;
        return db_fail(st, err, "prepare");
    }
    return SPAK_OK;
}

static int bind_str(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

static int bind_real(sqlite3_stmt *s, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(s, i) : sqlite3_bind_double(s, i, v);
}

/* Clean (NUL/invalid UTF-8 -> U+FFFD) and cap outside text: beyond
 * SPAK_STORE_TEXT_MAX the first and last halves are kept. NULL p -> NULL
 * with *oom false. */
static char *cap_text(const char *p, size_t len, bool *oom)
{
    *oom = false;
    if (!p)
        return NULL;
    if (len == 0)
        len = strlen(p);
    char *r;
    if (len <= SPAK_STORE_TEXT_MAX) {
        r = spak_text_clean(p, len, 0, NULL);
    } else {
        size_t half = SPAK_STORE_TEXT_MAX / 2, skip = 0;
        const char *tail = p + len - half;
        while (skip < 3 && ((unsigned char)tail[skip] & 0xC0) == 0x80)
            skip++;
        size_t hl, tl;
        char *h = spak_text_clean(p, half, half, &hl);
        char *t = spak_text_clean(tail + skip, half - skip, 0, &tl);
        spak_buf b;
        spak_buf_init(&b, 0);
        bool ok = h && t && spak_buf_append(&b, h, hl) == SPAK_OK &&
                  spak_buf_printf(&b, "\n[... %zu bytes cut ...]\n", len - 2 * half + skip) == SPAK_OK &&
                  spak_buf_append(&b, t, tl) == SPAK_OK;
        free(h);
        free(t);
        r = ok ? spak_buf_take(&b) : NULL;
        spak_buf_free(&b);
    }
    if (!r)
        *oom = true;
    return r;
}

/* Bind capped outside text (len 0 = strlen). */
static int bind_capped(sqlite3_stmt *s, int i, const char *p, size_t len, bool *oom)
{
    bool o;
    char *c = cap_text(p, len, &o);
    if (o) {
        *oom = true;
        return SQLITE_NOMEM;
    }
    return c ? sqlite3_bind_text(s, i, c, -1, free) : sqlite3_bind_null(s, i);
}

static char *col_str(sqlite3_stmt *s, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    if (!t)
        return NULL;
    char *r = strdup((const char *)t);
    if (!r)
        *oom = true;
    return r;
}

static double col_real(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* ---- rows -> structs ------------------------------------------------------------ */

/* Every struct the store fills from a row is described once, as a table of
 * its fields in the order of the SELECT's columns; one reader, one freer and
 * one list reader serve every table. */
typedef enum {
    COL_TEXT,     /* char *, malloc'd copy; NULL for NULL */
    COL_INT64,    /* int64_t */
    COL_DOUBLE,   /* double, 0 for NULL (timestamps) */
    COL_REAL,     /* double, NAN for NULL (metrics, ratios) */
    COL_TRISTATE, /* int, -1 for NULL (correct) */
    COL_BOOL      /* bool, non-zero integer */
} col_kind;

typedef struct col_def {
    col_kind kind;
    size_t off;   /* offsetof the field */
} col_def;

typedef struct row_def {
    const col_def *cols; /* column i of the SELECT fills cols[i] */
    size_t n_cols;
    size_t size;         /* sizeof the struct */
} row_def;

#define COL(kind, type, field) {kind, offsetof(type, field)}
#define ROW_DEF(type, cols) {cols, SPAK_ARRAY_LEN(cols), sizeof(type)}

/* Free the strings of one struct and zero it (NULL is fine). */
static void row_free(const row_def *d, void *row)
{
    if (!row)
        return;
    for (size_t i = 0; i < d->n_cols; i++)
        if (d->cols[i].kind == COL_TEXT)
            free(*(char **)((char *)row + d->cols[i].off));
    memset(row, 0, d->size);
}

/* Free n structs of an array and the array (NULL is fine). */
static void rows_free(const row_def *d, void *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        row_free(d, (char *)rows + i * d->size);
    free(rows);
}

/* Read the current row of s into *row. false without memory (row is then
 * zeroed and owns nothing). */
static bool row_read(sqlite3_stmt *s, const row_def *d, void *row)
{
    bool oom = false;
    memset(row, 0, d->size);
    for (size_t i = 0; i < d->n_cols; i++) {
        void *f = (char *)row + d->cols[i].off;
        int c = (int)i;
        switch (d->cols[i].kind) {
        case COL_TEXT: *(char **)f = col_str(s, c, &oom); break;
        case COL_INT64: *(int64_t *)f = sqlite3_column_int64(s, c); break;
        case COL_DOUBLE: *(double *)f = sqlite3_column_double(s, c); break;
        case COL_REAL: *(double *)f = col_real(s, c); break;
        case COL_TRISTATE:
            *(int *)f = sqlite3_column_type(s, c) == SQLITE_NULL ? -1 : sqlite3_column_int(s, c);
            break;
        case COL_BOOL: *(bool *)f = sqlite3_column_int(s, c) != 0; break;
        }
    }
    if (oom)
        row_free(d, row);
    return !oom;
}

/* Step s (prepared and bound) to its end, reading every row into a growing
 * array of d's structs, and finalize it. On SPAK_OK *out is the array (NULL
 * when there are no rows; the caller frees it with the table's *s_free) and
 * *n_out its length; on failure nothing is left to free. what names the
 * query in a database error. */
static spak_status rows_read(spak_store *st, sqlite3_stmt *s, const row_def *d, const char *what, void **out,
                             size_t *n_out, spak_err *err)
{
    void *arr = NULL;
    size_t n = 0, alloc = 0;
    int r = SQLITE_DONE;
    spak_status rc = SPAK_OK;
    *out = NULL;
    *n_out = 0;
    while (rc == SPAK_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        void *more = spak_grow(arr, &alloc, n, d->size);
        if (more)
            arr = more;
        if (!more || !row_read(s, d, (char *)arr + n * d->size))
            rc = nomem(err);
        else
            n++;
    }
    if (rc == SPAK_OK && r != SQLITE_DONE)
        rc = db_fail(st, err, what);
    sqlite3_finalize(s);
    if (rc != SPAK_OK) {
        rows_free(d, arr, n);
        return rc;
    }
    *out = arr;
    *n_out = n;
    return SPAK_OK;
}

/* Step s (prepared and bound) once and finalize it: a row is read into *row
 * and *found set; no row leaves *row zeroed and *found false (still
 * SPAK_OK). */
static spak_status row_read_one(spak_store *st, sqlite3_stmt *s, const row_def *d, const char *what, void *row,
                                bool *found, spak_err *err)
{
    spak_status rc = SPAK_OK;
    memset(row, 0, d->size);
    *found = false;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        rc = row_read(s, d, row) ? SPAK_OK : nomem(err);
        *found = rc == SPAK_OK;
    } else if (r != SQLITE_DONE) {
        rc = db_fail(st, err, what);
    }
    sqlite3_finalize(s);
    return rc;
}

static spak_status exec_sql(spak_store *st, const char *sql, spak_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        spak_status rc = spak_errf(err, SPAK_ERR_STORE, "store %s: %s: %s", st->path, sql,
                                   msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return rc;
    }
    return SPAK_OK;
}

/* Run a prepared statement to completion and finalize it. */
static spak_status step_done(spak_store *st, sqlite3_stmt *s, const char *what, spak_err *err)
{
    int r = sqlite3_step(s);
    spak_status rc = r == SQLITE_DONE ? SPAK_OK : db_fail(st, err, what);
    sqlite3_finalize(s);
    return rc;
}

/* ---- transactions --------------------------------------------------------------- */

/* Open the unit of work of one call: BEGIN IMMEDIATE, or a savepoint inside
 * an explicit transaction. */
static spak_status tx_open(spak_store *st, spak_err *err)
{
    return exec_sql(st, st->in_tx ? "SAVEPOINT spak_op" : "BEGIN IMMEDIATE", err);
}

/* Close it: commit (release) when rc is SPAK_OK, roll back otherwise.
 * Returns rc, or the commit failure. */
static spak_status tx_close(spak_store *st, spak_status rc, spak_err *err)
{
    if (rc == SPAK_OK) {
        rc = exec_sql(st, st->in_tx ? "RELEASE spak_op" : "COMMIT", err);
        if (rc == SPAK_OK)
            return SPAK_OK;
    }
    if (st->in_tx) {
        sqlite3_exec(st->db, "ROLLBACK TO spak_op; RELEASE spak_op", NULL, NULL, NULL);
    } else if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

spak_status spak_store_begin(spak_store *st, spak_err *err)
{
    if (st->in_tx)
        return spak_errf(err, SPAK_ERR_STATE, "store %s: a transaction is already open", st->path);
    spak_status rc = exec_sql(st, "BEGIN IMMEDIATE", err);
    if (rc == SPAK_OK)
        st->in_tx = true;
    return rc;
}

spak_status spak_store_commit(spak_store *st, spak_err *err)
{
    if (!st->in_tx)
        return spak_errf(err, SPAK_ERR_STATE, "store %s: commit without a transaction", st->path);
    spak_status rc = exec_sql(st, "COMMIT", err);
    if (rc != SPAK_OK && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = false;
    return rc;
}

spak_status spak_store_rollback(spak_store *st, spak_err *err)
{
    if (!st->in_tx)
        return spak_errf(err, SPAK_ERR_STATE, "store %s: rollback without a transaction", st->path);
    st->in_tx = false;
    return exec_sql(st, "ROLLBACK", err);
}

/* ---- open / close ------------------------------------------------------------------ */

static spak_status pragma_int(spak_store *st, const char *sql, int64_t *out, spak_err *err)
{
    sqlite3_stmt *s;
    spak_status rc = prep(st, sql, &s, err);
    if (rc != SPAK_OK)
        return rc;
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        rc = db_fail(st, err, sql);
    sqlite3_finalize(s);
    return rc;
}

static spak_status migrate(spak_store *st, spak_err *err)
{
    int64_t ver = 0, ntables = 0;
    spak_status rc = exec_sql(st, "BEGIN IMMEDIATE", err);
    if (rc != SPAK_OK)
        return rc;
    /* read inside the write lock: two processes opening a new file at once
     * must not both create the schema */
    rc = pragma_int(st, "PRAGMA user_version", &ver, err);
    if (rc == SPAK_OK && ver > SPAK_STORE_SCHEMA_VERSION)
        rc = spak_errf(err, SPAK_ERR_STORE,
                       "store %s: schema version %lld is newer than this spak understands (%d)", st->path,
                       (long long)ver, SPAK_STORE_SCHEMA_VERSION);
    if (rc == SPAK_OK && ver == 0) {
        rc = pragma_int(st, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'", &ntables, err);
        if (rc == SPAK_OK && ntables > 0)
            rc = spak_errf(err, SPAK_ERR_STORE, "store %s: the file holds a database that is not a spak store",
                           st->path);
    }
    for (int64_t v = ver; rc == SPAK_OK && v < SPAK_STORE_SCHEMA_VERSION; v++) {
        char sql[64];
        rc = exec_sql(st, migrations[v], err);
        if (rc == SPAK_OK) {
            spak_snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)v + 1);
            rc = exec_sql(st, sql, err);
        }
    }
    if (rc == SPAK_OK)
        return exec_sql(st, "COMMIT", err) == SPAK_OK ? SPAK_OK : SPAK_ERR_STORE;
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

spak_status spak_store_open(const char *path, spak_store **out, spak_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return spak_errf(err, SPAK_ERR_ARG, "store: no path given");
    spak_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return nomem(err);
    }
    spak_status rc = SPAK_OK;
    int r = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        rc = st->db ? db_fail(st, err, "open") : nomem(err);
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 10000);

    /* journal_mode answers with the mode now in force: a file system without
     * shared memory support (some network mounts) cannot do WAL. */
    sqlite3_stmt *s;
    if ((rc = prep(st, "PRAGMA journal_mode=WAL", &s, err)) != SPAK_OK)
        goto out;
    const char *mode = sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    bool wal = mode && (strcmp(mode, "wal") == 0 || (strcmp(mode, "memory") == 0 && strcmp(path, ":memory:") == 0));
    if (!wal)
        rc = spak_errf(err, SPAK_ERR_STORE, "store %s: cannot use WAL journal mode (got '%s'): %s", path,
                       mode ? mode : "nothing", sqlite3_errmsg(st->db));
    sqlite3_finalize(s);
    if (rc != SPAK_OK)
        goto out;
    if ((rc = exec_sql(st, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err)) != SPAK_OK)
        goto out;
    rc = migrate(st, err);
out:
    if (rc != SPAK_OK) {
        spak_store_close(st);
        return rc;
    }
    *out = st;
    return SPAK_OK;
}

void spak_store_close(spak_store *st)
{
    if (!st)
        return;
    if (st->db && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
}

const char *spak_store_path(const spak_store *st)
{
    return st->path;
}

struct sqlite3 *spak_store_db(spak_store *st)
{
    return st->db;
}

/* ---- runs --------------------------------------------------------------------------- */

static bool valid_run_status(const char *s)
{
    return s && (strcmp(s, SPAK_RUN_RUNNING) == 0 || strcmp(s, SPAK_RUN_SUSPENDED) == 0 ||
                 strcmp(s, SPAK_RUN_DONE) == 0 || strcmp(s, SPAK_RUN_FAILED) == 0);
}

static spak_status next_seq(spak_store *st, const char *sql, const char *run_id, int64_t sub, bool use_sub,
                            int64_t *out, spak_err *err)
{
    sqlite3_stmt *s;
    spak_status rc = prep(st, sql, &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    if (use_sub)
        sqlite3_bind_int64(s, 2, sub);
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        rc = db_fail(st, err, "next id");
    sqlite3_finalize(s);
    return rc;
}

static spak_status journal_append(spak_store *st, const char *run_id, int64_t seq, double now, const char *from,
                                  const char *to, const char *detail, spak_err *err)
{
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "INSERT INTO journal(run_id, seq, at, from_state, to_state, detail_json) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_double(s, 3, now);
    bind_str(s, 4, from);
    bind_str(s, 5, to);
    bind_str(s, 6, detail);
    return step_done(st, s, "journal append", err);
}

spak_status spak_store_run_create(spak_store *st, const spak_run_new *nw, char id_out[SPAK_STORE_ID_MAX],
                                  spak_err *err)
{
    if (!nw || !nw->initial_state || !*nw->initial_state)
        return spak_errf(err, SPAK_ERR_ARG, "run create: no initial state");
    double now = spak_now_wall();
    time_t tt = (time_t)now;
    struct tm tm;
    char prefix[16], hash[20] = "";
    if (!gmtime_r(&tt, &tm) || strftime(prefix, sizeof prefix, "r%Y%m%d-", &tm) == 0)
        return spak_errf(err, SPAK_ERR_INTERNAL, "run create: cannot format the date");
    if (nw->spec_text)
        spak_snprintf(hash, sizeof hash, "%016llx",
                      (unsigned long long)spak_hash64(nw->spec_text, strlen(nw->spec_text), 0));

    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    int64_t num = 0;
    sqlite3_stmt *s = NULL;
    rc = prep(st,
              "SELECT coalesce(max(CAST(substr(id, ?2) AS INTEGER)), 0) + 1 FROM runs "
              "WHERE substr(id, 1, ?3) = ?1",
              &s, err);
    if (rc == SPAK_OK) {
        bind_str(s, 1, prefix);
        sqlite3_bind_int(s, 2, (int)strlen(prefix) + 1);
        sqlite3_bind_int(s, 3, (int)strlen(prefix));
        if (sqlite3_step(s) == SQLITE_ROW)
            num = sqlite3_column_int64(s, 0);
        else
            rc = db_fail(st, err, "run create: next id");
        sqlite3_finalize(s);
    }
    if (rc == SPAK_OK && !spak_snprintf(id_out, SPAK_STORE_ID_MAX, "%s%03lld", prefix, (long long)num))
        rc = spak_errf(err, SPAK_ERR_INTERNAL, "run create: id too long");
    if (rc == SPAK_OK)
        rc = prep(st,
                  "INSERT INTO runs(id, spec_path, spec_text, spec_hash, created_at, updated_at, state, status,"
                  " strategy, seed, budget_json, device_json) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 'running', ?7, ?8, ?9, ?10)",
                  &s, err);
    if (rc == SPAK_OK) {
        bind_str(s, 1, id_out);
        bind_str(s, 2, nw->spec_path);
        bind_str(s, 3, nw->spec_text);
        bind_str(s, 4, nw->spec_text ? hash : NULL);
        sqlite3_bind_double(s, 5, now);
        bind_str(s, 6, nw->initial_state);
        bind_str(s, 7, nw->strategy);
        sqlite3_bind_int64(s, 8, nw->seed);
        bind_str(s, 9, nw->budget_json);
        bind_str(s, 10, nw->device_json);
        rc = step_done(st, s, "run create", err);
    }
    if (rc == SPAK_OK)
        rc = journal_append(st, id_out, 1, now, NULL, nw->initial_state, nw->detail_json, err);
    rc = tx_close(st, rc, err);
    if (rc != SPAK_OK)
        id_out[0] = '\0';
    return rc;
}

#define RUN_COLS_A "id, spec_path, "
#define RUN_COLS_B                                                                                   \
    ", spec_hash, state, status, stop_reason, strategy, budget_json, device_json, summary_json,"     \
    " owner, seed, created_at, updated_at,"                                                         \
    " (SELECT coalesce(max(seq), 0) FROM journal j WHERE j.run_id = runs.id)"
#define RUN_COLS_TEXT RUN_COLS_A "spec_text" RUN_COLS_B
#define RUN_COLS_NOTEXT RUN_COLS_A "NULL" RUN_COLS_B

static const col_def run_cols[] = {
    COL(COL_TEXT, spak_run, id),           COL(COL_TEXT, spak_run, spec_path),
    COL(COL_TEXT, spak_run, spec_text),    COL(COL_TEXT, spak_run, spec_hash),
    COL(COL_TEXT, spak_run, state),        COL(COL_TEXT, spak_run, status),
    COL(COL_TEXT, spak_run, stop_reason),  COL(COL_TEXT, spak_run, strategy),
    COL(COL_TEXT, spak_run, budget_json),  COL(COL_TEXT, spak_run, device_json),
    COL(COL_TEXT, spak_run, summary_json), COL(COL_TEXT, spak_run, owner),
    COL(COL_INT64, spak_run, seed),        COL(COL_DOUBLE, spak_run, created_at),
    COL(COL_DOUBLE, spak_run, updated_at), COL(COL_INT64, spak_run, last_seq),
};
static const row_def run_row = ROW_DEF(spak_run, run_cols); /* RUN_COLS_* */

void spak_store_run_free(spak_run *r)
{
    row_free(&run_row, r);
}

void spak_store_runs_free(spak_run *runs, size_t n)
{
    rows_free(&run_row, runs, n);
}

spak_status spak_store_run_get(spak_store *st, const char *id, spak_run *out, spak_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    spak_status rc = prep(st, "SELECT " RUN_COLS_TEXT " FROM runs WHERE id = ?1", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, id);
    bool found;
    rc = row_read_one(st, s, &run_row, "run get", out, &found, err);
    if (rc == SPAK_OK && !found)
        rc = spak_errf(err, SPAK_ERR_ARG, "no run '%s'", id ? id : "(null)");
    return rc;
}

spak_status spak_store_run_list(spak_store *st, spak_run **out, size_t *n_out, spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st, "SELECT " RUN_COLS_NOTEXT " FROM runs ORDER BY created_at DESC, id DESC", &s, err);
    if (rc != SPAK_OK)
        return rc;
    void *rows;
    rc = rows_read(st, s, &run_row, "run list", &rows, n_out, err);
    *out = rows;
    return rc;
}

spak_status spak_store_transition(spak_store *st, const char *run_id, const spak_transition *t, int64_t *seq_out,
                                  spak_err *err)
{
    if (!run_id || !t || !t->to_state || !*t->to_state)
        return spak_errf(err, SPAK_ERR_ARG, "transition: run id and target state are required");
    if (t->status && !valid_run_status(t->status))
        return spak_errf(err, SPAK_ERR_ARG, "transition: '%s' is not a run status", t->status);
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    double now = spak_now_wall();
    char *cur = NULL;
    int64_t seq = 0;
    sqlite3_stmt *s;
    if ((rc = prep(st, "SELECT state FROM runs WHERE id = ?1", &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        int r = sqlite3_step(s);
        bool oom = false;
        if (r == SQLITE_ROW)
            cur = col_str(s, 0, &oom);
        rc = r == SQLITE_DONE ? spak_errf(err, SPAK_ERR_ARG, "no run '%s'", run_id)
             : r != SQLITE_ROW ? db_fail(st, err, "transition")
             : oom || !cur    ? nomem(err)
                              : SPAK_OK;
        sqlite3_finalize(s);
    }
    if (rc == SPAK_OK && t->from_state && strcmp(cur, t->from_state) != 0)
        rc = spak_errf(err, SPAK_ERR_STATE, "run %s: transition %s -> %s refused: the run is in state %s", run_id,
                       t->from_state, t->to_state, cur);
    if (rc == SPAK_OK)
        rc = next_seq(st, "SELECT coalesce(max(seq), 0) + 1 FROM journal WHERE run_id = ?1", run_id, 0, false, &seq,
                      err);
    if (rc == SPAK_OK)
        rc = journal_append(st, run_id, seq, now, cur, t->to_state, t->detail_json, err);
    if (rc == SPAK_OK &&
        (rc = prep(st,
                   "UPDATE runs SET state = ?2, status = coalesce(?3, status),"
                   " stop_reason = coalesce(?4, stop_reason), summary_json = coalesce(?5, summary_json),"
                   " updated_at = ?6 WHERE id = ?1",
                   &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        bind_str(s, 2, t->to_state);
        bind_str(s, 3, t->status);
        bind_str(s, 4, t->stop_reason);
        bind_str(s, 5, t->summary_json);
        sqlite3_bind_double(s, 6, now);
        rc = step_done(st, s, "transition", err);
    }
    free(cur);
    rc = tx_close(st, rc, err);
    if (rc == SPAK_OK && seq_out)
        *seq_out = seq;
    return rc;
}

spak_status spak_store_run_set_state(spak_store *st, const char *run_id, const char *from_state,
                                     const char *to_state, const char *detail_json, int64_t *seq_out,
                                     spak_err *err)
{
    spak_transition t = {.from_state = from_state, .to_state = to_state, .detail_json = detail_json};
    return spak_store_transition(st, run_id, &t, seq_out, err);
}

spak_status spak_store_run_claim(spak_store *st, const char *run_id, const char *owner, bool force, spak_err *err)
{
    if (!run_id)
        return spak_errf(err, SPAK_ERR_ARG, "run claim: no run id");
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    sqlite3_stmt *s;
    if ((rc = prep(st,
                   "UPDATE runs SET owner = ?2 WHERE id = ?1"
                   " AND (?2 IS NULL OR owner IS NULL OR owner = ?2 OR ?3)",
                   &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        bind_str(s, 2, owner);
        sqlite3_bind_int(s, 3, force ? 1 : 0);
        rc = step_done(st, s, "run claim", err);
    }
    if (rc == SPAK_OK && sqlite3_changes(st->db) == 0) {
        spak_run r;
        rc = spak_store_run_get(st, run_id, &r, err);
        if (rc == SPAK_OK)
            rc = spak_errf(err, SPAK_ERR_STATE, "run %s is held by %s", run_id, r.owner ? r.owner : "(nobody)");
        spak_store_run_free(&r);
    }
    return tx_close(st, rc, err);
}

static const col_def journal_cols[] = {
    COL(COL_INT64, spak_journal_entry, seq),       COL(COL_DOUBLE, spak_journal_entry, at),
    COL(COL_TEXT, spak_journal_entry, from_state), COL(COL_TEXT, spak_journal_entry, to_state),
    COL(COL_TEXT, spak_journal_entry, detail_json),
};
static const row_def journal_row = ROW_DEF(spak_journal_entry, journal_cols);

void spak_store_journal_free(spak_journal_entry *e, size_t n)
{
    rows_free(&journal_row, e, n);
}

spak_status spak_store_journal_list(spak_store *st, const char *run_id, spak_journal_entry **out, size_t *n_out,
                                    spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "SELECT seq, at, from_state, to_state, detail_json FROM journal WHERE run_id = ?1 "
                          "ORDER BY seq",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    void *rows;
    rc = rows_read(st, s, &journal_row, "journal list", &rows, n_out, err);
    *out = rows;
    return rc;
}

/* ---- candidates ------------------------------------------------------------------------ */

#define CAND_COLS "cand_id, key, params_json, source_path, source_hash, created_at"

static const col_def cand_cols[] = {
    COL(COL_INT64, spak_candidate, cand_id),    COL(COL_TEXT, spak_candidate, key),
    COL(COL_TEXT, spak_candidate, params_json), COL(COL_TEXT, spak_candidate, source_path),
    COL(COL_TEXT, spak_candidate, source_hash), COL(COL_DOUBLE, spak_candidate, created_at),
};
static const row_def cand_row = ROW_DEF(spak_candidate, cand_cols); /* CAND_COLS */

void spak_store_candidate_free(spak_candidate *c)
{
    row_free(&cand_row, c);
}

void spak_store_candidates_free(spak_candidate *c, size_t n)
{
    rows_free(&cand_row, c, n);
}

spak_status spak_store_candidate_upsert(spak_store *st, const char *run_id, const char *key,
                                        const char *params_json, const char *source_path,
                                        const char *source_hash, int64_t *cand_id_out, bool *created_out,
                                        spak_err *err)
{
    if (!run_id || !key)
        return spak_errf(err, SPAK_ERR_ARG, "candidate upsert: run id and key are required");
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    int64_t id = 0;
    bool found = false;
    sqlite3_stmt *s;
    if ((rc = prep(st, "SELECT cand_id FROM candidates WHERE run_id = ?1 AND key = ?2", &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        bind_str(s, 2, key);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0), found = true;
        else if (r != SQLITE_DONE)
            rc = db_fail(st, err, "candidate upsert");
        sqlite3_finalize(s);
    }
    if (rc == SPAK_OK && !found)
        rc = next_seq(st, "SELECT coalesce(max(cand_id), 0) + 1 FROM candidates WHERE run_id = ?1", run_id, 0, false,
                      &id, err);
    if (rc == SPAK_OK)
        rc = prep(st,
                  found ? "UPDATE candidates SET params_json = coalesce(?4, params_json),"
                          " source_path = coalesce(?5, source_path), source_hash = coalesce(?6, source_hash)"
                          " WHERE run_id = ?1 AND cand_id = ?2 AND key = ?3"
                        : "INSERT INTO candidates(run_id, cand_id, key, params_json, source_path, source_hash,"
                          " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                  &s, err);
    if (rc == SPAK_OK) {
        bind_str(s, 1, run_id);
        sqlite3_bind_int64(s, 2, id);
        bind_str(s, 3, key);
        bind_str(s, 4, params_json);
        bind_str(s, 5, source_path);
        bind_str(s, 6, source_hash);
        sqlite3_bind_double(s, 7, spak_now_wall());
        rc = step_done(st, s, "candidate upsert", err);
    }
    rc = tx_close(st, rc, err);
    if (rc == SPAK_OK) {
        *cand_id_out = id;
        if (created_out)
            *created_out = !found;
    }
    return rc;
}

spak_status spak_store_candidate_get(spak_store *st, const char *run_id, const char *key, spak_candidate *out,
                                     bool *found, spak_err *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    sqlite3_stmt *s;
    spak_status rc = prep(st, "SELECT " CAND_COLS " FROM candidates WHERE run_id = ?1 AND key = ?2", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    bind_str(s, 2, key);
    return row_read_one(st, s, &cand_row, "candidate get", out, found, err);
}

spak_status spak_store_candidate_list(spak_store *st, const char *run_id, spak_candidate **out, size_t *n_out,
                                      spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st, "SELECT " CAND_COLS " FROM candidates WHERE run_id = ?1 ORDER BY cand_id", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    void *rows;
    rc = rows_read(st, s, &cand_row, "candidate list", &rows, n_out, err);
    *out = rows;
    return rc;
}

/* ---- evaluations -------------------------------------------------------------------------- */

static bool is_unfinished_status(const char *s)
{
    return s && (strcmp(s, SPAK_EVAL_PLANNED) == 0 || strcmp(s, SPAK_EVAL_BUILDING) == 0 ||
                 strcmp(s, SPAK_EVAL_RUNNING) == 0);
}

#define EVAL_SELECT                                                                                     \
    "SELECT e.eval_id, e.cand_id, c.key, e.status, e.started_at, e.finished_at, e.build_log,"          \
    " e.stdout_tail, e.stderr_tail, e.exit_desc, e.correct, e.metric, e.ratio, e.bottleneck,"          \
    " e.result_json, e.error FROM evaluations e"                                                       \
    " JOIN candidates c ON c.run_id = e.run_id AND c.cand_id = e.cand_id WHERE e.run_id = ?1"

static const col_def eval_cols[] = {
    COL(COL_INT64, spak_eval, eval_id),     COL(COL_INT64, spak_eval, cand_id),
    COL(COL_TEXT, spak_eval, cand_key),     COL(COL_TEXT, spak_eval, status),
    COL(COL_DOUBLE, spak_eval, started_at), COL(COL_DOUBLE, spak_eval, finished_at),
    COL(COL_TEXT, spak_eval, build_log),    COL(COL_TEXT, spak_eval, stdout_tail),
    COL(COL_TEXT, spak_eval, stderr_tail),  COL(COL_TEXT, spak_eval, exit_desc),
    COL(COL_TRISTATE, spak_eval, correct),  COL(COL_REAL, spak_eval, metric),
    COL(COL_REAL, spak_eval, ratio),        COL(COL_TEXT, spak_eval, bottleneck),
    COL(COL_TEXT, spak_eval, result_json),  COL(COL_TEXT, spak_eval, error),
};
static const row_def eval_row = ROW_DEF(spak_eval, eval_cols); /* EVAL_SELECT */

void spak_store_eval_free(spak_eval *e)
{
    row_free(&eval_row, e);
}

void spak_store_evals_free(spak_eval *e, size_t n)
{
    rows_free(&eval_row, e, n);
}

spak_status spak_store_eval_begin(spak_store *st, const char *run_id, int64_t cand_id, const char *status,
                                  int64_t *eval_id_out, spak_err *err)
{
    if (!status)
        status = SPAK_EVAL_BUILDING;
    if (!run_id || !is_unfinished_status(status))
        return spak_errf(err, SPAK_ERR_ARG, "eval begin: needs a run id and status planned/building/running");
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    int64_t id = 0;
    sqlite3_stmt *s;
    rc = next_seq(st, "SELECT coalesce(max(eval_id), 0) + 1 FROM evaluations WHERE run_id = ?1", run_id, 0, false,
                  &id, err);
    if (rc == SPAK_OK &&
        (rc = prep(st,
                   "INSERT INTO evaluations(run_id, eval_id, cand_id, status, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                   &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        sqlite3_bind_int64(s, 2, id);
        sqlite3_bind_int64(s, 3, cand_id);
        bind_str(s, 4, status);
        sqlite3_bind_double(s, 5, spak_now_wall());
        rc = step_done(st, s, "eval begin", err);
    }
    rc = tx_close(st, rc, err);
    if (rc == SPAK_OK)
        *eval_id_out = id;
    return rc;
}

/* The status of an evaluation (caller frees), or an error naming it. */
static spak_status eval_status(spak_store *st, const char *run_id, int64_t eval_id, char **out, spak_err *err)
{
    *out = NULL;
    sqlite3_stmt *s;
    spak_status rc = prep(st, "SELECT status FROM evaluations WHERE run_id = ?1 AND eval_id = ?2", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, eval_id);
    int r = sqlite3_step(s);
    bool oom = false;
    if (r == SQLITE_ROW)
        *out = col_str(s, 0, &oom);
    rc = r == SQLITE_DONE ? spak_errf(err, SPAK_ERR_ARG, "run %s has no evaluation %lld", run_id, (long long)eval_id)
         : r != SQLITE_ROW ? db_fail(st, err, "evaluation status")
         : oom || !*out    ? nomem(err)
                           : SPAK_OK;
    sqlite3_finalize(s);
    return rc;
}

/* SPAK_OK when the evaluation exists and is not final yet; SPAK_ERR_STATE
 * when it is (a final result is never overwritten). */
static spak_status eval_unfinished(spak_store *st, const char *run_id, int64_t eval_id, spak_err *err)
{
    char *cur = NULL;
    spak_status rc = eval_status(st, run_id, eval_id, &cur, err);
    if (rc == SPAK_OK && !is_unfinished_status(cur))
        rc = spak_errf(err, SPAK_ERR_STATE, "run %s evaluation %lld is already %s", run_id, (long long)eval_id, cur);
    free(cur);
    return rc;
}

spak_status spak_store_eval_set_status(spak_store *st, const char *run_id, int64_t eval_id, const char *status,
                                       spak_err *err)
{
    if (!run_id || !is_unfinished_status(status))
        return spak_errf(err, SPAK_ERR_ARG, "eval set status: status must be planned, building or running");
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    rc = eval_unfinished(st, run_id, eval_id, err);
    sqlite3_stmt *s;
    if (rc == SPAK_OK &&
        (rc = prep(st, "UPDATE evaluations SET status = ?3 WHERE run_id = ?1 AND eval_id = ?2", &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        sqlite3_bind_int64(s, 2, eval_id);
        bind_str(s, 3, status);
        rc = step_done(st, s, "eval set status", err);
    }
    return tx_close(st, rc, err);
}

static spak_status trace_insert_at(spak_store *st, const char *run_id, int64_t eval_id, int64_t seq,
                                   const spak_trace_record *rec, spak_err *err);

static spak_status trace_next_seq(spak_store *st, const char *run_id, int64_t eval_id, int64_t *out, spak_err *err)
{
    return next_seq(st, "SELECT coalesce(max(seq), 0) + 1 FROM traces WHERE run_id = ?1 AND eval_id = ?2", run_id,
                    eval_id, true, out, err);
}

spak_status spak_store_eval_finish(spak_store *st, const char *run_id, int64_t eval_id,
                                   const spak_eval_result *r, spak_err *err)
{
    if (!run_id || !r || !r->status ||
        (strcmp(r->status, SPAK_EVAL_DONE) != 0 && strcmp(r->status, SPAK_EVAL_FAILED) != 0 &&
         strcmp(r->status, SPAK_EVAL_STOPPED) != 0))
        return spak_errf(err, SPAK_ERR_ARG, "eval finish: status must be done, failed or stopped");
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    rc = eval_unfinished(st, run_id, eval_id, err);
    sqlite3_stmt *s;
    if (rc == SPAK_OK &&
        (rc = prep(st,
                   "UPDATE evaluations SET status = ?3, finished_at = ?4, build_log = ?5, stdout_tail = ?6,"
                   " stderr_tail = ?7, exit_desc = ?8, correct = ?9, metric = ?10, ratio = ?11,"
                   " bottleneck = ?12, result_json = ?13, error = ?14 WHERE run_id = ?1 AND eval_id = ?2",
                   &s, err)) == SPAK_OK) {
        bool oom = false;
        bind_str(s, 1, run_id);
        sqlite3_bind_int64(s, 2, eval_id);
        bind_str(s, 3, r->status);
        sqlite3_bind_double(s, 4, spak_now_wall());
        bind_capped(s, 5, r->build_log, r->build_log_len, &oom);
        bind_capped(s, 6, r->stdout_tail, r->stdout_tail_len, &oom);
        bind_capped(s, 7, r->stderr_tail, r->stderr_tail_len, &oom);
        bind_capped(s, 8, r->exit_desc, 0, &oom);
        if (r->correct < 0)
            sqlite3_bind_null(s, 9);
        else
            sqlite3_bind_int(s, 9, r->correct ? 1 : 0);
        bind_real(s, 10, r->metric);
        bind_real(s, 11, r->ratio);
        bind_capped(s, 12, r->bottleneck, 0, &oom);
        bind_str(s, 13, r->result_json);
        bind_capped(s, 14, r->error, 0, &oom);
        if (oom) {
            sqlite3_finalize(s);
            rc = nomem(err);
        } else {
            rc = step_done(st, s, "eval finish", err);
        }
    }
    if (rc == SPAK_OK && r->traces && r->traces->n > 0) {
        int64_t seq = 0;
        rc = trace_next_seq(st, run_id, eval_id, &seq, err);
        for (size_t i = 0; rc == SPAK_OK && i < r->traces->n; i++)
            rc = trace_insert_at(st, run_id, eval_id, seq++, &r->traces->items[i], err);
    }
    return tx_close(st, rc, err);
}

spak_status spak_store_eval_interrupt_unfinished(spak_store *st, const char *run_id, size_t *n_out,
                                                 spak_err *err)
{
    if (n_out)
        *n_out = 0;
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    sqlite3_stmt *s;
    size_t n = 0;
    if ((rc = prep(st,
                   "UPDATE evaluations SET status = 'interrupted', finished_at = ?2,"
                   " error = coalesce(error, 'interrupted: the process ended during this evaluation')"
                   " WHERE run_id = ?1 AND status IN ('planned', 'building', 'running')"
                   " AND eval_id NOT IN (SELECT eval_id FROM jobs WHERE run_id = ?1 AND finished_at IS NULL)",
                   &s, err)) == SPAK_OK) {
        bind_str(s, 1, run_id);
        sqlite3_bind_double(s, 2, spak_now_wall());
        rc = step_done(st, s, "eval interrupt", err);
        n = (size_t)sqlite3_changes(st->db);
    }
    rc = tx_close(st, rc, err);
    if (rc == SPAK_OK && n_out)
        *n_out = n;
    return rc;
}

spak_status spak_store_eval_get(spak_store *st, const char *run_id, int64_t eval_id, spak_eval *out,
                                spak_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    spak_status rc = prep(st, EVAL_SELECT " AND e.eval_id = ?2", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, eval_id);
    bool found;
    rc = row_read_one(st, s, &eval_row, "eval get", out, &found, err);
    if (rc == SPAK_OK && !found)
        rc = spak_errf(err, SPAK_ERR_ARG, "run %s has no evaluation %lld", run_id ? run_id : "(null)",
                       (long long)eval_id);
    return rc;
}

spak_status spak_store_eval_list(spak_store *st, const char *run_id, spak_eval **out, size_t *n_out,
                                 spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st, EVAL_SELECT " ORDER BY e.eval_id", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    void *rows;
    rc = rows_read(st, s, &eval_row, "evaluation query", &rows, n_out, err);
    *out = rows;
    return rc;
}

spak_status spak_store_eval_find_by_key(spak_store *st, const char *run_id, const char *key, spak_eval *out,
                                        bool *found, spak_err *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          EVAL_SELECT " AND c.key = ?2 AND e.status IN ('done', 'failed', 'stopped')"
                                      " ORDER BY e.eval_id DESC LIMIT 1",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    bind_str(s, 2, key);
    return row_read_one(st, s, &eval_row, "evaluation query", out, found, err);
}

/* ---- trace records ------------------------------------------------------------------------ */

static spak_status trace_insert_at(spak_store *st, const char *run_id, int64_t eval_id, int64_t seq,
                                   const spak_trace_record *rec, spak_err *err)
{
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "INSERT INTO traces(run_id, eval_id, seq, line, case_name, record_json, raw, valid, error,"
                          " warnings) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    char *json = rec->json ? json_dumps(rec->json, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    bool oom = rec->json && !json;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, eval_id);
    sqlite3_bind_int64(s, 3, seq);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)rec->line);
    bind_capped(s, 5, rec->type, 0, &oom);
    if (json)
        sqlite3_bind_text(s, 6, json, -1, free);
    else
        sqlite3_bind_null(s, 6);
    bind_capped(s, 7, rec->raw, 0, &oom);
    sqlite3_bind_int(s, 8, rec->valid && !rec->error ? 1 : 0);
    bind_capped(s, 9, rec->error, 0, &oom);
    bind_capped(s, 10, rec->warnings, 0, &oom);
    if (oom) {
        sqlite3_finalize(s);
        return nomem(err);
    }
    return step_done(st, s, "trace insert", err);
}

/* Append n records after the last of (run_id, eval_id), in one transaction. */
static spak_status trace_append(spak_store *st, const char *run_id, int64_t eval_id, const spak_trace_record *recs,
                                size_t n, spak_err *err)
{
    if (!run_id || eval_id < 0)
        return spak_errf(err, SPAK_ERR_ARG, "trace insert: bad arguments");
    spak_status rc = tx_open(st, err);
    if (rc != SPAK_OK)
        return rc;
    int64_t seq = 0;
    rc = trace_next_seq(st, run_id, eval_id, &seq, err);
    for (size_t i = 0; rc == SPAK_OK && i < n; i++)
        rc = trace_insert_at(st, run_id, eval_id, seq++, &recs[i], err);
    return tx_close(st, rc, err);
}

spak_status spak_store_trace_insert(spak_store *st, const char *run_id, int64_t eval_id,
                                    const spak_trace_record *rec, spak_err *err)
{
    if (!rec)
        return spak_errf(err, SPAK_ERR_ARG, "trace insert: bad arguments");
    return trace_append(st, run_id, eval_id, rec, 1, err);
}

spak_status spak_store_trace_insert_list(spak_store *st, const char *run_id, int64_t eval_id,
                                         const spak_trace_list *l, spak_err *err)
{
    if (!l)
        return spak_errf(err, SPAK_ERR_ARG, "trace insert: bad arguments");
    return trace_append(st, run_id, eval_id, l->items, l->n, err);
}

static const col_def trace_cols[] = {
    COL(COL_INT64, spak_trace_row, eval_id),    COL(COL_INT64, spak_trace_row, seq),
    COL(COL_INT64, spak_trace_row, line),       COL(COL_TEXT, spak_trace_row, case_name),
    COL(COL_TEXT, spak_trace_row, record_json), COL(COL_TEXT, spak_trace_row, raw),
    COL(COL_BOOL, spak_trace_row, valid),       COL(COL_TEXT, spak_trace_row, error),
    COL(COL_TEXT, spak_trace_row, warnings),
};
static const row_def trace_row = ROW_DEF(spak_trace_row, trace_cols);

void spak_store_trace_rows_free(spak_trace_row *rows, size_t n)
{
    rows_free(&trace_row, rows, n);
}

spak_status spak_store_trace_list(spak_store *st, const char *run_id, int64_t eval_id, spak_trace_row **out,
                                  size_t *n_out, spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "SELECT eval_id, seq, line, case_name, record_json, raw, valid, error, warnings"
                          " FROM traces WHERE run_id = ?1 AND (?2 < 0 OR eval_id = ?2) ORDER BY eval_id, seq",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, eval_id);
    void *rows;
    rc = rows_read(st, s, &trace_row, "trace list", &rows, n_out, err);
    *out = rows;
    return rc;
}

/* ---- jobs ----------------------------------------------------------------------------------- */

static const col_def job_cols[] = {
    COL(COL_INT64, spak_job, eval_id),       COL(COL_TEXT, spak_job, executor),
    COL(COL_TEXT, spak_job, job_id),         COL(COL_TEXT, spak_job, job_dir),
    COL(COL_BOOL, spak_job, trusted),        COL(COL_DOUBLE, spak_job, submitted_at),
    COL(COL_DOUBLE, spak_job, finished_at),  COL(COL_TEXT, spak_job, state),
};
static const row_def job_row = ROW_DEF(spak_job, job_cols);

spak_status spak_store_job_put(spak_store *st, const char *run_id, const spak_job *j, spak_err *err)
{
    if (!run_id || !j->executor || !j->job_id || !j->job_dir)
        return spak_errf(err, SPAK_ERR_ARG, "job put: run, executor, job id and folder are required");
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "INSERT INTO jobs(run_id, eval_id, executor, job_id, job_dir, trusted, submitted_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, j->eval_id);
    bind_str(s, 3, j->executor);
    bind_str(s, 4, j->job_id);
    bind_str(s, 5, j->job_dir);
    sqlite3_bind_int(s, 6, j->trusted);
    sqlite3_bind_double(s, 7, spak_now_wall());
    return step_done(st, s, "job put", err); /* one statement: atomic on its own */
}

spak_status spak_store_job_end(spak_store *st, const char *run_id, int64_t eval_id, const char *state,
                               spak_err *err)
{
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "UPDATE jobs SET finished_at = ?3, state = ?4 WHERE run_id = ?1 AND eval_id = ?2"
                          " AND finished_at IS NULL",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int64(s, 2, eval_id);
    sqlite3_bind_double(s, 3, spak_now_wall());
    bind_str(s, 4, state && state[0] ? state : "UNKNOWN");
    return step_done(st, s, "job end", err);
}

spak_status spak_store_job_list(spak_store *st, const char *run_id, bool open_only, spak_job **out, size_t *n_out,
                                spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "SELECT eval_id, executor, job_id, job_dir, trusted, submitted_at, finished_at, state"
                          " FROM jobs WHERE run_id = ?1 AND (?2 = 0 OR finished_at IS NULL) ORDER BY eval_id",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, run_id);
    sqlite3_bind_int(s, 2, open_only);
    void *rows;
    rc = rows_read(st, s, &job_row, "job list", &rows, n_out, err);
    *out = rows;
    return rc;
}

void spak_store_jobs_free(spak_job *jobs, size_t n)
{
    rows_free(&job_row, jobs, n);
}

/* ---- key/value ------------------------------------------------------------------------------ */

spak_status spak_store_kv_put(spak_store *st, const char *scope, const char *key, const char *value_json,
                              spak_err *err)
{
    if (!scope || !key || !value_json)
        return spak_errf(err, SPAK_ERR_ARG, "kv put: scope, key and value are required");
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "INSERT INTO kv(scope, key, value_json, updated_at) VALUES (?1, ?2, ?3, ?4)"
                          " ON CONFLICT(scope, key) DO UPDATE SET value_json = excluded.value_json,"
                          " updated_at = excluded.updated_at",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, scope);
    bind_str(s, 2, key);
    bind_str(s, 3, value_json);
    sqlite3_bind_double(s, 4, spak_now_wall());
    return step_done(st, s, "kv put", err); /* one statement: atomic on its own */
}

spak_status spak_store_kv_get(spak_store *st, const char *scope, const char *key, char **value_out,
                              spak_err *err)
{
    *value_out = NULL;
    sqlite3_stmt *s;
    spak_status rc = prep(st, "SELECT value_json FROM kv WHERE scope = ?1 AND key = ?2", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, scope);
    bind_str(s, 2, key);
    int r = sqlite3_step(s);
    bool oom = false;
    if (r == SQLITE_ROW)
        *value_out = col_str(s, 0, &oom);
    rc = oom ? nomem(err) : r == SQLITE_ROW || r == SQLITE_DONE ? SPAK_OK : db_fail(st, err, "kv get");
    sqlite3_finalize(s);
    return rc;
}

spak_status spak_store_kv_delete(spak_store *st, const char *scope, const char *key, spak_err *err)
{
    sqlite3_stmt *s;
    spak_status rc = prep(st, "DELETE FROM kv WHERE scope = ?1 AND key = ?2", &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, scope);
    bind_str(s, 2, key);
    return step_done(st, s, "kv delete", err);
}

/* ---- lessons ------------------------------------------------------------------------------------ */

spak_status spak_store_lesson_insert(spak_store *st, const spak_lesson *l, int64_t *id_out, spak_err *err)
{
    if (!l)
        return spak_errf(err, SPAK_ERR_ARG, "lesson insert: no lesson");
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "INSERT INTO lessons(run_id, created_at, device, family, shape_class, kind, subject,"
                          " effect, uncertainty, confidence, evidence_json, text)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bool oom = false;
    bind_str(s, 1, l->run_id);
    sqlite3_bind_double(s, 2, l->created_at > 0 ? l->created_at : spak_now_wall());
    bind_str(s, 3, l->device);
    bind_str(s, 4, l->family);
    bind_str(s, 5, l->shape_class);
    bind_str(s, 6, l->kind);
    bind_str(s, 7, l->subject);
    bind_real(s, 8, l->effect);
    bind_real(s, 9, l->uncertainty);
    bind_real(s, 10, l->confidence);
    bind_str(s, 11, l->evidence_json);
    bind_capped(s, 12, l->text, 0, &oom);
    if (oom) {
        sqlite3_finalize(s);
        return nomem(err);
    }
    rc = step_done(st, s, "lesson insert", err);
    if (rc == SPAK_OK && id_out)
        *id_out = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static const col_def lesson_cols[] = {
    COL(COL_INT64, spak_lesson, id),           COL(COL_TEXT, spak_lesson, run_id),
    COL(COL_DOUBLE, spak_lesson, created_at),  COL(COL_TEXT, spak_lesson, device),
    COL(COL_TEXT, spak_lesson, family),        COL(COL_TEXT, spak_lesson, shape_class),
    COL(COL_TEXT, spak_lesson, kind),          COL(COL_TEXT, spak_lesson, subject),
    COL(COL_REAL, spak_lesson, effect),        COL(COL_REAL, spak_lesson, uncertainty),
    COL(COL_REAL, spak_lesson, confidence),    COL(COL_TEXT, spak_lesson, evidence_json),
    COL(COL_TEXT, spak_lesson, text),
};
static const row_def lesson_row = ROW_DEF(spak_lesson, lesson_cols);

void spak_store_lesson_free(spak_lesson *l)
{
    row_free(&lesson_row, l);
}

void spak_store_lessons_free(spak_lesson *l, size_t n)
{
    rows_free(&lesson_row, l, n);
}

spak_status spak_store_lesson_list(spak_store *st, const char *device, const char *family, const char *kind,
                                   spak_lesson **out, size_t *n_out, spak_err *err)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *s;
    spak_status rc = prep(st,
                          "SELECT id, run_id, created_at, device, family, shape_class, kind, subject, effect,"
                          " uncertainty, confidence, evidence_json, text FROM lessons"
                          " WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR family = ?2)"
                          " AND (?3 IS NULL OR kind = ?3) ORDER BY id",
                          &s, err);
    if (rc != SPAK_OK)
        return rc;
    bind_str(s, 1, device);
    bind_str(s, 2, family);
    bind_str(s, 3, kind);
    void *rows;
    rc = rows_read(st, s, &lesson_row, "lesson list", &rows, n_out, err);
    *out = rows;
    return rc;
}
