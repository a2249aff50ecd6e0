/* build.c - see build.h. */
#include "build/build.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze/sandbox.h"
#include "build/build_fs.h"
#include "build/build_key.h"

#define ARTIFACT_MAX ((size_t)1 << 30)

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static const char *nvcc_path(void)
{
    if (access("/usr/local/cuda/bin/nvcc", X_OK) == 0)
        return "/usr/local/cuda/bin/nvcc";
    return "nvcc";
}

/* The compiler for a source, found on PATH or in the usual CUDA place. */
const char *spak_build_compiler_for(const char *source)
{
    return ends_with(source, ".cu") ? nvcc_path() : "cc";
}

/* The compiler of rq: its own, else nvcc for a cubin or a .cu, else cc. */
static const char *request_compiler(const spak_build_request *rq)
{
    if (rq->compiler)
        return rq->compiler;
    return rq->cubin_arch ? nvcc_path() : spak_build_compiler_for(rq->source);
}

static bool request_cuda(const spak_build_request *rq)
{
    return rq->cubin_arch || ends_with(rq->source, ".cu");
}

/* A build's own folder: top (ours, 0711, in /tmp) holds wdir, the sandbox's
 * working directory (chowned to the sandbox uid by the sandbox): the only
 * place the compiler may write. The sandbox uid owns wdir but not top, so it
 * cannot swap wdir for a link while we read the artifact out of it. top's
 * name carries our pid: a folder left by a spak that was killed is removed
 * by the next build (sweep_stale). reads: what the compiler may read
 * besides wdir (Landlock's read rules, build_reads). */
typedef struct build_ws {
    char top[96];
    char wdir[128];
    char srcdir[PATH_MAX], incdir[PATH_MAX], common[PATH_MAX];
    const char *reads[16];
} build_ws;

/* What a compiler needs to read, wherever it is installed: the system's
 * headers and libraries, the compiler's own folders (/usr/lib/gcc,
 * /usr/libexec, /usr/local/cuda), the loader's cache. Nothing else of /etc,
 * no home, no /root, not spak's home. */
static const char *const toolchain_reads[] = {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache",
                                              "/usr/local/cuda"};

/* The read rules of a build: the toolchain, the source's own folder (in
 * place, or the copy in wdir), the family's headers (-I), and the `common`
 * folder beside the family's (kernels/TARGET/common: the headers a
 * target's families share, which the rungs include as ../common/...). */
static void build_reads(build_ws *ws, const char *src, const spak_build_request *rq)
{
    size_t k = 0;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(toolchain_reads); i++)
        ws->reads[k++] = toolchain_reads[i];
    if (spak_snprintf(ws->srcdir, sizeof ws->srcdir, "%s", src)) {
        char *sl = strrchr(ws->srcdir, '/');
        if (sl && sl != ws->srcdir) {
            *sl = '\0';
            ws->reads[k++] = ws->srcdir;
        }
    }
    if (rq->include_dir && realpath(rq->include_dir, ws->incdir)) {
        ws->reads[k++] = ws->incdir;
        struct stat sb;
        if (spak_snprintf(ws->common, sizeof ws->common, "%s/../common", ws->incdir) &&
            stat(ws->common, &sb) == 0 && S_ISDIR(sb.st_mode))
            ws->reads[k++] = ws->common;
    }
    ws->reads[k] = NULL;
}

/* The sandbox of every process of a build: the defaults (every isolation
 * layer, the unprivileged uid when we are root, writes only beneath the
 * build's own folder, within its byte budget), reads only what build_reads
 * lists (Landlock), room for a compiler's process tree, capped output, and
 * only PATH and LANG from our environment (HOME and TMPDIR are the build's
 * folder: a compiler writes its temporaries there). */
static void build_limits(spak_sandbox_limits *lim, double wall_s, const build_ws *ws)
{
    static const char *const pass[] = {"PATH", "LANG", NULL};
    spak_sandbox_limits_default(lim);
    lim->wall_timeout_s = wall_s;
    lim->cpu_s = wall_s;
    lim->max_processes = 4096;
    lim->stdout_cap_bytes = (size_t)4 << 20;  /* nvcc -M lists a few hundred headers */
    lim->stderr_cap_bytes = (size_t)512 << 10;
    lim->env_pass = pass;
    lim->read_dirs = ws->reads;
}

