/* lex.c - see lex.h. */
#include "spec/lex.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void spak_lex_init(spak_lexer *lx, const char *src, size_t len, int line, int col, spak_arena *arena,
                   spak_diags *diags)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->line = line;
    lx->col = col;
    lx->arena = arena;
    lx->diags = diags;
}

static int peekc(const spak_lexer *lx, size_t ahead)
{
    return lx->off + ahead < lx->len ? (unsigned char)lx->src[lx->off + ahead] : -1;
}

/* Advance one byte, keeping line and column (columns count code points). */
static void advance(spak_lexer *lx)
{
    unsigned char c = (unsigned char)lx->src[lx->off++];
    if (c == '\n') {
        lx->line++;
        lx->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        lx->col++;
    }
}

static bool is_name_start(int c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static void lex_error(spak_lexer *lx, spak_pos pos, const char *msg, const char *near)
{
    if (near)
        spak_diags_add(lx->diags, SPAK_DIAG_ERROR, pos.line, pos.col, "%s, near '%s'", msg, near);
    else
        spak_diags_add(lx->diags, SPAK_DIAG_ERROR, pos.line, pos.col, "%s", msg);
}

static char *arena_copy(spak_lexer *lx, const char *s, size_t n)
{
    char *p = spak_arena_strndup(lx->arena, s, n);
    if (!p)
        lx->oom = true;
    return p;
}

static void encode_utf8(spak_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    spak_buf_append(b, u, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* string: '"' chars '"' | '\'' chars '\'' | '"""' anything '"""' */
static void lex_string(spak_lexer *lx, spak_token *t)
{
    int q = peekc(lx, 0);
    bool triple = q == '"' && peekc(lx, 1) == '"' && peekc(lx, 2) == '"';
    spak_buf b;
    spak_buf_init(&b, SPAK_MAX_STRING);
    t->kind = SPAK_TK_STRING;
    t->triple = triple;
    t->single_quoted = q == '\'';
    if (triple) {
        advance(lx);
        advance(lx);
        advance(lx);
        size_t begin = lx->off;
        for (;;) {
            if (lx->off >= lx->len) {
                lex_error(lx, t->pos, "unterminated \"\"\" string", NULL);
                t->kind = SPAK_TK_ERROR;
                goto out;
            }
            if (peekc(lx, 0) == '"' && peekc(lx, 1) == '"' && peekc(lx, 2) == '"')
                break;
            advance(lx);
        }
        size_t n = lx->off - begin;
        advance(lx);
        advance(lx);
        advance(lx);
        if (n > SPAK_MAX_STRING) {
            lex_error(lx, t->pos, "string longer than 65536 bytes", NULL);
            t->kind = SPAK_TK_ERROR;
            goto out;
        }
        if (!spak_utf8_valid(lx->src + begin, n)) {
            lex_error(lx, t->pos, "invalid UTF-8 in string", NULL);
            t->kind = SPAK_TK_ERROR;
            goto out;
        }
        /* the text is kept as a C string: a NUL would cut it short */
        if (memchr(lx->src + begin, '\0', n)) {
            lex_error(lx, t->pos, "NUL byte in string", NULL);
            t->kind = SPAK_TK_ERROR;
            goto out;
        }
        t->text = arena_copy(lx, lx->src + begin, n);
        goto out;
    }
    advance(lx);
    bool bad = false;
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0 || c == '\n') {
            lex_error(lx, t->pos, "unterminated string", NULL);
            t->kind = SPAK_TK_ERROR;
            goto out;
        }
        if (c == q) {
            advance(lx);
            break;
        }
        if (c == '\\') {
            spak_pos epos = {lx->line, lx->col};
            advance(lx);
            int e = peekc(lx, 0);
            unsigned cp = 0;
            switch (e) {
            case 'n': spak_buf_putc(&b, '\n'); advance(lx); break;
            case 't': spak_buf_putc(&b, '\t'); advance(lx); break;
            case 'r': spak_buf_putc(&b, '\r'); advance(lx); break;
            case '\\': spak_buf_putc(&b, '\\'); advance(lx); break;
            case '"': spak_buf_putc(&b, '"'); advance(lx); break;
            case '\'': spak_buf_putc(&b, '\''); advance(lx); break;
            case 'u':
                advance(lx);
                for (int i = 0; i < 4; i++) {
                    int h = hexval(peekc(lx, 0));
                    if (h < 0) {
                        lex_error(lx, epos, "bad \\u escape: expected 4 hex digits", NULL);
                        bad = true;
                        break;
                    }
                    cp = cp * 16 + (unsigned)h;
                    advance(lx);
                }
                if (!bad) {
                    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
                        lex_error(lx, epos, "bad \\u escape: NUL and surrogates are not allowed", NULL);
                        bad = true;
                    } else {
                        encode_utf8(&b, cp);
                    }
                }
                break;
            default: {
                char near[8] = "\\";
                if (e > 32 && e < 127)
                    near[1] = (char)e;
                lex_error(lx, epos, "unknown escape in string", near);
                bad = true;
                if (e >= 0 && e != '\n')
                    advance(lx);
            }
            }
            continue;
        }
        if (c == 0) {
            lex_error(lx, (spak_pos){lx->line, lx->col}, "NUL byte in string", NULL);
            bad = true;
            advance(lx);
            continue;
        }
        if (spak_buf_putc(&b, (char)c) != SPAK_OK && !bad) {
            lex_error(lx, t->pos, "string longer than 65536 bytes", NULL);
            bad = true;
        }
        advance(lx);
    }
    if (bad) {
        t->kind = SPAK_TK_ERROR;
        goto out;
    }
    if (!spak_utf8_valid(b.data ? b.data : "", b.len)) {
        lex_error(lx, t->pos, "invalid UTF-8 in string", NULL);
        t->kind = SPAK_TK_ERROR;
        goto out;
    }
    t->text = arena_copy(lx, b.data ? b.data : "", b.len);
out:
    spak_buf_free(&b);
}

