/* candidate.c - the BUILD step: templates, defines, building (candidate.h). */
#include "build/candidate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze/device.h"
#include "build/build_fs.h"
#include "build/decl.h"

static void upper_ident(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++) {
        unsigned char c = (unsigned char)*in;
        out[k++] = (char)((c >= 'a' && c <= 'z') ? c - 32 : ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_');
    }
    out[k] = '\0';
}

static void value_string(const spak_expr *v, char *buf, size_t n)
{
    spak_snprintf(buf, n, "%s%s", v->kind == SPAK_EX_UNARY ? "-" : "", spak_value_text(v));
}

/* A builtin's value (NULL: none). */
static const char *builtin(const spak_cand_vars *v, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"candidate", offsetof(spak_cand_vars, candidate)}, {"source", offsetof(spak_cand_vars, source)},
        {"harness", offsetof(spak_cand_vars, harness)},     {"workdir", offsetof(spak_cand_vars, workdir)},
        {"ceilings", offsetof(spak_cand_vars, ceilings)},   {"baseline_so", offsetof(spak_cand_vars, baseline_so)},
        {"decl", offsetof(spak_cand_vars, decl)},
    };
    for (size_t i = 0; i < SPAK_ARRAY_LEN(fields); i++)
        if (strcmp(name, fields[i].name) == 0)
            return *(const char *const *)((const char *)v + fields[i].off);
    if (strcmp(name, "seed") == 0)
        return v->seed;
    if (strcmp(name, "eval_id") == 0)
        return v->eval_id;
    if (strcmp(name, "run_id") == 0)
        return v->site->run_id;
    if (strcmp(name, "root") == 0)
        return v->site->spec_dir;
    return NULL;
}

static bool lookup(const spak_cand_vars *sv, const char *name, char *out, size_t n)
{
    const spak_cand_site *site = sv->site;
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_active(site->space, sv->digits, act);
    for (size_t i = 0; i < site->space->n; i++)
        if (strcmp(site->space->params[i].name, name) == 0) {
            /* a parameter that does not exist at this point expands to nothing */
            if (!act[i])
                return spak_snprintf(out, n, "%s", "");
            value_string(site->space->params[i].values[sv->digits[i]], out, n);
            return true;
        }
    const char *v = builtin(sv, name);
    if (!v && (strcmp(name, "shapes") == 0 || strcmp(name, "heldout") == 0) && site->m->problem) {
        const spak_entry *x = spak_block_find(site->m->problem, name);
        if (x && x->value && x->value->kind == SPAK_EX_LIST) {
            size_t off = 0;
            out[0] = '\0';
            for (size_t i = 0; i < x->value->n_items; i++) {
                const char *t = spak_value_text(x->value->items[i]);
                if (!spak_snprintf(out + off, n - off, "%s%s", i ? "," : "", t))
                    return false;
                off += strlen(out + off);
            }
            return true;
        }
    }
    if (!v)
        return false;
    return spak_snprintf(out, n, "%s", v);
}

static spak_status lookup_cb(void *ud, const char *name, spak_buf *out, spak_err *err)
{
    char val[4096];
    if (!lookup(ud, name, val, sizeof val))
        return spak_errf(err, SPAK_ERR_ARG, "template {{%s}} has no value here", name);
    return spak_buf_puts(out, val);
}

void spak_cand_vars_init(spak_cand_vars *v, const spak_cand_site *site, uint64_t index)
{
    memset(v, 0, sizeof *v);
    v->site = site;
    spak_space_digits(site->space, index, v->digits);
    v->candidate = v->source = v->baseline_so = "";
}

spak_status spak_cand_expand(const spak_cand_vars *v, const char *s, char *out, size_t n, spak_err *err)
{
    return spak_template_expand_into(s, lookup_cb, (void *)v, out, n, err);
}

