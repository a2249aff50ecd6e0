/*
 * test_pyexpr.c - the Python expression subset of T1 files (src/spec/pyexpr.c):
 * values as Python 3 gives them (each expected value below is what python3
 * printed for the same text), names bound by the caller, and each refused
 * construct's message and column.
 */
#include <string.h>

#include "spec/pyexpr.h"
#include "tap.h"

static bool names(void *ud, const char *name, spak_py_val *out)
{
    (void)ud;
    memset(out, 0, sizeof *out);
    if (strcmp(name, "block_size_x") == 0) {
        out->kind = SPAK_PY_INT;
        out->i = 48;
        return true;
    }
    return false;
}

/* text evaluated and printed as Python's repr, or "ERR: message" */
static const char *run(const char *text, size_t *pos)
{
    static char res[4096];
    spak_arena a;
    spak_arena_init(&a);
    spak_pnode *n;
    spak_err err = {0};
    size_t p = 0;
    spak_status st = spak_py_parse(text, strlen(text), &a, &n, &p, &err);
    spak_py_val v;
    if (st == SPAK_OK)
        st = spak_py_eval(n, names, NULL, &a, &v, &p, &err);
    if (st == SPAK_OK) {
        spak_buf b;
        spak_buf_init(&b, 0);
        spak_py_print(&v, &b);
        spak_snprintf(res, sizeof res, "%s", b.data ? b.data : "");
        spak_buf_free(&b);
    } else {
        spak_snprintf(res, sizeof res, "ERR: %s", err.msg);
    }
    if (pos)
        *pos = p;
    spak_arena_free(&a);
    return res;
}

int main(void)
{
    static const char *const py[][2] = {
        {"7 // 2", "3"}, {"-7 // 2", "-4"}, {"7 // -2", "-4"}, {"-7 % 3", "2"}, {"7 % -3", "-2"}, {"7.5 % -2", "-0.5"},
        /* near INT64_MIN: floor(a / b) * b leaves the range, the remainder does not (fuzz_t1's finding) */
        {"(-9223372036854775807 - 1) % 2036854775807", "1343709841293"},
        {"(-9223372036854775807 - 1) // 2036854775807", "-4528243"},
        {"9223372036854775807 % -2036854775807", "-1343709841294"},
        {"-7.5 // 2", "-4.0"}, {"7 / 2", "3.5"}, {"4 / 2", "2.0"}, {"2 ** 10", "1024"}, {"2 ** -1", "0.5"},
        {"(-2) ** 3", "-8"}, {"-2 ** 2", "-4"}, {"1 < 2 < 3", "True"}, {"1 < 3 < 2", "False"}, {"3 > 2 == 2", "True"},
        {"0 or 5", "5"}, {"3 and 0", "0"}, {"3 and 'x'", "'x'"}, {"not 0", "True"}, {"not []", "True"},
        {"2 in [1, 2]", "True"}, {"2 not in [1, 2]", "False"}, {"'b' in 'abc'", "True"},
        {"[i for i in range(3,35,2)]", "[3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33]"},
        {"[16*i for i in range(1,9)]", "[16, 32, 48, 64, 80, 96, 112, 128]"}, {"[2**i for i in range(6)]", "[1, 2, 4, 8, 16, 32]"},
        {"[i for i in range(10, 0, -3)]", "[10, 7, 4, 1]"}, {"[i*2 for i in [1, 2, 3] if i != 2 if True]", "[2, 6]"},
        {"list(range(4))", "[0, 1, 2, 3]"}, {"max([3, 9, 2])", "9"}, {"min(4, 1.5, 3)", "1.5"}, {"max('a', 'b')", "'b'"},
        {"int(7.9)", "7"}, {"int(-7.9)", "-7"}, {"int(' 42 ')", "42"}, {"len([1, 2, 3])", "3"}, {"len('abcd')", "4"},
        {"abs(-3)", "3"}, {"abs(-2.5)", "2.5"}, {"True + True", "2"}, {"1 == 1.0", "True"}, {"[1, 2] + [3]", "[1, 2, 3]"},
        {"'a' + 'b'", "'ab'"}, {"[1, 2][-1]", "2"}, {"1e3", "1000.0"}, {"0.1 + 0.2", "0.30000000000000004"},
        {"10 - 2 - 3", "5"}, {"2 * 3 % 4", "2"}, {"+3", "3"}, {"-(-3)", "3"}, {"(1 < 2) + 1", "2"},
        {"1e16", "1e+16"}, {"1.5e-7", "1.5e-07"}, {"0.0001", "0.0001"},
        {"block_size_x % 32 != 0", "True"}, {"[block_size_x * i for i in range(3)]", "[0, 48, 96]"},
    };
    for (size_t i = 0; i < sizeof py / sizeof py[0]; i++)
        TAP_STREQ(run(py[i][0], NULL), py[i][1], "%s is %s, as in Python", py[i][0], py[i][1]);

    /* refused constructs: the message names the construct, the position its start */
    static const struct {
        const char *text, *msg;
        size_t pos;
    } bad[] = {
        {"lambda x: x", "a lambda is not supported", 0},
        {"1 if block_size_x else 2", "a conditional expression (X if C else Y) is not supported", 2},
        {"[i*j for i in range(2) for j in range(2)]", "more than one 'for'", 23},
        {"(1, 2)", "a tuple is not supported", 0},
        {"{1: 2}", "a dict or set display is not supported", 0},
        {"math.pi", "attribute access ('.') is not supported", 4},
        {"block_size_x & 1", "the bitwise operator '&' is not supported", 13},
        {"[1, 2][0:1]", "a slice or annotation (':') is not supported", 8},
        {"sqrt(4)", "the function 'sqrt' is not supported", 0},
        {"x is None", "the operator 'is' is not supported", 2},
        {"f'{x}'", "a prefixed string (f-string, bytes or raw) is not supported", 0},
        {"max(i for i in range(3))", "a generator expression is not supported", 6},
        {"tile_size_x * 2", "the name 'tile_size_x' means nothing here", 0},
        {"1 // 0", "division by zero", 2},
        {"2 ** 64", "integer overflow in '**'", 2},
        {"9223372036854775807 + 1", "integer overflow in '+'", 20},
        {"[i for i in range(2000000)]", "range() of more than 1000000 values", 12},
        {"max([])", "max() of an empty list", 0},
        {"'a' < 1", "cannot order a str and a int", 6},
        {"", "the expression is empty", 0},
        {"1 +", "the expression ends too early", 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pos = 99;
        const char *r = run(bad[i].text, &pos);
        TAP_OK(strncmp(r, "ERR: ", 5) == 0 && strstr(r, bad[i].msg) && pos == bad[i].pos,
               "'%s' refused: %s (at %zu; got '%s' at %zu)", bad[i].text, bad[i].msg, bad[i].pos, r, pos);
    }
    return tap_done();
}
