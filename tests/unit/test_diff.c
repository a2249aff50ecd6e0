/* test_diff.c - a unified diff applied strictly (src/program/diff.c): hunks
 * that match apply (several, insertions, deletions, at the start and the
 * end, the "no newline" marker, blank context lines without their space);
 * every mismatch or malformed diff is an error that names the hunk and the
 * lines, and leaves nothing half-applied for the caller to use. Run under
 * ASan by `make asan`. */
#include <stdlib.h>
#include <string.h>

#include "program/diff.h"
#include "tap.h"

/* apply diff to src: the status, the text in got (owned by the caller) */
static spak_status apply(const char *src, const char *diff, char **got, spak_err *err)
{
    spak_buf b;
    spak_buf_init(&b, 1u << 20);
    spak_status st = spak_diff_apply(src, strlen(src), diff, strlen(diff), &b, err);
    *got = spak_buf_take(&b);
    return st;
}

static void ok_case(const char *name, const char *src, const char *diff, const char *want)
{
    spak_err err = {0};
    char *got = NULL;
    spak_status st = apply(src, diff, &got, &err);
    TAP_OK(st == SPAK_OK && got && strcmp(got, want) == 0, "%s (status %d: %s; got '%s')", name, st, err.msg,
           got ? got : "(null)");
    free(got);
}

static void err_case(const char *name, const char *src, const char *diff, spak_status want, const char *says)
{
    spak_err err = {0};
    char *got = NULL;
    spak_status st = apply(src, diff, &got, &err);
    TAP_OK(st == want && strstr(err.msg, says) != NULL, "%s (status %d, '%s')", name, st, err.msg);
    free(got);
}

int main(void)
{
    const char *src = "a\nb\nc\nd\ne\nf\ng\n";
    ok_case("one line changed", src, "--- a/k.c\n+++ b/k.c\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n",
            "a\nb\nC\nd\ne\nf\ng\n");
    ok_case("two hunks, insertion and deletion", src, "@@ -1,2 +1,3 @@\n a\n+a2\n b\n@@ -5,3 +6,2 @@\n e\n-f\n g\n",
            "a\na2\nb\nc\nd\ne\ng\n");
    ok_case("pure insertion after line 0 (header -0,0)", src, "@@ -0,0 +1 @@\n+#define X 1\n",
            "#define X 1\na\nb\nc\nd\ne\nf\ng\n");
    ok_case("counts omitted mean 1", src, "@@ -7 +7 @@\n-g\n+G\n", "a\nb\nc\nd\ne\nf\nG\n");
    ok_case("an empty line inside a hunk is empty context", "x\n\ny\n", "@@ -1,3 +1,3 @@\n x\n\n-y\n+Y\n",
            "x\n\nY\n");
    ok_case("no newline at the end, kept", "a\nb", "@@ -2 +2 @@\n-b\n\\ No newline at end of file\n+B\n\\ No newline at end of file\n",
            "a\nB");
    ok_case("a newline added at the end", "a\nb", "@@ -2 +2 @@\n-b\n\\ No newline at end of file\n+b\n", "a\nb\n");
    ok_case("a diff of an empty source", "", "@@ -0,0 +1,2 @@\n+x\n+y\n", "x\ny\n");
    err_case("context that does not match names the hunk and the source line", src,
             "@@ -1,2 +1,2 @@\n a\n-b\n+B\n@@ -4,2 +4,2 @@\n d\n-X\n+Y\n", SPAK_ERR_STATE,
             "hunk 2 (diff line 7) does not match source line 5");
    err_case("a hunk past the end", src, "@@ -20,1 +20,1 @@\n-x\n+y\n", SPAK_ERR_STATE, "past the end");
    err_case("hunks out of order", src, "@@ -5,1 +5,1 @@\n-e\n+E\n@@ -2,1 +2,1 @@\n-b\n+B\n", SPAK_ERR_STATE,
             "before the end of the hunk before it");
    err_case("a hunk shorter than its header", src, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n", SPAK_ERR_SYNTAX, "ends early");
    err_case("a hunk longer than its header", src, "@@ -1,1 +1,1 @@\n-a\n+A\n+A2\n", SPAK_ERR_SYNTAX,
             "not a hunk header");
    err_case("a line that is no hunk line", src, "@@ -1,2 +1,2 @@\n a\n*b\n", SPAK_ERR_SYNTAX,
             "starts with ' ', '-' or '+'");
    err_case("no hunk at all", src, "--- a\n+++ b\n", SPAK_ERR_SYNTAX, "no hunk");
    err_case("prose before the first hunk", src, "Here is my diff:\n@@ -1 +1 @@\n-a\n+A\n", SPAK_ERR_SYNTAX,
             "before the first hunk");
    err_case("a malformed header", src, "@@ -x +1 @@\n-a\n", SPAK_ERR_SYNTAX, "not a hunk header");
    err_case("a second file", src, "@@ -1 +1 @@\n-a\n+A\n--- b.c\n+++ b.c\n", SPAK_ERR_SYNTAX, "not a hunk header");
    err_case("a huge count is refused, not believed", src, "@@ -1,99999999999 +1 @@\n-a\n", SPAK_ERR_SYNTAX,
             "not a hunk header");
    return tap_done();
}
