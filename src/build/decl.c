/* decl.c - the decl file of a declared kernel (decl.h). */
#include "build/decl.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

/* The names one shape's expressions see: its sizes, the point's numbers. */
typedef struct scope {
    const spak_decl_in *in;
    const int64_t *sizes;
} scope;

static bool look(void *ud, const char *name, int64_t *out)
{
    const scope *s = ud;
    const spak_kernel_def *k = s->in->k;
    for (size_t i = 0; i < k->n_sizes; i++)
        if (strcmp(k->sizes[i], name) == 0) {
            *out = s->sizes[i];
            return true;
        }
    const spak_space *sp = s->in->space;
    bool act[SPAK_SPACE_MAX_PARAMS];
    spak_space_active(sp, s->in->digits, act);
    for (size_t i = 0; i < sp->n; i++) {
        if (strcmp(sp->params[i].name, name) != 0 || !act[i])
            continue;
        spak_value v;
        spak_space_value(sp->params[i].values[s->in->digits[i]], &v);
        if (v.kind == SPAK_VAL_BOOL) {
            *out = v.num != 0;
            return true;
        }
        if (v.kind != SPAK_VAL_NUM || v.num != floor(v.num) || fabs(v.num) > 9e18)
            return false;
        *out = (int64_t)v.num;
        return true;
    }
    return false;
}

static spak_status eval(const scope *s, const spak_expr *e, const char *label, const char *what, int64_t *out,
                        spak_err *err)
{
    char why[300] = "";
    if (!spak_kernel_eval(e, look, (void *)s, out, why, sizeof why))
        return spak_errf(err, SPAK_ERR_EVAL, "%d:%d: kernel %s, shape %s: %s has no value: %s", e->pos.line,
                         e->pos.col, s->in->k->name, label, what, why);
    return SPAK_OK;
}

static json_t *arg_json(const spak_kernel_arg *g)
{
    json_t *a = json_object();
    json_object_set_new(a, "name", json_string(g->name));
    json_object_set_new(a, "type", json_string(g->type ? g->type : "f32"));
    if (g->scalar) {
        json_object_set_new(a, "scalar", json_true());
        return a;
    }
    json_object_set_new(a, "fill", json_string(g->fill));
    double fa[2] = {0, 1};
    if (!strcmp(g->fill, "uniform"))
        fa[0] = 0, fa[1] = 1;
    else if (!strcmp(g->fill, "constant"))
        fa[0] = 0, fa[1] = 0;
    for (int i = 0; i < g->n_fill_args; i++)
        fa[i] = g->fill_args[i];
    /* a constant fill has one number (the CUDA judge refuses a second) */
    if (!strcmp(g->fill, "constant"))
        json_object_set_new(a, "fill_args", json_pack("[f]", fa[0]));
    else if (strcmp(g->fill, "zero") && strcmp(g->fill, "index"))
        json_object_set_new(a, "fill_args", json_pack("[f,f]", fa[0], fa[1]));
    json_object_set_new(a, "access", json_string(g->access));
    if (g->constant)  /* optional: absent is "global" */
        json_object_set_new(a, "memory", json_string("constant"));
    if (g->output) {
        json_object_set_new(a, "output", json_true());
        json_object_set_new(a, "tolerance", json_real(g->tolerance));
    }
    return a;
}

