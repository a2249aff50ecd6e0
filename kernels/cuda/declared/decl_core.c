/*
 * kernels/cuda/declared/decl_core.c - the decl file, the buffers' layout,
 * the argument array and the command line of spak-judge-cuda
 * (decl_core.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decl_core.h"

static const struct {
    const char *name;
    size_t size;
    bool is_float;
} types[DC_NTYPES] = {
    [DC_F16] = {"f16", 2, true}, [DC_BF16] = {"bf16", 2, true}, [DC_F32] = {"f32", 4, true},
    [DC_F64] = {"f64", 8, true}, [DC_I8] = {"i8", 1, false},    [DC_I32] = {"i32", 4, false},
    [DC_I64] = {"i64", 8, false}, [DC_U8] = {"u8", 1, false},   [DC_U32] = {"u32", 4, false},
};

int dc_type_of(const char *s)
{
    for (int i = 0; s && i < DC_NTYPES; i++)
        if (!strcmp(types[i].name, s)) return i;
    return -1;
}

const char *dc_type_name(int type)
{
    return type >= 0 && type < DC_NTYPES ? types[type].name : "?";
}

size_t dc_type_size(int type)
{
    return type >= 0 && type < DC_NTYPES ? types[type].size : 0;
}

bool dc_type_is_float(int type)
{
    return type >= 0 && type < DC_NTYPES && types[type].is_float;
}

/* the parse's state: where the messages go */
struct pctx {
    const char *file;
    char *err;
    size_t errlen;
};

/* "FILE: FIELD: what" into the error; returns -1 */
static int fail(const struct pctx *p, const char *field, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s: %s: %s", p->file, field, what);
    return -1;
}

/* A string member into dst (cap n): 0; absent and !required: 0, dst "";
 * else -1 (the message). */
static int get_str(const struct pctx *p, json_t *o, const char *key, const char *field, bool required, char *dst,
                   size_t n)
{
    json_t *v = json_object_get(o, key);
    dst[0] = 0;
    if (!v || json_is_null(v)) return required ? fail(p, field, "missing (a string is required)") : 0;
    if (!json_is_string(v)) return fail(p, field, "not a string");
    const char *s = json_string_value(v);
    size_t l = strlen(s);
    if (l >= n) return fail(p, field, "longer than %zu bytes", n - 1);
    if (required && !l) return fail(p, field, "empty");
    memcpy(dst, s, l + 1);
    return 0;
}