/* number: digits ('.' digits)? ([eE] [+-]? digits)? */
static void lex_number(spak_lexer *lx, spak_token *t)
{
    size_t begin = lx->off;
    bool is_int = true;
    while (isdigit(peekc(lx, 0)))
        advance(lx);
    if (peekc(lx, 0) == '.' && isdigit(peekc(lx, 1))) {
        is_int = false;
        advance(lx);
        while (isdigit(peekc(lx, 0)))
            advance(lx);
    }
    if ((peekc(lx, 0) == 'e' || peekc(lx, 0) == 'E') &&
        (isdigit(peekc(lx, 1)) || ((peekc(lx, 1) == '+' || peekc(lx, 1) == '-') && isdigit(peekc(lx, 2))))) {
        is_int = false;
        advance(lx);
        if (peekc(lx, 0) == '+' || peekc(lx, 0) == '-')
            advance(lx);
        while (isdigit(peekc(lx, 0)))
            advance(lx);
    }
    size_t n = lx->off - begin;
    /* a name glued to a number (64x, 3abc) is one bad token, not two */
    if (is_name_char(peekc(lx, 0))) {
        while (is_name_char(peekc(lx, 0)))
            advance(lx);
        char near[SPAK_MAX_NUMBER];
        size_t m = lx->off - begin < sizeof near - 1 ? lx->off - begin : sizeof near - 1;
        memcpy(near, lx->src + begin, m);
        near[m] = '\0';
        lex_error(lx, t->pos, "malformed number", near);
        t->kind = SPAK_TK_ERROR;
        return;
    }
    if (n >= SPAK_MAX_NUMBER) {
        lex_error(lx, t->pos, "number literal too long", NULL);
        t->kind = SPAK_TK_ERROR;
        return;
    }
    char tmp[SPAK_MAX_NUMBER];
    memcpy(tmp, lx->src + begin, n);
    tmp[n] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    if (errno == ERANGE || !isfinite(v)) {
        lex_error(lx, t->pos, "number out of range", tmp);
        t->kind = SPAK_TK_ERROR;
        return;
    }
    t->kind = SPAK_TK_NUMBER;
    t->num = v;
    t->is_int = is_int && fabs(v) < 9007199254740992.0;
    t->text = arena_copy(lx, tmp, n);
}

/* name: ident ('.' ident)* */
static void lex_name(spak_lexer *lx, spak_token *t)
{
    size_t begin = lx->off;
    for (;;) {
        while (is_name_char(peekc(lx, 0)))
            advance(lx);
        if (peekc(lx, 0) == '.' && is_name_start(peekc(lx, 1))) {
            advance(lx);
            continue;
        }
        break;
    }
    size_t n = lx->off - begin;
    if (n > SPAK_MAX_NAME) {
        lex_error(lx, t->pos, "name longer than 256 bytes", NULL);
        t->kind = SPAK_TK_ERROR;
        return;
    }
    t->kind = SPAK_TK_NAME;
    t->text = arena_copy(lx, lx->src + begin, n);
}

