/*
 * kernels/cpu/declared/family.c - declared kernels as the CPU harness sees
 * them (the descriptor of kernels/cpu/common/family.h, described at run
 * time): the kernel, its arguments, its shapes and its reference come from
 * the decl file spak wrote (--decl, docs/declared-kernels.md), in which
 * every expression is already a number, so this judge evaluates none.
 *
 * Memory of one call (the core's input set and output slot):
 *   input set    every "read" argument, then a copy of every "readwrite"
 *                argument's fresh initial data (the reference's input)
 *   output slot  every "write" and "readwrite" argument
 * each at a 64-byte boundary. The set is refilled from the judge's
 * generator before every call (fill), the slot readied from it (init_slot:
 * readwrite data copied in, write arguments poisoned word by word), and the
 * runner maps the set read-only: a write to a "read" argument faults.
 *
 * The reference runs in a runner of its own (started on the first check,
 * sandboxed like the candidate's, loaded from the decl's reference .so): for
 * every checked and every timed call it gets a copy of the same input set
 * and its outputs are compared with the candidate's, output by output:
 * ||out - ref|| / ||ref|| (the largest absolute difference where ||ref|| is
 * 0), each against its own tolerance; the error reported is the worst one
 * in units of the first output's tolerance (the records' "tolerance"). No
 * reference: the outputs are only checked for being written and finite,
 * and every record says "trusted": false.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/family.h"
#include "../common/rctl.h"

#define DECL_MAX_BYTES ((size_t)4 << 20)
#define DECL_MAX_ELEMS ((int64_t)1 << 31)
#define DECL_MAX_SHAPE_BYTES ((uint64_t)8 << 30) /* one call's set and slot */

enum { FILL_NORMAL, FILL_UNIFORM, FILL_CONSTANT, FILL_INDEX, FILL_ZERO };
enum { ACC_READ, ACC_WRITE, ACC_READWRITE };

typedef struct darg {
    char name[64];
    int type, esize, fill, access;
    bool scalar, output;
    double fa[2], tol;
} darg;

typedef struct dshape {
    int64_t count[RP_MAX_DARGS], value[RP_MAX_DARGS];
    double flops, bytes;
    uint64_t off_in[RP_MAX_DARGS], off_rw[RP_MAX_DARGS], off_out[RP_MAX_DARGS];
    size_t in_words, out_words;
} dshape;

static struct {
    char name[64], entry[64], ref_entry[64], ref_path[4096];
    bool has_ref;
    int nargs;
    darg a[RP_MAX_DARGS];
    dshape sh[64];
    int nshapes;
    double tol0;
    const char *runner_exe;
    cpu_runner *ref;
    float *ref_in, *ref_out;
    long ref_shape;
    bool ref_broken;
    char ref_why[240];
} D = {.ref_shape = -1};

static const char *const type_names[] = {"", "f16", "bf16", "f32", "f64", "i8", "i32", "i64", "u8", "u32"};
static const int type_sizes[] = {0, 2, 2, 4, 8, 1, 4, 8, 1, 4};
static const char *const fill_names[] = {"normal", "uniform", "constant", "index", "zero"};
static const char *const access_names[] = {"read", "write", "readwrite"};