/* One shape's entry: counts, values, and the optional numbers. */
static spak_status shape_json(const spak_decl_in *in, const char *label, bool heldout, json_t *shapes, spak_err *err)
{
    const spak_kernel_def *k = in->k;
    int64_t sizes[SPAK_KERNEL_MAX_SIZES];
    char why[300];
    if (!spak_kernel_shape(k, label, sizes, why, sizeof why))
        return spak_errf(err, SPAK_ERR_EVAL, "kernel %s: shape \"%s\": %s", k->name, label, why);
    scope s = {in, sizes};
    json_t *sh = json_object(), *counts = json_array(), *values = json_array();
    json_object_set_new(sh, "label", json_string(label));
    json_object_set_new(sh, "heldout", json_boolean(heldout));
    json_object_set_new(sh, "counts", counts);
    json_object_set_new(sh, "values", values);
    json_array_append_new(shapes, sh);
    spak_status st = SPAK_OK;
    for (size_t i = 0; st == SPAK_OK && i < k->n_args; i++) {
        const spak_kernel_arg *g = &k->args[i];
        int64_t v = 0;
        char what[96];
        if (g->real_value) {  /* a float scalar's number (eps: 1e-5), as written */
            json_array_append_new(counts, json_integer(0));
            json_array_append_new(values, json_real(g->fvalue));
            continue;
        }
        spak_snprintf(what, sizeof what, "arg %s's %s", g->name, g->scalar ? "value" : "count");
        st = eval(&s, g->scalar ? g->value : g->count, label, what, &v, err);
        if (st == SPAK_OK && !g->scalar && (v < 1 || v > SPAK_DECL_MAX_COUNT))
            st = spak_errf(err, SPAK_ERR_EVAL, "kernel %s, shape %s: arg %s's count %lld is outside [1, %lld]",
                           k->name, label, g->name, (long long)v, (long long)SPAK_DECL_MAX_COUNT);
        json_array_append_new(counts, json_integer(g->scalar ? 0 : v));
        json_array_append_new(values, g->scalar ? json_integer(v) : json_null());
    }
    /* the candidate's launch, then the reference's own where it has one */
    const char *dn[4] = {"grid", "block", "reference_grid", "reference_block"};
    const spak_expr *const *dims[4] = {k->grid, k->block, k->ref_grid, k->ref_block};
    for (int d = 0; st == SPAK_OK && d < 4; d++) {
        if (!dims[d][0])
            continue;
        json_t *arr = json_array();
        json_object_set_new(sh, dn[d], arr);
        for (int j = 0; st == SPAK_OK && j < 3; j++) {
            int64_t v = 0;
            st = eval(&s, dims[d][j], label, dn[d], &v, err);
            json_array_append_new(arr, json_integer(v));
        }
    }
    const char *on[4] = {"shared_bytes", "reference_shared_bytes", "flops", "bytes"};
    const spak_expr *oe[4] = {k->shared_bytes, k->ref_shared_bytes, k->flops, k->bytes};
    for (int j = 0; st == SPAK_OK && j < 4; j++) {
        int64_t v = 0;
        if (oe[j] && (st = eval(&s, oe[j], label, on[j], &v, err)) == SPAK_OK)
            json_object_set_new(sh, on[j], json_integer(v));
    }
    return st;
}

/* A number in [0, n) from the OS (getrandom): the drawn shapes follow from
 * nothing a spec, a seed or a candidate sets. */
static spak_status os_below(uint64_t n, uint64_t *out, spak_err *err)
{
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t k = getrandom((char *)&v + got, sizeof v - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return spak_errf(err, SPAK_ERR_IO, "getrandom: %s", strerror(errno));
        got += (size_t)k;
    }
    *out = v % n;  /* n <= 2^31: a bias below 2^-32 */
    return SPAK_OK;
}

/* One value of min, min + step, ... <= max; odd: one that is not a multiple
 * of 2 * step where the range has one (a kernel that assumes more
 * divisibility than it states, a power-of-two block with its tail dropped,
 * is wrong there whatever the listed shapes share). */
static spak_status draw_size(int64_t min, int64_t max, int64_t step, bool odd, int64_t *out, spak_err *err)
{
    uint64_t n = (uint64_t)((max - min) / step) + 1, j = 0;
    spak_status st = SPAK_OK;
    for (int t = 0; st == SPAK_OK && t < 64; t++) {
        st = os_below(n, &j, err);
        *out = min + (int64_t)j * step;
        if (!odd || *out % (2 * step) != 0)
            break;
    }
    return st;
}

/* The largest value each size takes in the problem's listed shapes. */
static void listed_max(const spak_decl_in *in, int64_t *mx)
{
    const spak_kernel_def *k = in->k;
    const char *lists[2] = {"shapes", "heldout"};
    for (size_t i = 0; i < k->n_sizes; i++)
        mx[i] = 1;
    for (int l = 0; l < 2; l++) {
        const spak_entry *x = in->problem ? spak_block_find(in->problem, lists[l]) : NULL;
        for (size_t i = 0; x && x->value && x->value->kind == SPAK_EX_LIST && i < x->value->n_items; i++) {
            int64_t v[SPAK_KERNEL_MAX_SIZES];
            char why[300];
            if (x->value->items[i]->text && spak_kernel_shape(k, x->value->items[i]->text, v, why, sizeof why))
                for (size_t j = 0; j < k->n_sizes; j++)
                    mx[j] = v[j] > mx[j] ? v[j] : mx[j];
        }
    }
}

/* SPAK_DECL_DRAWN held-out shapes drawn now from each size's range
 * (spak_kernel_range_of), appended with "drawn": true: the first any
 * values, the second odd ones (draw_size). A draw whose expressions have
 * no value (a count over the cap, a division by zero) is drawn again, up
 * to 8 times; then its error is the evaluation's. */
