/*
 * test_decl_core.c - unit tests of spak-judge-cuda's GPU-free half: the
 * decl file and its refusals (each names its field), the buffers' layout in
 * the two pools, the argument array's packing, the fill generator on the
 * host (the same formula the device's fill kernel runs), the command line;
 * a "constant" argument (memory) and the runner's verdict on its
 * __constant__ symbol (missing, too small).
 * TAP output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../tests/tap.h"
#include "../common/cuda_proto.h"
#include "decl_core.h"
#include "decl_fill.h"

/* a softmax decl (x read, y output, two i32 scalars) with `patch` applied:
 * the text of one member replaced ("KEY": ... up to the marker) */
static const char *BASE =
    "{\"format\":\"spak-kernel-decl/1\",\"name\":\"softmax\",\"language\":\"cuda\",\"entry\":\"softmax_rows\",\n"
    "\"candidate\":\"/tmp/c.cubin\",\n"
    "\"reference\":{\"kind\":\"function\",\"path\":\"/tmp/r.cubin\",\"entry\":\"softmax_ref\"},\n"
    "\"args\":[{\"name\":\"x\",\"type\":\"@XT@\",\"fill\":\"normal\",\"fill_args\":[0,1],\"access\":\"read\"},\n"
    " {\"name\":\"y\",\"type\":\"f32\",\"fill\":\"zero\",\"access\":\"write\",\"output\":true,\"tolerance\":1e-5},\n"
    " {\"name\":\"n_rows\",\"type\":\"i32\",\"scalar\":true},{\"name\":\"n_cols\",\"type\":\"i32\",\"scalar\":true}],\n"
    "\"shapes\":[{\"label\":\"rows=4,cols=100\",\"heldout\":false,\"counts\":[@XC@,400,0,0],\"values\":[null,null,4,100],\n"
    " \"grid\":[4,1,1],\"block\":[@BX@,1,1],\"shared_bytes\":0,\"flops\":2000,\"bytes\":3200}]}";

/* BASE with its @XT@, @XC@, @BX@ replaced (x's type, x's count, block x) */
static char *decl_text(const char *xt, const char *xc, const char *bx)
{
    static char out[4096];
    char tmp[4096];
    snprintf(out, sizeof out, "%s", BASE);
    const char *keys[3] = {"@XT@", "@XC@", "@BX@"}, *vals[3] = {xt, xc, bx};
    for (int k = 0; k < 3; k++) {
        char *p = strstr(out, keys[k]);
        if (!p) continue;
        *p = 0;
        snprintf(tmp, sizeof tmp, "%s%s%s", out, vals[k], p + 4);
        snprintf(out, sizeof out, "%s", tmp);
    }
    return out;
}