size_t spak_cand_defines(const spak_space *s, const size_t *digits, bool keep_case,
                         char defs[][SPAK_CAND_DEFINE_MAX], const char **dp)
{
    size_t nd = 0;
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_active(s, digits, act);
    for (size_t i = 0; i < s->n && nd < SPAK_BUILD_MAX_DEFINES; i++) {
        if (!act[i])
            continue;  /* a parameter that does not exist at this point is not defined at all */
        char up[200], val[200], upv[200];
        upper_ident(s->params[i].name, up, sizeof up);
        const char *nm = keep_case ? s->params[i].name : up;
        const spak_expr *v = s->params[i].values[digits[i]];
        value_string(v, val, sizeof val);
        if (v->kind == SPAK_EX_STRING || v->kind == SPAK_EX_NAME) {
            upper_ident(val, upv, sizeof upv);
            spak_snprintf(defs[nd], SPAK_CAND_DEFINE_MAX, "SPAK_%s_%s=1", up, upv);
        } else {
            spak_snprintf(defs[nd], SPAK_CAND_DEFINE_MAX, "%s=%s", nm,
                          v->kind == SPAK_EX_BOOL ? (v->boolean ? "1" : "0") : val);
        }
        dp[nd] = defs[nd];
        nd++;
    }
    return nd;
}

/* The GPU of this machine as nvcc names its architecture
 * (spak_cand_arch_of_cc), "" when there is none. Asked of nvidia-smi once
 * a process: builds of several threads share it. */
static char detected_arch[16];
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

bool spak_cand_arch_of_cc(const char *cc, char *out, size_t n)
{
    if (!cc || !(cc[0] >= '0' && cc[0] <= '9'))
        return false;
    char *end = NULL;
    unsigned long major = strtoul(cc, &end, 10), minor = 0;
    if (*end != '.' || !(end[1] >= '0' && end[1] <= '9'))
        return false;
    minor = strtoul(end + 1, &end, 10);
    if (*end != '\0' || major < 1 || major > 99 || minor > 9)
        return false;
    return spak_snprintf(out, n, "sm_%lu%lu%s", major, minor, major >= 9 ? "a" : "");
}

static void detect_arch(void)
{
    json_t *g = spak_device_gpu_detail();
    if (!spak_cand_arch_of_cc(g ? json_string_value(json_object_get(g, "compute_cap")) : NULL, detected_arch,
                              sizeof detected_arch))
        detected_arch[0] = '\0';
    json_decref(g);
}

const char *spak_cand_cuda_arch(const spak_kernel_def *k)
{
    if (k && k->arch)
        return k->arch;
    (void)pthread_once(&detect_once, detect_arch);
    return detected_arch[0] ? detected_arch : SPAK_KERNEL_DEFAULT_ARCH;
}

void spak_cand_kernel_flags(const spak_model *m, spak_build_request *rq)
{
    const spak_kernel_def *k = m->kernel;
    static const char *const cxx_flags[] = {"-O3", "-march=native"};
    if (!k)
        return;
    if (strcmp(k->language ? k->language : "c", "cuda") == 0) {
        /* a cubin of device code for the judge, the kernel's own nvcc flags */
        rq->compiler = k->compiler;
        rq->flags = k->has_flags ? k->flags : NULL;
        rq->n_flags = k->has_flags ? k->n_flags : 0;
        rq->cubin_arch = spak_cand_cuda_arch(k);
        rq->extern_c = k->extern_c;
        return;
    }
    /* c++ without flags gets its own defaults (the C build's -std=c11
     * would refuse it) */
    bool cxx = k->language && strcmp(k->language, "c++") == 0;
    rq->compiler = k->compiler ? k->compiler : cxx ? "c++" : NULL;
    rq->flags = k->has_flags ? k->flags : cxx ? cxx_flags : NULL;
    rq->n_flags = k->has_flags ? k->n_flags : cxx ? 2 : 0;
}

/* The path a template names: absolute as is, else under the spec's directory. */
static spak_status template_path(const spak_cand_vars *v, const char *t, char *out, size_t n, spak_err *err)
{
    char rel[PATH_MAX];
    spak_status st = spak_cand_expand(v, t, rel, sizeof rel, err);
    if (st != SPAK_OK)
        return st;
    if (rel[0] == '/')
        spak_snprintf(out, n, "%s", rel);
    else
        spak_snprintf(out, n, "%s/%s", v->site->spec_dir, rel);
    return SPAK_OK;
}

