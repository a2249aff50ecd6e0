/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *spak_status_name(spak_status st)
{
    switch (st) {
    case SPAK_OK: return "ok";
    case SPAK_ERR_NOMEM: return "out of memory";
    case SPAK_ERR_IO: return "i/o error";
    case SPAK_ERR_LIMIT: return "limit exceeded";
    case SPAK_ERR_SYNTAX: return "syntax error";
    case SPAK_ERR_CHECK: return "invalid spec";
    case SPAK_ERR_ARG: return "bad argument";
    case SPAK_ERR_EVAL: return "evaluation error";
    case SPAK_ERR_SANDBOX: return "sandbox error";
    case SPAK_ERR_BUILD: return "build error";
    case SPAK_ERR_STORE: return "store error";
    case SPAK_ERR_TRACE: return "trace error";
    case SPAK_ERR_STATE: return "invalid state";
    case SPAK_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

spak_status spak_errf(spak_err *err, spak_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = st;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- buffer ---- */

#define SPAK_BUF_DEFAULT_CAP ((size_t)1 << 30)

void spak_buf_init(spak_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : SPAK_BUF_DEFAULT_CAP;
}

void spak_buf_free(spak_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void spak_buf_reset(spak_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static spak_status buf_reserve(spak_buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return SPAK_ERR_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return SPAK_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n *= 2;
    char *p = realloc(b->data, n);
    if (!p)
        return SPAK_ERR_NOMEM;
    b->data = p;
    b->alloc = n;
    return SPAK_OK;
}

spak_status spak_buf_append(spak_buf *b, const void *p, size_t n)
{
    spak_status st = buf_reserve(b, n);
    if (st != SPAK_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SPAK_OK;
}

spak_status spak_buf_puts(spak_buf *b, const char *s)
{
    return spak_buf_append(b, s, strlen(s));
}

spak_status spak_buf_putc(spak_buf *b, char c)
{
    return spak_buf_append(b, &c, 1);
}

spak_status spak_buf_vprintf(spak_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SPAK_ERR_INTERNAL;
    spak_status st = buf_reserve(b, (size_t)n);
    if (st != SPAK_OK)
        return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SPAK_OK;
}

spak_status spak_buf_printf(spak_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spak_status st = spak_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *spak_buf_take(spak_buf *b)
{
    char *p = b->data;
    if (!p) {
        p = malloc(1);
        if (p)
            p[0] = '\0';
    }
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}

/* ---- growing arrays ---- */

/* Doubling keeps appends amortised O(1); element n is zeroed so that a
 * caller filling it field by field starts from zeros, also where the array
 * was cut back (n lowered) and the slot still holds an old element. */
void *spak_grow(void *arr, size_t *alloc, size_t n, size_t elem)
{
    char *p = arr;
    if (n >= *alloc) {
        size_t na = *alloc ? *alloc * 2 : 16;
        if (na > SIZE_MAX / elem)
            return NULL;
        p = realloc(arr, na * elem);
        if (!p)
            return NULL;
        *alloc = na;
    }
    memset(p + n * elem, 0, elem);
    return p;
}

/* ---- arena ---- */

struct spak_arena_block {
    spak_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

#define ARENA_BLOCK_MIN ((size_t)64 * 1024)

void spak_arena_init(spak_arena *a)
{
    a->head = NULL;
    a->total = 0;
}

void spak_arena_free(spak_arena *a)
{
    spak_arena_block *b = a->head;
    while (b) {
        spak_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *spak_arena_alloc(spak_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    spak_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > ARENA_BLOCK_MIN ? n : ARENA_BLOCK_MIN;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = size;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *spak_arena_strndup(spak_arena *a, const char *s, size_t n)
{
    char *p = spak_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *spak_arena_strdup(spak_arena *a, const char *s)
{
    return spak_arena_strndup(a, s, strlen(s));
}

/* ---- files ---- */

spak_status spak_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, spak_err *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return spak_errf(err, SPAK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    spak_buf b;
    spak_buf_init(&b, max_bytes);
    char chunk[65536];
    spak_status st = SPAK_OK;
    for (;;) {
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n > 0) {
            st = spak_buf_append(&b, chunk, n);
            if (st == SPAK_ERR_LIMIT) {
                st = spak_errf(err, st, "%s: file is larger than the limit of %zu bytes", path, max_bytes);
                break;
            }
            if (st != SPAK_OK) {
                st = spak_errf(err, st, "%s: out of memory reading file", path);
                break;
            }
        }
        if (n < sizeof chunk) {
            if (ferror(f)) {
                st = spak_errf(err, SPAK_ERR_IO, "%s: read error: %s", path, strerror(errno));
            }
            break;
        }
    }
    fclose(f);
    if (st != SPAK_OK) {
        spak_buf_free(&b);
        return st;
    }
    if (out_len)
        *out_len = b.len;
    *out = spak_buf_take(&b);
    if (!*out)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    return SPAK_OK;
}

spak_status spak_write_file_atomic(const char *path, const char *data, size_t len, spak_err *err)
{
    char tmp[PATH_MAX];
    if (!spak_snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%ld", path, (long)getpid(), (long)gettid()))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return spak_errf(err, SPAK_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return spak_errf(err, SPAK_ERR_IO, "%s: write failed: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return spak_errf(err, SPAK_ERR_IO, "%s: cannot flush: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return spak_errf(err, SPAK_ERR_IO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return SPAK_OK;
}

spak_status spak_mkdirs(const char *path, spak_err *err)
{
    char p[PATH_MAX];
    if (!spak_snprintf(p, sizeof p, "%s", path))
        return spak_errf(err, SPAK_ERR_ARG, "path too long: %s", path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return spak_errf(err, SPAK_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            p[i] = c;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return spak_errf(err, SPAK_ERR_IO, "%s: not a directory", path);
    return SPAK_OK;
}

/* ---- numbers ---- */

bool spak_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool spak_cpulist_parse(const char *s, uint8_t mask[SPAK_CPULIST_MAX / 8])
{
    if (!s || !*s)
        return false;
    if (mask)
        memset(mask, 0, SPAK_CPULIST_MAX / 8);
    for (const char *p = s; *p;) {
        char *end;
        if (*p < '0' || *p > '9')
            return false;
        long a = strtol(p, &end, 10), b = a;
        if (a >= SPAK_CPULIST_MAX)
            return false;
        p = end;
        if (*p == '-') {
            if (p[1] < '0' || p[1] > '9')
                return false;
            b = strtol(p + 1, &end, 10);
            if (b < a || b >= SPAK_CPULIST_MAX)
                return false;
            p = end;
        }
        for (long c = a; mask && c <= b; c++)
            mask[c / 8] |= (uint8_t)(1u << (c % 8));
        if (*p == ',' && p[1])
            p++;
        else if (*p)
            return false;
    }
    return true;
}

bool spak_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- time ---- */

double spak_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double spak_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void spak_format_utc(double t, char *buf, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- strings ---- */

bool spak_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r >= 0 && (size_t)r < n;
}

/* The decoder every check of UTF-8 in the tree uses (util.h). */
size_t spak_utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

bool spak_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned cp;
    for (size_t i = 0; i < n;) {
        size_t len = spak_utf8_seq(p + i, n - i, &cp);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

/* Whether a code point may reach a terminal as itself: not a C0 control
 * (ESC included), DEL or a C1 control (U+0080-U+009F: 8-bit CSI, OSC...),
 * and not a bidirectional override or isolate (U+202A-U+202E,
 * U+2066-U+2069), which reorder what a line shows. */
static bool term_harmless(unsigned cp, unsigned flags)
{
    if (cp == '\n' || cp == '\t')
        return (flags & (SPAK_ESC_KEEP_NL | SPAK_ESC_JSON)) != 0;  /* in JSON text, the layout's own */
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return false;
    return !((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069));
}

spak_status spak_escape_term(spak_buf *out, const char *s, size_t len, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    spak_status st = SPAK_OK;
    for (size_t i = 0; i < len && st == SPAK_OK;) {
        unsigned cp = 0;
        size_t n = spak_utf8_seq(p + i, len - i, &cp);
        size_t run = i;
        while (n && term_harmless(cp, flags)) {  /* copy harmless text in one piece */
            i += n;
            n = i < len ? spak_utf8_seq(p + i, len - i, &cp) : 0;
        }
        if (i > run)
            st = spak_buf_append(out, s + run, i - run);
        if (st != SPAK_OK || i >= len)
            break;
        if (!n) {  /* not UTF-8: the byte as \xNN (a lone 0x9B is CSI to an 8-bit terminal) */
            st = spak_buf_printf(out, "\\x%02x", p[i]);
            i++;
        } else if (flags & SPAK_ESC_JSON) {
            st = spak_buf_printf(out, "\\u%04x", cp);
            i += n;
        } else if (cp < 0x100) {
            st = spak_buf_printf(out, "\\x%02x", cp);
            i += n;
        } else {
            st = spak_buf_printf(out, "\\u%04x", cp);
            i += n;
        }
    }
    return st;
}

uint64_t spak_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The shortest %.Ng of v (N from 1 to 17) that strtod reads back as v, into
 * buf[n]; ".0" appended when it came out as a whole number, so it stays a
 * real for a JSON reader. */
static void shortest_real(double v, char *buf, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        spak_snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEin"))  /* "in": inf and nan, which JSON has not anyway */
        spak_snprintf(buf + strlen(buf), n - strlen(buf), ".0");
}

void spak_json_shorten_reals(char *json)
{
    if (!json)
        return;
    char *r = json, *w = json;
    bool in_str = false;
    while (*r) {
        char c = *r;
        if (in_str) {
            *w++ = *r++;
            if (c == '\\' && *r)
                *w++ = *r++;  /* an escaped character, a quote included */
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            *w++ = *r++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            *w++ = *r++;
            continue;
        }
        /* a number: as long as its characters go */
        size_t len = strspn(r, "+-0123456789.eE");
        char tok[64], out[64];
        bool real = memchr(r, '.', len) || memchr(r, 'e', len) || memchr(r, 'E', len);
        if (real && len < sizeof tok) {
            memcpy(tok, r, len);
            tok[len] = '\0';
            char *end;
            double v = strtod(tok, &end);
            shortest_real(v, out, sizeof out);
            if (*end == '\0' && strlen(out) <= len) {
                memcpy(w, out, strlen(out));
                w += strlen(out);
                r += len;
                continue;
            }
        }
        memmove(w, r, len);  /* an integer, or a token we leave alone */
        w += len;
        r += len;
    }
    *w = '\0';
}

const char *spak_join_names(const char *const *names, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    if (!cap)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        if (!spak_snprintf(buf + off, cap - off, "%s%s", sep, names[i]))
            break;
        off += strlen(buf + off);
    }
    return buf;
}