static int find(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static uint64_t align64(uint64_t x)
{
    return (x + 63) / 64 * 64;
}

/* ---- element conversions ---- */

static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xff, m = x & 0x7fffffu;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    int ne = (int)e - 127 + 15;
    if (ne >= 31) return (uint16_t)(sign | 0x7c00u);
    if (ne <= 0) {
        if (ne < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - ne), h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)ne << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static double f16_to_f64(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
    return (h & 0x8000) ? -v : v;
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static double bf16_to_f64(uint16_t b)
{
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* element i of a buffer of type t, as a double */
static double get(const unsigned char *p, int t, size_t i)
{
    switch (t) {
    case RP_F16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return f16_to_f64(h); }
    case RP_BF16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return bf16_to_f64(h); }
    case RP_F32: { float f; memcpy(&f, p + 4 * i, 4); return f; }
    case RP_F64: { double d; memcpy(&d, p + 8 * i, 8); return d; }
    case RP_I8: return (int8_t)p[i];
    case RP_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case RP_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case RP_U8: return p[i];
    case RP_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    default: return NAN;
    }
}

/* element i of a buffer of type t set to v (rounded for integers) */
static void put(unsigned char *p, int t, size_t i, double v)
{
    switch (t) {
    case RP_F16: { uint16_t h = f32_to_f16((float)v); memcpy(p + 2 * i, &h, 2); return; }
    case RP_BF16: { uint16_t h = f32_to_bf16((float)v); memcpy(p + 2 * i, &h, 2); return; }
    case RP_F32: { float f = (float)v; memcpy(p + 4 * i, &f, 4); return; }
    case RP_F64: memcpy(p + 8 * i, &v, 8); return;
    case RP_I8: p[i] = (unsigned char)(int8_t)llround(v); return;
    case RP_I32: { int32_t x = (int32_t)llround(v); memcpy(p + 4 * i, &x, 4); return; }
    case RP_I64: { int64_t x = llround(v); memcpy(p + 8 * i, &x, 8); return; }
    case RP_U8: p[i] = (unsigned char)llround(v); return;
    case RP_U32: { uint32_t x = (uint32_t)llround(v); memcpy(p + 4 * i, &x, 4); return; }
    default: return;
    }
}

/* ---- the decl file ---- */

#define REFUSE(...) (snprintf(why, nwhy, __VA_ARGS__), 2)

static int load_arg(json_t *j, int i, darg *a, char *why, size_t nwhy)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!name || strlen(name) >= sizeof a->name) return REFUSE("args[%d].name: missing or too long", i);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->type = find(type, type_names, 10);
    if (a->type <= 0) return REFUSE("args[%d].type: '%s' is not a type this judge knows", i, type ? type : "");
    a->esize = type_sizes[a->type];
    a->scalar = json_is_true(json_object_get(j, "scalar"));
    if (a->scalar) {
        if (a->type == RP_F16 || a->type == RP_BF16)
            return REFUSE("args[%d].type: a %s scalar cannot be passed by value here", i, type);
        return 0;
    }
    a->fill = find(json_string_value(json_object_get(j, "fill")), fill_names, 5);
    a->access = find(json_string_value(json_object_get(j, "access")), access_names, 3);
    if (a->fill < 0) return REFUSE("args[%d].fill: unknown", i);
    if (a->access < 0) return REFUSE("args[%d].access: unknown", i);
    json_t *fa = json_object_get(j, "fill_args");
    a->fa[0] = a->fill == FILL_NORMAL || a->fill == FILL_UNIFORM ? 0 : 0;
    a->fa[1] = 1;
    for (size_t k = 0; json_is_array(fa) && k < 2 && k < json_array_size(fa); k++)
        a->fa[k] = json_number_value(json_array_get(fa, k));
    a->output = json_is_true(json_object_get(j, "output"));
    json_t *tol = json_object_get(j, "tolerance");
    if (a->output && (!json_is_number(tol) || !(json_number_value(tol) >= 0)))
        return REFUSE("args[%d].tolerance: an output needs a tolerance >= 0", i);
    if (a->output && a->access == ACC_READ) return REFUSE("args[%d].access: an output cannot be read-only", i);
    a->tol = a->output ? json_number_value(tol) : 0;
    return 0;
}

/* one shape's layout: the read block (read args, then readwrite copies) and
 * the write block (write and readwrite args) */
static int layout_shape(dshape *s, int i, char *why, size_t nwhy)
{
    uint64_t in = 0, out = 0;
    for (int k = 0; k < D.nargs; k++) {
        const darg *a = &D.a[k];
        if (a->scalar) continue;
        uint64_t b = (uint64_t)s->count[k] * (uint64_t)a->esize;
        if (a->access == ACC_READ) s->off_in[k] = in, in = align64(in + b);
        if (a->access == ACC_READWRITE) s->off_rw[k] = in, in = align64(in + b);
        if (a->access != ACC_READ) s->off_out[k] = out, out = align64(out + b);
    }
    if (in + out > DECL_MAX_SHAPE_BYTES) return REFUSE("shapes[%d].counts: %llu bytes a call, over the cap", i,
                                                       (unsigned long long)(in + out));
    s->in_words = in ? in / 4 : 16;
    s->out_words = out ? out / 4 : 16;
    return 0;
}

