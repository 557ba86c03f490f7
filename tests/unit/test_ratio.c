/* Checks handlers/relay/ratio.c: the default tables, the JSON text, parsing and lookups. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/relay/ratio.h"
#include "tap.h"

static const struct ratio_entry *default_row(const char *name)
{
    for (size_t i = 0; i < ratio_default_model_n; i++)
        if (strcmp(ratio_default_model[i].name, name) == 0)
            return &ratio_default_model[i];
    return NULL;
}

static double default_value(const char *name)
{
    const struct ratio_entry *e = default_row(name);
    return e ? e->value : NAN;
}

static void test_default_tables(void)
{
    note("default tables");
    is_int(ratio_default_model_n, 566, "ModelRatio has One API's 566 rows");
    is_int(ratio_default_completion_n, 5, "CompletionRatio has One API's 5 explicit rows");
    is_int(ratio_default_group_n, 3, "GroupRatio has 3 rows");
    int sorted = 1;
    for (size_t i = 1; i < ratio_default_model_n; i++)
        if (strcmp(ratio_default_model[i - 1].name, ratio_default_model[i].name) >= 0)
            sorted = 0;
    for (size_t i = 1; i < ratio_default_completion_n; i++)
        if (strcmp(ratio_default_completion[i - 1].name, ratio_default_completion[i].name) >= 0)
            sorted = 0;
    ok(sorted, "default tables are strictly sorted (unique keys, bisectable)");

    /* The Go constants: USD = 500, MILLI_USD = 0.5, RMB = 500 / 7 = 71 (integer). */
    const double usd = 500, milli_usd = 0.5, rmb = 71;
    ok(default_value("gpt-4") == 15, "gpt-4 = 15");
    ok(default_value("gpt-4o-mini") == 0.075, "gpt-4o-mini = 0.075");
    ok(default_value("gpt-4o") == 5 * milli_usd, "gpt-4o = 5 * MILLI_USD = 2.5");
    ok(default_value("text-embedding-3-small") == 0.01, "text-embedding-3-small = 0.01");
    ok(default_value("claude-3-haiku-20240307") == 0.25 / 1000 * usd,
       "claude-3-haiku = 0.25/1000 * USD");
    ok(default_value("ERNIE-4.0-8K") == 8.52, "ERNIE-4.0-8K = 0.120 * RMB = 8.52");
    ok(fabs(default_value("ERNIE-3.5-8K") - 0.012 * rmb) < 1e-15, "ERNIE-3.5-8K = 0.012 * RMB");
    ok(default_value("ERNIE-3.5-8K") == 0.852, "ERNIE-3.5-8K = 0.852 exactly");
    ok(default_value("qwen-turbo") == 0.0213, "qwen-turbo = 0.0213");
    ok(default_value("glm-4-flash") == 0, "glm-4-flash = 0");
    ok(default_value("gemma-7b-it") == 3.5e-05,
       "gemma-7b-it = 3.5e-05 (One API's Groq prices, kept)");
    ok(default_value("llama3-8b-8192(33)") == 0.15, "qualified key llama3-8b-8192(33) = 0.15");
    ok(default_value("llama3-70b-8192(33)") == 1.325, "llama3-70b-8192(33) = 1.325");
    ok(default_value("openrouter/auto") == -500000, "openrouter/auto kept as data (-500000)");
    ok(default_value("meta/meta-llama-3.1-405b-instruct") == 4750, "replicate 405b = 4750");
    ok(default_value("step-2-16k") == 0.002698, "step-2-16k = 0.002698");
    ok(default_value("deepseek-reasoner") == 0.275, "deepseek-reasoner = 0.275");
    ok(default_value("x-ai/grok-2-1212") == 5, "x-ai/grok-2-1212 = 5 (last A.22 rows parsed)");
}