/* an identifier of C: letters, digits, '_' (the entry, an argument's name) */
static bool is_ident(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* one of names[0..n) into *out (its index): 0, else -1 naming them */
static int get_enum(const struct pctx *p, json_t *o, const char *key, const char *field, const char *const *names,
                    int n, int dflt, int *out)
{
    char s[32];
    if (get_str(p, o, key, field, false, s, sizeof s)) return -1;
    if (!s[0]) {
        *out = dflt;
        return 0;
    }
    char known[160] = "";
    for (int i = 0; i < n; i++) {
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
        size_t l = strlen(known);
        snprintf(known + l, sizeof known - l, "%s%s", i ? ", " : "", names[i]);
    }
    return fail(p, field, "unknown value '%s' (known: %s)", s, known);
}

static int parse_arg(const struct pctx *p, json_t *a, int i, struct dc_arg *out)
{
    static const char *const fills[] = {"normal", "uniform", "constant", "index", "zero"};
    static const char *const access[] = {"read", "write", "readwrite"};
    char f[64], t[16];
    memset(out, 0, sizeof *out);
    snprintf(f, sizeof f, "args[%d]", i);
    if (!json_is_object(a)) return fail(p, f, "not an object");
    snprintf(f, sizeof f, "args[%d].name", i);
    if (get_str(p, a, "name", f, true, out->name, sizeof out->name)) return -1;
    if (!is_ident(out->name)) return fail(p, f, "'%s' is not an identifier", out->name);
    snprintf(f, sizeof f, "args[%d].type", i);
    if (get_str(p, a, "type", f, true, t, sizeof t) == 0 && (out->type = dc_type_of(t)) < 0)
        return fail(p, f, "unknown element type '%s' (known: f16, bf16, f32, f64, i8, i32, i64, u8, u32)", t);
    if (out->type < 0 || !t[0]) return -1;
    out->scalar = json_is_true(json_object_get(a, "scalar"));
    if (out->scalar) return 0;
    snprintf(f, sizeof f, "args[%d].access", i);
    if (get_enum(p, a, "access", f, access, 3, DC_READ, &out->access)) return -1;
    snprintf(f, sizeof f, "args[%d].fill", i);
    if (get_enum(p, a, "fill", f, fills, 5, out->access == DC_READ ? DC_FILL_NORMAL : DC_FILL_ZERO, &out->fill))
        return -1;
    /* the fill's defaults, then fill_args over them */
    out->fill_args[0] = 0, out->fill_args[1] = out->fill == DC_FILL_CONSTANT ? 0 : 1;
    json_t *fa = json_object_get(a, "fill_args");
    snprintf(f, sizeof f, "args[%d].fill_args", i);
    if (fa && !json_is_null(fa)) {
        size_t want = out->fill == DC_FILL_CONSTANT ? 1 : 2;
        if (!json_is_array(fa) || json_array_size(fa) != want || out->fill >= DC_FILL_INDEX)
            return out->fill >= DC_FILL_INDEX ? fail(p, f, "the fill '%s' takes none", fills[out->fill])
                                              : fail(p, f, "want %zu numbers for the fill '%s'", want, fills[out->fill]);
        for (size_t k = 0; k < want; k++) {
            json_t *v = json_array_get(fa, k);
            if (!json_is_number(v) || !isfinite(json_number_value(v))) return fail(p, f, "[%zu] not a finite number", k);
            out->fill_args[k] = json_number_value(v);
        }
    }
    if (out->fill == DC_FILL_NORMAL && !(out->fill_args[1] > 0)) return fail(p, f, "the sd must be above 0");
    if (out->fill == DC_FILL_UNIFORM && !(out->fill_args[1] > out->fill_args[0])) return fail(p, f, "want lo < hi");
    static const char *const memories[] = {"global", "constant"};
    int mem = 0;
    snprintf(f, sizeof f, "args[%d].memory", i);
    if (get_enum(p, a, "memory", f, memories, 2, 0, &mem)) return -1;
    out->constant = mem == 1;
    out->output = json_is_true(json_object_get(a, "output"));
    /* a kernel cannot write its __constant__ memory: the argument is an input */
    if (out->constant && (out->access != DC_READ || out->output))
        return fail(p, f, "a \"constant\" argument is read only: access \"read\", not an output");
    if (!out->output) return 0;
    snprintf(f, sizeof f, "args[%d].output", i);
    if (out->access == DC_READ) return fail(p, f, "an output must have access \"write\" or \"readwrite\"");
    snprintf(f, sizeof f, "args[%d].tolerance", i);
    json_t *tol = json_object_get(a, "tolerance");
    if (!json_is_number(tol)) return fail(p, f, "an output needs a tolerance (a number)");
    out->tolerance = json_number_value(tol);
    if (!(out->tolerance >= 0) || !isfinite(out->tolerance)) return fail(p, f, "want a finite number >= 0");
    return 0;
}

/* an array of 3 positive integers of at most max each (the grid, the block) */
static int get_dim3(const struct pctx *p, json_t *o, const char *key, const char *field, bool required,
                    const unsigned max[3], unsigned out[3])
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return required ? fail(p, field, "missing (3 integers)") : 1;
    if (!json_is_array(v) || json_array_size(v) != 3) return fail(p, field, "want an array of 3 integers");
    for (int k = 0; k < 3; k++) {
        json_t *x = json_array_get(v, k);
        json_int_t n = json_is_integer(x) ? json_integer_value(x) : 0;
        if (n < 1 || (unsigned long long)n > max[k])
            return fail(p, field, "[%d] want an integer in 1..%u", k, max[k]);
        out[k] = (unsigned)n;
    }
    return 0;
}

/* a number member >= 0 into *out; absent: *out = dflt */
static int get_num(const struct pctx *p, json_t *o, const char *key, const char *field, double max, double dflt,
                   double *out)
{
    json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) > max)
        return fail(p, field, "want a number in 0..%.0f", max);
    *out = json_number_value(v);
    return 0;
}

/* a scalar's value fits its type (integers: whole, in range) */
static bool scalar_fits(int type, double v)
{
    static const double lo[DC_NTYPES] = {[DC_I8] = -128, [DC_I32] = -2147483648.0, [DC_I64] = -9007199254740992.0},
                        hi[DC_NTYPES] = {[DC_I8] = 127, [DC_I32] = 2147483647.0, [DC_I64] = 9007199254740992.0,
                                         [DC_U8] = 255, [DC_U32] = 4294967295.0};
    if (!isfinite(v)) return false;
    if (dc_type_is_float(type)) return true;
    return v == floor(v) && v >= lo[type] && v <= hi[type];
}