static int load_shape(json_t *j, int i, cpu_shape *out, char *why, size_t nwhy)
{
    dshape *s = &D.sh[i];
    const char *label = json_string_value(json_object_get(j, "label"));
    json_t *counts = json_object_get(j, "counts"), *values = json_object_get(j, "values");
    if (!label || strlen(label) >= sizeof out->str) return REFUSE("shapes[%d].label: missing or too long", i);
    if (json_array_size(counts) != (size_t)D.nargs || json_array_size(values) != (size_t)D.nargs)
        return REFUSE("shapes[%d].counts: one per arg (%d)", i, D.nargs);
    for (int k = 0; k < D.nargs; k++) {
        json_t *c = json_array_get(counts, (size_t)k), *v = json_array_get(values, (size_t)k);
        s->count[k] = json_integer_value(c);
        s->value[k] = json_integer_value(v);
        if (!D.a[k].scalar && (!json_is_integer(c) || s->count[k] < 1 || s->count[k] > DECL_MAX_ELEMS))
            return REFUSE("shapes[%d].counts[%d]: %lld elements is outside [1, 2^31]", i, k,
                          (long long)s->count[k]);
        if (D.a[k].scalar && !json_is_integer(v)) return REFUSE("shapes[%d].values[%d]: not a whole number", i, k);
    }
    json_t *fl = json_object_get(j, "flops"), *by = json_object_get(j, "bytes");
    s->flops = json_is_number(fl) ? json_number_value(fl) : NAN;
    s->bytes = json_is_number(by) ? json_number_value(by) : -1;
    memset(out, 0, sizeof *out);
    out->d[0] = i;
    /* a shape spak drew at run time (src/build/decl.c) is held out */
    out->drawn = json_is_true(json_object_get(j, "drawn"));
    out->heldout = out->drawn || json_is_true(json_object_get(j, "heldout"));
    snprintf(out->str, sizeof out->str, "%s", label);
    return layout_shape(s, i, why, nwhy);
}

static int load_reference(json_t *ref, char *why, size_t nwhy)
{
    if (json_is_null(ref) || !ref) return 0;
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    if (!kind || strcmp(kind, "function") != 0)
        return REFUSE("reference.kind: '%s': the CPU judge runs a reference function (.so); it knows no library "
                      "routine", kind ? kind : "");
    const char *path = json_string_value(json_object_get(ref, "path"));
    const char *entry = json_string_value(json_object_get(ref, "entry"));
    if (!path || strlen(path) >= sizeof D.ref_path) return REFUSE("reference.path: missing or too long");
    if (!entry || strlen(entry) >= sizeof D.ref_entry) return REFUSE("reference.entry: missing or too long");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return REFUSE("reference.path: cannot read %s", path);
    snprintf(D.ref_path, sizeof D.ref_path, "%s", path);
    snprintf(D.ref_entry, sizeof D.ref_entry, "%s", entry);
    D.has_ref = true;
    return 0;
}