void spak_lex_next(spak_lexer *lx, spak_token *t)
{
    memset(t, 0, sizeof *t);
again:
    /* skip blanks (not newlines) */
    while (lx->off < lx->len) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
            advance(lx);
        else
            break;
    }
    t->pos.line = lx->line;
    t->pos.col = lx->col;
    t->start = lx->src + lx->off;
    size_t begin = lx->off;
    if (lx->off >= lx->len) {
        t->kind = SPAK_TK_EOF;
        t->len = 0;
        return;
    }
    int c = peekc(lx, 0);
    int c1 = peekc(lx, 1);
    if (c == '\n') {
        advance(lx);
        t->kind = SPAK_TK_NEWLINE;
    } else if (c == '#' || (c == '/' && c1 == '/')) {
        while (lx->off < lx->len && peekc(lx, 0) != '\n')
            advance(lx);
        size_t n = lx->off - begin;
        while (n > 0 && (lx->src[begin + n - 1] == ' ' || lx->src[begin + n - 1] == '\t' ||
                         lx->src[begin + n - 1] == '\r'))
            n--;
        if (!spak_utf8_valid(lx->src + begin, n) || memchr(lx->src + begin, '\0', n)) {
            lex_error(lx, t->pos, "invalid UTF-8 or NUL byte in comment", NULL);
            t->kind = SPAK_TK_ERROR;
        } else if (n > SPAK_MAX_STRING) {
            lex_error(lx, t->pos, "comment longer than 65536 bytes", NULL);
            t->kind = SPAK_TK_ERROR;
        } else {
            t->kind = SPAK_TK_COMMENT;
            t->text = arena_copy(lx, lx->src + begin, n);
        }
    } else if (c == '"' || c == '\'') {
        lex_string(lx, t);
    } else if (isdigit(c)) {
        lex_number(lx, t);
    } else if (is_name_start(c)) {
        lex_name(lx, t);
    } else {
        spak_tk k = SPAK_TK_ERROR;
        int w = 1;
        switch (c) {
        case '{': k = SPAK_TK_LBRACE; break;
        case '}': k = SPAK_TK_RBRACE; break;
        case '[': k = SPAK_TK_LBRACKET; break;
        case ']': k = SPAK_TK_RBRACKET; break;
        case '(': k = SPAK_TK_LPAREN; break;
        case ')': k = SPAK_TK_RPAREN; break;
        case ':': k = SPAK_TK_COLON; break;
        case ',': k = SPAK_TK_COMMA; break;
        case ';': k = SPAK_TK_SEMI; break;
        case '+': k = SPAK_TK_PLUS; break;
        case '-': k = SPAK_TK_MINUS; break;
        case '*': k = SPAK_TK_STAR; break;
        case '/': k = SPAK_TK_SLASH; break;
        case '%': k = SPAK_TK_PERCENT; break;
        case '|': if (c1 == '|') { k = SPAK_TK_OROR; w = 2; } else k = SPAK_TK_BAR; break;
        case '&': if (c1 == '&') { k = SPAK_TK_ANDAND; w = 2; } break;
        case '=': if (c1 == '=') { k = SPAK_TK_EQ; w = 2; } else k = SPAK_TK_ASSIGN; break;
        case '!': if (c1 == '=') { k = SPAK_TK_NE; w = 2; } else k = SPAK_TK_NOT; break;
        case '<': if (c1 == '=') { k = SPAK_TK_LE; w = 2; } else k = SPAK_TK_LT; break;
        case '>': if (c1 == '=') { k = SPAK_TK_GE; w = 2; } else k = SPAK_TK_GT; break;
        default: break;
        }
        if (k == SPAK_TK_ERROR) {
            char near[16];
            size_t cl = 1;  /* bytes of a UTF-8 character, shown whole when valid */
            while (cl < 4 && begin + cl < lx->len && ((unsigned char)lx->src[begin + cl] & 0xC0) == 0x80)
                cl++;
            if (c >= 32 && c < 127)
                spak_snprintf(near, sizeof near, "%c", c);
            else if (c >= 0xC0 && spak_utf8_valid(lx->src + begin, cl)) {
                memcpy(near, lx->src + begin, cl);
                near[cl] = '\0';
            } else
                spak_snprintf(near, sizeof near, "\\x%02X", c);
            lex_error(lx, t->pos, "unexpected character", near);
            /* skip a whole (possibly multi-byte) character */
            advance(lx);
            while (lx->off < lx->len && (peekc(lx, 0) & 0xC0) == 0x80)
                advance(lx);
            t->kind = SPAK_TK_ERROR;
        } else {
            for (int i = 0; i < w; i++)
                advance(lx);
            t->kind = k;
        }
    }
    t->len = lx->off - begin;
    if (t->kind == SPAK_TK_ERROR && lx->off == begin) {
        advance(lx);  /* never loop on the same byte */
        goto again;
    }
}

void spak_token_describe(const spak_token *t, char *buf, size_t n)
{
    switch (t->kind) {
    case SPAK_TK_EOF: spak_snprintf(buf, n, "end of file"); return;
    case SPAK_TK_NEWLINE: spak_snprintf(buf, n, "newline"); return;
    default: break;
    }
    size_t len = t->len;
    const char *s = t->start;
    bool cut = false;
    if (len > 40) {
        len = 40;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
        cut = true;
    }
    size_t j = 0;
    for (size_t i = 0; i < len && j + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\t' || c == '\r')
            c = ' ';
        buf[j++] = (char)c;
    }
    if (cut && j + 4 < n) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j < n ? j : n - 1] = '\0';
}
