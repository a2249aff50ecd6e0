/*
 * prompt.c - see prompt.h: prompt assembly under a context budget with an
 * explicit truncation policy, and reply parsing (code block, parameter
 * choice, prediction, refusal).
 */
#include "program/prompt.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEEP_ALL SIZE_MAX
#define MAX_HISTORY 4096
#define MAX_LESSONS 4096

size_t spak_prompt_estimate_tokens(size_t bytes)
{
    return (bytes + SPAK_PROMPT_BYTES_PER_TOKEN - 1) / SPAK_PROMPT_BYTES_PER_TOKEN;
}

/* The pieces cut by bytes, in the order the policy cuts them (prompt.h). */
enum piece { P_PRED, P_DIAG, P_COUNTERS, P_RULES, P_DIFF, P_SHAPES, P_ANALYSIS, P_START, P_MACHINE, P_SOURCE, P_N };

/* How much of each cuttable piece is kept. */
typedef struct keep {
    size_t hist_first;   /* index of the oldest history entry kept */
    size_t lessons;      /* number of lessons kept (from the front) */
    size_t bytes[P_N];   /* bytes kept of each piece, KEEP_ALL = all */
} keep;

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Move i back to the start of a UTF-8 sequence. */
static size_t utf8_floor(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static spak_status put_cut(spak_buf *b, size_t n)
{
    return spak_buf_printf(b, "[... %zu bytes cut ...]", n);
}

/* s with only its last `keep` bytes (starting at a line when one starts in
 * the kept part). */
static spak_status put_tail(spak_buf *b, const char *s, size_t keep_n)
{
    size_t n = slen(s);
    if (keep_n >= n)
        return spak_buf_append(b, s, n);
    size_t start = utf8_floor(s, n - keep_n);
    if (start < n - keep_n)
        start = n - keep_n;  /* never keep more than asked */
    while (start < n && ((unsigned char)s[start] & 0xC0) == 0x80)
        start++;
    const char *nl = memchr(s + start, '\n', n - start);
    if (nl && (size_t)(nl - s) + 1 < n)
        start = (size_t)(nl - s) + 1;
    spak_status st = put_cut(b, start);
    if (st == SPAK_OK)
        st = spak_buf_putc(b, '\n');
    if (st == SPAK_OK)
        st = spak_buf_append(b, s + start, n - start);
    return st;
}

/* s with only its first `keep` bytes (ending at a line when possible). */
static spak_status put_head(spak_buf *b, const char *s, size_t keep_n)
{
    size_t n = slen(s);
    if (keep_n >= n)
        return spak_buf_append(b, s, n);
    size_t end = utf8_floor(s, keep_n);
    const char *p = s + end;
    while (p > s && p[-1] != '\n')
        p--;
    if (p > s)
        end = (size_t)(p - s);
    spak_status st = spak_buf_append(b, s, end);
    if (st == SPAK_OK)
        st = put_cut(b, n - end);
    return st;
}

/* s with its middle cut out: head and tail of keep/2 bytes each. */
static spak_status put_middle(spak_buf *b, const char *s, size_t keep_n)
{
    size_t n = slen(s);
    if (keep_n >= n)
        return spak_buf_append(b, s, n);
    size_t h = utf8_floor(s, keep_n / 2);
    const char *p = s + h;
    while (p > s && p[-1] != '\n')
        p--;
    if (p > s)
        h = (size_t)(p - s);
    size_t t = n - (keep_n - keep_n / 2);
    while (t < n && ((unsigned char)s[t] & 0xC0) == 0x80)
        t++;
    const char *nl = memchr(s + t, '\n', n - t);
    if (nl && (size_t)(nl - s) + 1 < n)
        t = (size_t)(nl - s) + 1;
    if (t < h)
        t = h;
    spak_status st = spak_buf_append(b, s, h);
    if (st == SPAK_OK)
        st = spak_buf_puts(b, "/* ");
    if (st == SPAK_OK)
        st = put_cut(b, t - h);
    if (st == SPAK_OK)
        st = spak_buf_puts(b, " */\n");
    if (st == SPAK_OK)
        st = spak_buf_append(b, s + t, n - t);
    return st;
}

static const char *lang_of(const spak_prompt_parts *p)
{
    return p->language && *p->language ? p->language : "c";
}

static const char *metric_of(const spak_prompt_parts *p)
{
    return p->metric && *p->metric ? p->metric : "the metric";
}

static spak_status render_system(const spak_prompt_parts *p, spak_buf *b)
{
    spak_status st = spak_buf_puts(
        b, "You are a performance engineer working inside a closed loop: specify, program, analyze, learn. "
           "Your proposal is built and then judged by a trusted harness: correctness against a reference on "
           "fresh inputs first, then timing against a baseline measured in the same process. Code never judges "
           "itself, so do not print results, time anything, or special-case the test shapes. The message below "
           "has these sections: task, kernel ABI (with the headers it includes), machine, design and tuning "
           "space, starting point, current best source, diff of the last candidate against the best, latest "
           "analysis, per-shape results, hardware counters, compiler diagnostics and resource report, fired "
           "rules and facts, lessons, predictions against outcomes, history, reply format; a section with "
           "nothing to show says why, and a cut says how much was cut. Use them; change one idea at a time and "
           "say what you expect.\n");
    if (st != SPAK_OK)
        return st;
    if (p->mode == SPAK_PROMPT_CODE)
        return spak_buf_printf(b,
                               "Reply with exactly one fenced code block tagged ```%s that holds the whole source "
                               "file of the new candidate, implementing the kernel ABI unchanged. After the block, "
                               "one line of JSON with your prediction: "
                               "{\"prediction\": {\"metric\": <expected %s as a number>, \"ratio\": <expected "
                               "ratio to the baseline>, \"why\": \"<one sentence>\"}}.\n",
                               lang_of(p), metric_of(p));
    if (p->n_choices > 1)  /* --jobs N: one reply fills the free slots */
        return spak_buf_printf(b,
                               "Reply with one JSON object and nothing else: {\"proposals\": [{\"params\": "
                               "{<name>: <value>, ...}, \"prediction\": {\"metric\": <expected %s as a number>, "
                               "\"ratio\": <expected ratio to the baseline>, \"why\": \"<one sentence>\"}}, ...]} "
                               "with up to %zu entries, each a different choice: %zu evaluations can run at once "
                               "now, so %zu choices keep them all busy (fewer is fine: a choice already tried or "
                               "in flight is dropped). Take each value from the choices listed in the space; "
                               "numbers as numbers.\n",
                               metric_of(p), p->n_choices, p->n_choices, p->n_choices);
    return spak_buf_printf(b,
                           "Reply with one JSON object and nothing else: {\"params\": {<name>: <value>, ...}, "
                           "\"prediction\": {\"metric\": <expected %s as a number>, \"ratio\": <expected ratio "
                           "to the baseline>, \"why\": \"<one sentence>\"}}. "
                           "Take each value from the choices listed in the space; numbers as numbers.\n",
                           metric_of(p));
}

static spak_status section(spak_buf *b, const char *title)
{
    return spak_buf_printf(b, "## %s\n\n", title);
}

/* The text of a section that was given nothing: says so (prompt.h: no
 * section is missing without a why). */
#define NOTHING_GIVEN "Nothing to show: spak gave no text for this section in this step."

/* One section of byte-cut text: its title, the way it is cut and whether
 * it is shown in a code fence (fence: the tag, "" for none). */
typedef struct piece_def {
    const char *title;
    enum { CUT_HEAD, CUT_TAIL, CUT_MIDDLE } how;
    const char *fence;  /* NULL: plain text; "": an untagged fence; "lang": the language's tag */
} piece_def;

static const piece_def PIECES[P_N] = {
    [P_PRED] = {"Predictions against outcomes", CUT_TAIL, NULL},
    [P_DIAG] = {"Compiler diagnostics and resource report of the last candidate", CUT_TAIL, ""},
    [P_COUNTERS] = {"Hardware counters", CUT_HEAD, NULL},
    [P_RULES] = {"Fired rules and facts", CUT_HEAD, NULL},
    [P_DIFF] = {"Diff of the last candidate against the best", CUT_MIDDLE, "diff"},
    [P_SHAPES] = {"Per-shape results", CUT_HEAD, NULL},
    [P_ANALYSIS] = {"Latest analysis", CUT_HEAD, NULL},
    [P_START] = {"Starting point", CUT_MIDDLE, NULL},
    [P_MACHINE] = {"Machine", CUT_HEAD, NULL},
    [P_SOURCE] = {"Current best source", CUT_MIDDLE, "lang"},
};

static const char *piece_text(const spak_prompt_parts *p, int i)
{
    switch (i) {
    case P_PRED: return p->predictions;
    case P_DIAG: return p->diagnostics;
    case P_COUNTERS: return p->counters;
    case P_RULES: return p->rules;
    case P_DIFF: return p->diff;
    case P_SHAPES: return p->shapes;
    case P_ANALYSIS: return p->analysis;
    case P_START: return p->start;
    case P_MACHINE: return p->machine;
    case P_SOURCE: return p->best_source;
    }
    return NULL;
}

/* Section i with what is kept of its text; a missing text says so. A text
 * that is only a reason (starts with "None" or "Not ") is never fenced. */
static spak_status piece_section(spak_buf *b, const spak_prompt_parts *p, const keep *k, int i)
{
    const piece_def *d = &PIECES[i];
    const char *t = piece_text(p, i);
    spak_status st = section(b, d->title);
    if (st != SPAK_OK)
        return st;
    if (!t || !*t)
        return spak_buf_printf(b, "%s\n\n", NOTHING_GIVEN);
    bool reason = strncmp(t, "None", 4) == 0 || strncmp(t, "Not ", 4) == 0;
    if (d->fence && !reason)
        st = spak_buf_printf(b, "```%s\n", strcmp(d->fence, "lang") == 0 ? lang_of(p) : d->fence);
    if (st == SPAK_OK) {
        if (d->how == CUT_TAIL)
            st = put_tail(b, t, k->bytes[i]);
        else if (d->how == CUT_MIDDLE)
            st = put_middle(b, t, k->bytes[i]);
        else
            st = put_head(b, t, k->bytes[i]);
    }
    /* one blank line after the section, whether its text ends a line or not */
    if (st == SPAK_OK && b->len && b->data[b->len - 1] != '\n')
        st = spak_buf_putc(b, '\n');
    if (st == SPAK_OK)
        st = spak_buf_puts(b, d->fence && !reason ? "```\n\n" : "\n");
    return st;
}

static size_t cut_of(size_t keep_n, size_t full)
{
    return keep_n >= full ? 0 : full - keep_n;
}

/* The note that says what was cut (empty when nothing was). */
static spak_status cut_note(spak_buf *b, const spak_prompt_parts *p, const keep *k, size_t nh, size_t nl)
{
    size_t bytes = 0;
    for (int i = 0; i < P_N; i++)
        bytes += cut_of(k->bytes[i], slen(piece_text(p, i)));
    if (!k->hist_first && k->lessons >= nl && !bytes)
        return SPAK_OK;
    (void)nh;
    spak_status st = section(b, "Cut to fit the context budget");
    if (st == SPAK_OK)
        st = spak_buf_printf(b,
                             "This prompt was cut to fit: %zu older history entries and %zu lessons left out, "
                             "about %zu bytes cut from the sections marked \"[... N bytes cut ...]\".\n\n",
                             k->hist_first, nl - k->lessons, bytes);
    return st;
}

/* The lessons the prompt shows: none when the section is omitted. */
static size_t lessons_shown(const spak_prompt_parts *p)
{
    if (p->lessons_omitted && *p->lessons_omitted)
        return 0;
    return p->n_lessons < MAX_LESSONS ? p->n_lessons : MAX_LESSONS;
}

static spak_status render_user(const spak_prompt_parts *p, const keep *k, spak_buf *b)
{
    spak_status st = SPAK_OK;
#define TRY(x)                     \
    do {                           \
        if ((st = (x)) != SPAK_OK) \
            return st;             \
    } while (0)
    TRY(section(b, "Task"));
    TRY(spak_buf_printf(b, "%s\n\n", p->task));
    TRY(section(b, "Kernel ABI (do not change it)"));
    if (p->abi_header && *p->abi_header)
        TRY(spak_buf_printf(b, "```c\n%s\n```\n\n", p->abi_header));
    else
        TRY(spak_buf_printf(b, "%s\n\n", NOTHING_GIVEN));
    TRY(piece_section(b, p, k, P_MACHINE));
    TRY(section(b, "Design and tuning space"));
    TRY(spak_buf_printf(b, "%s\n\n", p->space && *p->space ? p->space : NOTHING_GIVEN));
    TRY(piece_section(b, p, k, P_START));
    TRY(piece_section(b, p, k, P_SOURCE));
    TRY(piece_section(b, p, k, P_DIFF));
    TRY(piece_section(b, p, k, P_ANALYSIS));
    TRY(piece_section(b, p, k, P_SHAPES));
    TRY(piece_section(b, p, k, P_COUNTERS));
    TRY(piece_section(b, p, k, P_DIAG));
    TRY(piece_section(b, p, k, P_RULES));
    size_t nl = lessons_shown(p);
    TRY(section(b, "Lessons"));
    if (p->lessons_omitted && *p->lessons_omitted)
        TRY(spak_buf_printf(b, "%s\n", p->lessons_omitted));
    else if (!nl)
        TRY(spak_buf_puts(b, "None: the store holds no lesson for this kernel family yet.\n"));
    for (size_t i = 0; i < nl && i < k->lessons; i++)
        TRY(spak_buf_printf(b, "- %s\n", p->lessons[i] ? p->lessons[i] : ""));
    if (k->lessons < nl)
        TRY(spak_buf_printf(b, "- [... %zu more lessons cut ...]\n", nl - k->lessons));
    TRY(spak_buf_puts(b, "\n"));
    TRY(piece_section(b, p, k, P_PRED));
    size_t nh = p->n_history < MAX_HISTORY ? p->n_history : MAX_HISTORY;
    TRY(section(b, "History (oldest first)"));
    if (!nh)
        TRY(spak_buf_puts(b, "None: nothing has been tried in this run yet.\n"));
    if (k->hist_first)
        TRY(spak_buf_printf(b, "- [... %zu older attempts cut ...]\n", k->hist_first));
    for (size_t i = k->hist_first; i < nh; i++)
        TRY(spak_buf_printf(b, "- %s\n", p->history[i] ? p->history[i] : ""));
    TRY(spak_buf_puts(b, "\n"));
    TRY(cut_note(b, p, k, nh, nl));
    TRY(section(b, "Reply format"));
    if (p->mode == SPAK_PROMPT_CODE) {
        TRY(spak_buf_printf(b, "One ```%s code block with the complete source", lang_of(p)));
        if (p->abi_symbol && *p->abi_symbol)
            TRY(spak_buf_printf(b, " (it must define %s with the ABI's signature)", p->abi_symbol));
        TRY(spak_buf_printf(b,
                            ", then {\"prediction\": {\"metric\": <expected %s>, \"ratio\": <expected ratio to "
                            "the baseline>, \"why\": \"...\"}} (metric and ratio are each optional; your "
                            "predictions are scored against the outcomes).\n",
                            metric_of(p)));
    } else if (p->n_choices > 1) {
        TRY(spak_buf_printf(b,
                            "{\"proposals\": [{\"params\": {...}, \"prediction\": {\"metric\": <expected %s>, "
                            "\"ratio\": <expected ratio to the baseline>, \"why\": \"...\"}}, ...]}: up to %zu "
                            "different choices, one for each evaluation that can start now\n",
                            metric_of(p), p->n_choices));
    } else {
        TRY(spak_buf_printf(b,
                            "{\"params\": {...}, \"prediction\": {\"metric\": <expected %s>, \"ratio\": "
                            "<expected ratio to the baseline>, \"why\": \"...\"}}\n",
                            metric_of(p)));
    }
    if (p->in_flight && *p->in_flight)  /* measured now, not in the history yet */
        TRY(spak_buf_printf(b, "In flight now (being measured; do not choose them): %s\n", p->in_flight));
#undef TRY
    return st;
}

void spak_prompt_free(spak_prompt *p)
{
    if (!p)
        return;
    free(p->system);
    free(p->user);
    p->system = p->user = NULL;
}

/* Shrink a byte-kept piece by `excess` (+ room for the cut marker). */
static bool shrink(size_t *keep_n, size_t full, size_t excess)
{
    size_t cur = *keep_n == KEEP_ALL ? full : *keep_n;
    if (cur == 0)
        return false;
    size_t want = excess + 48;  /* the marker costs some bytes too */
    *keep_n = cur > want ? cur - want : 0;
    return true;
}

spak_status spak_prompt_build(const spak_prompt_parts *p, size_t budget_tokens, spak_prompt *out, spak_err *err)
{
    memset(out, 0, sizeof *out);
    out->budget_tokens = budget_tokens;
    if (!p || !p->task || !*p->task)
        return spak_errf(err, SPAK_ERR_ARG, "a prompt needs a task statement");
    size_t nh = p->n_history < MAX_HISTORY ? p->n_history : MAX_HISTORY;
    size_t nl = lessons_shown(p);
    if ((nh && !p->history) || (nl && !p->lessons))
        return spak_errf(err, SPAK_ERR_ARG, "history or lessons count given without the array");

    spak_buf sys, user;
    spak_buf_init(&sys, 0);
    spak_buf_init(&user, 0);
    spak_status st = render_system(p, &sys);
    keep k = {0, nl, {0}};
    for (int i = 0; i < P_N; i++)
        k.bytes[i] = KEEP_ALL;
    size_t budget = budget_tokens ? budget_tokens * SPAK_PROMPT_BYTES_PER_TOKEN : SIZE_MAX;

    /* Each pass renders, measures, and cuts the first piece of the policy
     * that still has something to give; the loop ends when it fits or when
     * nothing is left to cut. */
    for (int pass = 0; st == SPAK_OK && pass < 64 + (int)nh + (int)nl; pass++) {
        spak_buf_reset(&user);
        if ((st = render_user(p, &k, &user)) != SPAK_OK)
            break;
        size_t total = sys.len + user.len;
        if (total <= budget)
            break;
        size_t excess = total - budget;
        if (k.hist_first < nh) {
            /* drop the oldest entries that together cover the excess */
            size_t freed = 0;
            while (k.hist_first < nh && freed < excess)
                freed += slen(p->history[k.hist_first++]) + 3;
            continue;
        }
        if (k.lessons > 0) {
            size_t freed = 0;
            while (k.lessons > 0 && freed < excess)
                freed += slen(p->lessons[--k.lessons]) + 3;
            continue;
        }
        bool cut = false;
        for (int i = 0; i < P_N && !cut; i++)
            cut = shrink(&k.bytes[i], slen(piece_text(p, i)), excess);
        if (cut)
            continue;
        st = spak_errf(err, SPAK_ERR_LIMIT,
                       "the prompt's fixed parts (task, ABI, space, reply format) need about %zu tokens, over "
                       "the context budget of %zu",
                       spak_prompt_estimate_tokens(total), budget_tokens);
        break;
    }
    if (st == SPAK_OK && sys.len + user.len > budget)  /* the pass cap was hit: cannot happen, but be sure */
        st = spak_errf(err, SPAK_ERR_LIMIT, "the prompt does not fit the context budget of %zu tokens",
                       budget_tokens);
    if (st != SPAK_OK) {
        if (st == SPAK_ERR_NOMEM)
            st = spak_errf(err, st, "out of memory building a prompt");
        spak_buf_free(&sys);
        spak_buf_free(&user);
        return st;
    }
    out->est_tokens = spak_prompt_estimate_tokens(sys.len + user.len);
    out->history_dropped = k.hist_first;
    out->lessons_dropped = nl - k.lessons;
    size_t cuts[P_N];
    for (int i = 0; i < P_N; i++)
        cuts[i] = cut_of(k.bytes[i], slen(piece_text(p, i)));
    out->diagnostics_cut = cuts[P_DIAG];
    out->rules_cut = cuts[P_RULES];
    out->analysis_cut = cuts[P_ANALYSIS];
    out->source_cut = cuts[P_SOURCE];
    out->predictions_cut = cuts[P_PRED];
    out->counters_cut = cuts[P_COUNTERS];
    out->diff_cut = cuts[P_DIFF];
    out->shapes_cut = cuts[P_SHAPES];
    out->start_cut = cuts[P_START];
    out->machine_cut = cuts[P_MACHINE];
    size_t any = 0;
    for (int i = 0; i < P_N; i++)
        any += cuts[i];
    if (out->history_dropped || out->lessons_dropped || any)
        snprintf(out->report, sizeof out->report,
                 "cut to fit %zu tokens: %zu history entries, %zu lessons, about %zu bytes of predictions, %zu of "
                 "diagnostics, %zu of counters, %zu of rules, %zu of diff, %zu of per-shape results, %zu of "
                 "analysis, %zu of starting point, %zu of machine, %zu of source",
                 budget_tokens, out->history_dropped, out->lessons_dropped, cuts[P_PRED], cuts[P_DIAG],
                 cuts[P_COUNTERS], cuts[P_RULES], cuts[P_DIFF], cuts[P_SHAPES], cuts[P_ANALYSIS], cuts[P_START],
                 cuts[P_MACHINE], cuts[P_SOURCE]);
    out->system = spak_buf_take(&sys);
    out->user = spak_buf_take(&user);
    return SPAK_OK;
}

/* ---- reply parsing ---- */

const char *spak_reply_kind_name(spak_reply_kind k)
{
    switch (k) {
    case SPAK_REPLY_CODE: return "code";
    case SPAK_REPLY_PARAMS: return "params";
    case SPAK_REPLY_EMPTY: return "empty";
    case SPAK_REPLY_TOO_LARGE: return "too_large";
    case SPAK_REPLY_REFUSAL: return "refusal";
    case SPAK_REPLY_NO_CODE: return "no_code";
    case SPAK_REPLY_UNCLOSED: return "unclosed_code";
    case SPAK_REPLY_ABI: return "abi_mismatch";
    case SPAK_REPLY_NO_JSON: return "no_json";
    case SPAK_REPLY_BAD_PARAMS: return "bad_params";
    }
    return "unknown";
}

void spak_reply_free(spak_reply *r)
{
    if (!r)
        return;
    free(r->code);
    free(r->params_json);
    free(r->prediction_why);
    r->code = r->params_json = r->prediction_why = NULL;
}

typedef struct fence {
    size_t open_start;    /* offset of the opening fence line */
    size_t body_start;    /* first byte of the block's text */
    size_t body_end;      /* one past its last byte (before the closing line) */
    size_t close_end;     /* one past the closing line */
    bool closed;
    char lang[16];
} fence;

/* Length of the line starting at i (without its '\n'). */
static size_t line_len(const char *s, size_t n, size_t i)
{
    const char *nl = memchr(s + i, '\n', n - i);
    return nl ? (size_t)(nl - (s + i)) : n - i;
}

/* Is the line at i a fence (up to 3 spaces, then >= 3 backticks)? Returns
 * the number of backticks, 0 if not. */
static size_t fence_ticks(const char *s, size_t n, size_t i, size_t *after)
{
    size_t ll = line_len(s, n, i), j = 0;
    while (j < ll && j < 3 && s[i + j] == ' ')
        j++;
    size_t t = 0;
    while (j + t < ll && s[i + j + t] == '`')
        t++;
    if (t < 3)
        return 0;
    *after = i + j + t;
    return t;
}

/* Find the next fenced block at or after offset from. false if none. */
static bool next_fence(const char *s, size_t n, size_t from, fence *f)
{
    size_t i = from;
    while (i < n) {
        size_t ll = line_len(s, n, i), after;
        size_t t = fence_ticks(s, n, i, &after);
        if (t) {
            memset(f, 0, sizeof *f);
            f->open_start = i;
            /* the info string: first word, lower case */
            size_t e = i + ll, a = after;
            while (a < e && (s[a] == ' ' || s[a] == '\t'))
                a++;
            size_t w = 0;
            while (a < e && !isspace((unsigned char)s[a]) && s[a] != '`' && s[a] != '{' && w + 1 < sizeof f->lang)
                f->lang[w++] = (char)tolower((unsigned char)s[a++]);
            f->lang[w] = 0;
            f->body_start = e < n ? e + 1 : n;
            size_t k = f->body_start;
            while (k < n) {
                size_t kl = line_len(s, n, k), aft;
                size_t kt = fence_ticks(s, n, k, &aft);
                if (kt >= t) {
                    bool only_ws = true;
                    for (size_t q = aft; q < k + kl; q++)
                        if (!isspace((unsigned char)s[q]) && s[q] != '`')
                            only_ws = false;
                    if (only_ws) {
                        f->closed = true;
                        f->body_end = k;
                        f->close_end = k + kl < n ? k + kl + 1 : n;
                        return true;
                    }
                }
                k += kl + 1;
            }
            f->body_end = n;
            f->close_end = n;
            return true;
        }
        i += ll + 1;
    }
    return false;
}

static bool code_lang(const char *l)
{
    static const char *const ok[] = {"", "c", "cuda", "cu", "c++", "cpp", "cc", "h", "hpp", "cxx"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(ok); i++)
        if (strcmp(l, ok[i]) == 0)
            return true;
    return false;
}

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Does code mention sym as an identifier followed by '(' (a definition or a
 * declaration)? */
static bool defines_symbol(const char *code, const char *sym)
{
    size_t k = strlen(sym);
    if (!k)
        return true;
    for (const char *p = code; (p = strstr(p, sym)) != NULL; p += k) {
        if (p > code && is_ident(p[-1]))
            continue;
        if (is_ident(p[k]))
            continue;
        const char *q = p + k;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (*q == '(')
            return true;
    }
    return false;
}

static bool looks_like_refusal(const char *s, size_t n)
{
    static const char *const starts[] = {
        "i'm sorry", "i am sorry", "sorry,", "sorry but", "i can't", "i cannot", "i can not", "i won't",
        "i will not", "i'm not able", "i am not able", "i'm unable", "i am unable", "as an ai", "i apologize",
        "unfortunately, i can", "i must decline", "i do not feel comfortable", "i don't feel comfortable",
    };
    char head[160];
    size_t i = 0, j = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    while (i < n && j + 1 < sizeof head) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 && (unsigned char)s[i + 2] == 0x99) {
            head[j++] = '\'';  /* U+2019 RIGHT SINGLE QUOTATION MARK */
            i += 3;
            continue;
        }
        head[j++] = (char)tolower(c);
        i++;
    }
    head[j] = 0;
    for (size_t k = 0; k < SPAK_ARRAY_LEN(starts); k++)
        if (strncmp(head, starts[k], strlen(starts[k])) == 0)
            return true;
    return false;
}

