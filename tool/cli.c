/*
 * cli.c - what every command of the CLI parses and prints the same way
 * (cli.h): options anywhere on the command line, the home found as git
 * finds its folder, messages whose commands work as printed, JSON with
 * reals in their shortest form.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "spec/t1.h"
#include "util.h"

/* ---- options ---- */

const cli_opt *cli_find_opt(const cli_opt *opts, const char *arg)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (strcmp(arg, o->name) == 0 || (o->alias && strcmp(arg, o->alias) == 0))
            return o;
    return NULL;
}

/* The option a (with its value val, or NULL) into its place; 0 or the
 * usage error's status. */
static int take_opt(const char *cmd, const cli_opt *o, const char *a, const char *val)
{
    if (o->flag) {
        if (val)
            return usage_error(cmd, "option '%s' takes no value", a);
        *o->flag = true;
        return 0;
    }
    if (!val)
        return usage_error(cmd, "option '%s' needs a value", a);
    *o->value = val;
    return 0;
}

int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts, unsigned how, int *first)
{
    (void)how;
    /* operands are gathered in order, then put back after the options */
    char **ops = calloc((size_t)(argc > 0 ? argc : 1), sizeof *ops);
    if (!ops)
        return usage_error(cmd, "%sout of memory", "");
    int nops = 0, rc = 0, i = 1;
    for (; i < argc && rc == 0; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                ops[nops++] = argv[i];
            break;
        }
        if (a[0] != '-' || !a[1]) {
            ops[nops++] = a;
            continue;
        }
        /* --name=VALUE: the name looked up alone */
        char name[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        const cli_opt *o = NULL;
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            o = cli_find_opt(opts, name);
        } else if (!eq) {
            o = cli_find_opt(opts, a);
        }
        if (!o) {
            rc = usage_error(cmd, "unknown option '%s'", a);
            break;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!eq && !o->flag && i + 1 < argc)
            val = argv[++i];
        rc = take_opt(cmd, o, eq ? name : a, val);
    }
    if (rc == 0) {
        *first = argc - nops;
        for (int k = 0; k < nops; k++)
            argv[*first + k] = ops[k];
    }
    free(ops);
    return rc;
}

/* ---- --set ---- */

int cli_take_sets(const char *cmd, int argc, char **argv, spak_t1_set *sets, size_t *n)
{
    static char store[65536];  /* the names and values, cut from argv's copies */
    const size_t cap = sizeof store;
    int k = 1;
    size_t used = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[k++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--set=", 6) == 0)
            v = argv[i] + 6;
        else if (strcmp(argv[i], "--set") == 0)
            return usage_error(cmd, "option '%s' needs a value NAME=VALUES", "--set"), -1;
        if (!v) {
            argv[k++] = argv[i];
            continue;
        }
        const char *eq = strchr(v, '=');
        size_t len = strlen(v);
        if (!eq || eq == v || *n >= CLI_MAX_SETS || used + len + 1 > cap)
            return usage_error(cmd, "--set takes NAME=VALUES (a Python list or one value), not '%s'", v), -1;
        char *c = store + used;
        memcpy(c, v, len + 1);
        c[eq - v] = '\0';
        sets[*n].name = c;
        sets[*n].values = c + (eq - v) + 1;
        (*n)++;
        used += len + 1;
    }
    return k;
}

/* ---- the home ---- */

/* How the home in use was named: hint is " --home DIR" (shell-quoted) when
 * a command printed in a message must name it, else "". */
static char hint[PATH_MAX + 32];

