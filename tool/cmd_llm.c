/*
 * cmd_llm.c - `spak llm ask`: one exchange with a model through the same
 * client the loop uses (src/llm.h), for people checking an endpoint and for
 * the real-model test (tests/suites/llm_real.sh).
 *
 *   spak llm ask --endpoint URL --model M [OPTIONS] PROMPT
 *
 * Prints the reply text on stdout and one summary line on stderr; with
 * --json, one JSON object on stdout instead (outcome, detail, text, tokens,
 * latency, cost, and with --expect the parsed proposal). Exit 0 when the
 * exchange gave a reply, 1 when it failed (the outcome says how), 2 for
 * usage errors. The API key comes only from the environment variable named
 * by --api-key-env (Anthropic: ANTHROPIC_API_KEY by default).
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "program/llm/llm.h"
#include "program/prompt.h"
#include "util.h"

int cmd_llm(int argc, char **argv);

static bool num_arg(const char *s, double lo, double hi, double *out)
{
    return spak_parse_double(s, out) && *out >= lo && *out <= hi;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *tokens_json(long t)
{
    return t >= 0 ? json_integer(t) : json_null();
}

/* What `spak llm ask` was told. */
typedef struct ask_args {
    spak_llm_config cfg;
    spak_llm_request req;
    const char *prompt, *expect, *symbol;
    bool json;
} ask_args;

/* One option that takes a value, into a; -1 when it is none of them, else
 * 0 or the usage error's exit code. */
static int value_option(ask_args *a, const char *opt, const char *v)
{
    const struct {
        const char *name;
        const char **dst;
    } strs[] = {
        {"--endpoint", &a->cfg.endpoint},   {"--model", &a->cfg.model},   {"--system", &a->req.system},
        {"--api-key-env", &a->cfg.api_key_env}, {"--symbol", &a->symbol}, {"--manual-dir", &a->cfg.manual_dir},
        {"--tag", &a->req.tag},
    };
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
        if (strcmp(opt, strs[k].name) == 0) {
            *strs[k].dst = v;
            return 0;
        }
    double max_tokens = (double)a->cfg.max_tokens, retries = a->cfg.max_retries;
    const struct {
        const char *name;
        double lo, hi;
        bool integer;
        double *dst;
        const char *bad;
    } nums[] = {
        {"--temperature", 0, 2, false, &a->cfg.temperature, "--temperature: expected a number in [0, 2], got '%s'"},
        {"--max-tokens", 1, 1e6, true, &max_tokens, "--max-tokens: expected an integer in [1, 1000000], got '%s'"},
        {"--timeout", 0.001, 86400, false, &a->cfg.timeout_s, "--timeout: expected seconds in (0, 86400], got '%s'"},
        {"--retries", 0, 20, true, &retries, "--retries: expected an integer in [0, 20], got '%s'"},
        {"--price-in", 0, 1e6, false, &a->cfg.price_in, "--price-in: expected USD per million tokens, got '%s'"},
        {"--price-out", 0, 1e6, false, &a->cfg.price_out, "--price-out: expected USD per million tokens, got '%s'"},
    };
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
        if (strcmp(opt, nums[k].name) == 0) {
            if (!num_arg(v, nums[k].lo, nums[k].hi, nums[k].dst) ||
                (nums[k].integer && *nums[k].dst != floor(*nums[k].dst)))
                return usage_error("llm", nums[k].bad, v);
            a->cfg.max_tokens = (long)max_tokens;
            a->cfg.max_retries = (int)retries;
            return 0;
        }
    if (strcmp(opt, "--backend") == 0) {
        if (spak_llm_backend_parse(v, &a->cfg.backend))
            return 0;
        char names[128], fmt[192];
        spak_llm_backend_names(names, sizeof names, ", ", " or ");
        snprintf(fmt, sizeof fmt, "unknown backend '%%s' (%s)", names);
        return usage_error("llm", fmt, v);
    }
    if (strcmp(opt, "--expect") == 0) {
        if (strcmp(v, "code") != 0 && strcmp(v, "params") != 0)
            return usage_error("llm", "--expect: 'code' or 'params', got '%s'", v);
        a->expect = v;
        return 0;
    }
    return -1;
}

/* The command line of `spak llm ask`; 0 or the usage error's exit code. */
static int parse_args(int argc, char **argv, ask_args *a)
{
    memset(a, 0, sizeof *a);
    spak_llm_config_init(&a->cfg);
    /* every value is checked after the parse, in this order */
    static const char *const names[] = {"--endpoint", "--model",       "--system",    "--api-key-env", "--symbol",
                                        "--manual-dir", "--tag",       "--temperature", "--max-tokens", "--timeout",
                                        "--retries",  "--price-in",    "--price-out", "--backend",     "--expect"};
    enum { NV = sizeof names / sizeof names[0] };
    const char *vals[NV] = {0};
    cli_opt opts[NV + 3] = {{"--json", NULL, &a->json, NULL}, {"--json-object", NULL, &a->req.json_object, NULL}};
    for (size_t k = 0; k < NV; k++)
        opts[2 + k] = (cli_opt){names[k], NULL, NULL, &vals[k]};
    int first;
    int rc = cli_parse_opts("llm", argc, argv, opts, 0, &first);
    if (rc)
        return rc;
    if (first >= argc || strcmp(argv[first], "ask") != 0)
        return usage_error("llm", "expected the subcommand 'ask'%s", "");
    if (argc - first > 2)
        return usage_error("llm", "expected one PROMPT, got a second: '%s'", argv[first + 2]);
    a->prompt = first + 1 < argc ? argv[first + 1] : NULL;
    for (size_t k = 0; k < NV; k++)
        if (vals[k] && (rc = value_option(a, names[k], vals[k])) != 0)
            return rc;
    if (!a->prompt)
        return usage_error("llm", "expected a PROMPT%s", "");
    /* an HTTP backend needs somewhere to send and a model to ask for */
    if (!a->cfg.backend->complete && (!a->cfg.endpoint || !a->cfg.model))
        return usage_error("llm", "--endpoint and --model are required%s", "");
    spak_err err = {0};
    if (spak_llm_endpoint_check_config(&a->cfg, &err) != SPAK_OK)
        return usage_error("llm", "%s", err.msg);  /* says which rule, never the URL */
    a->req.user = a->prompt;
    return 0;
}

