/* build.c - see build.h. */
#include "build/build.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze/sandbox.h"

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* The compiler for a source, found on PATH or in the usual CUDA place. */
static const char *compiler_for(const char *source)
{
    if (!ends_with(source, ".cu"))
        return "cc";
    if (access("/usr/local/cuda/bin/nvcc", X_OK) == 0)
        return "/usr/local/cuda/bin/nvcc";
    return "nvcc";
}

/* First line of `compiler --version`, run through the sandbox (no shell). */
static void compiler_version(const char *cc, char *out, size_t n, const char *tmpdir)
{
    const char *argv[] = {cc, "--version", NULL};
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = 30;
    lim.run_as_uid = -1;
    lim.run_as_gid = -1;
    lim.isolation_off = ~0u;
    spak_sandbox_result r;
    spak_err e;
    out[0] = '\0';
    if (spak_sandbox_run(argv, tmpdir, &lim, &r, &e) != SPAK_OK)
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

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fold every header (.h, .cuh) of dir, in name order, into h. */
static uint64_t hash_headers(const char *dir, uint64_t h)
{
    DIR *d = opendir(dir);
    if (!d)
        return h;
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < SPAK_ARRAY_LEN(names)) {
        size_t l = strlen(de->d_name);
        if ((l > 2 && strcmp(de->d_name + l - 2, ".h") == 0) || (l > 4 && strcmp(de->d_name + l - 4, ".cuh") == 0)) {
            names[n] = strdup(de->d_name);
            if (names[n])
                n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        char *txt = NULL;
        size_t len = 0;
        h = spak_hash64(names[i], strlen(names[i]) + 1, h);
        if (spak_snprintf(path, sizeof path, "%s/%s", dir, names[i]) &&
            spak_read_file(path, (size_t)16 << 20, &txt, &len, NULL) == SPAK_OK)
            h = spak_hash64(txt, len, h);
        free(txt);
        free(names[i]);
    }
    return h;
}

/* Files already folded by hash_includes (by resolved path): each once, which
 * also ends cycles. Past 256 files (or without memory) every further one
 * counts as seen: its name still goes into the key, its contents not. */
typedef struct include_walk {
    char *seen[256];
    size_t n;
} include_walk;

static bool walk_seen(include_walk *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->seen[i], path) == 0)
            return true;
    if (w->n == SPAK_ARRAY_LEN(w->seen) || !(w->seen[w->n] = strdup(path)))
        return true;
    w->n++;
    return false;
}

/* Fold every file that `text` (the file at `path`) includes with #include
 * "NAME", resolved as the compiler does (beside the including file, then
 * in include_dir), its contents and, recursively, what it includes. A header
 * outside the source's folder (../gemm/wgmma_ops.cuh) is part of the key
 * this way; <system> headers are covered by the compiler version. */
static uint64_t hash_includes(const char *path, const char *text, size_t len, const char *include_dir,
                              include_walk *w, int depth, uint64_t h)
{
    if (depth > 16)
        return h;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t'))
            q++;
        if (q < eol && *q == '#') {
            q++;
            while (q < eol && (*q == ' ' || *q == '\t'))
                q++;
            if ((size_t)(eol - q) > 8 && strncmp(q, "include", 7) == 0) {
                q += 7;
                while (q < eol && (*q == ' ' || *q == '\t'))
                    q++;
                const char *close = q < eol && *q == '"' ? memchr(q + 1, '"', (size_t)(eol - q - 1)) : NULL;
                if (close && close > q + 1) {
                    char name[1024], cand[4200], full[PATH_MAX];
                    spak_snprintf(name, sizeof name, "%.*s", (int)(close - q - 1), q + 1);
                    const char *slash = strrchr(path, '/');
                    bool found = false;
                    if (slash)
                        found = spak_snprintf(cand, sizeof cand, "%.*s/%s", (int)(slash - path), path, name) &&
                                realpath(cand, full);
                    else
                        found = realpath(name, full) != NULL;
                    if (!found && include_dir)
                        found = spak_snprintf(cand, sizeof cand, "%s/%s", include_dir, name) && realpath(cand, full);
                    h = spak_hash64(name, strlen(name) + 1, h);
                    char *txt = NULL;
                    size_t tl = 0;
                    if (found && !walk_seen(w, full) &&
                        spak_read_file(full, (size_t)16 << 20, &txt, &tl, NULL) == SPAK_OK) {
                        h = spak_hash64(txt, tl, h);
                        h = hash_includes(full, txt, tl, include_dir, w, depth + 1, h);
                    }
                    free(txt);
                }
            }
        }
        p = eol + 1;
    }
    return h;
}

