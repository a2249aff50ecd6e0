/*
 * fuzz_t1.c - libFuzzer target for the T1 reader (src/spec/t1.c) and the
 * Python expression subset it evaluates (src/spec/pyexpr.c).
 *
 * Build and run: `make fuzz` then build/fuzz/fuzz_t1 (docs/fuzzing.md).
 * The first byte picks the input's kind:
 *   even: the rest is a Python expression, parsed and evaluated with the
 *         names a..e bound (numbers, a string, a list): it must give a
 *         value, SPAK_ERR_SYNTAX or SPAK_ERR_EVAL, never anything else;
 *   odd:  the rest is a T1 file: read, translated, its first 2000 points
 *         listed; a translation spak_t1_translate accepts must parse as a
 *         spec (spak_spec_load_mem: valid or with check errors, never a
 *         syntax error), else abort().
 * Beyond that, the sanitizers and libFuzzer judge crashes, leaks and hangs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/pyexpr.h"
#include "spec/spec.h"
#include "spec/t1.h"

static bool names(void *ud, const char *name, spak_py_val *out)
{
    static spak_py_val items[3] = {{SPAK_PY_INT, 2, 0, NULL, NULL, 0}, {SPAK_PY_INT, -7, 0, NULL, NULL, 0},
                                   {SPAK_PY_FLOAT, 0, 0.5, NULL, NULL, 0}};
    (void)ud;
    memset(out, 0, sizeof *out);
    switch (name[0] && !name[1] ? name[0] : 0) {
    case 'a': out->kind = SPAK_PY_INT; out->i = 3; return true;
    case 'b': out->kind = SPAK_PY_INT; out->i = 0; return true;
    case 'c': out->kind = SPAK_PY_FLOAT; out->f = -2.5; return true;
    case 'd': out->kind = SPAK_PY_STR; out->s = "xy"; return true;
    case 'e': out->kind = SPAK_PY_LIST; out->items = items; out->n = 3; return true;
    default: return false;
    }
}

static bool stop_after(void *ud, const spak_t1_point *p)
{
    (void)p;
    return ++*(int *)ud < 2000;
}

static void expression(const char *s, size_t n)
{
    spak_arena a;
    spak_arena_init(&a);
    spak_pnode *node;
    size_t pos;
    spak_err err;
    spak_status st = spak_py_parse(s, n, &a, &node, &pos, &err);
    if (st == SPAK_OK) {
        spak_py_val v;
        st = spak_py_eval(node, names, NULL, &a, &v, &pos, &err);
        if (st == SPAK_OK) {
            spak_buf b;
            spak_buf_init(&b, 1 << 20);
            (void)spak_py_print(&v, &b);
            spak_buf_free(&b);
        }
    }
    if (st != SPAK_OK && st != SPAK_ERR_SYNTAX && st != SPAK_ERR_EVAL && st != SPAK_ERR_NOMEM)
        abort();
    spak_arena_free(&a);
}

static void t1_file(const char *s, size_t n)
{
    spak_diags d;
    spak_diags_init(&d, "fuzz.json");
    spak_t1 *t = NULL;
    spak_buf spec;
    spak_buf_init(&spec, 1 << 24);
    if (spak_t1_read("fuzz.json", s, n, NULL, 0, &t, &d) == SPAK_OK) {
        int k = 0;
        uint64_t count;
        spak_err err;
        (void)spak_t1_points(t, stop_after, &k, &count, &err);
        if (spak_t1_translate(t, &spec, &d) == SPAK_OK) {
            spak_spec *sp = NULL;
            spak_status st = spak_spec_load_mem("fuzz.spak", spec.data, spec.len, &sp, &err);
            if (st != SPAK_OK && st != SPAK_ERR_CHECK && st != SPAK_ERR_NOMEM) {
                fprintf(stderr, "fuzz_t1: the translation does not parse (%s)\n%.*s\n", err.msg,
                        (int)(spec.len < 4000 ? spec.len : 4000), spec.data);
                abort();
            }
            spak_spec_free(sp);
        }
    }
    spak_t1_free(t);
    spak_buf_free(&spec);
    spak_diags_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        expression((const char *)data + 1, size - 1);
    else
        t1_file((const char *)data + 1, size - 1);
    return 0;
}