static int load_root(json_t *root, cpu_shape *shapes, int *nshapes, int max, char *why, size_t nwhy)
{
    const char *fmt = json_string_value(json_object_get(root, "format"));
    const char *lang = json_string_value(json_object_get(root, "language"));
    const char *name = json_string_value(json_object_get(root, "name"));
    const char *entry = json_string_value(json_object_get(root, "entry"));
    json_t *args = json_object_get(root, "args"), *shp = json_object_get(root, "shapes");
    if (!fmt || strcmp(fmt, "spak-kernel-decl/1") != 0) return REFUSE("format: expected \"spak-kernel-decl/1\"");
    if (!lang || (strcmp(lang, "c") && strcmp(lang, "c++")))
        return REFUSE("language: '%s' is not for the CPU judge (c or c++)", lang ? lang : "");
    if (!name || strlen(name) >= sizeof D.name) return REFUSE("name: missing or too long");
    if (!entry || !*entry || strlen(entry) >= sizeof D.entry) return REFUSE("entry: missing or too long");
    snprintf(D.name, sizeof D.name, "%s", name);
    snprintf(D.entry, sizeof D.entry, "%s", entry);
    if (!json_is_array(args) || json_array_size(args) < 1 || json_array_size(args) > RP_MAX_DARGS)
        return REFUSE("args: 1 to %d arguments", RP_MAX_DARGS);
    D.nargs = (int)json_array_size(args);
    int rc = 0, nout = 0;
    for (int i = 0; !rc && i < D.nargs; i++) {
        rc = load_arg(json_array_get(args, (size_t)i), i, &D.a[i], why, nwhy);
        if (!rc && D.a[i].output && nout++ == 0) D.tol0 = D.a[i].tol;
    }
    if (!rc && !nout) return REFUSE("args: no output (output: true with a tolerance)");
    int cap = max < (int)(sizeof D.sh / sizeof D.sh[0]) ? max : (int)(sizeof D.sh / sizeof D.sh[0]);
    if (!rc && (!json_is_array(shp) || json_array_size(shp) < 1 || json_array_size(shp) > (size_t)cap))
        return REFUSE("shapes: 1 to %d shapes", cap);
    for (int i = 0; !rc && i < (int)json_array_size(shp); i++) rc = load_shape(json_array_get(shp, (size_t)i), i,
                                                                               &shapes[i], why, nwhy);
    if (!rc) *nshapes = D.nshapes = (int)json_array_size(shp);
    return rc ? rc : load_reference(json_object_get(root, "reference"), why, nwhy);
}

static void finish(void);

static int load(const char *path, const char *runner_exe, cpu_shape *shapes, int *nshapes, int max, double *tol,
                char *why, size_t nwhy)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > DECL_MAX_BYTES)
        return REFUSE("cannot read it (a regular file of at most %zu bytes)", DECL_MAX_BYTES);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return REFUSE("not JSON (line %d: %s)", je.line, je.text);
    int rc = load_root(root, shapes, nshapes, max, why, nwhy);
    json_decref(root);
    if (rc) return rc;
    D.runner_exe = runner_exe;
    *tol = D.tol0;
    atexit(finish);
    return 0;
}

/* ---- the calls ---- */

static void sizes(const cpu_shape *sh, size_t in[3], int *nin, size_t *out)
{
    const dshape *s = &D.sh[sh->d[0]];
    in[0] = s->in_words;
    *nin = 1;
    *out = s->out_words;
}

static double flops(const cpu_shape *sh)
{
    return D.sh[sh->d[0]].flops;
}

static double bytes(const cpu_shape *sh)
{
    return D.sh[sh->d[0]].bytes;
}

static void fill_buf(const darg *a, unsigned char *p, int64_t n, rng *r)
{
    if (a->fill == FILL_ZERO || (a->fill == FILL_CONSTANT && a->fa[0] == 0)) {
        memset(p, 0, (size_t)n * (size_t)a->esize);
        return;
    }
    if (a->fill == FILL_NORMAL && a->type == RP_F32 && a->fa[0] == 0 && a->fa[1] == 1) {
        cpu_fill_normal(r, (float *)(void *)p, (size_t)n);
        return;
    }
    float tmp[1024];
    for (int64_t i = 0; i < n; i += 1024) {
        size_t m = n - i < 1024 ? (size_t)(n - i) : 1024;
        if (a->fill == FILL_NORMAL) cpu_fill_normal(r, tmp, m);
        for (size_t j = 0; j < m; j++) {
            double v = a->fill == FILL_NORMAL    ? a->fa[0] + a->fa[1] * tmp[j]
                       : a->fill == FILL_UNIFORM ? a->fa[0] + (a->fa[1] - a->fa[0]) * rng_uniform(r)
                       : a->fill == FILL_INDEX   ? (double)(i + (int64_t)j)
                                                 : a->fa[0];
            if (a->fill == FILL_UNIFORM && a->type >= RP_I8) v = floor(v);
            put(p, a->type, (size_t)(i + (int64_t)j), v);
        }
    }
}