/* First line of `compiler --version`, run through the build's sandbox. */
static void compiler_version(const char *cc, char *out, size_t n, const build_ws *ws)
{
    const char *argv[] = {cc, "--version", NULL};
    spak_sandbox_limits lim;
    build_limits(&lim, 30, ws);
    spak_sandbox_result r;
    spak_err e;
    out[0] = '\0';
    if (spak_sandbox_run(argv, ws->wdir, &lim, &r, &e) != SPAK_OK)
        return;
    /* nvcc prints its release on the last line; cc on the first */
    const char *src = r.out ? r.out : "";
    const char *line = src;
    if (strstr(cc, "nvcc")) {
        const char *rel = strstr(src, "release");
        if (rel)
            line = rel;
    }
    size_t k = 0;
    while (line[k] && line[k] != '\n' && k + 1 < n) {
        out[k] = line[k];
        k++;
    }
    out[k] = '\0';
    spak_sandbox_result_free(&r);
}


#define WS_PREFIX "spak-build."

/* Remove the build folders in /tmp of spak processes that no longer exist
 * (killed mid-build: their compilers died with them, their folders stay). */
static void sweep_stale(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, WS_PREFIX, strlen(WS_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(de->d_name + strlen(WS_PREFIX), &end, 10);
        if (pid <= 0 || *end != '.' || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        char path[PATH_MAX];
        if (spak_snprintf(path, sizeof path, "/tmp/%s", de->d_name))
            spak_rmtree(path);
    }
    closedir(d);
}

static spak_status ws_make(build_ws *ws, spak_err *err)
{
    sweep_stale();
    snprintf(ws->top, sizeof ws->top, "/tmp/" WS_PREFIX "%ld.XXXXXX", (long)getpid());
    if (!mkdtemp(ws->top))
        return spak_errf(err, SPAK_ERR_IO, "cannot create a build folder in /tmp: %s", strerror(errno));
    snprintf(ws->wdir, sizeof ws->wdir, "%s/w", ws->top);
    if (chmod(ws->top, 0711) != 0 || mkdir(ws->wdir, 0700) != 0) {
        int e = errno;
        spak_rmtree(ws->top);
        return spak_errf(err, SPAK_ERR_IO, "cannot create a build folder in /tmp: %s", strerror(e));
    }
    return SPAK_OK;
}

/* The compiler's command line as it grows: the flags and defines first
 * (they enter the cache key), then the output and the source. The strings
 * argv points to live here too. */
typedef struct build_cmd {
    const char *argv[SPAK_BUILD_MAX_DEFINES + 64];
    size_t k;
    char defs[SPAK_BUILD_MAX_DEFINES][300];
    char inc[PATH_MAX + 8];
    char arch[64];           /* -arch=sm_90a of a cubin build */
    char src[PATH_MAX];      /* the source (absolute, or its copy) */
    char wrap[PATH_MAX];     /* extern_c: the unit that includes it inside extern "C" { } */
    char wrapinc[PATH_MAX + 8]; /* extern_c: -I the source's folder (not in the key: a path) */
    const char *unit;        /* what the compiler is given: src or wrap */
    char out[PATH_MAX];      /* its output, in the build's folder */
} build_cmd;

/* The compiler and its flags for rq: the language's fixed flags, -D for each
 * define, -I for the include dir (absolute: the compiler runs elsewhere). */
static void cmd_flags(build_cmd *c, const spak_build_request *rq, const char *cc, bool cuda)
{
    c->k = 0;
    c->argv[c->k++] = cc;
    if (rq->cubin_arch) {
        /* a declared kernel: device code only, one architecture (the judge
         * loads it with cuModuleLoadData); ptxas -v puts the registers and
         * spills of each kernel in the build log */
        static const char *const dflt[] = {"-O3", "-lineinfo"};
        spak_snprintf(c->arch, sizeof c->arch, "-arch=%s", rq->cubin_arch);
        c->argv[c->k++] = "-cubin";
        c->argv[c->k++] = c->arch;
        const char *const *f = rq->n_flags ? rq->flags : dflt;
        size_t nf = rq->n_flags ? rq->n_flags : SPAK_ARRAY_LEN(dflt);
        for (size_t i = 0; i < nf && i < 24; i++)
            c->argv[c->k++] = f[i];
        c->argv[c->k++] = "-Xptxas";
        c->argv[c->k++] = "-v";
    } else if (cuda) {
        /* -arch=sm_90a would also emit compute_90 PTX, where wgmma and
         * setmaxnreg do not exist: ask for the arch-specific target only */
        static const char *const f[] = {"-O3", "-std=c++17", "-gencode", "arch=compute_90a,code=sm_90a",
                                        "-Xcompiler", "-fPIC", "-shared", "-lineinfo", "-Xptxas", "-v"};
        for (size_t i = 0; i < SPAK_ARRAY_LEN(f); i++)
            c->argv[c->k++] = f[i];
    } else if (rq->n_flags || rq->compiler) {
        /* a declared kernel's flags, capped (argv has room for 24 more) */
        c->argv[c->k++] = "-fPIC";
        c->argv[c->k++] = "-shared";
        for (size_t i = 0; i < rq->n_flags && i < 24; i++)
            c->argv[c->k++] = rq->flags[i];
    } else {
        static const char *const f[] = {"-std=c11", "-O3", "-march=native", "-fPIC", "-shared", "-Wall", "-Wextra",
                                        "-D_GNU_SOURCE"};
        for (size_t i = 0; i < SPAK_ARRAY_LEN(f); i++)
            c->argv[c->k++] = f[i];
    }
    for (size_t i = 0; i < rq->n_defines && i < SPAK_BUILD_MAX_DEFINES; i++) {
        spak_snprintf(c->defs[i], sizeof c->defs[i], "-D%s", rq->defines[i]);
        c->argv[c->k++] = c->defs[i];
    }
    if (rq->include_dir) {
        char abs[PATH_MAX];
        spak_snprintf(c->inc, sizeof c->inc, "-I%s", realpath(rq->include_dir, abs) ? abs : rq->include_dir);
        c->argv[c->k++] = c->inc;
    }
    if (c->wrapinc[0])
        c->argv[c->k++] = c->wrapinc;
}

/* The name of the unit an extern_c build compiles, in the build's folder. */
#define WRAP_NAME "spak-extern-c.cu"

/* rq->extern_c: the unit the compiler is given is a file of ours in the
 * build's folder that includes the source inside extern "C" { } (as
 * Kernel Tuner's PyCUDA backend wraps a kernel's source), so that a
 * __global__ function written without extern "C" keeps its plain name in
 * the cubin. It names the source by its base name, found through -I of the
 * source's folder: the unit's bytes do not depend on where the tree lies
 * (the cache key). Otherwise the unit is the source itself. */
static spak_status place_unit(build_cmd *c, const spak_build_request *rq, const build_ws *ws, spak_err *err)
{
    c->unit = c->src;
    if (!rq->extern_c)
        return SPAK_OK;
    const char *base = strrchr(c->src, '/');
    base = base ? base + 1 : c->src;
    if (strcmp(base, WRAP_NAME) == 0 || strpbrk(base, "\"\\\n"))
        return spak_errf(err, SPAK_ERR_ARG, "%s: a source of this name cannot be wrapped in extern \"C\"", c->src);
    char dir[PATH_MAX], text[PATH_MAX + 64];
    spak_snprintf(dir, sizeof dir, "%s", c->src);
    *strrchr(dir, '/') = '\0';
    if (!spak_snprintf(c->wrap, sizeof c->wrap, "%s/" WRAP_NAME, ws->wdir) ||
        !spak_snprintf(c->wrapinc, sizeof c->wrapinc, "-I%s", dir) ||
        !spak_snprintf(text, sizeof text, "extern \"C\" {\n#include \"%s\"\n}\n", base))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", c->src);
    spak_status st = spak_write_file_atomic(c->wrap, text, strlen(text), err);
    if (st == SPAK_OK)
        (void)chmod(c->wrap, 0644);
    c->unit = c->wrap;
    return st;
}

/* The source the compiler reads, into c->src: the file itself (absolute),
 * or, when rq->copy_source, a copy in the build's folder (the original lies
 * where the sandbox uid cannot read, e.g. spak's home). */
static spak_status place_source(build_cmd *c, const spak_build_request *rq, const build_ws *ws, spak_err *err)
{
    if (!rq->copy_source) {
        if (!realpath(rq->source, c->src))
            return spak_errf(err, SPAK_ERR_IO, "%s: %s", rq->source, strerror(errno));
        return SPAK_OK;
    }
    const char *base = strrchr(rq->source, '/');
    base = base ? base + 1 : rq->source;
    if (!spak_snprintf(c->src, sizeof c->src, "%s/%s", ws->wdir, base))
        return spak_errf(err, SPAK_ERR_ARG, "%s: name too long", rq->source);
    return spak_copy_untrusted(rq->source, c->src, 0644, (size_t)16 << 20, err);
}

/* Fold the preprocessor's dependency list of the source (`cc -M`, run in
 * the build's sandbox: what it can read is what the build can read) into w.
 * A list that cannot be had (the source does not preprocess, the list was
 * cut) leaves w incomplete: the compile then fails, or is not cached. */
static void key_deps(spak_key_walk *w, const build_cmd *c, const build_ws *ws, bool cuda)
{
    const char *argv[SPAK_BUILD_MAX_DEFINES + 64];
    size_t k = 0;
    for (size_t i = 0; i < c->k; i++)
        if (strcmp(c->argv[i], "-shared") != 0)  /* a link flag: gcc -M -shared also works, nvcc's may not */
            argv[k++] = c->argv[i];
    argv[k++] = "-M";
    argv[k++] = c->unit;
    argv[k] = NULL;
    spak_sandbox_limits lim;
    build_limits(&lim, cuda ? 300 : 60, ws);
    spak_sandbox_result r;
    spak_err e;
    if (spak_sandbox_run(argv, ws->wdir, &lim, &r, &e) != SPAK_OK) {
        w->complete = false;
        return;
    }
    if (!r.ok || r.out_truncated || !spak_key_deps(w, r.out, r.out_len))
        w->complete = false;
    spak_sandbox_result_free(&r);
}

/* The cache key: the flags and defines (not the -I path), the compiler's
 * version, the source's bytes, every file of its dependency list (its
 * contents, not its path: a cache built on one machine serves a copy of the
 * tree elsewhere), and every file beneath the include dir and the source's
 * own folder (what .incbin may read). *complete false: a part could not be
 * covered, and the cache must not answer for this key. */
static uint64_t cache_key(const spak_build_request *rq, const build_cmd *c, const build_ws *ws, bool cuda,
                          const char *compiler, bool *complete)
{
    uint64_t h = 0;
    for (size_t i = 1; i < c->k; i++)
        if (c->argv[i] != c->inc && c->argv[i] != c->wrapinc)
            h = spak_hash64(c->argv[i], strlen(c->argv[i]) + 1, h);
    if (rq->extern_c)
        h = spak_hash64(WRAP_NAME, sizeof WRAP_NAME, h);
    h = spak_hash64(compiler, strlen(compiler) + 1, h);
    spak_key_walk w;
    spak_key_walk_init(&w, h, geteuid() == 0);
    spak_key_file(&w, c->src);
    key_deps(&w, c, ws, cuda);
    char inc[PATH_MAX] = "", dir[PATH_MAX];
    if (rq->include_dir && realpath(rq->include_dir, inc))
        spak_key_tree(&w, inc);
    if (!rq->copy_source && spak_snprintf(dir, sizeof dir, "%s", c->src)) {
        char *sl = strrchr(dir, '/');
        if (sl && sl != dir) {
            *sl = '\0';
            if (strcmp(dir, inc) != 0)
                spak_key_tree(&w, dir);
        }
    }
    *complete = w.complete;
    return w.h;
}

/* The log of a compile: the command line, the compiler's output, why it
 * failed. */
static void compile_log(spak_buf *log, const char *const *argv, const spak_sandbox_result *r)
{
    spak_buf_puts(log, "$");
    for (size_t i = 0; argv[i]; i++)
        spak_buf_printf(log, " %s", argv[i]);
    spak_buf_puts(log, "\n");
    if (r->out_len)
        spak_buf_append(log, r->out, r->out_len);
    if (r->err_len)
        spak_buf_append(log, r->err, r->err_len);
    if (!r->ok)
        spak_buf_printf(log, "compiler: %s\n", r->why_text);
    /* a denied read names a path ("Permission denied"; the assembler's
     * .incbin says "file not found"): say which paths a build may read */
    static const char *const denied[] = {"Permission denied", "file not found"};
    bool hint = false;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(denied); i++)
        hint |= (r->err && strstr(r->err, denied[i])) || (r->out && strstr(r->out, denied[i]));
    if (!r->ok && r->iso_landlock_read && hint)
        spak_buf_puts(log, "spak: a build reads only its source's folder, the family's headers and the toolchain "
                           "(/usr, /lib, /lib64, /bin, /sbin, /etc/ld.so.cache): a file elsewhere is denied, "
                           "and an assembler's .incbin reports it as not found (docs/sandbox.md, \"Builds\")\n");
}