/* True when path lies beneath dir (both resolved): a source spak wrote into
 * its home (an LLM's), which the sandbox uid cannot read in place. */
static bool beneath(const char *path, const char *dir)
{
    char p[PATH_MAX], d[PATH_MAX];
    if (!dir || !realpath(path, p) || !realpath(dir, d))
        return false;
    size_t n = strlen(d);
    return strncmp(p, d, n) == 0 && p[n] == '/';
}

spak_status spak_cand_build_source(const spak_cand_vars *v, const char *src_t, const char *include_dir,
                                   const char *const *defines, size_t nd, char *source, size_t sn, char *artifact,
                                   size_t an, char **log, bool *ok, spak_err *err)
{
    spak_status st = template_path(v, src_t, source, sn, err);
    if (st != SPAK_OK)
        return st;
    spak_build_request rq = {.source = source, .copy_source = beneath(source, v->site->home)};
    spak_cand_kernel_flags(v->site->m, &rq);
    for (size_t i = 0; i < nd && i < SPAK_BUILD_MAX_DEFINES; i++)
        rq.defines[i] = defines[i];
    rq.n_defines = nd;
    char inc[PATH_MAX + 8];
    spak_snprintf(inc, sizeof inc, "%s", include_dir ? include_dir : source);
    char *sl = include_dir ? NULL : strrchr(inc, '/');
    if (sl)
        *sl = '\0';
    rq.include_dir = inc;
    char cache[PATH_MAX + 32];
    spak_snprintf(cache, sizeof cache, "%s/cache/build", v->site->home);
    rq.cache_dir = cache;
    spak_build_result br;
    st = spak_build_candidate(&rq, &br, err);
    if (st != SPAK_OK)
        return st;
    *ok = br.ok;
    if (br.ok)
        spak_snprintf(artifact, an, "%s", br.artifact);
    if (log)
        *log = br.log;
    else
        spak_build_result_free(&br);
    return SPAK_OK;
}

bool spak_cand_source_of(const spak_cand_site *site, uint64_t index, char *out, size_t n)
{
    const char *src_t = site->m->problem ? spak_block_string(site->m->problem, "source") : NULL;
    if (!src_t || index >= site->space->total)
        return false;
    spak_cand_vars v;
    spak_cand_vars_init(&v, site, index);
    v.harness = v.workdir = v.ceilings = "";
    return template_path(&v, src_t, out, n, NULL) == SPAK_OK;
}

/* where the judges of target cache the device's ceilings */
static bool ceilings_path(const char *home, const char *target, char *out, size_t n)
{
    return spak_snprintf(out, n, "%s/cache/device/ceilings-%s.json", home, target);
}