static void fill(long shape, float *set, rng *r)
{
    const dshape *s = &D.sh[shape];
    unsigned char *base = (unsigned char *)set;
    for (int k = 0; k < D.nargs; k++) {
        const darg *a = &D.a[k];
        if (a->scalar || a->access == ACC_WRITE) continue;
        fill_buf(a, base + (a->access == ACC_READ ? s->off_in[k] : s->off_rw[k]), s->count[k], r);
    }
}

static void init_slot(long shape, const float *set, float *slot)
{
    const dshape *s = &D.sh[shape];
    unsigned char *out = (unsigned char *)slot;
    const unsigned char *in = (const unsigned char *)set;
    memset(out, 0, s->out_words * 4);
    uint32_t bits = POISON_BITS;
    for (int k = 0; k < D.nargs; k++) {
        const darg *a = &D.a[k];
        size_t nb = (size_t)s->count[k] * (size_t)a->esize;
        if (a->scalar || a->access == ACC_READ) continue;
        if (a->access == ACC_READWRITE)
            memcpy(out + s->off_out[k], in + s->off_rw[k], nb);
        else /* whole words only: a partial last word is never "unwritten" */
            for (size_t w = 0; w < nb / 4; w++) memcpy(out + s->off_out[k] + 4 * w, &bits, 4);
    }
}

static void decl_msg(long shape, rp_call *c, const char *entry)
{
    const dshape *s = &D.sh[shape];
    rp_decl *d = &c->decl;
    memset(d, 0, sizeof *d);
    snprintf(d->entry, sizeof d->entry, "%s", entry);
    d->nargs = D.nargs;
    for (int k = 0; k < D.nargs; k++) {
        const darg *a = &D.a[k];
        rp_darg *x = &d->arg[k];
        x->type = (uint32_t)a->type;
        x->where = a->scalar ? 2 : a->access == ACC_READ ? 0 : 1;
        x->off = a->scalar ? 0 : a->access == ACC_READ ? s->off_in[k] : s->off_out[k];
        x->bytes = a->scalar ? 0 : (uint64_t)s->count[k] * (uint64_t)a->esize;
        x->value = a->scalar ? s->value[k] : 0;
    }
}

static void call_extra(long shape, rp_call *c)
{
    decl_msg(shape, c, D.entry);
}

/* ---- the reference ---- */

static void finish(void)
{
    char why[300];
    if (D.ref && cpu_runner_stop(D.ref, "reference", why, sizeof why))
        fprintf(stderr, "spak-harness-cpu: the reference: %s\n", why);
    D.ref = NULL;
}

/* the reference's outputs for the input set at set, into D.ref_out; false
 * with D.ref_why when it could not run */
static bool run_reference(long shape, const float *set)
{
    const dshape *s = &D.sh[shape];
    char why[200] = "", nm[96], prec[16];
    if (D.ref_broken) return false;
    if (!D.ref && cpu_runner_start(D.runner_exe, D.ref_path, "declared", NULL, &D.ref, nm, sizeof nm, prec,
                                   sizeof prec, why, sizeof why)) {
        snprintf(D.ref_why, sizeof D.ref_why, "the reference cannot be loaded: %s", why);
        D.ref_broken = true;
        return false;
    }
    if (D.ref_shape != shape) {
        if (cpu_runner_map(D.ref, s->in_words * 4, s->out_words * 4, &D.ref_in, &D.ref_out, why, sizeof why)) {
            snprintf(D.ref_why, sizeof D.ref_why, "the reference: %s", why);
            D.ref_broken = true;
            return false;
        }
        D.ref_shape = shape;
    }
    memcpy(D.ref_in, set, s->in_words * 4);
    init_slot(shape, D.ref_in, D.ref_out);
    static rp_call m;
    memset(&m, 0, sizeof m);
    m.h = (rp_head){RP_MAGIC, RP_CALL};
    m.n = 1;
    m.in_n[0] = s->in_words;
    m.out_n = s->out_words;
    decl_msg(shape, &m, D.ref_entry);
    int rc = 0;
    double dt;
    bool iw;
    if (cpu_runner_call(D.ref, &m, &rc, 600, true, &dt, &iw, why, sizeof why)) {
        snprintf(D.ref_why, sizeof D.ref_why, "the reference failed: %s", why);
        D.ref_broken = true; /* its runner is gone or untrustworthy */
        return false;
    }
    return true;
}

