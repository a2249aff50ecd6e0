/* test_store.c - the SQLite store (src/store.c): round trips, the journal,
 * resume helpers, caps, explicit transactions, and a crash test that really
 * SIGKILLs a writer and checks every confirmed transition survived. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/scopes.h"
#include "store/store.h"
#include "tap.h"
#include "util.h"

static char dir[64];
static char dbpath[128];

static void rm_db(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(sfx); i++) {
        char p[256];
        spak_snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static void set_db(const char *name)
{
    spak_snprintf(dbpath, sizeof dbpath, "%s/%s", dir, name);
    rm_db(dbpath);
}

static spak_store *open_or_die(void)
{
    spak_store *st = NULL;
    spak_err err = {0};
    if (spak_store_open(dbpath, &st, &err) != SPAK_OK) {
        printf("# open %s: %s\n", dbpath, err.msg);
        return NULL;
    }
    return st;
}

/* A new, empty store named name in the test folder, opened; NULL (said in
 * a comment line) when it cannot be opened. */
static spak_store *open_fresh(const char *name)
{
    set_db(name);
    return open_or_die();
}

/* open_fresh with one run in it (state "specify"), its id written to id;
 * NULL (a failed test named after what) when either step fails. */
static spak_store *open_fresh_run(const char *name, const char *what, char id[SPAK_STORE_ID_MAX])
{
    spak_store *st = open_fresh(name);
    if (!st)
        return NULL;
    spak_err err = {0};
    spak_run_new nw = {.initial_state = "specify"};
    if (spak_store_run_create(st, &nw, id, &err) != SPAK_OK) {
        TAP_OK(0, "%s: create run: %s", what, err.msg);
        spak_store_close(st);
        return NULL;
    }
    return st;
}