void spak_cand_ceilings_expire(const char *home, const char *target)
{
    char p[PATH_MAX + 16];
    if (!ceilings_path(home, target, p, PATH_MAX) || !spak_snprintf(p + strlen(p), 16, ".remeasure"))
        return;
    int fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

/* The harness, workdir and ceilings of a job, and its {{seed}}. */
static void job_paths(spak_cand_vars *v, const spak_cand_job *job)
{
    const spak_cand_site *site = v->site;
    uint64_t sd = job->seed ^ ((uint64_t)job->eval_id * 0x9E3779B97F4A7C15ULL);
    spak_snprintf(v->seed, sizeof v->seed, "%llu", (unsigned long long)(spak_splitmix64(&sd) & 0x7fffffff));
    spak_snprintf(v->eval_id, sizeof v->eval_id, "%lld", (long long)job->eval_id);
    /* a family's own harness (spak-harness-cuda-fmha) before the target's (spak-harness-cuda) */
    const char *fam = site->m->problem ? spak_block_string(site->m->problem, "family") : NULL;
    const char *bin = job->bin_dir ? job->bin_dir : ".";
    const spak_kernel_def *k = site->m->kernel;
    spak_snprintf(v->harness_buf, sizeof v->harness_buf, "%s/spak-harness-%s-%s", bin, job->target, fam ? fam : "");
    if (k && k->language && strcmp(k->language, "cuda") == 0)  /* a declared CUDA kernel's generic judge */
        spak_snprintf(v->harness_buf, sizeof v->harness_buf, "%s/spak-judge-cuda", bin);
    else if (!fam || access(v->harness_buf, X_OK) != 0)
        spak_snprintf(v->harness_buf, sizeof v->harness_buf, "%s/spak-harness-%s", bin, job->target);
    if (job->workdir_name)  /* the re-time's candidates (analyze/retime.h) */
        spak_snprintf(v->workdir_buf, sizeof v->workdir_buf, "%s/runs/%s/%s", site->home, site->run_id,
                      job->workdir_name);
    else
        spak_snprintf(v->workdir_buf, sizeof v->workdir_buf, "%s/runs/%s/e%lld", site->home, site->run_id,
                      (long long)job->eval_id);
    ceilings_path(site->home, job->target, v->ceilings_buf, sizeof v->ceilings_buf);
    v->harness = v->harness_buf;
    v->workdir = v->workdir_buf;
    v->ceilings = v->ceilings_buf;
}

/* ---- an evaluation's directories ----
 * runs/RUN/eN is the candidate's working directory (the sandbox chowns it to
 * its uid); runs/RUN/eN.lib (ours, 0711) holds copies of the .so files its
 * command loads, which it can read but not replace, since the build cache
 * itself is closed to it. The run's folder is 0711: a candidate reaches its
 * own directory and lists nothing. Every other entry of the run's folder is
 * closed (lock_entry) when an evaluation starts and, by spak_cand_release,
 * when it ends: all candidates share one uid, so only ownership keeps one
 * from reading what an earlier one left. */

/* eN or eN.lib: an evaluation's entry in the run's folder. */
static bool eval_entry(const char *nm)
{
    if (nm[0] != 'e' || nm[1] < '0' || nm[1] > '9')
        return false;
    size_t k = 1 + strspn(nm + 1, "0123456789");
    return nm[k] == '\0' || strcmp(nm + k, ".lib") == 0;
}

/* Close entry nm of the run's folder dfd to the sandbox uid: an
 * evaluation's entry back to us and 0700, anything else (the LLM's files,
 * crystallization's) without group and other bits. Never through a link. */
static void lock_entry(int dfd, const char *nm)
{
    struct stat sb;
    if (fstatat(dfd, nm, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(sb.st_mode))
        return;
    if (eval_entry(nm) && S_ISDIR(sb.st_mode)) {
        if (sb.st_uid != geteuid())
            (void)fchownat(dfd, nm, geteuid(), getegid(), AT_SYMLINK_NOFOLLOW);
        (void)fchmodat(dfd, nm, 0700, 0);
    } else if (sb.st_mode & 077) {
        (void)fchmodat(dfd, nm, sb.st_mode & 07700, 0);
    }
}

/* Lock every entry of rundir but the evaluation keep (eN) and its .lib, and
 * the agent's folder (its commands run there, in the sandbox). */
static void lock_run(const char *rundir, const char *keep)
{
    int dfd = open(rundir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    int lfd = dup(dfd);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (!d) {
        if (lfd >= 0)
            close(lfd);
        close(dfd);
        return;
    }
    size_t kl = strlen(keep);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, "agent") ||
            (strncmp(nm, keep, kl) == 0 && (nm[kl] == '\0' || strcmp(nm + kl, ".lib") == 0)))
            continue;
        lock_entry(dfd, nm);
    }
    closedir(d);
    close(dfd);
}

/* Split v's workdir into the run's folder and eN. */
static bool split_workdir(const spak_cand_vars *v, char *rundir, size_t n, const char **name)
{
    if (!spak_snprintf(rundir, n, "%s", v->workdir))
        return false;
    char *sl = strrchr(rundir, '/');
    if (!sl || sl == rundir)
        return false;
    *sl = '\0';
    *name = v->workdir + (sl - rundir) + 1;
    return true;
}

