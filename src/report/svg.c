/* svg.c - writer, escaping, scales and ticks for the report's charts (svg.h). */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void spak_svg_out_init(spak_svg_out *o, size_t cap)
{
    spak_buf_init(&o->b, cap);
    o->st = SPAK_OK;
}

void spak_svg_out_free(spak_svg_out *o)
{
    spak_buf_free(&o->b);
}

static void put(spak_svg_out *o, const char *p, size_t n)
{
    if (o->st == SPAK_OK && n)
        o->st = spak_buf_append(&o->b, p, n);
}

void spak_svg_raw(spak_svg_out *o, const char *s)
{
    if (s)
        put(o, s, strlen(s));
}

void spak_svg_printf(spak_svg_out *o, const char *fmt, ...)
{
    if (o->st != SPAK_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    o->st = spak_buf_vprintf(&o->b, fmt, ap);
    va_end(ap);
}

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
    size_t k = n;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* What replaces byte c in one format, or NULL to keep it; two is room for
 * a two-byte replacement. */
typedef const char *(*escape_fn)(unsigned char c, char two[3]);

/* s[0..len) with each byte escaped by pick; plain runs are copied whole. */
static void escape_n(spak_svg_out *o, const char *s, size_t len, escape_fn pick)
{
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < len; i++) {
        char two[3];
        const char *rep = pick((unsigned char)s[i], two);
        if (rep) {
            put(o, s + run, i - run);
            spak_svg_raw(o, rep);
            run = i + 1;
        }
    }
    put(o, s + run, len - run);
}

/* s escaped, cut after max bytes (on a UTF-8 boundary) with an ellipsis. */
static void escape_cut(spak_svg_out *o, const char *s, size_t max, escape_fn pick)
{
    if (!s)
        return;
    size_t len = strlen(s);
    if (len <= max) {
        escape_n(o, s, len, pick);
        return;
    }
    escape_n(o, s, utf8_cut(s, max), pick);
    spak_svg_raw(o, "\xE2\x80\xA6"); /* ... */
}

/* HTML text and attribute values. */
static const char *html_escape(unsigned char c, char two[3])
{
    (void)two;
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default:
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            return "\xEF\xBF\xBD";
        return NULL;
    }
}

/* Markdown: inline markup characters get a backslash, line breaks a space. */
static const char *md_escape(unsigned char c, char two[3])
{
    if (c == '<')
        return "&lt;";
    if (c == '>')
        return "&gt;";
    if (c == '&')
        return "&amp;";
    if (c == '\n' || c == '\r' || c == '\t')
        return " ";
    if (c < 0x20 || c == 0x7f)
        return "\xEF\xBF\xBD";
    if (c && strchr("\\`*_[]|~", (int)c)) {
        two[0] = '\\';
        two[1] = (char)c;
        two[2] = '\0';
        return two;
    }
    return NULL;
}

void spak_svg_text(spak_svg_out *o, const char *s)
{
    if (s)
        escape_n(o, s, strlen(s), html_escape);
}

void spak_svg_text_n(spak_svg_out *o, const char *s, size_t max)
{
    escape_cut(o, s, max, html_escape);
}

void spak_svg_md(spak_svg_out *o, const char *s)
{
    if (s)
        escape_n(o, s, strlen(s), md_escape);
}

void spak_svg_md_n(spak_svg_out *o, const char *s, size_t max)
{
    escape_cut(o, s, max, md_escape);
}

/* ---- scales ---- */

double spak_svg_map(const spak_svg_scale *s, double v)
{
    double a = s->d0, b = s->d1;
    if (s->log) {
        v = v > 0 ? log10(v) : log10(a) - 1;
        a = log10(a);
        b = log10(b);
    }
    double t = b != a ? (v - a) / (b - a) : 0.5;
    double px = s->r0 + t * (s->r1 - s->r0);
    double lo = s->r0 < s->r1 ? s->r0 : s->r1, hi = s->r0 < s->r1 ? s->r1 : s->r0;
    if (!(px >= lo - 1))
        px = lo - 1;
    if (!(px <= hi + 1))
        px = hi + 1;
    return px;
}

size_t spak_svg_ticks(double lo, double hi, int target, double *ticks, size_t max, double *lo_out,
                      double *hi_out)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi == lo) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    if (target < 2)
        target = 2;
    double raw = (hi - lo) / target;
    double mag = pow(10, floor(log10(raw)));
    double step = mag;
    static const double mult[] = {1, 2, 2.5, 5, 10};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(mult); i++) {
        step = mult[i] * mag;
        if (step >= raw)
            break;
    }
    double a = floor(lo / step) * step, b = ceil(hi / step) * step;
    size_t n = 0;
    for (double v = a; v <= b + step * 0.5 && n < max; v += step)
        ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    if (lo_out)
        *lo_out = a;
    if (hi_out)
        *hi_out = b;
    return n;
}

size_t spak_svg_log_ticks(double lo, double hi, double *ticks, size_t max)
{
    if (!(lo > 0) || !(hi > lo))
        return 0;
    int e0 = (int)floor(log10(lo)), e1 = (int)ceil(log10(hi));
    bool fine = (e1 - e0) < 3;
    size_t n = 0;
    for (int e = e0; e <= e1 && n < max; e++) {
        static const double m[] = {1, 2, 5};
        for (size_t i = 0; i < (fine ? 3u : 1u) && n < max; i++) {
            double v = m[i] * pow(10, e);
            if (v >= lo * 0.999 && v <= hi * 1.001)
                ticks[n++] = v;
        }
    }
    return n;
}

void spak_svg_num(char *buf, size_t n, double v, int digits)
{
    if (n == 0)
        return;
    if (digits < 2)
        digits = 2;
    if (digits > 6)
        digits = 6;
    if (isnan(v)) {
        spak_snprintf(buf, n, "-");
        return;
    }
    if (isinf(v)) {
        spak_snprintf(buf, n, "%sinf", v < 0 ? "-" : "");
        return;
    }
    double a = fabs(v);
    static const struct { double f; const char *sfx; } si[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(si); i++)
        if (a >= si[i].f) {
            double d = si[i].f == 1e4 ? 1e3 : si[i].f;
            spak_snprintf(buf, n, "%.*g%s", digits, v / d, si[i].f == 1e4 ? "k" : si[i].sfx);
            return;
        }
    if (a >= 1000 && digits < 4)
        digits = 4; /* 1000, not 1e+03 */
    if (a != 0 && a < 1e-3) {
        spak_snprintf(buf, n, "%.*e", digits > 2 ? digits - 2 : 1, v);
        return;
    }
    spak_snprintf(buf, n, "%.*g", digits, v);
}