/* The compiler's command line as it grows: the flags and defines first
 * (they enter the cache key), then the output and the source. The strings
 * argv points to live here too. */
typedef struct build_cmd {
    const char *argv[SPAK_BUILD_MAX_DEFINES + 32];
    size_t k;
    char defs[SPAK_BUILD_MAX_DEFINES][300];
    char inc[4200];
    char tmp_out[4300];
} build_cmd;

/* The compiler and its flags for rq: the language's fixed flags, -D for each
 * define, -I for the include dir. */
static void cmd_flags(build_cmd *c, const spak_build_request *rq, const char *cc, bool cuda)
{
    c->k = 0;
    c->argv[c->k++] = cc;
    if (cuda) {
        /* -arch=sm_90a would also emit compute_90 PTX, where wgmma and
         * setmaxnreg do not exist: ask for the arch-specific target only */
        static const char *const f[] = {"-O3", "-std=c++17", "-gencode", "arch=compute_90a,code=sm_90a",
                                        "-Xcompiler", "-fPIC", "-shared", "-lineinfo", "-Xptxas", "-v"};
        for (size_t i = 0; i < SPAK_ARRAY_LEN(f); i++)
            c->argv[c->k++] = f[i];
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
        spak_snprintf(c->inc, sizeof c->inc, "-I%s", rq->include_dir);
        c->argv[c->k++] = c->inc;
    }
}

/* The cache key: the source bytes, every file it includes (recursively),
 * the headers beside the ABI header, the flags and defines, the compiler
 * version; not the paths, so that a cache built on one machine serves a
 * copy of the tree elsewhere (the GPU machine). */
static uint64_t cache_key(const spak_build_request *rq, const char *src, size_t len, const build_cmd *c,
                          const char *compiler)
{
    uint64_t h = spak_hash64(src, len, 0);
    for (size_t i = 1; i < c->k; i++)
        if (c->argv[i] != c->inc)
            h = spak_hash64(c->argv[i], strlen(c->argv[i]) + 1, h);
    h = spak_hash64(compiler, strlen(compiler), h);
    include_walk walk = {.n = 0};
    h = hash_includes(rq->source, src, len, rq->include_dir, &walk, 0, h);
    for (size_t i = 0; i < walk.n; i++)
        free(walk.seen[i]);
    if (rq->include_dir)
        h = hash_headers(rq->include_dir, h);
    return h;
}

/* Run the compiler (trusted: it runs as us, without isolation, but under
 * the sandbox's limits and output caps) into a temporary file that becomes
 * res->artifact when it worked. The log (the command line, the compiler's
 * output, why it failed) goes to res->log and to logpath for later cache
 * hits. Fails only when the compiler could not be run. */