static int parse_shape(const struct pctx *p, const struct dc_decl *d, json_t *o, int i, struct dc_shape *s)
{
    static const unsigned gmax[3] = {2147483647u, 65535, 65535}, bmax[3] = {1024, 1024, 64};
    char f[96];
    memset(s, 0, sizeof *s);
    snprintf(f, sizeof f, "shapes[%d]", i);
    if (!json_is_object(o)) return fail(p, f, "not an object");
    snprintf(f, sizeof f, "shapes[%d].label", i);
    if (get_str(p, o, "label", f, true, s->label, sizeof s->label)) return -1;
    s->drawn = json_is_true(json_object_get(o, "drawn"));
    s->heldout = s->drawn || json_is_true(json_object_get(o, "heldout"));
    json_t *c = json_object_get(o, "counts"), *v = json_object_get(o, "values");
    snprintf(f, sizeof f, "shapes[%d].counts", i);
    if (!json_is_array(c) || json_array_size(c) != (size_t)d->nargs)
        return fail(p, f, "want an array of %d element counts, one per arg", d->nargs);
    snprintf(f, sizeof f, "shapes[%d].values", i);
    if (!json_is_array(v) || json_array_size(v) != (size_t)d->nargs)
        return fail(p, f, "want an array of %d scalar values, one per arg", d->nargs);
    int64_t total = 0;
    for (int a = 0; a < d->nargs; a++) {
        const struct dc_arg *g = &d->args[a];
        json_t *ca = json_array_get(c, a), *va = json_array_get(v, a);
        snprintf(f, sizeof f, "shapes[%d].counts[%d] ('%s')", i, a, g->name);
        if (!json_is_integer(ca)) return fail(p, f, "not an integer");
        json_int_t n = json_integer_value(ca);
        if (g->scalar && n != 0) return fail(p, f, "a scalar has count 0");
        if (!g->scalar && n < 1) return fail(p, f, "%lld elements: a buffer holds at least 1", (long long)n);
        if (!g->scalar && n > DC_MAX_ARG_BYTES / (json_int_t)dc_type_size(g->type))
            return fail(p, f, "%lld elements of %s: over the cap of %lld bytes a buffer", (long long)n,
                        dc_type_name(g->type), (long long)DC_MAX_ARG_BYTES);
        s->count[a] = n;
        total += (n * (int64_t)dc_type_size(g->type) + DC_ALIGN - 1) / DC_ALIGN * DC_ALIGN;
        snprintf(f, sizeof f, "shapes[%d].values[%d] ('%s')", i, a, g->name);
        if (g->scalar && !json_is_number(va)) return fail(p, f, "a scalar needs a number");
        if (!g->scalar && !json_is_null(va)) return fail(p, f, "a buffer's value is null");
        if (g->scalar) {
            s->value[a] = json_number_value(va);
            if (!scalar_fits(g->type, s->value[a]))
                return fail(p, f, "%.17g does not fit %s", s->value[a], dc_type_name(g->type));
        }
    }
    snprintf(f, sizeof f, "shapes[%d].counts", i);
    if (total > DC_MAX_SET_BYTES)
        return fail(p, f, "the buffers of one call take %lld bytes, over the cap of %lld", (long long)total,
                    (long long)DC_MAX_SET_BYTES);
    double smem, rsmem;
    snprintf(f, sizeof f, "shapes[%d].grid", i);
    if (get_dim3(p, o, "grid", f, true, gmax, s->grid)) return -1;
    snprintf(f, sizeof f, "shapes[%d].block", i);
    if (get_dim3(p, o, "block", f, true, bmax, s->block)) return -1;
    if ((unsigned long)s->block[0] * s->block[1] * s->block[2] > 1024)
        return fail(p, f, "%u threads a block, over 1024", s->block[0] * s->block[1] * s->block[2]);
    snprintf(f, sizeof f, "shapes[%d].shared_bytes", i);
    if (get_num(p, o, "shared_bytes", f, DC_MAX_SMEM, 0, &smem)) return -1;
    s->smem = (unsigned)smem;
    memcpy(s->rgrid, s->grid, sizeof s->grid), memcpy(s->rblock, s->block, sizeof s->block);
    snprintf(f, sizeof f, "shapes[%d].reference_grid", i);
    if (get_dim3(p, o, "reference_grid", f, false, gmax, s->rgrid) < 0) return -1;
    snprintf(f, sizeof f, "shapes[%d].reference_block", i);
    if (get_dim3(p, o, "reference_block", f, false, bmax, s->rblock) < 0) return -1;
    if ((unsigned long)s->rblock[0] * s->rblock[1] * s->rblock[2] > 1024) return fail(p, f, "over 1024 threads");
    snprintf(f, sizeof f, "shapes[%d].reference_shared_bytes", i);
    if (get_num(p, o, "reference_shared_bytes", f, DC_MAX_SMEM, smem, &rsmem)) return -1;
    s->rsmem = (unsigned)rsmem;
    snprintf(f, sizeof f, "shapes[%d].flops", i);
    if (get_num(p, o, "flops", f, 1e30, -1, &s->flops)) return -1;
    snprintf(f, sizeof f, "shapes[%d].bytes", i);
    return get_num(p, o, "bytes", f, 1e30, -1, &s->bytes);
}

