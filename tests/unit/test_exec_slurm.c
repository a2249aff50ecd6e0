/* tests/unit/test_exec_slurm.c - the parts of the Slurm executor that need
 * no cluster (tests/suites/slurm.sh runs a real one): the request and
 * result files round-trip every field the sandbox reads or reports
 * (analyze/exec_files.h); malformed ones are refused; the Slurm option
 * values are checked (spak_slurm_value_ok); the store's jobs table
 * journals, lists open jobs and closes them (store.h). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "analyze/exec_files.h"
#include "analyze/executor.h"
#include "analyze/userns.h"
#include "store/store.h"

static void request_roundtrip(const char *dir)
{
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = 123.5, lim.cpu_s = 7, lim.address_space_bytes = 0, lim.max_processes = 0;
    lim.run_as_uid = lim.run_as_gid = -1, lim.workdir_bytes = 5u << 20, lim.isolation_off = 0x1c;
    static const char *const rw[] = {"/tmp/dev cache", NULL}, *const extra[] = {"A=b c", NULL};
    lim.rw_dirs = rw, lim.env_extra = extra, lim.result_marker = "__SPAK_TRACE__";
    const char *argv[] = {"/bin/echo", "it's", "two words", NULL};
    spak_err err = {0};
    TAP_OK(spak_exec_request_write(dir, argv, "/w d", &lim, "cuda-1", &err) == SPAK_OK, "request written: %s", err.msg);
    spak_exec_request rq;
    TAP_OK(spak_exec_request_read(dir, &rq, &err) == SPAK_OK, "request read back: %s", err.msg);
    TAP_OK(rq.argv && strcmp(rq.argv[1], "it's") == 0 && strcmp(rq.argv[2], "two words") == 0 && !rq.argv[3] &&
               strcmp(rq.workdir, "/w d") == 0,
           "argv and workdir as written");
    TAP_OK(rq.lim.wall_timeout_s == 123.5 && rq.lim.cpu_s == 7 && rq.lim.address_space_bytes == 0 &&
               rq.lim.max_processes == 0 && rq.lim.run_as_uid == -1 && rq.lim.workdir_bytes == (5u << 20) &&
               rq.lim.isolation_off == 0x1c && rq.lim.max_open_files == lim.max_open_files,
           "the limits as written (the defaults kept)");
    TAP_OK(rq.lim.rw_dirs && strcmp(rq.lim.rw_dirs[0], "/tmp/dev cache") == 0 && !rq.lim.rw_dirs[1] &&
               rq.lim.env_extra && strcmp(rq.lim.env_extra[0], "A=b c") == 0 && !rq.lim.env_pass &&
               !rq.lim.read_dirs && rq.lim.result_marker && strcmp(rq.lim.result_marker, "__SPAK_TRACE__") == 0,
           "the string lists and the marker as written (absent ones NULL)");
    TAP_OK(rq.lock_device && strcmp(rq.lock_device, "cuda-1") == 0, "the device whose lock the job takes");
    spak_exec_request_free(&rq);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, SPAK_EXEC_REQUEST);
    FILE *f = fopen(path, "w");
    fputs("{\"argv\":[\"x\"],\"workdir\":\"/w\",\"limits\":{\"cpu_s\":\"many\"}}", f);
    fclose(f);
    TAP_OK(spak_exec_request_read(dir, &rq, &err) == SPAK_ERR_ARG, "a limit of the wrong type is refused");
}

static void result_roundtrip(const char *dir)
{
    spak_sandbox_result r = {0};
    r.ok = false, r.why = SPAK_SANDBOX_BYTE_BUDGET, r.exit_code = 3, r.wall_s = 1.25, r.peak_rss_kb = 99;
    r.iso_pidns = r.iso_seccomp = r.iso_landlock_fs = true, r.budget_full = 2, r.run_uid = 65534;
    snprintf(r.why_text, sizeof r.why_text, "the byte budget was exhausted");
    snprintf(r.warnings, sizeof r.warnings, "no network namespace");
    char out[] = "line\0with a NUL\n__SPAK_TRACE__ {}\n";
    r.out = out, r.out_len = sizeof out - 1, r.err = "", r.err_len = 0;
    spak_err err = {0};
    TAP_OK(!spak_exec_result_ready(dir), "no result before the job wrote one");
    spak_exec_node nd = {.node = "node7", .euid = 1000, .from = 1e9, .to = 1e9 + 2.5, .lock_wait_s = 0.5};
    TAP_OK(spak_exec_result_write(dir, &r, NULL, &nd, &err) == SPAK_OK, "result written: %s", err.msg);
    TAP_OK(spak_exec_result_ready(dir), "then it is ready");
    spak_sandbox_result b;
    spak_exec_node nb;
    TAP_OK(spak_exec_result_read(dir, &b, &nb, &err) == SPAK_OK, "result read: %s", err.msg);
    TAP_OK(!b.ok && b.why == SPAK_SANDBOX_BYTE_BUDGET && b.exit_code == 3 && b.wall_s == 1.25 &&
               b.peak_rss_kb == 99 && b.iso_pidns && b.iso_seccomp && b.iso_landlock_fs && !b.iso_netns &&
               b.budget_full == 2 && b.run_uid == 65534 && strcmp(b.why_text, r.why_text) == 0 &&
               strcmp(b.warnings, r.warnings) == 0,
           "every field as written");
    TAP_OK(b.out_len == r.out_len && memcmp(b.out, out, r.out_len) == 0 && b.err && b.err_len == 0,
           "stdout byte for byte (a NUL inside), stderr empty");
    TAP_OK(strcmp(nb.node, "node7") == 0 && nb.euid == 1000 && nb.from == 1e9 && nb.to == 1e9 + 2.5 &&
               nb.lock_wait_s == 0.5,
           "the node, the uid it ran as, when it held the lock and how long it waited");
    spak_sandbox_result_free(&b);
    TAP_OK(spak_exec_result_write(dir, NULL, "exec failed", &nd, &err) == SPAK_OK &&
               spak_exec_result_read(dir, &b, &nb, &err) == SPAK_ERR_SANDBOX &&
               strstr(err.msg, "exec failed"),
           "a sandbox that could not start reads back as that error: %s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, SPAK_EXEC_RESULT);
    FILE *f = fopen(path, "w");
    fputs("{\"why\": 99}", f);
    fclose(f);
    TAP_OK(spak_exec_result_read(dir, &b, &nb, &err) == SPAK_ERR_IO,
           "a why out of range is refused");
}

static void values(void)
{
    char why[96];
    TAP_OK(spak_slurm_value_ok("time", "10", why, sizeof why) && spak_slurm_value_ok("time", "1:30", why, sizeof why) &&
               spak_slurm_value_ok("time", "01:00:00", why, sizeof why) &&
               spak_slurm_value_ok("time", "2-12", why, sizeof why) &&
               spak_slurm_value_ok("time", "2-12:30:00", why, sizeof why),
           "time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS");
    TAP_OK(!spak_slurm_value_ok("time", "", why, sizeof why) && !spak_slurm_value_ok("time", "1:2:3:4", why, sizeof why) &&
               !spak_slurm_value_ok("time", "1h", why, sizeof why) && !spak_slurm_value_ok("time", "1::2", why, sizeof why) &&
               !spak_slurm_value_ok("time", "1-2-3", why, sizeof why) && !spak_slurm_value_ok("time", ":5", why, sizeof why),
           "time: not empty, four fields, units, empty fields, two days, a leading colon");
    TAP_OK(spak_slurm_value_ok("partition", "gpu,cpu-long", why, sizeof why) &&
               !spak_slurm_value_ok("partition", "gpu,", why, sizeof why) &&
               !spak_slurm_value_ok("partition", "a b", why, sizeof why) &&
               !spak_slurm_value_ok("account", "x;rm", why, sizeof why) &&
               spak_slurm_value_ok("account", "proj_01", why, sizeof why),
           "partition and account: names only");
    TAP_OK(spak_slurm_value_ok("gpus", "1", why, sizeof why) && spak_slurm_value_ok("gpus", "h100:2", why, sizeof why) &&
               !spak_slurm_value_ok("gpus", "h100", why, sizeof why) && !spak_slurm_value_ok("gpus", "-1", why, sizeof why) &&
               !spak_slurm_value_ok("nodes", "1", why, sizeof why),
           "gpus: a count or TYPE:COUNT; an unknown key is refused");
}

/* /etc/subuid's format: NAME_OR_ID:START:COUNT, the first line that names
 * the user (by name or by uid) counts; malformed lines are skipped. */