static void test_defaults_json(void)
{
    note("default JSON text of the options");
    char *g = ratio_defaults_json(RATIO_GROUP);
    is_str(g, "{\"default\":1,\"svip\":1,\"vip\":1}", "GroupRatio default JSON");
    free(g);
    char *c = ratio_defaults_json(RATIO_COMPLETION);
    is_str(c,
           "{\"deepseek-chat\":2,\"deepseek-reasoner\":3.981818181818182,"
           "\"llama3-70b-8192(33)\":1.320754716981132,\"llama3-8b-8192(33)\":2,\"whisper-1\":0}",
           "CompletionRatio default JSON");
    free(c);
    char *m = ratio_defaults_json(RATIO_MODEL);
    ok(strncmp(m, "{\"01-ai/yi-large\":1.5,", 22) == 0, "ModelRatio JSON starts sorted");
    ok(strstr(m, "\"gemma-7b-it\":0.000035,") != NULL, "floats in Go's plain notation");
    ok(strstr(m, "\"gpt-4o-mini\":0.075,") != NULL, "gpt-4o-mini in the JSON");
    ok(strstr(m, "openrouter/auto") == NULL, "negative openrouter/auto left out of the JSON");

    struct ratio_tables *t = NULL;
    char err[200];
    is_int(ratio_tables_parse(m, NULL, NULL, &t, err, sizeof err), 0,
           "default ModelRatio JSON passes validation (%s)", err);
    is_int(ratio_tables_count(t, RATIO_MODEL), 565, "565 non-negative rows parsed back");
    int same = 1;
    for (size_t i = 0; i < ratio_tables_count(t, RATIO_MODEL); i++) {
        double v;
        const char *k = ratio_tables_key(t, RATIO_MODEL, i, &v);
        if (!k || default_value(k) != v)
            same = 0;
    }
    ok(same, "every value round-trips exactly through the JSON text");
    char *back = ratio_tables_json(t, RATIO_MODEL, false);
    is_str(back, m, "live table JSON equals the default JSON");
    free(back);
    ratio_tables_free(t);
    free(m);

    /* Go's float formatting corners. */
    t = NULL;
    ok(ratio_tables_parse("{\"a\":1e-7,\"b\":1e21,\"c\":123456789,\"d\":1.5e-6,\"e\":100,"
                          "\"f\":1e20,\"g\":0.1,\"h\":2.5e-10,\"i\":1.25e22,\"j\":0,\"k<&>\":7}",
                          NULL, NULL, &t, err, sizeof err) == 0,
       "parse float corner cases");
    char *fj = ratio_tables_json(t, RATIO_MODEL, false);
    is_str(fj,
           "{\"a\":1e-7,\"b\":1e+21,\"c\":123456789,\"d\":0.0000015,\"e\":100,"
           "\"f\":100000000000000000000,\"g\":0.1,\"h\":2.5e-10,\"i\":1.25e+22,\"j\":0,"
           "\"k\\u003c\\u0026\\u003e\":7}",
           "Go encoding/json number and key format");
    free(fj);
    char *merged = ratio_tables_json(t, RATIO_MODEL, true);
    ok(strstr(merged, "\"a\":1e-7") && strstr(merged, "\"gpt-4\":15") &&
           !strstr(merged, "openrouter/auto"),
       "merge with defaults keeps live keys and adds built-ins");
    free(merged);
    ratio_tables_free(t);
}