/* the reference: null, or a kernel of its own cubin */
static int parse_ref(const struct pctx *p, json_t *r, struct dc_decl *d)
{
    char kind[32], lib[64];
    d->ref = DC_REF_NONE;
    if (!r || json_is_null(r)) return 0;
    if (!json_is_object(r)) return fail(p, "reference", "want null or an object");
    if (get_str(p, r, "kind", "reference.kind", true, kind, sizeof kind)) return -1;
    if (!strcmp(kind, "library")) {
        if (get_str(p, r, "name", "reference.name", false, lib, sizeof lib)) return -1;
        return fail(p, "reference.name", "'%s': spak-judge-cuda knows no library routine yet; give a reference "
                    "kernel (reference { source, entry })", lib);
    }
    if (strcmp(kind, "function") != 0)
        return fail(p, "reference.kind", "unknown value '%s' (known: function, library)", kind);
    if (get_str(p, r, "path", "reference.path", true, d->ref_path, sizeof d->ref_path) ||
        get_str(p, r, "entry", "reference.entry", true, d->ref_entry, sizeof d->ref_entry))
        return -1;
    if (!is_ident(d->ref_entry))
        return fail(p, "reference.entry", "'%s' is not a kernel name (an extern \"C\" __global__ function)",
                    d->ref_entry);
    d->ref = DC_REF_FUNCTION;
    return 0;
}

/* the entry: a plain kernel name; a template's name expression is refused */
static int check_entry(const struct pctx *p, const char *entry)
{
    if (strchr(entry, '<'))
        return fail(p, "entry", "'%s': template kernels (params_as \"template\", NVRTC name expressions) are not "
                    "supported by spak-judge-cuda yet; give the parameters as defines or an extern \"C\" wrapper "
                    "kernel", entry);
    if (!is_ident(entry)) return fail(p, "entry", "'%s' is not a kernel name (an extern \"C\" __global__ function)", entry);
    return 0;
}