static void subranges(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/subuid", dir);
    FILE *f = fopen(path, "w");
    fputs("alice:100000:65536\nbad line\nbob:x:5\n1001:300000:70000\nbob:200000:65536\nalice:1:1\n", f);
    fclose(f);
    long s = 0, c = 0;
    TAP_OK(spak_userns_subrange(path, "alice", 1000, &s, &c) && s == 100000 && c == 65536, "by name, the first line");
    TAP_OK(spak_userns_subrange(path, "carol", 1001, &s, &c) && s == 300000 && c == 70000, "by uid");
    TAP_OK(spak_userns_subrange(path, "bob", 1002, &s, &c) && s == 200000, "a malformed line of the user is skipped");
    TAP_OK(!spak_userns_subrange(path, "dave", 1003, &s, &c) && !spak_userns_subrange("/nonexistent", "alice", 1, &s, &c),
           "none for another user, none without the file");
}

static void jobs(const char *dir)
{
    char db[512];
    snprintf(db, sizeof db, "%s/spak.db", dir);
    spak_store *st = NULL;
    spak_err err = {0};
    char run[SPAK_STORE_ID_MAX];
    spak_run_new nw = {"s.spak", "system S {}", "grid", 1, NULL, NULL, "specify", NULL};
    TAP_OK(spak_store_open(db, &st, &err) == SPAK_OK && spak_store_run_create(st, &nw, run, &err) == SPAK_OK,
           "a store and a run: %s", err.msg);
    spak_job a = {.eval_id = 1, .executor = "slurm", .job_id = "41", .job_dir = "/r/e1.job", .trusted = true};
    spak_job b = {.eval_id = 2, .executor = "slurm", .job_id = "42", .job_dir = "/r/e2.job"};
    TAP_OK(spak_store_job_put(st, run, &a, &err) == SPAK_OK && spak_store_job_put(st, run, &b, &err) == SPAK_OK,
           "two jobs journaled");
    TAP_OK(spak_store_job_put(st, run, &a, &err) != SPAK_OK, "an evaluation has one job at most");
    TAP_OK(spak_store_job_end(st, run, 1, "TIMEOUT", &err) == SPAK_OK, "one closed");
    spak_job *js = NULL;
    size_t n = 0;
    TAP_OK(spak_store_job_list(st, run, true, &js, &n, &err) == SPAK_OK && n == 1 && js[0].eval_id == 2 &&
               strcmp(js[0].job_id, "42") == 0 && !js[0].trusted && js[0].finished_at == 0 && !js[0].state,
           "the open ones: the other");
    spak_store_jobs_free(js, n);
    TAP_OK(spak_store_job_list(st, run, false, &js, &n, &err) == SPAK_OK && n == 2 && js[0].trusted &&
               strcmp(js[0].state, "TIMEOUT") == 0 && js[0].finished_at > 0 && strcmp(js[0].job_dir, "/r/e1.job") == 0,
           "all of them: the closed one with its state");
    spak_store_jobs_free(js, n);
    TAP_OK(spak_store_job_end(st, run, 1, "CANCELLED", &err) == SPAK_OK &&
               spak_store_job_list(st, run, false, &js, &n, &err) == SPAK_OK && strcmp(js[0].state, "TIMEOUT") == 0,
           "a closed job keeps the state it ended with");
    spak_store_jobs_free(js, n);
    spak_store_close(st);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* The checker's list of names (executor_names.c) and the executors' table
 * (executor.c) agree: every name is found, every executor is named. */
static void names_agree(void)
{
    size_t n = spak_executor_count(), found = 0;
    for (size_t i = 0; i < n; i++)
        found += spak_executor_known(spak_executor_name(i)) && spak_executor_find(spak_executor_name(i)) != NULL &&
                 strcmp(spak_executor_find(spak_executor_name(i))->name, spak_executor_name(i)) == 0;
    TAP_OK(n == 2 && found == n, "every name the checker knows is an executor (%zu of %zu)", found, n);
    TAP_OK(!spak_executor_known("slurmx") && !spak_executor_known("") && !spak_executor_known(NULL) &&
               spak_executor_name(n) == NULL,
           "no other name is known");
    char buf[128];
    spak_executor_names(buf, sizeof buf);
    TAP_OK(strcmp(buf, "local or slurm") == 0, "the names for a message (%s)", buf);
}

int main(void)
{
    char dir[] = "/tmp/spak-exec-slurm.XXXXXX";
    names_agree();
    if (!mkdtemp(dir))
        return 1;
    request_roundtrip(dir);
    result_roundtrip(dir);
    values();
    subranges(dir);
    jobs(dir);
    nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