static void test_parse_errors(void)
{
    note("option validation");
    struct ratio_tables *sentinel = (struct ratio_tables *)&sentinel, *t = sentinel;
    char err[200];
    static const struct {
        const char *json; /* a ModelRatio value */
        const char *want; /* substring of the error */
    } bad[] = {
        {"{\"gpt-4\":", "ModelRatio: invalid JSON"},
        {"", "ModelRatio: invalid JSON"},
        {"{\"a\":1} x", "ModelRatio: invalid JSON"},
        {"{\"a\":1,}", "ModelRatio: invalid JSON"},
        {"{\"a\":NaN}", "ModelRatio: "}, /* json-c takes NaN even when strict: not finite */
        {"[1,2]", "must be a JSON object"},
        {"{\"gpt-4\":\"15\"}", "value of \"gpt-4\" must be a number"},
        {"{\"gpt-4\":true}", "value of \"gpt-4\" must be a number"},
        {"{\"gpt-4\":null}", "value of \"gpt-4\" must be a number"},
        {"{\"gpt-4\":{\"x\":1}}", "value of \"gpt-4\" must be a number"},
        {"{\"ok\":1,\"openrouter/auto\":-500000}", "\"openrouter/auto\" must not be negative"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = ratio_tables_parse(bad[i].json, "{}", "{}", &t, err, sizeof err);
        ok(rc == -1 && t == sentinel && strstr(err, bad[i].want), "rejects %s: %s", bad[i].json,
           err);
    }
    int rc = ratio_tables_parse("{\"a\":1}", "{\"b\":-1}", "{}", &t, err, sizeof err);
    ok(rc == -1 && t == sentinel && strstr(err, "CompletionRatio: value of \"b\""),
       "a later bad option rejects all three: %s", err);
    rc = ratio_tables_parse("{}", "{}", "{\"vip\":\"x\"}", &t, err, sizeof err);
    ok(rc == -1 && t == sentinel && strstr(err, "GroupRatio"), "GroupRatio named: %s", err);
    is_int(ratio_json_validate(RATIO_COMPLETION, "{\"x\":2}", err, sizeof err), 0,
           "validate one option: ok");
    is_int(ratio_json_validate(RATIO_GROUP, "{\"x\":-2}", err, sizeof err), -1,
           "validate one option: negative");
    is_int(ratio_json_validate(RATIO_GROUP, NULL, err, sizeof err), -1, "validate NULL");

    rc = ratio_tables_parse_ex("{\"ok\":1,\"openrouter/auto\":-500000,\"z\":-1}", NULL, NULL,
                               RATIO_PARSE_SKIP_NEGATIVE, &t, err, sizeof err);
    ok(rc == 0 && t != sentinel, "SKIP_NEGATIVE loads a table stored by One API");
    ok(strstr(err, "dropped 2") && strstr(err, "openrouter/auto"), "and reports it: %s", err);
    is_int(ratio_tables_count(t, RATIO_MODEL), 1, "only the valid key is kept");
    ratio_tables_free(t);
    ratio_tables_free(NULL);
    t = NULL;
    ok(ratio_tables_parse(NULL, NULL, NULL, &t, err, sizeof err) == 0 && err[0] == '\0',
       "NULL options give empty tables");
    is_int(ratio_tables_count(t, RATIO_GROUP), 0, "empty group table");
    ok(ratio_tables_key(t, RATIO_GROUP, 0, NULL) == NULL, "key out of range is NULL");
    ratio_tables_free(t);
}

static void test_lookups(void)
{
    note("ratio lookups");
    struct ratio_tables *t = NULL;
    char err[200];
    int rc = ratio_tables_parse(
        "{\"gpt-4\":20,\"my-model\":2,\"llama3-8b-8192(33)\":0.3,\"qwen-max\":9}",
        "{\"gpt-4o\":5,\"qwen-max\":3,\"my-model(8)\":7}", "{\"default\":1,\"vip\":0.8}", &t, err,
        sizeof err);
    is_int(rc, 0, "parse live tables (%s)", err);
    bool fb = true;
    ok(ratio_model(t, "gpt-4", 1, &fb) == 20 && !fb, "live value wins");
    ok(ratio_model(t, "gpt-4o", 1, &fb) == 2.5 && !fb, "default when not live");
    ok(ratio_model(t, "my-model", 1, NULL) == 2, "live-only model");
    ok(ratio_model(t, "llama3-8b-8192", 33, NULL) == 0.3, "qualified key in the live table");
    ok(ratio_model(NULL, "llama3-8b-8192", 33, NULL) == 0.15, "qualified key in defaults");
    ok(ratio_model(t, "llama3-8b-8192", 29, NULL) == 2.5e-05, "other channel type: plain key");
    ok(ratio_model(t, "command-r-internet", 35, &fb) == 0.25 && !fb, "command-*-internet");
    ok(ratio_model(t, "qwen-max-internet", 17, NULL) == 9, "qwen-*-internet (live)");
    ok(ratio_model(NULL, "qwen-turbo-internet", 17, NULL) == 0.0213, "qwen-*-internet");
    ok(ratio_model(NULL, "glm-4-internet", 16, &fb) == 30 && fb, "other -internet not dropped");
    ok(ratio_model(t, "no-such-model", 1, &fb) == RATIO_UNKNOWN_MODEL && fb,
       "unknown model: 30 and the fallback flag");
    ok(ratio_model(NULL, "openrouter/auto", 20, &fb) == 30 && fb, "negative built-in ignored");
    ok(ratio_model(NULL, "glm-4-flash", 16, &fb) == 0 && !fb, "a zero ratio is found");

    static const struct {
        const char *model;
        int type;
        double want;
    } cr[] = {
        {"gpt-3.5-turbo", 1, 3},
        {"gpt-3.5-turbo-0125", 1, 3},
        {"gpt-3.5-turbo-1106", 1, 2},
        {"gpt-3.5-turbo-16k", 1, 4.0 / 3.0},
        {"gpt-4o-2024-05-13", 1, 3},
        {"gpt-4o-mini", 1, 4},
        {"gpt-4o-2024-08-06", 1, 4},
        {"gpt-4-turbo-2024-04-09", 1, 3},
        {"gpt-4-0125-preview", 1, 3},
        {"gpt-4-vision-preview", 1, 3},
        {"gpt-4", 1, 2},
        {"gpt-4-32k", 1, 2},
        {"o1", 1, 4},
        {"o1-mini", 1, 4},
        {"o3-mini", 1, 1},
        {"chatgpt-4o-latest", 1, 3},
        {"claude-3-opus-20240229", 14, 5},
        {"claude-2.1", 14, 3},
        {"mistral-large-latest", 28, 3},
        {"gemini-1.5-pro", 24, 3},
        {"deepseek-chat", 36, 2},
        {"deepseek-reasoner", 36, 3.981818181818182},
        {"deepseek-coder", 36, 2},
        {"llama2-70b-4096", 29, 1.25},
        {"llama3-8b-8192", 33, 2},
        {"llama3-70b-8192", 33, 1.320754716981132},
        {"llama3-70b-8192", 29, 1.3389830508474576},
        {"command", 35, 2},
        {"command-light-nightly", 35, 2},
        {"command-r", 35, 3},
        {"command-r-plus", 35, 5},
        {"command-r-plus-internet", 35, 1},
        {"grok-beta", 45, 3},
        {"ibm-granite/granite-3.0-2b-instruct", 46, 8.333333333333334},
        {"meta/llama-2-70b-chat", 46, 4.230769230769231},
        {"meta/meta-llama-3.1-405b-instruct", 46, 1},
        {"mistralai/mixtral-8x7b-instruct-v0.1", 46, 3.3333333333333335},
        {"whisper-1", 1, 0},
        {"qwen-turbo", 17, 1},
        {"unknown", 1, 1},
    };
    for (size_t i = 0; i < sizeof cr / sizeof *cr; i++)
        ok(ratio_completion(NULL, cr[i].model, cr[i].type) == cr[i].want,
           "completion ratio %s(%d) = %.17g", cr[i].model, cr[i].type, cr[i].want);
    ok(ratio_completion(t, "gpt-4o", 1) == 5, "live completion ratio beats the rule");
    ok(ratio_completion(t, "qwen-max-internet", 17) == 3, "qwen -internet in completion lookup");
    ok(ratio_completion(t, "my-model", 8) == 7, "qualified completion key");
    ok(ratio_completion(t, "my-model", 1) == 1, "qualified key only for its channel type");

    bool missing = true;
    ok(ratio_group(t, "vip", &missing) == 0.8 && !missing, "live group ratio");
    ok(ratio_group(t, "svip", &missing) == 1 && missing, "group not in the live table -> 1");
    ok(ratio_group(NULL, "svip", &missing) == 1 && !missing,
       "NULL tables use the default group ratios");
    is_int(ratio_tables_count(t, RATIO_GROUP), 2, "group list has 2 names");
    is_str(ratio_tables_key(t, RATIO_GROUP, 1, NULL), "vip", "group keys sorted");
    ratio_tables_free(t);
}

int main(void)
{
    test_default_tables();
    test_defaults_json();
    test_parse_errors();
    test_lookups();
    return done_testing();
}