/* The --json form: one object with the exchange and the parsed proposal. */
static void print_json(const ask_args *a, const spak_llm_reply *rep, const spak_reply *parsed)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:f,s:o,s:i,s:i,s:s}", "outcome",
                          spak_llm_outcome_name(rep->outcome), "detail", rep->detail, "model", rep->model,
                          "finish_reason", rep->finish_reason, "prompt_tokens", tokens_json(rep->prompt_tokens),
                          "completion_tokens", tokens_json(rep->completion_tokens), "latency_s", rep->latency_s,
                          "cost", num_or_null(rep->cost), "http_status", rep->http_status, "attempts", rep->attempts,
                          "backend", spak_llm_backend_name(a->cfg.backend));
    if (o && rep->text)
        json_object_set_new(o, "text", json_string(rep->text));
    if (o && *rep->reply_path)
        json_object_set_new(o, "reply_path", json_string(rep->reply_path));
    if (o && parsed) {
        json_t *p = json_pack("{s:s,s:s}", "kind", spak_reply_kind_name(parsed->kind), "detail", parsed->detail);
        if (p && parsed->params_json)
            json_object_set_new(p, "params", json_loads(parsed->params_json, 0, NULL));
        if (p && parsed->code)
            json_object_set_new(p, "code", json_string(parsed->code));
        if (p && parsed->has_prediction)
            json_object_set_new(p, "prediction",
                                json_pack("{s:o,s:s?}", "metric", num_or_null(parsed->predicted_metric), "why",
                                          parsed->prediction_why));
        json_object_set_new(o, "proposal", p);
    }
    if (o)
        cli_print_json(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER, NULL);
    else
        fprintf(stderr, "spak llm: out of memory\n");
    json_decref(o);
}

/* The plain form: the text on stdout, a summary line on stderr. */
static void print_text(const spak_llm_reply *rep, const spak_reply *parsed)
{
    /* a model's or a server's text: its lines are kept, its controls escaped */
    if (rep->text)
        printf("%s\n", cli_safe_flags(rep->text, SPAK_ESC_KEEP_NL));
    /* a count the server never gave (-1) is said so, not printed as -1 */
    char tokens[80] = "no token counts", pt[24] = "?", ct[24] = "?";
    if (rep->prompt_tokens >= 0)
        spak_snprintf(pt, sizeof pt, "%ld", rep->prompt_tokens);
    if (rep->completion_tokens >= 0)
        spak_snprintf(ct, sizeof ct, "%ld", rep->completion_tokens);
    if (rep->prompt_tokens >= 0 || rep->completion_tokens >= 0)
        spak_snprintf(tokens, sizeof tokens, "tokens %s+%s", pt, ct);
    fprintf(stderr, "spak llm: %s: %s; %s, %.2f s, %d attempt%s\n", spak_llm_outcome_name(rep->outcome),
            cli_safe(rep->detail), tokens, rep->latency_s, rep->attempts, rep->attempts == 1 ? "" : "s");
    if (parsed)
        fprintf(stderr, "spak llm: proposal: %s: %s\n", spak_reply_kind_name(parsed->kind), cli_safe(parsed->detail));
}

int cmd_llm(int argc, char **argv)
{
    ask_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;

    spak_llm_reply rep;
    spak_err err = {0};
    spak_status st = spak_llm_complete(&a.cfg, &a.req, &rep, &err);
    if (st == SPAK_ERR_NOMEM) {
        fprintf(stderr, "spak llm: %s\n", err.msg);
        spak_llm_reply_free(&rep);
        return EXIT_PROBLEM;
    }

    spak_reply parsed;
    bool have_parsed = false;
    if (a.expect && rep.outcome == SPAK_LLM_OK) {
        spak_reply_opts o = {strcmp(a.expect, "params") == 0 ? SPAK_PROMPT_PARAMS : SPAK_PROMPT_CODE, a.symbol, NULL,
                             0};
        spak_err perr;
        if (spak_reply_parse(rep.text, strlen(rep.text), &o, &parsed, &perr) != SPAK_OK) {
            fprintf(stderr, "spak llm: %s\n", cli_safe(perr.msg));
            spak_llm_reply_free(&rep);
            return EXIT_PROBLEM;
        }
        have_parsed = true;
    }
    if (a.json)
        print_json(&a, &rep, have_parsed ? &parsed : NULL);
    else
        print_text(&rep, have_parsed ? &parsed : NULL);
    rc = rep.outcome == SPAK_LLM_OK ? 0 : EXIT_PROBLEM;
    if (have_parsed)
        spak_reply_free(&parsed);
    spak_llm_reply_free(&rep);
    return rc;
}