/* The reply has no usable answer: a refusal when it reads like one (detail
 * "no WHAT; ..."), else kind with detail. */
static void no_answer(spak_reply *r, const char *s, size_t n, const char *what, spak_reply_kind kind,
                      const char *detail)
{
    if (looks_like_refusal(s, n)) {
        r->kind = SPAK_REPLY_REFUSAL;
        snprintf(r->detail, sizeof r->detail, "no %s; the reply reads like a refusal", what);
    } else {
        r->kind = kind;
        snprintf(r->detail, sizeof r->detail, "%s", detail);
    }
}

#define MAX_JSON_TRIES 256

/* The first JSON object in s[from, to) that has member `key`, skipping the
 * byte range [skip_a, skip_b). Owned by the caller (json_decref). */
static json_t *find_object_with(const char *s, size_t from, size_t to, const char *key, size_t skip_a, size_t skip_b)
{
    int tries = 0;
    size_t i = from;
    while (i < to && tries < MAX_JSON_TRIES) {
        if (i >= skip_a && i < skip_b) {
            i = skip_b;
            continue;
        }
        const char *b = memchr(s + i, '{', to - i);
        if (!b)
            return NULL;
        i = (size_t)(b - s);
        if (i >= skip_a && i < skip_b)
            continue;
        size_t k = i + 1;
        while (k < to && isspace((unsigned char)s[k]))
            k++;
        if (k >= to || (s[k] != '"' && s[k] != '}')) {
            i++;
            continue;
        }
        tries++;
        size_t lim = (i < skip_a && skip_a < to) ? skip_a : to;
        json_error_t je;
        json_t *v = json_loadb(s + i, lim - i, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
        if (v) {
            if (json_is_object(v) && json_object_get(v, key))
                return v;
            json_decref(v);
            i += je.position > 0 ? (size_t)je.position : 1;
        } else {
            i++;
        }
    }
    return NULL;
}

/* Read {"prediction": {"metric": x, "why": "..."}} out of obj into r.
 * false (with r->detail) when it is there but of the wrong shape. */
static bool read_prediction(json_t *obj, spak_reply *r, bool *nomem)
{
    json_t *pr = json_object_get(obj, "prediction");
    if (!pr)
        return true;
    if (!json_is_object(pr)) {
        snprintf(r->detail, sizeof r->detail, "\"prediction\" is not an object");
        return false;
    }
    json_t *m = json_object_get(pr, "metric"), *w = json_object_get(pr, "why"), *ra = json_object_get(pr, "ratio");
    if (m && !json_is_null(m) && !json_is_number(m)) {
        snprintf(r->detail, sizeof r->detail, "\"prediction.metric\" is not a number");
        return false;
    }
    if (ra && !json_is_null(ra) && !(json_is_number(ra) && json_number_value(ra) > 0)) {
        snprintf(r->detail, sizeof r->detail, "\"prediction.ratio\" is not a positive number");
        return false;
    }
    if (w && !json_is_null(w) && !json_is_string(w)) {
        snprintf(r->detail, sizeof r->detail, "\"prediction.why\" is not a string");
        return false;
    }
    r->has_prediction = true;
    if (json_is_number(m))
        r->predicted_metric = json_number_value(m);
    if (json_is_number(ra))
        r->predicted_ratio = json_number_value(ra);
    if (json_is_string(w)) {
        size_t wl = json_string_length(w);
        if (wl > 1000)
            wl = 1000;
        r->prediction_why = strndup(json_string_value(w), wl);
        if (!r->prediction_why) {
            *nomem = true;
            return false;
        }
    }
    return true;
}

static bool name_allowed(const spak_reply_opts *o, const char *name)
{
    if (!o || !o->param_names)
        return true;
    for (size_t i = 0; i < o->n_param_names; i++)
        if (o->param_names[i] && strcmp(o->param_names[i], name) == 0)
            return true;
    return false;
}

static spak_status parse_params(const char *s, size_t n, const spak_reply_opts *o, spak_reply *r)
{
    json_t *obj = NULL;
    /* a ```json block first */
    fence f;
    size_t at = 0;
    while (!obj && next_fence(s, n, at, &f)) {
        if (strcmp(f.lang, "json") == 0)
            obj = find_object_with(s, f.body_start, f.body_end, "params", SIZE_MAX, SIZE_MAX);
        at = f.close_end > at ? f.close_end : n;
    }
    if (!obj)
        obj = find_object_with(s, 0, n, "params", SIZE_MAX, SIZE_MAX);
    if (!obj) {
        no_answer(r, s, n, "JSON choice", SPAK_REPLY_NO_JSON, "no JSON object with \"params\" in the reply");
        return SPAK_OK;
    }
    spak_status st = SPAK_OK;
    bool nomem = false;
    r->kind = SPAK_REPLY_BAD_PARAMS;
    json_t *params = json_object_get(obj, "params");
    if (!json_is_object(params)) {
        snprintf(r->detail, sizeof r->detail, "\"params\" is not an object");
        goto out;
    }
    size_t np = json_object_size(params);
    if (np == 0 || np > SPAK_REPLY_MAX_PARAMS) {
        snprintf(r->detail, sizeof r->detail, "\"params\" has %zu members (1 to %d allowed)", np,
                 SPAK_REPLY_MAX_PARAMS);
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(params, name, v) {
        if (!(json_is_number(v) || json_is_string(v) || json_is_boolean(v))) {
            snprintf(r->detail, sizeof r->detail, "parameter '%.64s' is not a number, string or boolean", name);
            goto out;
        }
        if (!name_allowed(o, name)) {
            snprintf(r->detail, sizeof r->detail, "parameter '%.64s' is not in the space", name);
            goto out;
        }
    }
    if (!read_prediction(obj, r, &nomem)) {
        if (nomem)
            st = SPAK_ERR_NOMEM;
        goto out;
    }
    r->params_json = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    if (!r->params_json) {
        st = SPAK_ERR_NOMEM;
        goto out;
    }
    r->n_params = np;
    r->kind = SPAK_REPLY_PARAMS;
    snprintf(r->detail, sizeof r->detail, "%zu parameters%s", np, r->has_prediction ? ", with a prediction" : "");
out:
    json_decref(obj);
    return st;
}

static spak_status parse_code(const char *s, size_t n, const spak_reply_opts *o, spak_reply *r)
{
    fence f, found;
    bool have = false, unclosed = false;
    size_t at = 0;
    while (next_fence(s, n, at, &f)) {
        if (code_lang(f.lang)) {
            if (!f.closed) {
                unclosed = true;
                found = f;
                break;
            }
            found = f;
            have = true;
            break;
        }
        if (!f.closed)
            break;
        at = f.close_end;
    }
    if (!have) {
        if (unclosed) {
            r->kind = SPAK_REPLY_UNCLOSED;
            snprintf(r->detail, sizeof r->detail, "a ```%s block opens at byte %zu and is never closed (cut reply?)",
                     found.lang, found.open_start);
        } else {
            no_answer(r, s, n, "code block", SPAK_REPLY_NO_CODE,
                      "no fenced code block (```c, ```cuda or ```) in the reply");
        }
        return SPAK_OK;
    }
    size_t bl = found.body_end - found.body_start;
    if (bl == 0 || strspn(s + found.body_start, " \t\r\n") >= bl) {
        r->kind = SPAK_REPLY_NO_CODE;
        snprintf(r->detail, sizeof r->detail, "the code block is empty");
        return SPAK_OK;
    }
    r->code = strndup(s + found.body_start, bl);
    if (!r->code)
        return SPAK_ERR_NOMEM;
    snprintf(r->lang, sizeof r->lang, "%s", found.lang);
    if (o && o->abi_symbol && *o->abi_symbol && !defines_symbol(r->code, o->abi_symbol)) {
        r->kind = SPAK_REPLY_ABI;
        snprintf(r->detail, sizeof r->detail, "the code does not define %.100s (the kernel ABI)", o->abi_symbol);
        return SPAK_OK;
    }
    r->kind = SPAK_REPLY_CODE;
    json_t *pred = find_object_with(s, 0, n, "prediction", found.open_start, found.close_end);
    bool nomem = false;
    char keep_detail[sizeof r->detail] = "";
    if (pred && !read_prediction(pred, r, &nomem)) {
        snprintf(keep_detail, sizeof keep_detail, "; prediction ignored: %.180s", r->detail);
        r->has_prediction = false;
        r->predicted_metric = NAN;
        r->predicted_ratio = NAN;
    }
    json_decref(pred);
    if (nomem)
        return SPAK_ERR_NOMEM;
    snprintf(r->detail, sizeof r->detail, "%zu bytes of %s code%s%.180s", bl, *r->lang ? r->lang : "untagged",
             r->has_prediction ? ", with a prediction" : ", no prediction", keep_detail);
    return SPAK_OK;
}

spak_status spak_reply_parse(const char *text, size_t len, const spak_reply_opts *o, spak_reply *out, spak_err *err)
{
    memset(out, 0, sizeof *out);
    out->predicted_metric = NAN;
    out->predicted_ratio = NAN;
    if (!text)
        len = 0;
    if (len > SPAK_REPLY_MAX_BYTES) {
        out->kind = SPAK_REPLY_TOO_LARGE;
        snprintf(out->detail, sizeof out->detail, "reply of %zu bytes is over the cap of %u", len,
                 SPAK_REPLY_MAX_BYTES);
        return SPAK_OK;
    }
    size_t ws = 0;
    while (ws < len && isspace((unsigned char)text[ws]))
        ws++;
    if (ws == len) {
        out->kind = SPAK_REPLY_EMPTY;
        snprintf(out->detail, sizeof out->detail, "the reply is empty");
        return SPAK_OK;
    }
    spak_prompt_mode m = o ? o->expect : SPAK_PROMPT_CODE;
    spak_status st = m == SPAK_PROMPT_PARAMS ? parse_params(text, len, o, out) : parse_code(text, len, o, out);
    if (st != SPAK_OK) {
        spak_reply_free(out);
        return spak_errf(err, st, "out of memory parsing a reply");
    }
    return SPAK_OK;
}

/* The object with "proposals" of a reply: a ```json block first, then
 * anywhere (as parse_params looks for "params"). */
static json_t *find_choices(const char *s, size_t n)
{
    json_t *obj = NULL;
    fence f;
    size_t at = 0;
    while (!obj && next_fence(s, n, at, &f)) {
        if (strcmp(f.lang, "json") == 0)
            obj = find_object_with(s, f.body_start, f.body_end, "proposals", SIZE_MAX, SIZE_MAX);
        at = f.close_end > at ? f.close_end : n;
    }
    return obj ? obj : find_object_with(s, 0, n, "proposals", SIZE_MAX, SIZE_MAX);
}

spak_status spak_reply_parse_choices(const char *text, size_t len, const spak_reply_opts *o, size_t max,
                                     spak_reply *out, size_t *n, size_t *extra, spak_err *err)
{
    *n = *extra = 0;
    if (max > SPAK_REPLY_MAX_CHOICES)
        max = SPAK_REPLY_MAX_CHOICES;
    json_t *obj = text && max > 1 && len <= SPAK_REPLY_MAX_BYTES ? find_choices(text, len) : NULL;
    json_t *arr = json_object_get(obj, "proposals");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {  /* one choice, as a single prompt asks */
        json_decref(obj);
        *n = 1;
        return spak_reply_parse(text, len, o, &out[0], err);
    }
    spak_status st = SPAK_OK;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (*n == max) {
            (*extra)++;
            continue;
        }
        /* each entry read as a reply of its own: the same checks, one verdict each */
        char *t = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t) {
            st = spak_errf(err, SPAK_ERR_NOMEM, "out of memory parsing a reply");
            break;
        }
        st = spak_reply_parse(t, strlen(t), o, &out[*n], err);
        free(t);
        if (st != SPAK_OK)
            break;
        (*n)++;
    }
    json_decref(obj);
    if (st != SPAK_OK) {
        for (size_t k = 0; k < *n; k++)
            spak_reply_free(&out[k]);
        *n = 0;
    }
    return st;
}