static int64_t query_int(spak_store *st, const char *sql)
{
    sqlite3_stmt *s;
    int64_t v = -1;
    if (sqlite3_prepare_v2(spak_store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static char *query_text(spak_store *st, const char *sql)
{
    sqlite3_stmt *s;
    char *v = NULL;
    if (sqlite3_prepare_v2(spak_store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        v = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

static void test_open(void)
{
    spak_store *st = open_fresh("open.db");
    TAP_OK(st != NULL, "open: creates the store");
    if (!st)
        return;
    TAP_OK(query_int(st, "PRAGMA user_version") == SPAK_STORE_SCHEMA_VERSION, "open: user_version set");
    char *mode = query_text(st, "PRAGMA journal_mode");
    TAP_STREQ(mode, "wal", "open: WAL journal");
    free(mode);
    TAP_OK(query_int(st, "PRAGMA synchronous") == 2, "open: synchronous=FULL");
    TAP_OK(query_int(st, "PRAGMA foreign_keys") == 1, "open: foreign keys on");
    TAP_OK(query_int(st, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                         "('runs','journal','candidates','evaluations','traces','kv','lessons')") == 7,
           "open: all seven tables exist");
    TAP_STREQ(spak_store_path(st), dbpath, "open: path kept");
    spak_store_close(st);
    st = open_or_die();
    TAP_OK(st != NULL, "open: reopen an existing store");
    spak_store_close(st);

    /* a newer schema is refused */
    sqlite3 *db;
    if (sqlite3_open(dbpath, &db) == SQLITE_OK) {
        sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    spak_err err = {0};
    st = NULL;
    TAP_OK(spak_store_open(dbpath, &st, &err) == SPAK_ERR_STORE && !st && strstr(err.msg, "newer"),
           "open: newer schema refused: %s", err.msg);

    /* a foreign database is refused */
    set_db("foreign.db");
    if (sqlite3_open(dbpath, &db) == SQLITE_OK) {
        sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    TAP_OK(spak_store_open(dbpath, &st, &err) == SPAK_ERR_STORE && strstr(err.msg, "not a spak store"),
           "open: foreign database refused: %s", err.msg);
    TAP_OK(spak_store_open("", &st, &err) == SPAK_ERR_ARG, "open: empty path is ARG");
    char bad[200];
    spak_snprintf(bad, sizeof bad, "%s/no/such/dir/x.db", dir);
    TAP_OK(spak_store_open(bad, &st, &err) == SPAK_ERR_STORE, "open: unopenable path is STORE: %s", err.msg);
}

static const char *const states[] = {"program", "build", "analyze", "knowledge", "decide"};

static void test_runs(void)
{
    spak_store *st = open_fresh("runs.db");
    if (!st)
        return;
    spak_err err = {0};
    char id[SPAK_STORE_ID_MAX], id2[SPAK_STORE_ID_MAX];
    spak_run_new nw = {.spec_path = "ex/matmul.spak", .spec_text = "system M {}", .strategy = "rules", .seed = 42,
                       .budget_json = "{\"evals\":10}", .device_json = "{\"name\":\"cpu\"}",
                       .initial_state = "specify", .detail_json = "{\"why\":\"start\"}"};
    TAP_OK(spak_store_run_create(st, &nw, id, &err) == SPAK_OK, "run: create (%s)", err.msg);
    TAP_OK(id[0] == 'r' && strlen(id) == 13 && strcmp(id + 10, "001") == 0, "run: id form rYYYYMMDD-001 (%s)", id);
    TAP_OK(spak_store_run_create(st, &nw, id2, &err) == SPAK_OK && strcmp(id2 + 10, "002") == 0 &&
               strncmp(id, id2, 10) == 0,
           "run: second id counts up (%s)", id2);
    spak_run_new bad = {0};
    TAP_OK(spak_store_run_create(st, &bad, id2, &err) == SPAK_ERR_ARG, "run: no initial state is ARG");

    spak_run r;
    TAP_OK(spak_store_run_get(st, id, &r, &err) == SPAK_OK, "run: get");
    TAP_STREQ(r.spec_path, "ex/matmul.spak", "run: spec_path");
    TAP_STREQ(r.spec_text, "system M {}", "run: spec_text");
    TAP_OK(r.spec_hash && strlen(r.spec_hash) == 16, "run: spec_hash is 16 hex digits");
    TAP_STREQ(r.state, "specify", "run: initial state");
    TAP_STREQ(r.status, "running", "run: status running");
    TAP_STREQ(r.strategy, "rules", "run: strategy");
    TAP_STREQ(r.budget_json, "{\"evals\":10}", "run: budget");
    TAP_STREQ(r.device_json, "{\"name\":\"cpu\"}", "run: device");
    TAP_OK(r.seed == 42 && r.last_seq == 1 && r.created_at > 1e9 && r.stop_reason == NULL && r.owner == NULL,
           "run: seed, last_seq 1, created_at, no stop reason, no owner");
    spak_store_run_free(&r);
    TAP_OK(spak_store_run_get(st, "r-nope", &r, &err) == SPAK_ERR_ARG && strstr(err.msg, "no run 'r-nope'"),
           "run: missing run is ARG");

    /* transitions and journal order */
    const char *prev = "specify";
    int ok = 1;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(states); i++) {
        int64_t seq = 0;
        ok &= spak_store_run_set_state(st, id, prev, states[i], NULL, &seq, &err) == SPAK_OK && seq == (int64_t)i + 2;
        prev = states[i];
    }
    TAP_OK(ok, "journal: five transitions, seq 2..6");
    TAP_OK(spak_store_run_set_state(st, id, "build", "analyze", NULL, NULL, &err) == SPAK_ERR_STATE &&
               strstr(err.msg, "the run is in state decide"),
           "journal: compare-and-set refuses a wrong from_state: %s", err.msg);
    TAP_OK(spak_store_run_set_state(st, "r-nope", NULL, "x", NULL, NULL, &err) == SPAK_ERR_ARG,
           "journal: unknown run is ARG");
    spak_transition bad_t = {.to_state = "done", .status = "finished"};
    TAP_OK(spak_store_transition(st, id, &bad_t, NULL, &err) == SPAK_ERR_ARG, "journal: bad status is ARG");
    spak_transition t = {.from_state = "decide", .to_state = "done", .status = SPAK_RUN_DONE,
                         .stop_reason = "goal reached", .summary_json = "{\"best\":1.2}",
                         .detail_json = "{\"ratio\":1.2}"};
    int64_t seq = 0;
    TAP_OK(spak_store_transition(st, id, &t, &seq, &err) == SPAK_OK && seq == 7, "journal: final transition seq 7");

    spak_journal_entry *j;
    size_t nj;
    TAP_OK(spak_store_journal_list(st, id, &j, &nj, &err) == SPAK_OK && nj == 7, "journal: 7 rows");
    if (nj == 7) {
        int chain = j[0].from_state == NULL && strcmp(j[0].to_state, "specify") == 0 &&
                    strcmp(j[0].detail_json, "{\"why\":\"start\"}") == 0;
        for (size_t i = 1; i < nj; i++)
            chain &= j[i].seq == (int64_t)i + 1 && j[i].from_state && strcmp(j[i].from_state, j[i - 1].to_state) == 0 &&
                     j[i].at >= j[i - 1].at;
        TAP_OK(chain, "journal: rows in seq order, each from = previous to");
        TAP_STREQ(j[6].detail_json, "{\"ratio\":1.2}", "journal: detail kept");
    }
    spak_store_journal_free(j, nj);
    TAP_OK(spak_store_run_get(st, id, &r, &err) == SPAK_OK, "run: get after transitions");
    TAP_STREQ(r.state, "done", "run: state done");
    TAP_STREQ(r.status, "done", "run: status done");
    TAP_STREQ(r.stop_reason, "goal reached", "run: stop reason");
    TAP_STREQ(r.summary_json, "{\"best\":1.2}", "run: summary");
    TAP_OK(r.last_seq == 7 && r.updated_at >= r.created_at, "run: last_seq 7, updated_at moved");
    spak_store_run_free(&r);

    spak_run *runs;
    size_t nr;
    TAP_OK(spak_store_run_list(st, &runs, &nr, &err) == SPAK_OK && nr == 2, "run: list has 2");
    if (nr == 2)
        TAP_OK(strcmp(runs[0].id, id2) == 0 && runs[0].spec_text == NULL && runs[1].last_seq == 7,
               "run: list newest first, without spec text");
    spak_store_runs_free(runs, nr);

    /* claims */
    TAP_OK(spak_store_run_claim(st, id2, "hostA:1", false, &err) == SPAK_OK, "claim: free run");
    TAP_OK(spak_store_run_claim(st, id2, "hostA:1", false, &err) == SPAK_OK, "claim: same owner again");
    TAP_OK(spak_store_run_claim(st, id2, "hostB:2", false, &err) == SPAK_ERR_STATE && strstr(err.msg, "hostA:1"),
           "claim: other owner refused, names the holder: %s", err.msg);
    TAP_OK(spak_store_run_claim(st, id2, "hostB:2", true, &err) == SPAK_OK, "claim: force takes it");
    TAP_OK(spak_store_run_claim(st, id2, NULL, false, &err) == SPAK_OK, "claim: release");
    TAP_OK(spak_store_run_claim(st, "r-nope", "x", false, &err) == SPAK_ERR_ARG, "claim: unknown run is ARG");
    spak_store_close(st);
}

static void test_evals(void)
{
    char id[SPAK_STORE_ID_MAX];
    spak_store *st = open_fresh_run("evals.db", "evals", id);
    if (!st)
        return;
    spak_err err = {0};
    int64_t c1 = 0, c2 = 0, c1b = 0;
    bool created = false;
    TAP_OK(spak_store_candidate_upsert(st, id, "BM=64,BN=64", "{\"BM\":64}", NULL, NULL, &c1, &created, &err) ==
                   SPAK_OK &&
               c1 == 1 && created,
           "cand: first is id 1, created");
    TAP_OK(spak_store_candidate_upsert(st, id, "BM=64,BN=64", NULL, "/tmp/c1.c", "abc", &c1b, &created, &err) ==
                   SPAK_OK &&
               c1b == 1 && !created,
           "cand: same key gives the same id");
    TAP_OK(spak_store_candidate_upsert(st, id, "BM=128,BN=64", "{\"BM\":128}", NULL, NULL, &c2, NULL, &err) ==
                   SPAK_OK &&
               c2 == 2,
           "cand: second key is id 2");
    TAP_OK(spak_store_candidate_upsert(st, "r-nope", "k", NULL, NULL, NULL, &c2, NULL, &err) == SPAK_ERR_STORE,
           "cand: unknown run fails (foreign key): %s", err.msg);
    spak_candidate c;
    bool found = false;
    TAP_OK(spak_store_candidate_get(st, id, "BM=64,BN=64", &c, &found, &err) == SPAK_OK && found, "cand: get");
    TAP_OK(found && c.params_json && strcmp(c.params_json, "{\"BM\":64}") == 0 && c.source_path &&
               strcmp(c.source_path, "/tmp/c1.c") == 0 && strcmp(c.source_hash, "abc") == 0,
           "cand: upsert kept params and added source");
    spak_store_candidate_free(&c);
    TAP_OK(spak_store_candidate_get(st, id, "nope", &c, &found, &err) == SPAK_OK && !found, "cand: missing key");
    spak_candidate *cs;
    size_t nc;
    TAP_OK(spak_store_candidate_list(st, id, &cs, &nc, &err) == SPAK_OK && nc == 2 && cs[0].cand_id == 1 &&
               strcmp(cs[1].key, "BM=128,BN=64") == 0,
           "cand: list in id order");
    spak_store_candidates_free(cs, nc);

    /* evaluation 1: finished with traces */
    int64_t e1 = 0, e2 = 0, e3 = 0;
    TAP_OK(spak_store_eval_begin(st, id, c1, NULL, &e1, &err) == SPAK_OK && e1 == 1, "eval: begin id 1");
    TAP_OK(spak_store_eval_set_status(st, id, e1, SPAK_EVAL_RUNNING, &err) == SPAK_OK, "eval: building -> running");
    TAP_OK(spak_store_eval_set_status(st, id, e1, SPAK_EVAL_DONE, &err) == SPAK_ERR_ARG,
           "eval: set_status cannot finish");
    TAP_OK(spak_store_eval_begin(st, id, 99, NULL, &e3, &err) == SPAK_ERR_STORE, "eval: unknown candidate fails");

    const char out[] = "warmup\n__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.5}\n"
                       "__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":\"x\"}\n__SPAK_TRACE__ [oops\n";
    spak_trace_list tl;
    TAP_OK(spak_trace_scan(out, sizeof out - 1, NULL, &tl, NULL) == SPAK_OK, "traces: scan");
    static const spak_trace_field pf[] = {{"tflops", SPAK_FIELD_FLOAT, NULL, 0}};
    static const spak_trace_case pc[] = {{"Performance", pf, 1}};
    static const spak_trace_schema sch = {"TraceItem", pc, 1};
    (void)spak_trace_validate_all(&tl, &sch, NULL); /* invalid records are kept, marked: what is stored below */
    const char log[] = "cc -O2 x.c\0with a NUL";
    spak_eval_result res = {.status = SPAK_EVAL_DONE, .build_log = log, .build_log_len = sizeof log - 1,
                            .stdout_tail = out, .exit_desc = "exit 0", .correct = 1, .metric = 1.5, .ratio = NAN,
                            .bottleneck = "memory", .result_json = "{\"median_ms\":2}", .traces = &tl};
    TAP_OK(spak_store_eval_finish(st, id, e1, &res, &err) == SPAK_OK, "eval: finish with 3 traces (%s)", err.msg);
    TAP_OK(spak_store_eval_finish(st, id, e1, &res, &err) == SPAK_ERR_STATE && strstr(err.msg, "already done"),
           "eval: finishing twice is STATE");
    TAP_OK(spak_store_eval_set_status(st, id, e1, SPAK_EVAL_RUNNING, &err) == SPAK_ERR_STATE,
           "eval: a final evaluation cannot go back");
    spak_trace_list_free(&tl);

    spak_eval e;
    TAP_OK(spak_store_eval_get(st, id, e1, &e, &err) == SPAK_OK, "eval: get");
    TAP_STREQ(e.status, "done", "eval: status done");
    TAP_STREQ(e.cand_key, "BM=64,BN=64", "eval: candidate key joined");
    TAP_STREQ(e.build_log, "cc -O2 x.c\xEF\xBF\xBDwith a NUL", "eval: NUL in a log becomes U+FFFD, nothing lost");
    TAP_STREQ(e.exit_desc, "exit 0", "eval: exit desc");
    TAP_STREQ(e.bottleneck, "memory", "eval: bottleneck");
    TAP_STREQ(e.result_json, "{\"median_ms\":2}", "eval: result json");
    TAP_OK(e.correct == 1 && e.metric == 1.5 && isnan(e.ratio) && e.finished_at >= e.started_at && !e.error &&
               !e.stderr_tail,
           "eval: correct, metric, NaN ratio stored as NULL, times, NULL columns stay NULL");
    spak_store_eval_free(&e);

    spak_trace_row *rows;
    size_t nt;
    TAP_OK(spak_store_trace_list(st, id, e1, &rows, &nt, &err) == SPAK_OK && nt == 3, "traces: 3 stored");
    if (nt == 3) {
        TAP_OK(rows[0].valid && rows[0].seq == 1 && rows[0].line == 2 && strcmp(rows[0].case_name, "Performance") == 0 &&
                   strcmp(rows[0].record_json, "{\"type\":\"Performance\",\"tflops\":1.5}") == 0,
               "traces: valid record with compact JSON");
        TAP_OK(!rows[1].valid && rows[1].error && strstr(rows[1].error, "field 'tflops' is string") &&
                   rows[1].record_json,
               "traces: invalid record kept with its error");
        TAP_OK(!rows[2].valid && !rows[2].record_json && !rows[2].case_name && strcmp(rows[2].raw, "[oops") == 0,
               "traces: unparsable record kept with raw text");
    }
    spak_store_trace_rows_free(rows, nt);

    /* run-level trace records, one by one */
    spak_trace_list one;
    TAP_OK(spak_trace_scan("__SPAK_TRACE__ {\"type\":\"Device\"}\n", 33, NULL, &one, NULL) == SPAK_OK &&
               one.n == 1 && spak_store_trace_insert(st, id, 0, &one.items[0], &err) == SPAK_OK &&
               spak_store_trace_insert_list(st, id, 0, &one, &err) == SPAK_OK,
           "traces: run-level insert and insert_list");
    spak_trace_list_free(&one);
    TAP_OK(spak_store_trace_list(st, id, 0, &rows, &nt, &err) == SPAK_OK && nt == 2 && rows[1].seq == 2,
           "traces: run-level rows numbered 1, 2");
    spak_store_trace_rows_free(rows, nt);
    TAP_OK(spak_store_trace_list(st, id, -1, &rows, &nt, &err) == SPAK_OK && nt == 5 && rows[0].eval_id == 0,
           "traces: all rows of the run");
    spak_store_trace_rows_free(rows, nt);

    /* evaluation 2: failed; evaluation 3: left running (a crash) */
    spak_eval_result fail = {.status = SPAK_EVAL_FAILED, .error = "did not compile", .correct = -1,
                             .metric = NAN, .ratio = NAN};
    TAP_OK(spak_store_eval_begin(st, id, c2, SPAK_EVAL_PLANNED, &e2, &err) == SPAK_OK && e2 == 2 &&
               spak_store_eval_finish(st, id, e2, &fail, &err) == SPAK_OK,
           "eval: second fails");
    spak_eval_result bad = {.status = SPAK_EVAL_RUNNING};
    TAP_OK(spak_store_eval_finish(st, id, e2, &bad, &err) == SPAK_ERR_ARG, "eval: finish needs done/failed");
    TAP_OK(spak_store_eval_begin(st, id, c2, SPAK_EVAL_RUNNING, &e3, &err) == SPAK_OK && e3 == 3,
           "eval: third begins (and is never finished)");

    TAP_OK(spak_store_eval_find_by_key(st, id, "BM=64,BN=64", &e, &found, &err) == SPAK_OK && found &&
               e.eval_id == e1,
           "resume: finished candidate found by key");
    spak_store_eval_free(&e);
    TAP_OK(spak_store_eval_find_by_key(st, id, "BM=128,BN=64", &e, &found, &err) == SPAK_OK && found &&
               e.eval_id == e2 && strcmp(e.status, "failed") == 0 && e.correct == -1 && isnan(e.metric),
           "resume: a failed evaluation is final too (the newest final one is returned)");
    spak_store_eval_free(&e);
    TAP_OK(spak_store_eval_find_by_key(st, id, "nope", &e, &found, &err) == SPAK_OK && !found, "resume: unknown key");

    size_t ni = 0;
    TAP_OK(spak_store_eval_interrupt_unfinished(st, id, &ni, &err) == SPAK_OK && ni == 1,
           "resume: one unfinished evaluation interrupted");
    spak_eval *es;
    size_t ne;
    TAP_OK(spak_store_eval_list(st, id, &es, &ne, &err) == SPAK_OK && ne == 3, "eval: list has 3");
    if (ne == 3) {
        TAP_OK(es[0].eval_id == 1 && es[2].eval_id == 3 && strcmp(es[2].status, "interrupted") == 0 &&
                   es[2].error && strstr(es[2].error, "interrupted"),
               "eval: list in order, third interrupted with a reason");
    }
    spak_store_evals_free(es, ne);
    TAP_OK(spak_store_eval_interrupt_unfinished(st, id, &ni, &err) == SPAK_OK && ni == 0,
           "resume: interrupting again finds nothing");
    TAP_OK(spak_store_eval_get(st, id, 42, &e, &err) == SPAK_ERR_ARG, "eval: missing id is ARG");

    /* caps: a log larger than the cap keeps head and tail */
    size_t big = SPAK_STORE_TEXT_MAX * 2 + 1000;
    char *huge = malloc(big + 1);
    int64_t e4 = 0;
    if (huge && spak_store_eval_begin(st, id, c1, NULL, &e4, &err) == SPAK_OK) {
        memset(huge, 'h', big);
        memcpy(huge, "HEAD", 4);
        memcpy(huge + big - 4, "TAIL", 4);
        huge[big] = '\0';
        spak_eval_result r4 = {.status = SPAK_EVAL_DONE, .stderr_tail = huge, .correct = 0, .metric = NAN,
                               .ratio = 0.5};
        TAP_OK(spak_store_eval_finish(st, id, e4, &r4, &err) == SPAK_OK, "cap: finish with a huge stderr");
        TAP_OK(spak_store_eval_get(st, id, e4, &e, &err) == SPAK_OK && e.stderr_tail &&
                   strlen(e.stderr_tail) < SPAK_STORE_TEXT_MAX + 100 && strncmp(e.stderr_tail, "HEAD", 4) == 0 &&
                   strcmp(e.stderr_tail + strlen(e.stderr_tail) - 4, "TAIL") == 0 &&
                   strstr(e.stderr_tail, "bytes cut ...]") && e.correct == 0 && e.ratio == 0.5,
               "cap: head and tail kept, cut marked");
        spak_store_eval_free(&e);
    } else {
        TAP_OK(0, "cap: setup");
    }
    free(huge);
    spak_store_close(st);
}

static void test_kv_lessons_tx(void)
{
    spak_store *st = open_fresh("kv.db");
    if (!st)
        return;
    spak_err err = {0};
    char *v = NULL;
    TAP_OK(spak_store_kv_get(st, "device:cpu", "peak", &v, &err) == SPAK_OK && v == NULL, "kv: missing is NULL");
    TAP_OK(spak_store_kv_put(st, "device:cpu", "peak", "{\"gflops\":45}", &err) == SPAK_OK, "kv: put");
    TAP_OK(spak_store_kv_put(st, "device:cpu", "peak", "{\"gflops\":46}", &err) == SPAK_OK, "kv: overwrite");
    TAP_OK(spak_store_kv_get(st, "device:cpu", "peak", &v, &err) == SPAK_OK && v && strcmp(v, "{\"gflops\":46}") == 0,
           "kv: get returns the latest value");
    free(v);
    TAP_OK(spak_store_kv_get(st, "device:gpu", "peak", &v, &err) == SPAK_OK && v == NULL, "kv: scopes are separate");
    TAP_OK(spak_store_kv_delete(st, "device:cpu", "peak", &err) == SPAK_OK &&
               spak_store_kv_get(st, "device:cpu", "peak", &v, &err) == SPAK_OK && v == NULL,
           "kv: delete");
    TAP_OK(spak_store_kv_put(st, "s", "k", NULL, &err) == SPAK_ERR_ARG, "kv: NULL value is ARG");
    /* values are bound, never spliced into SQL */
    TAP_OK(spak_store_kv_put(st, "x'); DROP TABLE kv; --", "k", "1", &err) == SPAK_OK &&
               spak_store_kv_get(st, "x'); DROP TABLE kv; --", "k", &v, &err) == SPAK_OK && v && strcmp(v, "1") == 0,
           "kv: hostile scope is just data");
    free(v);

    /* the scopes of scopes.h land where docs/store.md says */
    bool learned = true;
    TAP_OK(spak_store_learned_get(st, "r1", &learned, &err) == SPAK_OK && !learned, "scopes: not learned yet");
    TAP_OK(spak_store_learned_put(st, "r1", &err) == SPAK_OK &&
               spak_store_learned_get(st, "r1", &learned, &err) == SPAK_OK && learned,
           "scopes: learned once put");
    TAP_OK(spak_store_approval_put(st, "r1", "{\"gate\":\"knowledge\"}", &err) == SPAK_OK &&
               spak_store_kv_get(st, SPAK_KV_APPROVAL, "r1", &v, &err) == SPAK_OK && v && strstr(v, "knowledge"),
           "scopes: approval is kv (approval, run id)");
    free(v);
    TAP_OK(spak_store_approval_delete(st, "r1", &err) == SPAK_OK &&
               spak_store_approval_get(st, "r1", &v, &err) == SPAK_OK && v == NULL,
           "scopes: approval deleted");
    char key[SPAK_KV_STEP_KEY_MAX];
    spak_store_llm_step_key(7, key);
    TAP_STREQ(key, "step-0007", "scopes: llm step key");
    TAP_OK(spak_store_llm_step_put(st, "r1", 7, "{\"outcome\":\"ok\"}", &err) == SPAK_OK &&
               spak_store_kv_get(st, "llm:r1", "step-0007", &v, &err) == SPAK_OK && v &&
               strcmp(v, "{\"outcome\":\"ok\"}") == 0,
           "scopes: llm step is kv (llm:<run id>, step-NNNN)");
    free(v);
    TAP_OK(spak_store_llm_step_get(st, "r1", 8, &v, &err) == SPAK_OK && v == NULL,
           "scopes: an absent llm step is NULL");
    TAP_OK(spak_store_run_summary_put(st, "r1", "{}", &err) == SPAK_OK &&
               spak_store_run_options_put(st, "r1", "{\"approve\":0}", &err) == SPAK_OK &&
               spak_store_agent_put(st, "r1", "{\"k\":2}", &err) == SPAK_OK,
           "scopes: run, run-options and agent put");
    char *a = NULL, *b = NULL, *c = NULL;
    TAP_OK(spak_store_run_summary_get(st, "r1", &a, &err) == SPAK_OK &&
               spak_store_run_options_get(st, "r1", &b, &err) == SPAK_OK &&
               spak_store_agent_get(st, "r1", &c, &err) == SPAK_OK && a && b && c && strcmp(a, "{}") == 0 &&
               strcmp(b, "{\"approve\":0}") == 0 && strcmp(c, "{\"k\":2}") == 0,
           "scopes: run, run-options and agent get back what was put");
    free(a);
    free(b);
    free(c);

    spak_lesson l1 = {.device = "H100", .family = "matmul", .shape_class = "square-large", .kind = "fact",
                      .subject = "BM=128", .effect = 1.31, .uncertainty = 0.02, .confidence = 0.9,
                      .evidence_json = "{\"evals\":[3,4]}", .text = "bigger tiles help"};
    spak_lesson l2 = {.device = "H100", .family = "fmha", .kind = "rule", .effect = NAN, .uncertainty = NAN,
                      .confidence = NAN, .text = "causal halves flops"};
    int64_t lid = 0;
    TAP_OK(spak_store_lesson_insert(st, &l1, &lid, &err) == SPAK_OK && lid == 1, "lesson: insert 1");
    TAP_OK(spak_store_lesson_insert(st, &l2, &lid, &err) == SPAK_OK && lid == 2, "lesson: insert 2");
    spak_lesson *ls;
    size_t nl;
    TAP_OK(spak_store_lesson_list(st, "H100", NULL, NULL, &ls, &nl, &err) == SPAK_OK && nl == 2, "lesson: by device");
    spak_store_lessons_free(ls, nl);
    TAP_OK(spak_store_lesson_list(st, NULL, "matmul", "fact", &ls, &nl, &err) == SPAK_OK && nl == 1, "lesson: filter");
    if (nl == 1)
        TAP_OK(ls[0].id == 1 && strcmp(ls[0].subject, "BM=128") == 0 && ls[0].effect == 1.31 &&
                   ls[0].confidence == 0.9 && strcmp(ls[0].evidence_json, "{\"evals\":[3,4]}") == 0 &&
                   ls[0].run_id == NULL && ls[0].created_at > 1e9,
               "lesson: round trip");
    spak_store_lessons_free(ls, nl);
    TAP_OK(spak_store_lesson_list(st, NULL, "fmha", NULL, &ls, &nl, &err) == SPAK_OK && nl == 1 &&
               isnan(ls[0].effect) && isnan(ls[0].confidence) && ls[0].subject == NULL,
           "lesson: unknown numbers stay NaN");
    spak_store_lessons_free(ls, nl);

    /* explicit transactions */
    char id[SPAK_STORE_ID_MAX];
    spak_run_new nw = {.initial_state = "specify"};
    TAP_OK(spak_store_run_create(st, &nw, id, &err) == SPAK_OK, "tx: create run");
    TAP_OK(spak_store_begin(st, &err) == SPAK_OK, "tx: begin");
    TAP_OK(spak_store_begin(st, &err) == SPAK_ERR_STATE, "tx: nested begin refused");
    TAP_OK(spak_store_run_set_state(st, id, "specify", "program", NULL, NULL, &err) == SPAK_OK, "tx: a call inside");
    TAP_OK(spak_store_run_set_state(st, id, "specify", "build", NULL, NULL, &err) == SPAK_ERR_STATE,
           "tx: a failing call inside a transaction");
    TAP_OK(spak_store_run_set_state(st, id, "program", "build", NULL, NULL, &err) == SPAK_OK,
           "tx: the transaction goes on after a failed call");
    TAP_OK(spak_store_rollback(st, &err) == SPAK_OK, "tx: rollback");
    spak_run r;
    (void)spak_store_run_get(st, id, &r, &err); /* checked through r.state below */
    TAP_OK(r.state && strcmp(r.state, "specify") == 0 && r.last_seq == 1, "tx: rolled back transitions are gone");
    spak_store_run_free(&r);
    TAP_OK(spak_store_begin(st, &err) == SPAK_OK &&
               spak_store_run_set_state(st, id, "specify", "program", NULL, NULL, &err) == SPAK_OK &&
               spak_store_kv_put(st, "run:x", "k", "1", &err) == SPAK_OK,
           "tx: calls inside a new transaction");
    TAP_OK(spak_store_commit(st, &err) == SPAK_OK, "tx: commit");
    (void)spak_store_run_get(st, id, &r, &err); /* checked through r.state below */
    TAP_OK(r.state && strcmp(r.state, "program") == 0 && r.last_seq == 2, "tx: committed transition is there");
    spak_store_run_free(&r);
    TAP_OK(spak_store_commit(st, &err) == SPAK_ERR_STATE && spak_store_rollback(st, &err) == SPAK_ERR_STATE,
           "tx: commit/rollback without begin refused");
    /* close with an open transaction rolls it back */
    TAP_OK(spak_store_begin(st, &err) == SPAK_OK &&
               spak_store_run_set_state(st, id, "program", "build", NULL, NULL, &err) == SPAK_OK,
           "tx: a transition in a transaction left open");
    spak_store_close(st);
    st = open_or_die();
    if (st) {
        (void)spak_store_run_get(st, id, &r, &err); /* checked through r.state below */
        TAP_OK(r.state && strcmp(r.state, "program") == 0, "tx: close rolls back an open transaction");
        spak_store_run_free(&r);
        spak_store_close(st);
    }
}

/* ---- the crash test -------------------------------------------------------- */

/* Child: journal transitions (each preceded by a finished evaluation) forever,
 * writing one byte to fd after each call returns. Never returns. */
static void crash_child(const char *run_id, int fd)
{
    spak_store *st = NULL;
    spak_err err = {0};
    if (spak_store_open(dbpath, &st, &err) != SPAK_OK)
        _exit(3);
    const char *cur = "specify";
    for (int i = 1;; i++) {
        char key[32], detail[64];
        int64_t cand = 0, ev = 0;
        spak_snprintf(key, sizeof key, "k%d", i);
        spak_snprintf(detail, sizeof detail, "{\"i\":%d}", i);
        spak_eval_result res = {.status = SPAK_EVAL_DONE, .correct = 1, .metric = i, .ratio = NAN};
        const char *next = states[i % SPAK_ARRAY_LEN(states)];
        if (spak_store_candidate_upsert(st, run_id, key, NULL, NULL, NULL, &cand, NULL, &err) != SPAK_OK ||
            spak_store_eval_begin(st, run_id, cand, NULL, &ev, &err) != SPAK_OK ||
            spak_store_eval_finish(st, run_id, ev, &res, &err) != SPAK_OK ||
            spak_store_run_set_state(st, run_id, cur, next, detail, NULL, &err) != SPAK_OK)
            _exit(4);
        cur = next;
        char b = 'x';
        if (write(fd, &b, 1) != 1)
            _exit(5);
    }
}

static void test_crash(int round, int n_confirm, int delay_us)
{
    char name[32];
    spak_snprintf(name, sizeof name, "crash%d.db", round);
    char id[SPAK_STORE_ID_MAX];
    spak_store *st = open_fresh_run(name, "crash", id);
    if (!st)
        return;
    spak_err err = {0};
    spak_store_close(st);
    int p[2];
    if (pipe(p) != 0) {
        TAP_OK(0, "crash %d: setup", round);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        TAP_OK(0, "crash %d: fork", round);
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        close(p[0]);
        crash_child(id, p[1]);
    }
    close(p[1]);
    int got = 0;
    char b;
    while (got < n_confirm) {
        ssize_t k = read(p[0], &b, 1);
        if (k == 1)
            got++;
        else if (k == 0 || errno != EINTR)
            break;
    }
    if (delay_us > 0)
        usleep((useconds_t)delay_us); /* let the kill land at an arbitrary point */
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    /* bytes confirmed after our count but before the kill count too */
    while (read(p[0], &b, 1) == 1)
        got++;
    close(p[0]);
    TAP_OK(got >= n_confirm && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
           "crash %d: child killed by SIGKILL after %d confirmed transitions", round, got);

    st = open_or_die();
    if (!st) {
        TAP_OK(0, "crash %d: reopen", round);
        return;
    }
    char *ic = query_text(st, "PRAGMA integrity_check");
    TAP_STREQ(ic, "ok", "crash %d: integrity_check ok", round);
    free(ic);
    TAP_OK(query_int(st, "PRAGMA foreign_key_check") == -1, "crash %d: no foreign key violations", round);
    spak_journal_entry *j = NULL;
    size_t nj = 0;
    TAP_OK(spak_store_journal_list(st, id, &j, &nj, &err) == SPAK_OK, "crash %d: journal list", round);
    /* every confirmed transition is there; at most one more (committed, byte not yet written) */
    TAP_OK(nj == (size_t)got + 1 || nj == (size_t)got + 2, "crash %d: journal has %zu rows for %d confirmed", round,
           nj, got);
    int chain = nj > 0 && j[0].seq == 1;
    for (size_t i = 1; i < nj; i++) {
        char detail[64];
        spak_snprintf(detail, sizeof detail, "{\"i\":%zu}", i);
        chain &= j[i].seq == (int64_t)i + 1 && strcmp(j[i].from_state, j[i - 1].to_state) == 0 && j[i].detail_json &&
                 strcmp(j[i].detail_json, detail) == 0;
    }
    TAP_OK(chain, "crash %d: journal contiguous, chained, in order", round);
    spak_run r;
    if (spak_store_run_get(st, id, &r, &err) == SPAK_OK) {
        TAP_OK(nj > 0 && strcmp(r.state, j[nj - 1].to_state) == 0 && r.last_seq == (int64_t)nj,
               "crash %d: runs.state agrees with the last journal row", round);
        spak_store_run_free(&r);
    }
    spak_store_journal_free(j, nj);
    /* every confirmed iteration's evaluation is final; at most one unfinished */
    int evals_ok = 1;
    for (int i = 1; i <= got; i++) {
        char key[32];
        spak_eval e;
        bool found = false;
        spak_snprintf(key, sizeof key, "k%d", i);
        evals_ok &= spak_store_eval_find_by_key(st, id, key, &e, &found, &err) == SPAK_OK && found && e.metric == i;
        spak_store_eval_free(&e);
    }
    TAP_OK(evals_ok, "crash %d: all %d confirmed evaluations are done and findable by key", round, got);
    size_t ni = 0;
    spak_status rc = spak_store_eval_interrupt_unfinished(st, id, &ni, &err);
    TAP_OK(rc == SPAK_OK && ni <= 1, "crash %d: at most one evaluation was cut (%zu)", round, ni);
    /* the resumed writer can go on from where the journal says */
    int64_t seq = 0;
    rc = spak_store_run_set_state(st, id, NULL, "decide", "{\"resumed\":true}", &seq, &err);
    TAP_OK(rc == SPAK_OK && seq == (int64_t)nj + 1, "crash %d: the run goes on after the crash (seq %lld)", round,
           (long long)seq);
    spak_store_close(st);
}

static void cleanup(void)
{
    static const char *const names[] = {"open.db", "foreign.db", "runs.db", "evals.db", "kv.db",
                                        "crash1.db", "crash2.db", "crash3.db", "crash4.db", "crash5.db"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(names); i++) {
        set_db(names[i]);
    }
    if (rmdir(dir) != 0)
        printf("# rmdir %s: %s\n", dir, strerror(errno));
}

/* Version 2: an evaluation may end 'stopped' (a candidate stopped early);
 * a version-1 file (its evaluations CHECK without 'stopped') is migrated
 * with its rows kept. */
static void test_stopped_v2(void)
{
    spak_store *st = open_fresh("v1.db");
    if (!st)
        return;
    spak_err err = {0};
    char id[SPAK_STORE_ID_MAX];
    int64_t c1, e1, e2;
    spak_run_new nw = {.initial_state = "specify"};
    bool made = spak_store_run_create(st, &nw, id, &err) == SPAK_OK &&
                spak_store_candidate_upsert(st, id, "a=1", "{}", NULL, NULL, &c1, NULL, &err) == SPAK_OK &&
                spak_store_eval_begin(st, id, c1, SPAK_EVAL_RUNNING, &e1, &err) == SPAK_OK;
    spak_eval_result stop = {.status = SPAK_EVAL_STOPPED, .correct = -1, .metric = NAN, .ratio = NAN,
                             .error = "stopped early: 9000 ms a call"};
    TAP_OK(made && spak_store_eval_finish(st, id, e1, &stop, &err) == SPAK_OK, "v2: an evaluation ends stopped: %s",
           err.msg);
    spak_eval ev = {0};
    bool found = false;
    TAP_OK(spak_store_eval_find_by_key(st, id, "a=1", &ev, &found, &err) == SPAK_OK && found &&
               strcmp(ev.status, SPAK_EVAL_STOPPED) == 0,
           "v2: a stopped evaluation is final, found by its key (a resume does not redo it)");
    spak_store_eval_free(&ev);
    TAP_OK(spak_store_eval_finish(st, id, e1, &stop, &err) == SPAK_ERR_STATE, "v2: a stopped one cannot end again");
    spak_store_close(st);
    /* make it a version-1 file: the old CHECK, user_version 1 */
    sqlite3 *db;
    int rc = sqlite3_open(dbpath, &db);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db,
                          "PRAGMA foreign_keys=OFF; BEGIN;"
                          "UPDATE evaluations SET status = 'failed';"
                          "CREATE TABLE ev1 AS SELECT * FROM evaluations;"
                          "DROP TABLE evaluations;"
                          "CREATE TABLE evaluations(run_id TEXT NOT NULL, eval_id INTEGER NOT NULL,"
                          " cand_id INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN"
                          " ('planned','building','running','done','failed','interrupted')),"
                          " started_at REAL NOT NULL, finished_at REAL, build_log TEXT, stdout_tail TEXT,"
                          " stderr_tail TEXT, exit_desc TEXT, correct INTEGER, metric REAL, ratio REAL,"
                          " bottleneck TEXT, result_json TEXT, error TEXT, PRIMARY KEY (run_id, eval_id));"
                          "INSERT INTO evaluations SELECT * FROM ev1; DROP TABLE ev1;"
                          "DROP TABLE jobs;" /* version 3's */
                          "PRAGMA user_version = 1; COMMIT;",
                          NULL, NULL, NULL);
        sqlite3_close(db);
    }
    TAP_OK(rc == SQLITE_OK, "v1 file made");
    st = open_or_die();
    TAP_OK(st && query_int(st, "PRAGMA user_version") == SPAK_STORE_SCHEMA_VERSION &&
               query_int(st, "SELECT count(*) FROM evaluations WHERE status = 'failed'") == 1,
           "v1 -> v2: migrated on open, its evaluation kept");
    TAP_OK(st && query_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs'") == 1,
           "v2 -> v3: the jobs table made on open");
    TAP_OK(st && spak_store_eval_begin(st, id, c1, SPAK_EVAL_RUNNING, &e2, &err) == SPAK_OK &&
               spak_store_eval_finish(st, id, e2, &stop, &err) == SPAK_OK,
           "v1 -> v2: the migrated table takes 'stopped': %s", err.msg);
    spak_store_close(st);
}

int main(void)
{
    spak_snprintf(dir, sizeof dir, "/tmp/spak-store-XXXXXX");
    if (!mkdtemp(dir)) {
        TAP_OK(0, "mkdtemp");
        return tap_done();
    }
    test_open();
    test_runs();
    test_evals();
    test_kv_lessons_tx();
    test_stopped_v2();
    test_crash(1, 1, 0);
    test_crash(2, 25, 0);
    test_crash(3, 60, 0);
    test_crash(4, 5, 1500);
    test_crash(5, 5, 7000);
    cleanup();
    return tap_done();
}