/* Run the compiler in the build's sandbox (the unprivileged uid, every
 * isolation layer, writes only into the build's folder, output capped; its
 * whole process tree ends with it, also when spak is killed), then copy the
 * artifact it wrote into the cache as res->artifact. The log goes to
 * res->log and to logpath for later cache hits. Fails only when the
 * compiler could not be run. */
static spak_status compile(build_cmd *c, const build_ws *ws, bool cuda, const char *logpath, spak_build_result *res,
                           spak_err *err)
{
    spak_snprintf(c->out, sizeof c->out, "%s/out.%s", ws->wdir, c->arch[0] ? "cubin" : "so");
    const char **argv = c->argv;
    size_t k = c->k;
    argv[k++] = "-o";
    argv[k++] = c->out;
    argv[k++] = c->unit;
    if (!cuda)
        argv[k++] = "-lm", argv[k++] = "-lpthread";
    argv[k] = NULL;

    spak_sandbox_limits lim;
    build_limits(&lim, cuda ? 600 : 120, ws);
    lim.stdout_cap_bytes = (size_t)512 << 10;
    spak_sandbox_result r;
    spak_status st = spak_sandbox_run(argv, ws->wdir, &lim, &r, err);
    if (st != SPAK_OK)
        return st;
    res->seconds = r.wall_s;
    spak_buf log;
    spak_buf_init(&log, (size_t)2 << 20);
    compile_log(&log, argv, &r);
    if (c->unit != c->src)  /* the command names our unit: say what it holds */
        spak_buf_printf(&log, "spak: %s is %s inside extern \"C\" { }\n", WRAP_NAME, c->src);
    res->ok = r.ok;
    spak_sandbox_result_free(&r);
    spak_err ce;
    /* the sandbox has ended every process of the build: the file stays as
     * it is while we copy it (a link planted in its place is refused) */
    if (res->ok && spak_copy_untrusted(c->out, res->artifact, 0644, ARTIFACT_MAX, &ce) != SPAK_OK) {
        spak_buf_printf(&log, "cannot move the artifact into the cache: %s\n", ce.msg);
        res->ok = false;
    }
    /* The log is a courtesy: a later cache hit without it shows an empty log. */
    (void)spak_write_file_atomic(logpath, log.data ? log.data : "", log.len, NULL);
    res->log = spak_buf_take(&log);
    return res->log ? SPAK_OK : spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
}