/* s with the first `from` replaced by `to` (a static buffer) */
static const char *edit(const char *s, const char *from, const char *to)
{
    static char out[4096];
    const char *p = strstr(s, from);
    if (!p) return s;
    snprintf(out, sizeof out, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return out;
}

static struct dc_decl d;

/* the parse of text refused, with a message containing want */
static void refused(const char *name, const char *text, const char *want)
{
    char err[512] = "";
    int rc = dc_parse(text, strlen(text), "decl.json", &d, err, sizeof err);
    if (!TAP_OK(rc == -1 && strstr(err, want) && !strchr(err, '\n'), "%s", name))
        printf("#   rc %d, err: %s\n#   want: %s\n", rc, err, want);
}

static void test_parse(void)
{
    char err[512] = "";
    const char *t = decl_text("f32", "400", "128");
    int rc = dc_parse(t, strlen(t), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0, "a softmax decl parses (%s)", err);
    TAP_OK(d.nargs == 4 && d.nshapes == 1 && !strcmp(d.entry, "softmax_rows") && d.ref == DC_REF_FUNCTION &&
              !strcmp(d.ref_entry, "softmax_ref"),
          "entry, reference, 4 args, 1 shape");
    TAP_OK(d.args[0].type == DC_F32 && d.args[0].access == DC_READ && d.args[0].fill == DC_FILL_NORMAL &&
              d.args[1].output && d.args[1].tolerance == 1e-5 && d.args[2].scalar && d.args[3].type == DC_I32,
          "each arg's type, access, fill, output, tolerance, scalar");
    const struct dc_shape *s = &d.shapes[0];
    TAP_OK(s->count[0] == 400 && s->value[2] == 4 && s->value[3] == 100 && s->grid[0] == 4 && s->block[0] == 128 &&
              s->flops == 2000 && s->bytes == 3200,
          "the shape's counts, values, grid, block, flops, bytes");
    TAP_OK(s->rgrid[0] == 4 && s->rblock[0] == 128 && s->rsmem == 0, "the reference's launch defaults to the candidate's");
    const char *r = edit(t, "\"shared_bytes\":0", "\"shared_bytes\":0,\"reference_grid\":[1,1,1],\"reference_block\":[32,1,1]");
    rc = dc_parse(r, strlen(r), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.shapes[0].rgrid[0] == 1 && d.shapes[0].rblock[0] == 32, "reference_grid and reference_block (%s)",
          err);
    TAP_OK(!d.shapes[0].drawn, "a listed shape is not drawn");
    r = edit(t, "\"heldout\":false", "\"heldout\":true,\"drawn\":true");
    rc = dc_parse(r, strlen(r), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.shapes[0].drawn && d.shapes[0].heldout, "a shape spak drew at run time is read as drawn, held out");
    r = edit(t, "\"heldout\":false", "\"drawn\":true");
    rc = dc_parse(r, strlen(r), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.shapes[0].heldout, "a drawn shape is held out even where the decl does not say so");
    r = edit(t, "\"reference\":{\"kind\":\"function\",\"path\":\"/tmp/r.cubin\",\"entry\":\"softmax_ref\"}",
             "\"reference\":null");
    rc = dc_parse(r, strlen(r), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.ref == DC_REF_NONE, "a null reference parses (the untrusted path)");
    r = edit(t, "\"fill\":\"normal\",\"fill_args\":[0,1],", "");
    rc = dc_parse(r, strlen(r), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.args[0].fill == DC_FILL_NORMAL && d.args[0].fill_args[1] == 1, "fill defaults to normal(0, 1)");
    r = edit(t, "\"fill\":\"normal\",\"fill_args\":[0,1]", "\"fill\":\"constant\",\"fill_args\":[2.5]");
    rc = dc_parse(r, strlen(r), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.args[0].fill == DC_FILL_CONSTANT && d.args[0].fill_args[0] == 2.5, "a constant fill's value");
}

static void test_refusals(void)
{
    const char *t = decl_text("f32", "400", "128");
    refused("unknown element type: names args[0].type", decl_text("f8", "400", "128"), "args[0].type: unknown element type 'f8'");
    refused("a buffer over the cap: names its count", decl_text("f32", "2000000000", "128"),
            "shapes[0].counts[0] ('x'): 2000000000 elements of f32: over the cap");
    refused("a count of 0: names its count", decl_text("f32", "0", "128"), "shapes[0].counts[0] ('x'): 0 elements");
    refused("block over 1024 threads: names the block", decl_text("f32", "400", "2048"), "shapes[0].block: [0] want an integer in 1..1024");
    refused("missing entry", edit(t, "\"entry\":\"softmax_rows\",", ""), "decl.json: entry: missing");
    refused("a template entry is refused, saying so", edit(t, "\"softmax_rows\"", "\"softmax_rows<128>\""),
            "template kernels (params_as \"template\"");
    refused("a library reference is refused", edit(t, "{\"kind\":\"function\",\"path\":\"/tmp/r.cubin\",\"entry\":\"softmax_ref\"}",
                                                    "{\"kind\":\"library\",\"name\":\"cublas_sgemm\"}"),
            "reference.name: 'cublas_sgemm': spak-judge-cuda knows no library routine");
    refused("a reference without its entry", edit(t, ",\"entry\":\"softmax_ref\"", ""), "reference.entry: missing");
    refused("a C kernel is not this judge's", edit(t, "\"cuda\"", "\"c\""), "language: 'c'");
    refused("the format is checked", edit(t, "spak-kernel-decl/1", "spak-kernel-decl/9"), "format: 'spak-kernel-decl/9'");
    refused("no output", edit(t, "\"output\":true,", ""), "args: no output");
    refused("an output without a tolerance", edit(t, ",\"tolerance\":1e-5", ""), "args[1].tolerance: an output needs a tolerance");
    refused("a read-only output", edit(t, "\"access\":\"write\"", "\"access\":\"read\""), "args[1].output: an output must have access");
    refused("an unknown access", edit(t, "\"access\":\"write\"", "\"access\":\"append\""), "args[1].access: unknown value 'append'");
    refused("an unknown fill", edit(t, "\"fill\":\"normal\"", "\"fill\":\"gauss\""), "args[0].fill: unknown value 'gauss'");
    refused("counts one per arg", edit(t, "[400,400,0,0]", "[400,400,0]"), "shapes[0].counts: want an array of 4");
    refused("a scalar that does not fit i32", edit(t, "[null,null,4,100]", "[null,null,4,3e10]"),
            "shapes[0].values[3] ('n_cols'): 30000000000 does not fit i32");
    refused("a scalar that is not whole", edit(t, "[null,null,4,100]", "[null,null,4,1.5]"), "does not fit i32");
    refused("two args of one name", edit(t, "\"name\":\"y\"", "\"name\":\"x\""), "args[1].name: 'x' is also args[0]'s name");
    refused("a JSON syntax error: file:line:col", "{\"format\":\n  oops}", "decl.json:2:");
    char many[8192];
    size_t at = (size_t)snprintf(many, sizeof many, "%s", "{\"format\":\"spak-kernel-decl/1\",\"name\":\"k\",\"language\":\"cuda\",\"entry\":\"k\",\"args\":[");
    for (int i = 0; i < DC_MAX_ARGS + 1; i++)
        at += (size_t)snprintf(many + at, sizeof many - at, "%s{\"name\":\"a%d\",\"type\":\"f32\"}", i ? "," : "", i);
    snprintf(many + at, sizeof many - at, "],\"shapes\":[]}");
    refused("more args than the cap", many, "args: 25 arguments, over the cap of 24");
}

static void test_layout_pack(void)
{
    char err[512];
    const char *t = decl_text("u8", "5", "128");
    TAP_OK(dc_parse(t, strlen(t), "decl.json", &d, err, sizeof err) == 0, "a u8 input parses (%s)", err);
    struct dc_layout l;
    dc_layout_of(&d, &d.shapes[0], &l);
    TAP_OK(l.slot[0] == 1 && l.slot[1] == 0 && l.slot[2] == -1 && l.bytes[0] == 5 && l.bytes[1] == 1600,
          "read args in the read-only slot, outputs in the writable one, scalars in none");
    TAP_OK(l.set_bytes[1] == DC_ALIGN && l.set_bytes[0] == 1792 && l.off[1] == 0, "each buffer padded to %d bytes", DC_ALIGN);
    /* a mixed signature: ptr, i8, f64, i32, ptr, f16 */
    const char *m =
        "{\"format\":\"spak-kernel-decl/1\",\"name\":\"k\",\"language\":\"cuda\",\"entry\":\"k\",\"reference\":null,"
        "\"args\":[{\"name\":\"p\",\"type\":\"f32\",\"access\":\"readwrite\",\"output\":true,\"tolerance\":0},"
        "{\"name\":\"a\",\"type\":\"i8\",\"scalar\":true},{\"name\":\"b\",\"type\":\"f64\",\"scalar\":true},"
        "{\"name\":\"c\",\"type\":\"i32\",\"scalar\":true},{\"name\":\"q\",\"type\":\"i64\"},"
        "{\"name\":\"h\",\"type\":\"f16\",\"scalar\":true},{\"name\":\"g\",\"type\":\"bf16\",\"scalar\":true}],"
        "\"shapes\":[{\"label\":\"s\",\"counts\":[8,0,0,0,8,0,0],\"values\":[null,-1,0.5,7,null,1,1],"
        "\"grid\":[1,1,1],\"block\":[32,1,1]}]}";
    TAP_OK(dc_parse(m, strlen(m), "decl.json", &d, err, sizeof err) == 0, "a mixed signature parses (%s)", err);
    uint64_t addr[DC_MAX_ARGS] = {0x1111222233334444ull, 0, 0, 0, 0x5555666677778888ull};
    unsigned char buf[DC_MAX_ARGS * 8];
    uint32_t off[DC_MAX_ARGS], size[DC_MAX_ARGS];
    size_t n = dc_pack_params(&d, &d.shapes[0], addr, buf, sizeof buf, off, size);
    TAP_OK(n == 44 && off[0] == 0 && off[1] == 8 && off[2] == 16 && off[3] == 24 && off[4] == 32 && off[5] == 40 &&
              off[6] == 42 && size[0] == 8 && size[1] == 1 && size[2] == 8 && size[3] == 4 && size[5] == 2,
          "natural alignment: ptr@0 i8@8 f64@16 i32@24 ptr@32 f16@40 bf16@42 (used %zu)", n);
    uint64_t a0;
    int8_t i8;
    double f64;
    int32_t i32;
    uint16_t h, g;
    memcpy(&a0, buf + off[0], 8), memcpy(&i8, buf + off[1], 1), memcpy(&f64, buf + off[2], 8);
    memcpy(&i32, buf + off[3], 4), memcpy(&h, buf + off[5], 2), memcpy(&g, buf + off[6], 2);
    TAP_OK(a0 == addr[0] && i8 == -1 && f64 == 0.5 && i32 == 7, "each value in its bytes");
    TAP_OK(h == 0x3C00 && g == 0x3F80, "1.0 as f16 (0x3c00) and bf16 (0x3f80): got %#x %#x", h, g);
    TAP_OK(dc_pack_params(&d, &d.shapes[0], addr, buf, 16, off, size) == 0, "a buffer too small packs nothing");
    unsigned char v[8];
    dc_scalar_bytes(DC_F16, 65504, v);
    memcpy(&h, v, 2);
    dc_scalar_bytes(DC_F16, -2.0, v);
    memcpy(&g, v, 2);
    TAP_OK(h == 0x7BFF && g == 0xC000, "f16: the largest finite (0x7bff) and -2 (0xc000)");
}

static void test_fill(void)
{
    enum { N = 200000 };
    double sum = 0, sq = 0, lo = 1e9, hi = -1e9;
    for (uint64_t i = 0; i < N; i++) {
        double x = dc_fill_value(DC_FILL_NORMAL, 0, 1, 42, i);
        sum += x, sq += x * x;
    }
    double mean = sum / N, sd = sqrt(sq / N - mean * mean);
    TAP_OK(fabs(mean) < 0.02 && fabs(sd - 1) < 0.02, "normal(0, 1): mean %.4f, sd %.4f", mean, sd);
    sum = 0;
    for (uint64_t i = 0; i < N; i++) {
        double x = dc_fill_value(DC_FILL_UNIFORM, -3, 5, 7, i);
        sum += x, lo = x < lo ? x : lo, hi = x > hi ? x : hi;
    }
    TAP_OK(lo >= -3 && hi < 5 && fabs(sum / N - 1) < 0.05, "uniform[-3, 5): min %.3f max %.3f mean %.3f", lo, hi, sum / N);
    TAP_OK(dc_fill_value(DC_FILL_INDEX, 0, 0, 9, 12345) == 12345 && dc_fill_value(DC_FILL_CONSTANT, 2.5, 0, 9, 7) == 2.5 &&
              dc_fill_value(DC_FILL_ZERO, 0, 0, 9, 7) == 0,
          "index, constant, zero");
    TAP_OK(dc_fill_value(DC_FILL_NORMAL, 0, 1, 42, 17) == dc_fill_value(DC_FILL_NORMAL, 0, 1, 42, 17),
          "element i depends on (seed, i) alone");
    int same = 0;
    for (uint64_t i = 0; i < 1000; i++)
        same += dc_fill_value(DC_FILL_NORMAL, 0, 1, 42, i) == dc_fill_value(DC_FILL_NORMAL, 0, 1, 43, i);
    TAP_OK(same == 0, "another seed, other values (%d of 1000 equal)", same);
}

static int args(const char *line, struct dc_args *a, char *err, size_t n)
{
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    argv[argc++] = "spak-judge-cuda";
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return dc_parse_args(argc, argv, a, err, n);
}

static void test_args(void)
{
    struct dc_args a;
    char err[1024];
    TAP_OK(args("--decl d.json --candidate a.cubin --candidate b.cubin --reps 5 --seed 7 --check-only", &a, err,
               sizeof err) == 0 &&
              a.ncand == 2 && a.reps == 5 && a.check_only && !strcmp(a.decl, "d.json"),
          "options (%s)", err);
    TAP_OK(args("--candidate a.cubin", &a, err, sizeof err) == -1 && strstr(err, "--decl PATH is required"),
          "--decl is required");
    TAP_OK(args("--decl d --reps x", &a, err, sizeof err) == -1 && strstr(err, "--reps: 'x'"), "--reps wants a number");
    TAP_OK(args("--decl d --frobnicate", &a, err, sizeof err) == -1 && strstr(err, "unknown option"), "unknown option");
    TAP_OK(args("--help", &a, err, sizeof err) == 1 && strstr(err, "usage:"), "--help");
    TAP_OK(args("--decl d", &a, err, sizeof err) == 0 && a.between_runs == CS_BETWEEN_RUNS_SD &&
               args("--decl d --between-runs 0.03", &a, err, sizeof err) == 0 && a.between_runs == 0.03,
           "--between-runs: default %.2f, 0.03 taken", CS_BETWEEN_RUNS_SD);
    TAP_OK(args("--decl d --between-runs 2", &a, err, sizeof err) == -1 && strstr(err, "--between-runs"),
           "--between-runs 2 refused: %s", err);
}

/* "memory": "constant": parsed, refused where the kernel could write it,
 * capped; the runner's verdict on the module's symbol */
static void test_constant(void)
{
    char err[512] = "";
    const char *t = decl_text("f32", "400", "128");
    const char *c = edit(t, "\"access\":\"read\"}", "\"access\":\"read\",\"memory\":\"constant\"}");
    int rc = dc_parse(c, strlen(c), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && d.args[0].constant && !d.args[1].constant, "memory \"constant\" parses on a read buffer (%s)", err);
    rc = dc_parse(t, strlen(t), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && !d.args[0].constant, "without memory an argument is global memory");
    c = edit(t, "\"access\":\"read\"}", "\"access\":\"read\",\"memory\":\"global\"}");
    rc = dc_parse(c, strlen(c), "decl.json", &d, err, sizeof err);
    TAP_OK(rc == 0 && !d.args[0].constant, "memory \"global\" is the default spelled out");
    refused("a constant output is refused (a kernel cannot write __constant__ memory)",
            edit(t, "\"access\":\"write\",", "\"access\":\"write\",\"memory\":\"constant\","),
            "args[1].memory: a \"constant\" argument is read only");
    refused("an unknown memory", edit(t, "\"access\":\"read\"}", "\"access\":\"read\",\"memory\":\"shared\"}"),
            "args[0].memory: unknown value 'shared' (known: global, constant)");
    char why[CP_CMEM_WHY] = "";
    TAP_OK(cp_cmem_verdict("d_filter", 4356, 1, 4356, 1, why, sizeof why) == 1 &&
               cp_cmem_verdict("d_filter", 1024, 1, 4356, 1, why, sizeof why) == 1,
           "a symbol as large as the argument or larger: copied");
    why[0] = 0;
    TAP_OK(cp_cmem_verdict("d_filter", 4356, 0, 0, 1, why, sizeof why) == -1 &&
               strstr(why, "no __constant__ symbol 'd_filter' in the module"),
           "the candidate's module without the symbol: refused, naming it (%s)", why);
    why[0] = 0;
    TAP_OK(cp_cmem_verdict("d_filter", 4360, 1, 4356, 1, why, sizeof why) == -1 &&
               strstr(why, "'d_filter' is 4356 bytes, the argument 4360"),
           "a symbol smaller than the argument: refused, with both sizes (%s)", why);
    TAP_OK(cp_cmem_verdict("d_filter", 4356, 0, 0, 0, why, sizeof why) == 0,
           "a reference without the symbol: nothing copied (it reads the data by its parameter)");
    TAP_OK(cp_cmem_verdict("d_filter", 4360, 1, 4356, 0, why, sizeof why) == -1,
           "a reference's symbol too small: refused too");
}

int main(void)
{
    test_parse();
    test_constant();
    test_refusals();
    test_layout_pack();
    test_fill();
    test_args();
    return tap_done();
}