/* The evaluation's directories, fresh (nothing of an earlier attempt at the
 * same evaluation stays), and the run's folder closed but for them. */
static spak_status eval_dirs_open(const spak_cand_vars *v, bool others_in_flight, spak_err *err)
{
    char rundir[PATH_MAX], lib[PATH_MAX + 8];
    const char *name;
    if (!split_workdir(v, rundir, sizeof rundir, &name) || !spak_snprintf(lib, sizeof lib, "%s.lib", v->workdir))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", v->workdir);
    spak_status st = spak_mkdirs(rundir, err);
    if (st != SPAK_OK)
        return st;
    char runs[PATH_MAX];
    spak_snprintf(runs, sizeof runs, "%s", rundir);
    char *sl = strrchr(runs, '/');
    if (sl && sl != runs) {
        *sl = '\0';
        (void)chmod(runs, 0711);
    }
    (void)chmod(rundir, 0711);
    if (!others_in_flight)
        lock_run(rundir, name);
    spak_rmtree(v->workdir);
    spak_rmtree(lib);
    if (mkdir(v->workdir, 0700) != 0 || mkdir(lib, 0711) != 0)
        return spak_errf(err, SPAK_ERR_IO, "%s: cannot create: %s", v->workdir, strerror(errno));
    (void)chmod(lib, 0711);  /* past the umask */
    return SPAK_OK;
}

/* Copy the built .so at buf (in the build cache) into the evaluation's
 * .lib folder, under the same name, and point buf at the copy. */
static spak_status expose(const spak_cand_vars *v, char *buf, size_t n, spak_err *err)
{
    const char *base = strrchr(buf, '/');
    char to[PATH_MAX];
    if (!spak_snprintf(to, sizeof to, "%s.lib/%s", v->workdir, base ? base + 1 : buf))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", v->workdir);
    spak_status st = spak_copy_untrusted(buf, to, 0644, (size_t)1 << 30, err);
    if (st == SPAK_OK)
        spak_snprintf(buf, n, "%s", to);
    return st;
}

void spak_cand_close_run(const spak_cand_site *site)
{
    char rundir[PATH_MAX];
    if (spak_snprintf(rundir, sizeof rundir, "%s/runs/%s", site->home, site->run_id))
        lock_run(rundir, "");
}