static int parse_root(const struct pctx *p, json_t *root, struct dc_decl *d)
{
    char fmt[64], lang[16];
    if (!json_is_object(root)) return fail(p, "(top)", "not a JSON object");
    if (get_str(p, root, "format", "format", true, fmt, sizeof fmt)) return -1;
    if (strcmp(fmt, DC_FORMAT) != 0) return fail(p, "format", "'%s', this judge reads '%s'", fmt, DC_FORMAT);
    if (get_str(p, root, "name", "name", true, d->name, sizeof d->name) ||
        get_str(p, root, "language", "language", true, lang, sizeof lang))
        return -1;
    if (strcmp(lang, "cuda") != 0)
        return fail(p, "language", "'%s': spak-judge-cuda judges kernels of language \"cuda\"", lang);
    if (get_str(p, root, "entry", "entry", true, d->entry, sizeof d->entry) || check_entry(p, d->entry) ||
        get_str(p, root, "candidate", "candidate", false, d->candidate, sizeof d->candidate) ||
        parse_ref(p, json_object_get(root, "reference"), d))
        return -1;
    json_t *args = json_object_get(root, "args"), *shapes = json_object_get(root, "shapes");
    if (!json_is_array(args) || json_array_size(args) == 0) return fail(p, "args", "want a non-empty array");
    if (json_array_size(args) > DC_MAX_ARGS)
        return fail(p, "args", "%zu arguments, over the cap of %d", json_array_size(args), DC_MAX_ARGS);
    d->nargs = (int)json_array_size(args);
    bool any_out = false;
    int ncmem = 0;
    for (int i = 0; i < d->nargs; i++) {
        if (parse_arg(p, json_array_get(args, i), i, &d->args[i])) return -1;
        any_out = any_out || d->args[i].output;
        if (d->args[i].constant && ++ncmem > DC_MAX_CMEM) {
            char f[32];
            snprintf(f, sizeof f, "args[%d].memory", i);
            return fail(p, f, "more than %d \"constant\" arguments", DC_MAX_CMEM);
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(d->args[j].name, d->args[i].name)) {
                char f[32];
                snprintf(f, sizeof f, "args[%d].name", i);
                return fail(p, f, "'%s' is also args[%d]'s name", d->args[i].name, j);
            }
    }
    if (!any_out) return fail(p, "args", "no output (an arg with \"output\": true): nothing to check");
    if (!json_is_array(shapes) || json_array_size(shapes) == 0) return fail(p, "shapes", "want a non-empty array");
    if (json_array_size(shapes) > DC_MAX_SHAPES)
        return fail(p, "shapes", "%zu shapes, over the cap of %d", json_array_size(shapes), DC_MAX_SHAPES);
    d->nshapes = (int)json_array_size(shapes);
    for (int i = 0; i < d->nshapes; i++)
        if (parse_shape(p, d, json_array_get(shapes, i), i, &d->shapes[i])) return -1;
    return 0;
}

int dc_parse(const char *text, size_t n, const char *file, struct dc_decl *d, char *err, size_t errlen)
{
    struct pctx p = {file ? file : "decl", err, errlen};
    json_error_t je;
    memset(d, 0, sizeof *d);
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: %s", p.file, je.line, je.column, je.text);
        return -1;
    }
    int rc = parse_root(&p, root, d);
    json_decref(root);
    return rc;
}

int dc_load(const char *path, struct dc_decl *d, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    char *buf = NULL;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read the decl file: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > DC_MAX_FILE) {
        snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, DC_MAX_FILE);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (!buf || got != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: cannot read the decl file", path);
        goto out;
    }
    rc = dc_parse(buf, got, path, d, err, errlen);
out:
    free(buf);
    if (fd >= 0) close(fd);
    return rc;
}

void dc_layout_of(const struct dc_decl *d, const struct dc_shape *s, struct dc_layout *l)
{
    memset(l, 0, sizeof *l);
    for (int a = 0; a < d->nargs; a++) {
        if (d->args[a].scalar) {
            l->slot[a] = -1;
            continue;
        }
        int k = d->args[a].access == DC_READ ? 1 : 0;
        l->slot[a] = k;
        l->off[a] = l->set_bytes[k];
        l->bytes[a] = (uint64_t)s->count[a] * dc_type_size(d->args[a].type);
        l->set_bytes[k] += (l->bytes[a] + DC_ALIGN - 1) / DC_ALIGN * DC_ALIGN;
    }
}

void dc_scalar_bytes(int type, double v, unsigned char out[8])
{
    memset(out, 0, 8);
    switch (type) {
    case DC_F32: {
        float f = (float)v;
        memcpy(out, &f, 4);
        break;
    }
    case DC_F64:
        memcpy(out, &v, 8);
        break;
    case DC_F16:
    case DC_BF16: {
        /* by value through fp32: bf16 is its high half (rounded to nearest
         * even); f16 is rebuilt from the fp32 fields */
        float f = (float)v;
        uint32_t b;
        memcpy(&b, &f, 4);
        uint16_t h;
        if (type == DC_BF16)
            h = (uint16_t)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
        else {
            uint32_t sign = (b >> 16) & 0x8000, man = b & 0x7FFFFF;
            int e = (int)((b >> 23) & 0xFF) - 127 + 15;
            if (e >= 31) h = (uint16_t)(sign | 0x7C00);
            else if (e <= 0) h = (uint16_t)sign; /* subnormals flushed: a scalar argument is rarely one */
            else {
                uint32_t r = (uint32_t)e << 10 | man >> 13, rest = man & 0x1FFF;
                if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++;
                h = (uint16_t)(sign | r);
            }
        }
        memcpy(out, &h, 2);
        break;
    }
    case DC_I8:
    case DC_U8: {
        int8_t x = (int8_t)(int)v;
        uint8_t u = (uint8_t)(unsigned)v;
        memcpy(out, type == DC_I8 ? (void *)&x : (void *)&u, 1);
        break;
    }
    case DC_I32: {
        int32_t x = (int32_t)v;
        memcpy(out, &x, 4);
        break;
    }
    case DC_U32: {
        uint32_t x = (uint32_t)v;
        memcpy(out, &x, 4);
        break;
    }
    default: {
        int64_t x = (int64_t)v;
        memcpy(out, &x, 8);
    }
    }
}