/* s quoted for a POSIX shell into out[n] where it needs it. */
static void shell_quote(const char *s, char *out, size_t n)
{
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-+=:,@%") == strlen(s)) {
        spak_snprintf(out, n, "%s", s);
        return;
    }
    size_t k = 0;
    if (n < 3)
        return;
    out[k++] = '\'';
    for (; *s && k + 6 < n; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    out[k++] = '\'';
    out[k] = '\0';
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The nearest .spak/ from the current directory up into out[n]: ".spak"
 * when it is here, else its absolute path. False when there is none. */
static bool find_home(char *out, size_t n)
{
    char dir[PATH_MAX], cand[PATH_MAX + 8];
    if (is_dir(".spak"))
        return spak_snprintf(out, n, ".spak");
    if (!getcwd(dir, sizeof dir))
        return false;
    for (;;) {
        char *sl = strrchr(dir, '/');
        if (!sl)
            return false;
        if (sl == dir) {
            if (!dir[1])
                return false;  /* / was looked at last time */
            dir[1] = '\0';
        } else {
            *sl = '\0';
        }
        spak_snprintf(cand, sizeof cand, "%s%s.spak", dir, strcmp(dir, "/") == 0 ? "" : "/");
        if (is_dir(cand))
            return spak_snprintf(out, n, "%s", cand);
    }
}

/* Whether a and b name the same existing folder. */
static bool same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A command that only reads needs the home's store: one that has none
 * says so rather than making an empty one. 0 or EXIT_PROBLEM. */
static int need_store(const char *cmd, const char *home)
{
    char db[PATH_MAX + 16];
    struct stat sb;
    spak_snprintf(db, sizeof db, "%s/spak.db", home);
    if (stat(db, &sb) == 0)
        return 0;
    fprintf(stderr, "spak %s: the spak home %s has no store (spak.db): no run was made there\n", cmd, home);
    return EXIT_PROBLEM;
}

int cli_home(const char *cmd, const char *given, bool create, char *out, size_t n)
{
    hint[0] = '\0';
    const char *env = getenv("SPAK_HOME");
    const char *named = given && *given ? given : env && *env ? env : NULL;
    if (named) {
        if (!spak_snprintf(out, n, "%s", named))
            return usage_error(cmd, "%s: home path too long", named);
        if (!create && !is_dir(named)) {
            fprintf(stderr, "spak %s: no spak home at %s (%s)\n", cmd, named,
                    given && *given ? "--home" : "SPAK_HOME");
            return EXIT_PROBLEM;
        }
        /* a --home the same command would not find by itself: messages must name it */
        char found[PATH_MAX];
        if (given && *given && !((env && *env) ? same_dir(env, given) : (find_home(found, sizeof found) &&
                                                                          same_dir(found, given)))) {
            char q[PATH_MAX + 16];
            shell_quote(given, q, sizeof q);
            spak_snprintf(hint, sizeof hint, " --home %s", q);
        }
        return create ? 0 : need_store(cmd, out);
    }
    if (find_home(out, n))
        return create ? 0 : need_store(cmd, out);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        spak_snprintf(cwd, sizeof cwd, ".");
    if (!create) {
        fprintf(stderr,
                "spak %s: no spak home here or above (no .spak/ in %s or a folder above it); 'spak run SPEC' makes "
                "one here, --home DIR or SPAK_HOME names one\n",
                cmd, cwd);
        return EXIT_PROBLEM;
    }
    fprintf(stderr, "spak %s: no spak home here or above: creating %s/.spak\n", cmd, strcmp(cwd, "/") ? cwd : "");
    return spak_snprintf(out, n, ".spak") ? 0 : EXIT_PROBLEM;
}

#define HINT_RING 8

const char *cli_hint(const char *msg)
{
    static spak_buf ring[HINT_RING];
    static unsigned next;
    if (!msg || !hint[0])
        return msg;
    spak_buf *b = &ring[next++ % HINT_RING];
    if (!b->cap)
        spak_buf_init(b, 0);
    spak_buf_reset(b);
    /* after each 'spak WORD: the home option, where a pasted command reads it */
    const char *p = msg, *q;
    while ((q = strstr(p, "'spak "))) {
        const char *w = q + 6;
        size_t wl = strspn(w, "abcdefghijklmnopqrstuvwxyz-");
        if (spak_buf_append(b, p, (size_t)(w + wl - p)) != SPAK_OK ||
            (wl && spak_buf_puts(b, hint) != SPAK_OK))
            return msg;
        p = w + wl;
    }
    if (spak_buf_puts(b, p) != SPAK_OK)
        return msg;
    return b->data;
}

const char *cli_command(const char *cmd, const char *arg)
{
    static char buf[HINT_RING][PATH_MAX + 256];
    static unsigned next;
    char *b = buf[next++ % HINT_RING];
    spak_snprintf(b, sizeof buf[0], "spak %s%s%s%s", cmd, hint, arg ? " " : "", arg ? arg : "");
    return b;
}

/* ---- JSON ---- */

void cli_print_json(const json_t *j, size_t flags, const char *none)
{
    char *t = j ? json_dumps(j, flags) : NULL;
    spak_json_shorten_reals(t);
    if (t || none)
        puts(t ? cli_safe_flags(t, SPAK_ESC_JSON) : none);
    free(t);
}