static spak_status drawn_shapes(const spak_decl_in *in, json_t *shapes, spak_err *err)
{
    const spak_kernel_def *k = in->k;
    int64_t mx[SPAK_KERNEL_MAX_SIZES];
    listed_max(in, mx);
    spak_status st = SPAK_OK;
    for (int j = 0; st == SPAK_OK && j < SPAK_DECL_DRAWN && json_array_size(shapes) < SPAK_DECL_MAX_SHAPES; j++) {
        st = SPAK_ERR_EVAL;
        for (int t = 0; st != SPAK_OK && t < 8; t++) {
            char label[SPAK_KERNEL_MAX_SIZES * 40] = "";
            size_t len = 0;
            st = SPAK_OK;
            for (size_t i = 0; st == SPAK_OK && i < k->n_sizes; i++) {
                int64_t lo, hi, step, v = 0;
                spak_kernel_range_of(k, i, mx[i], &lo, &hi, &step);
                if (hi < lo)
                    hi = lo;
                st = draw_size(lo, hi, step, j == 1, &v, err);
                len += (size_t)snprintf(label + len, sizeof label - len, "%s%s=%lld", i ? "," : "", k->sizes[i],
                                        (long long)v);
            }
            if (st != SPAK_OK)
                return st;
            st = shape_json(in, label, true, shapes, err);
            json_t *last = json_array_get(shapes, json_array_size(shapes) - 1);
            if (st == SPAK_OK)
                json_object_set_new(last, "drawn", json_true());
            else if (t < 7)
                json_array_remove(shapes, json_array_size(shapes) - 1);
        }
    }
    return st;
}

static json_t *reference_json(const spak_decl_in *in)
{
    if (!in->reference)
        return json_null();
    return json_pack("{s:s,s:s,s:s}", "kind", "function", "path", in->reference, "entry",
                     in->k->ref_entry ? in->k->ref_entry : in->k->entry);
}

spak_status spak_decl_write(const spak_decl_in *in, const char *path, spak_err *err)
{
    const spak_kernel_def *k = in->k;
    json_t *root = json_object(), *args = json_array(), *shapes = json_array();
    json_object_set_new(root, "format", json_string("spak-kernel-decl/1"));
    json_object_set_new(root, "name", json_string(k->name));
    json_object_set_new(root, "language", json_string(k->language ? k->language : "c"));
    json_object_set_new(root, "entry", json_string(k->entry ? k->entry : ""));
    json_object_set_new(root, "candidate", json_string(in->candidate));
    json_object_set_new(root, "reference", reference_json(in));
    json_object_set_new(root, "args", args);
    json_object_set_new(root, "shapes", shapes);
    for (size_t i = 0; i < k->n_args; i++)
        json_array_append_new(args, arg_json(&k->args[i]));
    spak_status st = SPAK_OK;
    const char *lists[2] = {"shapes", "heldout"};
    for (int l = 0; st == SPAK_OK && l < 2; l++) {
        const spak_entry *x = in->problem ? spak_block_find(in->problem, lists[l]) : NULL;
        for (size_t i = 0; st == SPAK_OK && x && x->value && x->value->kind == SPAK_EX_LIST && i < x->value->n_items;
             i++) {
            if (json_array_size(shapes) >= SPAK_DECL_MAX_SHAPES)
                st = spak_errf(err, SPAK_ERR_EVAL, "kernel %s: more than %d shapes", k->name, SPAK_DECL_MAX_SHAPES);
            else
                st = shape_json(in, x->value->items[i]->text, l == 1, shapes, err);
        }
    }
    if (st == SPAK_OK && json_array_size(shapes) == 0)
        st = spak_errf(err, SPAK_ERR_EVAL, "kernel %s: the problem gives no shapes (shapes: [\"%s=...\"])", k->name,
                       k->n_sizes ? k->sizes[0] : "n");
    if (st == SPAK_OK)
        st = drawn_shapes(in, shapes, err);
    char *text = st == SPAK_OK ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (st == SPAK_OK && !text)
        st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    if (st == SPAK_OK)
        st = spak_write_file_atomic(path, text, strlen(text), err);
    /* the drawn shapes are in it: the invoking user's alone, never the
     * sandbox uid's (as root; docs/declared-kernels.md says what holds
     * without root) */
    if (st == SPAK_OK)
        (void)chmod(path, 0600);
    free(text);
    return st;
}
