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

#define LLM_USAGE                                                                                               \
    "spak llm ask [--backend openai|anthropic|manual] --endpoint URL --model M [--system TEXT]\n"                \
    "             [--temperature T] [--max-tokens N] [--timeout S] [--retries N] [--api-key-env VAR]\n"         \
    "             [--json-object] [--expect code|params] [--symbol NAME] [--manual-dir DIR --tag T]\n"          \
    "             [--price-in USD --price-out USD] [--json] PROMPT"

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

int cmd_llm(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "ask") != 0)
        return usage_error("llm", "expected the subcommand 'ask'%s", "");
    spak_llm_config cfg;
    spak_llm_config_init(&cfg);
    spak_llm_request req;
    memset(&req, 0, sizeof req);
    const char *prompt = NULL, *expect = NULL, *symbol = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--json-object") == 0) {
            req.json_object = true;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc && !prompt)
                prompt = argv[++i];
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (prompt)
                return usage_error("llm", "expected one PROMPT, got a second: '%s'", a);
            prompt = a;
            continue;
        }
        if (!v)
            return usage_error("llm", "option '%s' needs a value", a);
        i++;
        if (strcmp(a, "--backend") == 0) {
            if (!spak_llm_backend_parse(v, &cfg.backend))
                return usage_error("llm", "unknown backend '%s' (openai, anthropic or manual)", v);
        } else if (strcmp(a, "--endpoint") == 0) {
            cfg.endpoint = v;
        } else if (strcmp(a, "--model") == 0) {
            cfg.model = v;
        } else if (strcmp(a, "--system") == 0) {
            req.system = v;
        } else if (strcmp(a, "--temperature") == 0) {
            if (!num_arg(v, 0, 2, &cfg.temperature))
                return usage_error("llm", "--temperature: expected a number in [0, 2], got '%s'", v);
        } else if (strcmp(a, "--max-tokens") == 0) {
            if (!num_arg(v, 1, 1e6, &d) || d != floor(d))
                return usage_error("llm", "--max-tokens: expected an integer in [1, 1000000], got '%s'", v);
            cfg.max_tokens = (long)d;
        } else if (strcmp(a, "--timeout") == 0) {
            if (!num_arg(v, 0.001, 86400, &cfg.timeout_s))
                return usage_error("llm", "--timeout: expected seconds in (0, 86400], got '%s'", v);
        } else if (strcmp(a, "--retries") == 0) {
            if (!num_arg(v, 0, 20, &d) || d != floor(d))
                return usage_error("llm", "--retries: expected an integer in [0, 20], got '%s'", v);
            cfg.max_retries = (int)d;
        } else if (strcmp(a, "--api-key-env") == 0) {
            cfg.api_key_env = v;
        } else if (strcmp(a, "--expect") == 0) {
            if (strcmp(v, "code") != 0 && strcmp(v, "params") != 0)
                return usage_error("llm", "--expect: 'code' or 'params', got '%s'", v);
            expect = v;
        } else if (strcmp(a, "--symbol") == 0) {
            symbol = v;
        } else if (strcmp(a, "--manual-dir") == 0) {
            cfg.manual_dir = v;
        } else if (strcmp(a, "--tag") == 0) {
            req.tag = v;
        } else if (strcmp(a, "--price-in") == 0) {
            if (!num_arg(v, 0, 1e6, &cfg.price_in))
                return usage_error("llm", "--price-in: expected USD per million tokens, got '%s'", v);
        } else if (strcmp(a, "--price-out") == 0) {
            if (!num_arg(v, 0, 1e6, &cfg.price_out))
                return usage_error("llm", "--price-out: expected USD per million tokens, got '%s'", v);
        } else {
            return usage_error("llm", "unknown option '%s'", a);
        }
    }
    if (!prompt)
        return usage_error("llm", "expected a PROMPT%s", "");
    if (cfg.backend != SPAK_LLM_MANUAL && (!cfg.endpoint || !cfg.model))
        return usage_error("llm", "--endpoint and --model are required%s", "");
    req.user = prompt;

    spak_llm_reply rep;
    spak_err err = {0};
    spak_status st = spak_llm_complete(&cfg, &req, &rep, &err);
    if (st == SPAK_ERR_NOMEM) {
        fprintf(stderr, "spak llm: %s\n", err.msg);
        spak_llm_reply_free(&rep);
        return EXIT_PROBLEM;
    }

    spak_reply parsed;
    bool have_parsed = false;
    if (expect && rep.outcome == SPAK_LLM_OK) {
        spak_reply_opts o = {strcmp(expect, "params") == 0 ? SPAK_PROMPT_PARAMS : SPAK_PROMPT_CODE, symbol, NULL, 0};
        spak_err perr;
        if (spak_reply_parse(rep.text, strlen(rep.text), &o, &parsed, &perr) != SPAK_OK) {
            fprintf(stderr, "spak llm: %s\n", perr.msg);
            spak_llm_reply_free(&rep);
            return EXIT_PROBLEM;
        }
        have_parsed = true;
    }

    if (json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:f,s:o,s:i,s:i,s:s}", "outcome",
                              spak_llm_outcome_name(rep.outcome), "detail", rep.detail, "model", rep.model,
                              "finish_reason", rep.finish_reason, "prompt_tokens", tokens_json(rep.prompt_tokens),
                              "completion_tokens", tokens_json(rep.completion_tokens), "latency_s", rep.latency_s,
                              "cost", num_or_null(rep.cost), "http_status", rep.http_status, "attempts", rep.attempts,
                              "backend", spak_llm_backend_name(cfg.backend));
        if (o && rep.text)
            json_object_set_new(o, "text", json_string(rep.text));
        if (o && *rep.reply_path)
            json_object_set_new(o, "reply_path", json_string(rep.reply_path));
        if (o && have_parsed) {
            json_t *p = json_pack("{s:s,s:s}", "kind", spak_reply_kind_name(parsed.kind), "detail", parsed.detail);
            if (p && parsed.params_json)
                json_object_set_new(p, "params", json_loads(parsed.params_json, 0, NULL));
            if (p && parsed.code)
                json_object_set_new(p, "code", json_string(parsed.code));
            if (p && parsed.has_prediction)
                json_object_set_new(p, "prediction",
                                    json_pack("{s:o,s:s?}", "metric", num_or_null(parsed.predicted_metric), "why",
                                              parsed.prediction_why));
            json_object_set_new(o, "proposal", p);
        }
        char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (s)
            puts(s);
        else
            fprintf(stderr, "spak llm: out of memory\n");
        free(s);
        json_decref(o);
    } else {
        if (rep.text)
            printf("%s\n", rep.text);
        fprintf(stderr, "spak llm: %s: %s; tokens %ld+%ld, %.2f s, %d attempt%s\n", spak_llm_outcome_name(rep.outcome),
                rep.detail, rep.prompt_tokens, rep.completion_tokens, rep.latency_s, rep.attempts,
                rep.attempts == 1 ? "" : "s");
        if (have_parsed)
            fprintf(stderr, "spak llm: proposal: %s: %s\n", spak_reply_kind_name(parsed.kind), parsed.detail);
    }
    int rc = rep.outcome == SPAK_LLM_OK ? 0 : EXIT_PROBLEM;
    if (have_parsed)
        spak_reply_free(&parsed);
    spak_llm_reply_free(&rep);
    return rc;
}