/* The artifact of key h, when the cache has it (res->cached). */
static spak_status cache_hit(const char *logpath, spak_build_result *res, spak_err *err)
{
    res->cached = true;
    res->ok = true;
    size_t ll;
    if (spak_read_file(logpath, (size_t)1 << 20, &res->log, &ll, NULL) != SPAK_OK)
        res->log = strdup("");
    return res->log ? SPAK_OK : spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
}

spak_status spak_build_candidate(const spak_build_request *rq, spak_build_result *res, spak_err *err)
{
    memset(res, 0, sizeof *res);
    spak_status st = spak_mkdirs(rq->cache_dir, err);
    if (st != SPAK_OK)
        return st;
    (void)chmod(rq->cache_dir, 0700);  /* the cache is spak's: no sandboxed process reads it */
    build_ws ws;
    st = ws_make(&ws, err);
    if (st != SPAK_OK)
        return st;
    build_cmd *c = calloc(1, sizeof *c);
    if (!c) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *cc = request_compiler(rq);
    bool cuda = request_cuda(rq);
    st = place_source(c, rq, &ws, err);
    if (st != SPAK_OK)
        goto out;
    build_reads(&ws, c->src, rq);
    st = place_unit(c, rq, &ws, err);
    if (st != SPAK_OK)
        goto out;
    compiler_version(cc, res->compiler, sizeof res->compiler, &ws);
    cmd_flags(c, rq, cc, cuda);
    bool complete = false;
    uint64_t h = cache_key(rq, c, &ws, cuda, res->compiler, &complete);
    spak_snprintf(res->key, sizeof res->key, "%016llx", (unsigned long long)h);
    char logpath[PATH_MAX + 32];
    if (!spak_snprintf(res->artifact, sizeof res->artifact, "%s/%s.%s", rq->cache_dir, res->key,
                       rq->cubin_arch ? "cubin" : "so") ||
        !spak_snprintf(logpath, sizeof logpath, "%s/%s.log", rq->cache_dir, res->key)) {
        st = spak_errf(err, SPAK_ERR_ARG, "cache path too long");
        goto out;
    }
    struct stat sb;
    if (complete && stat(res->artifact, &sb) == 0 && sb.st_size > 0)
        st = cache_hit(logpath, res, err);
    else
        st = compile(c, &ws, cuda, logpath, res, err);
out:
    free(c);
    spak_rmtree(ws.top);
    return st;
}