void spak_cand_release(const spak_cand_vars *v)
{
    char rundir[PATH_MAX], lib[PATH_MAX];
    const char *name;
    if (!v->workdir || !*v->workdir || !split_workdir(v, rundir, sizeof rundir, &name) ||
        !spak_snprintf(lib, sizeof lib, "%s.lib", name))
        return;
    int dfd = open(rundir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    lock_entry(dfd, name);
    lock_entry(dfd, lib);
    close(dfd);
}

/* A declared kernel's reference, built like the candidate (with its
 * compiler, flags and, for CUDA, as a cubin; no parameters) into the build
 * cache: v->ref_so_buf. One that does not compile is an error with its log. */
static spak_status build_reference(spak_cand_vars *v, spak_err *err)
{
    const spak_kernel_def *k = v->site->m->kernel;
    bool ok = false;
    char src[PATH_MAX], *log = NULL;
    spak_status st = spak_cand_build_source(v, k->ref_source, NULL, NULL, 0, src, sizeof src, v->ref_so_buf,
                                            sizeof v->ref_so_buf, &log, &ok, err);
    if (st == SPAK_OK && !ok)
        st = spak_errf(err, SPAK_ERR_BUILD, "kernel %s: the reference %s does not build: %.600s", k->name,
                       k->ref_source, log ? log : "");
    free(log);
    return st;
}

/* A declared kernel: its reference built like the candidate (the build
 * cache answers every evaluation after the first), then the decl file in
 * the evaluation's .lib folder, which the sandbox reads and cannot write. */
static spak_status declared(spak_cand_vars *v, spak_err *err)
{
    const spak_model *m = v->site->m;
    const spak_kernel_def *k = m->kernel;
    const char *ref = NULL;
    if (k->ref_source) {
        spak_status st = build_reference(v, err);
        if (st == SPAK_OK)
            st = expose(v, v->ref_so_buf, sizeof v->ref_so_buf, err);
        if (st != SPAK_OK)
            return st;
        ref = v->ref_so_buf;
    }
    if (!spak_snprintf(v->decl_buf, sizeof v->decl_buf, "%s.lib/decl.json", v->workdir))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", v->workdir);
    spak_decl_in in = {.k = k, .problem = m->problem, .space = v->site->space, .digits = v->digits,
                       .candidate = v->candidate, .reference = ref};
    spak_status st = spak_decl_write(&in, v->decl_buf, err);
    if (st == SPAK_OK)
        v->decl = v->decl_buf;
    return st;
}

spak_status spak_cand_prepare(spak_cand_vars *v, const spak_cand_job *job, char **build_log, bool *built, char *why,
                              size_t why_n, spak_err *err)
{
    const spak_model *m = v->site->m;
    *built = false;
    job_paths(v, job);
    spak_status st = eval_dirs_open(v, job->others_in_flight, err);
    if (st != SPAK_OK)
        return st;
    v->baseline_so = NULL;  /* {{baseline_so}} has a value only when the problem names one */
    /* a baseline built from source (e.g. the naive attention rung) */
    const char *base_t = m->problem ? spak_block_string(m->problem, "baseline_source") : NULL;
    if (base_t) {
        bool ok = false;
        char base_src[PATH_MAX];
        st = spak_cand_build_source(v, base_t, NULL, NULL, 0, base_src, sizeof base_src, v->base_so_buf,
                                    sizeof v->base_so_buf, NULL, &ok, err);
        if (st != SPAK_OK)
            return st;
        if (!ok)
            return spak_errf(err, SPAK_ERR_BUILD, "the baseline %s does not build", base_t);
        st = expose(v, v->base_so_buf, sizeof v->base_so_buf, err);
        if (st != SPAK_OK)
            return st;
        v->baseline_so = v->base_so_buf;
    }
    const char *src_t = m->problem ? spak_block_string(m->problem, "source") : NULL;
    if (!src_t) {
        *built = true;  /* nothing to build: the measure command is the candidate */
        return SPAK_OK;
    }
    char defs[SPAK_BUILD_MAX_DEFINES][SPAK_CAND_DEFINE_MAX];
    const char *dp[SPAK_BUILD_MAX_DEFINES];
    size_t nd = spak_cand_defines(v->site->space, v->digits, m->kernel != NULL, defs, dp);
    bool ok = false;
    char inc[PATH_MAX] = "";
    if (job->code_source) {
        /* the LLM's source, with the ABI headers of the problem's own sources */
        st = template_path(v, src_t, inc, sizeof inc, err);
        if (st != SPAK_OK)
            return st;
        char *sl = strrchr(inc, '/');
        if (sl)
            *sl = '\0';
    }
    st = spak_cand_build_source(v, job->code_source ? job->code_source : src_t, job->code_source ? inc : NULL, dp,
                                nd, v->source_buf, sizeof v->source_buf, v->artifact_buf, sizeof v->artifact_buf,
                                build_log, &ok, err);
    if (st != SPAK_OK)
        return st;
    v->source = v->source_buf;
    if (!ok) {
        spak_snprintf(why, why_n, "build failed (see build log)");
        return SPAK_OK;
    }
    st = expose(v, v->artifact_buf, sizeof v->artifact_buf, err);
    if (st != SPAK_OK)
        return st;
    v->candidate = v->artifact_buf;
    *built = true;
    return m->kernel ? declared(v, err) : SPAK_OK;
}

spak_status spak_cand_argv_make(const spak_cand_vars *v, const char *cmd, spak_cand_argv *a, spak_err *err)
{
    memset(a, 0, sizeof *a);
    char *wstore = malloc(16384);
    if (!wstore)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    char *words[SPAK_TEMPLATE_MAX_WORDS];
    size_t nw = 0;
    spak_status st = spak_template_split(cmd, "measure cmd", wstore, 16384, words, &nw, err);
    for (size_t i = 0; st == SPAK_OK && i < nw; i++) {
        a->argv[i] = malloc(4096);
        if (!a->argv[i]) {
            st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
            break;
        }
        a->n = i + 1;
        st = spak_cand_expand(v, words[i], a->argv[i], 4096, err);
    }
    free(wstore);
    if (st == SPAK_OK && nw == 0)
        st = spak_errf(err, SPAK_ERR_ARG, "measure cmd is empty");
    if (st != SPAK_OK)
        spak_cand_argv_free(a);
    return st;
}

void spak_cand_argv_free(spak_cand_argv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->argv[i]);
    memset(a, 0, sizeof *a);
}