/* one output's error against the reference's: relative (or the largest
 * absolute difference where the reference is all zeros); *off counts
 * elements more than 10 tolerances of the reference's rms away */
static double output_error(const darg *a, const unsigned char *o, const unsigned char *r, int64_t n, size_t *off)
{
    double num = 0, den = 0, maxabs = 0;
    bool bad = false;
    for (int64_t i = 0; i < n; i++) {
        double x = get(o, a->type, (size_t)i), y = get(r, a->type, (size_t)i), d = x - y;
        if (!isfinite(x) && !(x == y)) bad = true; /* NaN, or an infinity the reference does not have */
        if (isfinite(d)) num += d * d, den += y * y, maxabs = fabs(d) > maxabs ? fabs(d) : maxabs;
    }
    double rms = sqrt(den / (double)n);
    for (int64_t i = 0; i < n; i++)
        *off += !(fabs(get(o, a->type, (size_t)i) - get(r, a->type, (size_t)i)) <= 10 * a->tol * rms);
    if (bad) return INFINITY;
    return den > 0 ? sqrt(num / den) : maxabs;
}

static double compare(const cpu_shape *sh, const cpu_bufs *b, const char **method, double *frac_off)
{
    static char msg[300];
    long shape = sh->d[0];
    const dshape *s = &D.sh[shape];
    *frac_off = 0;
    if (!D.has_ref) {
        *method = "no reference: outputs checked as written only (untrusted)";
        return 0;
    }
    if (!run_reference(shape, b->in[0])) {
        snprintf(msg, sizeof msg, "%s", D.ref_why);
        *method = msg;
        return INFINITY;
    }
    double worst = 0;
    size_t off = 0, total = 0;
    const unsigned char *o = (const unsigned char *)b->out, *r = (const unsigned char *)D.ref_out;
    for (int k = 0; k < D.nargs; k++) {
        const darg *a = &D.a[k];
        if (!a->output) continue;
        double e = output_error(a, o + s->off_out[k], r + s->off_out[k], s->count[k], &off);
        total += (size_t)s->count[k];
        double scaled = a->tol > 0 ? e * (D.tol0 / a->tol) : (e > 0 ? INFINITY : 0);
        if (!(scaled <= worst)) worst = scaled;
    }
    *frac_off = total ? (double)off / (double)total : 0;
    *method = "the declared reference, every output element";
    return worst;
}

static double error(const cpu_shape *sh, const cpu_bufs *b, double tol, uint64_t seed, const char **method,
                    double *frac_off)
{
    (void)tol;
    (void)seed;
    return compare(sh, b, method, frac_off);
}

static double timed_error(const cpu_shape *sh, const cpu_bufs *b, uint64_t seed, const char **method)
{
    (void)seed;
    double frac;
    return compare(sh, b, method, &frac);
}

static const char *input_name(long shape, unsigned long long off)
{
    const dshape *s = &D.sh[shape];
    for (int k = 0; k < D.nargs; k++) {
        const darg *a = &D.a[k];
        uint64_t b = (uint64_t)s->count[k] * (uint64_t)a->esize;
        if (!a->scalar && a->access == ACC_READ && off >= s->off_in[k] && off < s->off_in[k] + b) return a->name;
    }
    return NULL;
}

static void record(json_t *rec)
{
    json_object_set_new(rec, "kernel", json_string(D.name));
    if (!D.has_ref) json_object_set_new(rec, "trusted", json_false());
}

const cpu_family cpu_family_declared = {
    .name = "declared",
    .order = 3,
    .symbol = NULL,
    .ndims = 1,
    .shape_syntax = "declared: from --decl",
    .shape_help = "declared: the shapes of --decl FILE",
    .default_shapes = "",
    .default_heldout = "",
    .sizes = sizes,
    .flops = flops,
    .error = error,
    .timed_error = timed_error,
    .load = load,
    .fill = fill,
    .init_slot = init_slot,
    .call_extra = call_extra,
    .typed_output = true,
    .bytes = bytes,
    .record = record,
    .input_name = input_name,
    .check_method = "the declared reference on the same inputs, every output element, every checked and timed call",
};