void spak_build_result_free(spak_build_result *res)
{
    free(res->log);
    res->log = NULL;
}

/* A hash of preprocessed text t[n] without its line markers ("# 12 file",
 * "#line", "#pragma" lines kept: they are text the compiler reads) and
 * without blank lines. */
static uint64_t pp_digest(const char *t, size_t n)
{
    uint64_t h = 0x5350414b5050ULL;  /* "SPAKPP" */
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && t[e] != '\n')
            e++;
        size_t a = i;
        while (a < e && (t[a] == ' ' || t[a] == '\t' || t[a] == '\r'))
            a++;
        bool marker = a < e && t[a] == '#' && (a + 1 < e && (t[a + 1] == ' ' || strncmp(t + a + 1, "line", 4) == 0));
        if (a < e && !marker)
            h = spak_hash64(t + i, e - i + (e < n ? 1 : 0), h);
        i = e + 1;
    }
    return h;
}

/* One `cc -E` of c's source with the defines of set (c holds the flags of
 * cmd_flags without defines; -shared is left out). */
static void preprocess_one(build_cmd *c, const build_ws *ws, bool cuda, const char *const *set, size_t nd,
                           uint64_t *digest, bool *ok)
{
    const char *argv[SPAK_BUILD_MAX_DEFINES + 72];
    size_t k = 0;
    for (size_t i = 0; i < c->k; i++)
        if (strcmp(c->argv[i], "-shared") != 0)  /* a link flag */
            argv[k++] = c->argv[i];
    char own[SPAK_BUILD_MAX_DEFINES][300];
    for (size_t i = 0; i < nd && i < SPAK_BUILD_MAX_DEFINES; i++) {
        spak_snprintf(own[i], sizeof own[i], "-D%s", set[i]);
        argv[k++] = own[i];
    }
    argv[k++] = "-E";
    argv[k++] = c->unit;
    argv[k] = NULL;
    spak_sandbox_limits lim;
    build_limits(&lim, cuda ? 300 : 60, ws);
    lim.stdout_cap_bytes = (size_t)64 << 20;  /* a translation unit with its headers */
    spak_sandbox_result r;
    spak_err e;
    *ok = false;
    if (spak_sandbox_run(argv, ws->wdir, &lim, &r, &e) != SPAK_OK)
        return;
    *ok = r.ok && !r.out_truncated;
    if (*ok)
        *digest = pp_digest(r.out ? r.out : "", r.out_len);
    spak_sandbox_result_free(&r);
}

spak_status spak_build_preprocess(const spak_build_request *rq, const char *const *const *sets,
                                  const size_t *n_sets_defs, size_t n_sets, uint64_t *digests, bool *ok,
                                  spak_err *err)
{
    build_ws ws;
    spak_status st = ws_make(&ws, err);
    if (st != SPAK_OK)
        return st;
    build_cmd *c = calloc(1, sizeof *c);
    if (!c) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    bool cuda = request_cuda(rq);
    st = place_source(c, rq, &ws, err);
    if (st != SPAK_OK)
        goto out;
    build_reads(&ws, c->src, rq);
    st = place_unit(c, rq, &ws, err);
    if (st != SPAK_OK)
        goto out;
    spak_build_request flags_only = *rq;
    flags_only.n_defines = 0;
    cmd_flags(c, &flags_only, request_compiler(rq), cuda);
    for (size_t k = 0; k < n_sets; k++)
        preprocess_one(c, &ws, cuda, sets[k], n_sets_defs[k], &digests[k], &ok[k]);
out:
    free(c);
    spak_rmtree(ws.top);
    return st;
}