char *spak_cand_params_json(const spak_space *s, uint64_t index)
{
    json_t *params = json_object();
    size_t digits[SPAK_SPACE_MAX_PARAMS];
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, index, digits);
    spak_space_active(s, digits, act);
    for (size_t i = 0; i < s->n; i++) {
        if (!act[i])
            continue;
        const spak_expr *v = s->params[i].values[digits[i]];
        json_t *jv;
        if (v->kind == SPAK_EX_NUMBER)
            jv = v->is_int ? json_integer((json_int_t)v->num) : json_real(v->num);
        else if (v->kind == SPAK_EX_UNARY)
            jv = json_real(-v->lhs->num);
        else if (v->kind == SPAK_EX_BOOL)
            jv = json_boolean(v->boolean);
        else
            jv = json_string(spak_value_text(v));
        json_object_set_new(params, s->params[i].name, jv);
    }
    char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(params);
    return pj;
}

bool spak_cand_param_value(const spak_space *s, uint64_t index, const char *name, spak_value *out)
{
    if (index >= s->total)
        return false;
    size_t d[SPAK_SPACE_MAX_PARAMS];
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_digits(s, index, d);
    spak_space_active(s, d, act);
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->params[i].name, name) != 0)
            continue;
        if (!act[i])
            return false;  /* absent at this point: it has no value */
        spak_space_value(s->params[i].values[d[i]], out);
        return true;
    }
    return false;
}

spak_status spak_cand_build_all(const spak_cand_site *site, spak_cand_built_fn on_built, void *ud, size_t *built,
                                size_t *failed, spak_err *err)
{
    *built = *failed = 0;
    const char *src_t = site->m->problem ? spak_block_string(site->m->problem, "source") : NULL;
    if (!src_t)
        return spak_errf(err, SPAK_ERR_ARG, "%s: the problem names no source to build", site->spec_path);
    spak_status st = SPAK_OK;
    if (site->m->kernel && site->m->kernel->ref_source) {
        /* a declared kernel's reference too: a run on a machine without the
         * compiler finds every artifact it needs in the cache */
        spak_cand_vars rv;
        spak_cand_vars_init(&rv, site, 0);
        if ((st = build_reference(&rv, err)) != SPAK_OK)
            return st;
    }
    for (uint64_t idx = 0; st == SPAK_OK && idx < site->space->total; idx++) {
        if (!spak_space_exists(site->space, idx))
            continue;
        spak_cand_vars v;
        spak_cand_vars_init(&v, site, idx);
        char defs[SPAK_BUILD_MAX_DEFINES][SPAK_CAND_DEFINE_MAX], source[PATH_MAX], artifact[PATH_MAX], key[2048];
        const char *dp[SPAK_BUILD_MAX_DEFINES];
        size_t nd = spak_cand_defines(site->space, v.digits, site->m->kernel != NULL, defs, dp);
        bool ok = false;
        char *log = NULL;
        st = spak_cand_build_source(&v, src_t, NULL, dp, nd, source, sizeof source, artifact, sizeof artifact, &log,
                                    &ok, err);
        if (st != SPAK_OK)
            break;
        (void)spak_space_key(site->space, idx, key, sizeof key);  /* a key too long is cut: it only names the line */
        if (ok)
            (*built)++;
        else
            (*failed)++;
        if (on_built)
            on_built(ud, idx, key, ok, artifact);
        free(log);
    }
    return st;
}