size_t dc_pack_params(const struct dc_decl *d, const struct dc_shape *s, const uint64_t *addr, unsigned char *buf,
                      size_t cap, uint32_t *off, uint32_t *size)
{
    size_t at = 0;
    for (int a = 0; a < d->nargs; a++) {
        size_t sz = d->args[a].scalar ? dc_type_size(d->args[a].type) : 8;
        at = (at + sz - 1) / sz * sz;
        if (at + sz > cap) return 0;
        unsigned char v[8];
        if (d->args[a].scalar)
            dc_scalar_bytes(d->args[a].type, s->value[a], v);
        else
            memcpy(v, &addr[a], 8);
        memcpy(buf + at, v, sz);
        off[a] = (uint32_t)at, size[a] = (uint32_t)sz;
        at += sz;
    }
    return at;
}

static const char USAGE[] =
    "usage: spak-judge-cuda --decl PATH [--candidate PATH.cubin ...] [--reps 30] [--warmup 5] [--batch-ms 3]\n"
    "       [--between-runs 0.02] [--check-only] [--timeout 300] [--ceilings-cache PATH] [--seed N (ignored)]";

/* a decimal integer in lo..hi, nothing around it */
static bool num_in(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

int dc_parse_args(int argc, char **argv, struct dc_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->reps = 30, a->warmup = 5, a->timeout_s = 300, a->batch_ms = 3, a->between_runs = CS_BETWEEN_RUNS_SD;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int dummy;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            snprintf(err, errlen, "%s", USAGE);
            return 1;
        }
        if (!strcmp(o, "--check-only")) {
            a->check_only = true;
            continue;
        }
        bool takes = !strcmp(o, "--decl") || !strcmp(o, "--candidate") || !strcmp(o, "--reps") ||
                     !strcmp(o, "--warmup") || !strcmp(o, "--batch-ms") || !strcmp(o, "--timeout") ||
                     !strcmp(o, "--ceilings-cache") || !strcmp(o, "--seed") || !strcmp(o, "--between-runs");
        if (!takes) {
            snprintf(err, errlen, "unknown option '%s'\n%s", o, USAGE);
            return -1;
        }
        if (!v) {
            snprintf(err, errlen, "%s needs a value\n%s", o, USAGE);
            return -1;
        }
        i++;
        bool ok = true;
        if (!strcmp(o, "--decl")) a->decl = v;
        else if (!strcmp(o, "--ceilings-cache")) a->ceilings_cache = v;
        else if (!strcmp(o, "--candidate")) {
            if (a->ncand == DC_MAX_CAND) {
                snprintf(err, errlen, "--candidate: at most %d in one session", DC_MAX_CAND);
                return -1;
            }
            a->candidates[a->ncand++] = v;
        } else if (!strcmp(o, "--reps")) ok = num_in(v, 1, 100000, &a->reps);
        else if (!strcmp(o, "--warmup")) ok = num_in(v, 0, 1000, &a->warmup);
        else if (!strcmp(o, "--batch-ms")) ok = num_in(v, 1, 1000, &a->batch_ms);
        else if (!strcmp(o, "--timeout")) ok = num_in(v, 1, 86400, &a->timeout_s);
        else if (!strcmp(o, "--between-runs")) {
            if (!cs_parse_between_runs(v, &a->between_runs, err, errlen))
                return -1;
        }
        else ok = num_in(v, 0, 2147483647, &dummy) || (v[0] && strspn(v, "0123456789") == strlen(v));
        if (!ok) {
            snprintf(err, errlen, "%s: '%s' is not an integer in range", o, v);
            return -1;
        }
    }
    if (!a->decl) {
        snprintf(err, errlen, "--decl PATH is required\n%s", USAGE);
        return -1;
    }
    return 0;
}