static spak_status compile(build_cmd *c, const spak_build_request *rq, bool cuda, const char *logpath,
                           spak_build_result *res, spak_err *err)
{
    spak_snprintf(c->tmp_out, sizeof c->tmp_out, "%s.tmp%ld", res->artifact, (long)getpid());
    const char **argv = c->argv;
    size_t k = c->k;
    argv[k++] = "-o";
    argv[k++] = c->tmp_out;
    argv[k++] = rq->source;
    if (!cuda)
        argv[k++] = "-lm", argv[k++] = "-lpthread";
    argv[k] = NULL;

    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    lim.wall_timeout_s = cuda ? 600 : 120;
    lim.cpu_s = lim.wall_timeout_s;
    lim.run_as_uid = -1;  /* the compiler is trusted; it must write the cache */
    lim.run_as_gid = -1;
    lim.isolation_off = ~0u;
    lim.max_processes = 4096;
    lim.stdout_cap_bytes = (size_t)512 << 10;
    lim.stderr_cap_bytes = (size_t)512 << 10;
    static const char *const pass[] = {"PATH", "HOME", "TMPDIR", "LANG", NULL};
    lim.env_pass = pass;
    spak_sandbox_result r;
    spak_status st = spak_sandbox_run(argv, rq->cache_dir, &lim, &r, err);
    if (st != SPAK_OK)
        return st;
    res->seconds = r.wall_s;
    spak_buf log;
    spak_buf_init(&log, (size_t)2 << 20);
    spak_buf_puts(&log, "$");
    for (size_t i = 0; argv[i]; i++)
        spak_buf_printf(&log, " %s", argv[i]);
    spak_buf_puts(&log, "\n");
    if (r.out_len)
        spak_buf_append(&log, r.out, r.out_len);
    if (r.err_len)
        spak_buf_append(&log, r.err, r.err_len);
    if (!r.ok)
        spak_buf_printf(&log, "compiler: %s\n", r.why_text);
    struct stat sb;
    res->ok = r.ok && stat(c->tmp_out, &sb) == 0;
    spak_sandbox_result_free(&r);
    /* The log is a courtesy: a later cache hit without it shows an empty log. */
    (void)spak_write_file_atomic(logpath, log.data ? log.data : "", log.len, NULL);
    if (res->ok && rename(c->tmp_out, res->artifact) != 0) {
        spak_buf_printf(&log, "cannot move the artifact into the cache: %s\n", strerror(errno));
        res->ok = false;
    }
    if (!res->ok)
        unlink(c->tmp_out);
    res->log = spak_buf_take(&log);
    return res->log ? SPAK_OK : spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
}

spak_status spak_build_candidate(const spak_build_request *rq, spak_build_result *res, spak_err *err)
{
    memset(res, 0, sizeof *res);
    spak_status st = spak_mkdirs(rq->cache_dir, err);
    if (st != SPAK_OK)
        return st;
    char *src = NULL;
    size_t len = 0;
    st = spak_read_file(rq->source, (size_t)16 << 20, &src, &len, err);
    if (st != SPAK_OK)
        return st;
    const char *cc = compiler_for(rq->source);
    bool cuda = ends_with(rq->source, ".cu");
    compiler_version(cc, res->compiler, sizeof res->compiler, rq->cache_dir);

    build_cmd c;
    cmd_flags(&c, rq, cc, cuda);
    uint64_t h = cache_key(rq, src, len, &c, res->compiler);
    free(src);
    spak_snprintf(res->key, sizeof res->key, "%016llx", (unsigned long long)h);
    char logpath[4200];
    if (!spak_snprintf(res->artifact, sizeof res->artifact, "%s/%s.so", rq->cache_dir, res->key) ||
        !spak_snprintf(logpath, sizeof logpath, "%s/%s.log", rq->cache_dir, res->key))
        return spak_errf(err, SPAK_ERR_ARG, "cache path too long");
    struct stat sb;
    if (stat(res->artifact, &sb) == 0 && sb.st_size > 0) {
        res->cached = true;
        res->ok = true;
        size_t ll;
        if (spak_read_file(logpath, (size_t)1 << 20, &res->log, &ll, NULL) != SPAK_OK)
            res->log = strdup("");
        return res->log ? SPAK_OK : spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    return compile(&c, rq, cuda, logpath, res, err);
}

void spak_build_result_free(spak_build_result *res)
{
    free(res->log);
    res->log = NULL;
}
