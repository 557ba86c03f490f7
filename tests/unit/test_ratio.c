/* Checks handlers/billing.c: ratio tables, quota math, log strings and prompt token counting. */
#include "config.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"
#include "handlers/relay/ratio.h"
#include "providers/tiktoken.h"
#include "tap.h"

/* Standard base64 of n bytes (heap, NUL-terminated), to build data: URLs. */
static char *b64(const unsigned char *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc(n / 3 * 4 + 5), *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = al[(v >> 6) & 63];
        *o++ = al[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = al[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* "data:image/<type>;base64,<payload>" (heap). */
static char *data_url(const char *type, const unsigned char *p, size_t n)
{
    struct strbuf sb;
    char *enc = b64(p, n);
    sb_init(&sb, NULL);
    sb_printf(&sb, "data:image/%s;base64,%s", type, enc);
    free(enc);
    return sb_detach(&sb, NULL);
}

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
    note("default tables (Appendix A, 6.13)");
    is_int(ratio_default_model_n, 566, "ModelRatio has the 566 rows of Appendix A");
    is_int(ratio_default_completion_n, 5, "CompletionRatio has the 5 rows of 6.13.3");
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
    ok(default_value("gemma-7b-it") == 3.5e-05, "gemma-7b-it = 3.5e-05 (Groq quirk 2)");
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
    note("option validation (11.2, quirks 14 and 22)");
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
    ok(rc == 0 && t != sentinel, "SKIP_NEGATIVE loads a table stored by the original");
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
    note("ratio lookups (6.2, 6.13.3)");
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
    ok(ratio_model(NULL, "openrouter/auto", 20, &fb) == 30 && fb,
       "negative built-in ignored (quirk 22)");
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
    ok(ratio_group(NULL, "svip", &missing) == 1 && !missing, "NULL tables use 6.13.1");
    is_int(ratio_tables_count(t, RATIO_GROUP), 2, "group list has 2 names");
    is_str(ratio_tables_key(t, RATIO_GROUP, 1, NULL), "vip", "group keys sorted");
    ratio_tables_free(t);
}

static void test_quota(void)
{
    note("quota arithmetic (6.3, 6.5, 6.6, 6.12)");
    /* 6.12: vip (1), gpt-4o-mini (0.075, completion 4 by fallback), 1200 + 300 tokens. */
    bool fb;
    double mr = ratio_model(NULL, "gpt-4o-mini", 1, &fb);
    double gr = ratio_group(NULL, "vip", NULL);
    double cr = ratio_completion(NULL, "gpt-4o-mini", 1);
    ok(mr == 0.075 && gr == 1 && cr == 4 && !fb, "worked example ratios");
    is_int(billing_settle(1200, 300, cr, mr * gr), 180, "worked example: 180 quota");
    is_int(billing_settle(0, 0, 4, 2.5), 0, "no tokens: 0");
    is_int(billing_settle(0, 5, 0, 2.5), 1, "positive ratio, zero cost: at least 1");
    is_int(billing_settle(100, 100, 1, 0), 0, "free model (ratio 0): 0");
    is_int(billing_settle(3, 0, 1, 2.5e-05), 1, "tiny Groq cost rounds up to 1");
    is_int(billing_settle(1000, 500, 2, 15), 30000, "gpt-4: (1000 + 500*2) * 15");
    is_int(billing_settle(1001, 0, 1, 0.075), 76, "ceil(75.075) = 76");

    struct billing_pre p = billing_pre_consume(500, 1000, 200, 2.5, 425000);
    is_int(p.estimate, 4250, "pre = (500 + 1000 + 200) * 2.5");
    ok(p.is_enough && !p.is_trusted, "425000 is enough but not > 100x");
    p = billing_pre_consume(500, 1000, 200, 2.5, 425001);
    ok(p.is_enough && p.is_trusted, "425001 > 100x: trusted (original reserves 0)");
    p = billing_pre_consume(500, 1000, 200, 2.5, 4249);
    ok(!p.is_enough && !p.is_trusted, "4249 < 4250: insufficient_user_quota");
    p = billing_pre_consume(500, 10, 0, 0.075, 0);
    is_int(p.estimate, 38, "floor(510 * 0.075) = 38");
    p = billing_pre_consume(INT64_MAX, INT64_MAX, 1, 4750, INT64_MAX);
    ok(p.estimate == INT64_MAX && p.is_enough && !p.is_trusted, "saturates, no overflow");

    is_int(billing_audio_pre(500, 15), 7500, "whisper pre = 500 * 15");
    is_int(billing_speech_quota(100, 15), 1500, "tts-1-hd: 100 bytes * 15");
    is_int(billing_speech_quota(3, 7.5), 22, "int(3 * 7.5) = 22");

    const char *code = NULL, *msg = NULL;
    is_int(billing_image_validate("dall-e-3", "a cat", "1024x1024", 1, &code, &msg), 0,
           "dall-e-3 1024x1024 n=1 valid");
    double ir = ratio_model(NULL, "dall-e-3", 1, NULL);
    is_int(billing_image_quota(ir * 1, billing_image_cost_ratio("dall-e-3", "1024x1024", ""), 1),
           20000, "dall-e-3 standard: 20 * 1 * 1000 = 20000 (US$0.04)");
    is_int(billing_image_quota(ir, billing_image_cost_ratio("dall-e-3", "1024x1024", "hd"), 1),
           40000, "dall-e-3 hd 1024x1024: 40000 (US$0.08)");
    is_int(billing_image_quota(ir, billing_image_cost_ratio("dall-e-3", "1792x1024", "hd"), 1),
           60000, "dall-e-3 hd 1792x1024: 20 * 2 * 1.5 * 1000");
    is_int(billing_image_quota(ir, billing_image_cost_ratio("dall-e-3", "1024x1792", NULL), 1),
           40000, "dall-e-3 standard 1024x1792: x2");
    is_int(billing_image_quota(10, billing_image_cost_ratio("dall-e-2", "512x512", "hd"), 2), 22500,
           "dall-e-2 512x512 n=2: 10 * 1.125 * 1000 * 2 (hd only for dall-e-3)");
    ok(billing_image_cost_ratio("cogview-3", "999x999", NULL) == 1, "cogview-3: ratio 1");
    is_int(billing_image_quota(8, 1, 1), 8000, "replicate/ali: n passed as 1");

    static const struct {
        const char *model, *prompt, *size;
        int64_t n;
        const char *code; /* NULL: valid */
    } iv[] = {
        {"dall-e-3", "", "1024x1024", 1, "prompt_missing"},
        {"dall-e-3", "", "512x512", 5, "prompt_missing"},
        {"dall-e-3", "x", "512x512", 1, "size_not_supported"},
        {"dall-e-3", "x", "1024x1024", 2, "n_not_within_range"},
        {"dall-e-2", "x", "256x256", 10, NULL},
        {"dall-e-2", "x", "256x256", 11, "n_not_within_range"},
        {"dall-e-2", "x", "256x256", 0, "n_not_within_range"},
        {"wanx-v1", "x", "720x1280", 4, NULL},
        {"ali-stable-diffusion-xl", "x", "1024x576", 1, NULL},
        {"step-1x-medium", "x", "800x1280", 1, NULL},
        {"step-1x-medium", "x", "800x1280", 2, "n_not_within_range"},
        {"cogview-3", "x", "4096x4096", 1, NULL},
        {"cogview-3", "x", "1024x1024", 2, "n_not_within_range"},
        {"some-flux", "x", "13x13", 50, NULL},
        {"some-flux", "x", "13x13", -1, "n_not_within_range"},
    };
    for (size_t i = 0; i < sizeof iv / sizeof *iv; i++) {
        int rc =
            billing_image_validate(iv[i].model, iv[i].prompt, iv[i].size, iv[i].n, &code, &msg);
        ok(iv[i].code ? rc == -1 && strcmp(code, iv[i].code) == 0 : rc == 0,
           "image %s %s n=%lld -> %s", iv[i].model, iv[i].size, (long long)iv[i].n,
           iv[i].code ? iv[i].code : "ok");
    }
    char long_prompt[1002];
    memset(long_prompt, 'a', sizeof long_prompt - 1);
    long_prompt[1001] = '\0';
    ok(billing_image_validate("dall-e-2", long_prompt, "256x256", 1, &code, &msg) == -1 &&
           !strcmp(code, "prompt_too_long") && !strcmp(msg, "prompt is too long"),
       "dall-e-2: 1001-byte prompt too long");
    long_prompt[1000] = '\0';
    ok(billing_image_validate("dall-e-2", long_prompt, "256x256", 1, &code, &msg) == 0,
       "dall-e-2: 1000 bytes is fine");
    long_prompt[834] = '\0';
    ok(billing_image_validate("cogview-3", long_prompt, "1x1", 1, &code, &msg) == -1 &&
           !strcmp(code, "prompt_too_long"),
       "cogview-3: 834 bytes too long");
    billing_image_validate("dall-e-3", "x", "1x1", 1, &code, &msg);
    is_str(msg, "size not supported for this image model", "size message");
}

static void test_log_strings(void)
{
    note("log strings (6.8)");
    struct strbuf sb;
    sb_init(&sb, NULL);
    billing_log_content(&sb, 0.075, 1, 4);
    is_str(sb.p, "倍率：0.07 × 1.00 × 4.00", "0.075 prints 0.07 (binary value rounded, as Go)");
    sb_reset(&sb);
    billing_log_content(&sb, 0.125, 0.8, 1.3333333333333333);
    is_str(sb.p, "倍率：0.12 × 0.80 × 1.33", "exact tie 0.125 rounds to even");
    sb_reset(&sb);
    billing_log_content(&sb, 2.5, 1, 4);
    is_str(sb.p, "倍率：2.50 × 1.00 × 4.00", "gpt-4o");
    sb_reset(&sb);
    billing_log_content_media(&sb, 20, 1);
    is_str(sb.p, "倍率：20.00 × 1.00", "image/audio content");
    sb_reset(&sb);
    billing_log_quota(&sb, 1000, true, 500000);
    is_str(sb.p, "＄0.002000 额度", "LogQuota in currency");
    sb_reset(&sb);
    billing_log_quota(&sb, 1000, false, 500000);
    is_str(sb.p, "1000 点额度", "LogQuota in points");
    sb_reset(&sb);
    billing_log_quota(&sb, 500000, true, 0);
    is_str(sb.p, "＄1.000000 额度", "QuotaPerUnit 0 falls back to 500000");
    sb_reset(&sb);
    billing_log_quota(&sb, -250, true, 500000);
    is_str(sb.p, "＄-0.000500 额度", "negative amount");
    sb_free(&sb);
}

/* Minimal headers: PNG 800x600. */
static const unsigned char png_800x600[] = {
    0x89, 'P', 'N', 'G',  '\r', '\n', 0x1A, '\n', 0,    0, 0, 13, 'I', 'H', 'D',
    'R',  0,   0,   0x03, 0x20, 0,    0,    0x02, 0x58, 8, 6, 0,  0,   0};
/* JPEG 400x300: SOI, APP0 (JFIF), a fill byte, SOF0. */
static const unsigned char jpeg_400x300[] = {
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0,    1,    1,
    0,    0,    1,    0,    1,    0,    0,    0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08,
    0x01, 0x2C, 0x01, 0x90, 0x03, 1,    0x22, 0,    2,    0x11, 1};
/* Progressive JPEG 64x32 with a DHT (0xC4, not a frame header) before SOF2. */
static const unsigned char jpeg_prog_64x32[] = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x05, 0x00, 0x01,
                                                0x02, 0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0x20,
                                                0x00, 0x40, 0x01, 0x01, 0x11, 0x00};
/* GIF89a 320x240. */
static const unsigned char gif_320x240[] = {'G',  'I',  'F',  '8',  '9', 'a', 0x40,
                                            0x01, 0xF0, 0x00, 0x80, 0,   0};
/* WebP lossy 640x480 (scale bits set on the width, which must be masked off). */
static const unsigned char webp_vp8_640x480[] = {
    'R', 'I',  'F', 'F', 0x24, 0,    0,    0,    'W',  'E',  'B',  'P',  'V',  'P',  '8',
    ' ', 0x18, 0,   0,   0,    0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x42, 0xE0, 0x01};
/* WebP lossless 300x200: 0x2f then (w-1) | (h-1) << 14 little-endian. */
static const unsigned char webp_vp8l_300x200[] = {'R', 'I', 'F',  'F',  0x1A, 0,    0,   0,    'W',
                                                  'E', 'B', 'P',  'V',  'P',  '8',  'L', 0x0D, 0,
                                                  0,   0,   0x2F, 0x2B, 0xC1, 0x31, 0x00};
/* WebP extended 4000x3000: canvas (w-1), (h-1) as 24-bit little-endian after 4 flag bytes. */
static const unsigned char webp_vp8x_4000x3000[] = {
    'R', 'I',  'F', 'F', 0x1E, 0,    0, 0, 'W', 'E',  'B',  'P',  'V',  'P',  '8',
    'X', 0x0A, 0,   0,   0,    0x10, 0, 0, 0,   0x9F, 0x0F, 0x00, 0xB7, 0x0B, 0x00};

static void check_size(const unsigned char *p, size_t n, int want_w, int want_h, const char *what)
{
    int w = -1, h = -1;
    int rc = count_image_size(p, n, &w, &h);
    ok(rc == 0 && w == want_w && h == want_h, "%s: %dx%d (got rc %d, %dx%d)", what, want_w, want_h,
       rc, w, h);
}

static void test_image_headers(void)
{
    note("image headers");
    check_size(png_800x600, sizeof png_800x600, 800, 600, "PNG");
    check_size(jpeg_400x300, sizeof jpeg_400x300, 400, 300, "JPEG baseline after APP0");
    check_size(jpeg_prog_64x32, sizeof jpeg_prog_64x32, 64, 32, "JPEG progressive after DHT");
    check_size(gif_320x240, sizeof gif_320x240, 320, 240, "GIF");
    check_size(webp_vp8_640x480, sizeof webp_vp8_640x480, 640, 480, "WebP VP8");
    check_size(webp_vp8l_300x200, sizeof webp_vp8l_300x200, 300, 200, "WebP VP8L");
    check_size(webp_vp8x_4000x3000, sizeof webp_vp8x_4000x3000, 4000, 3000, "WebP VP8X");
    int w, h;
    ok(count_image_size(png_800x600, 20, &w, &h) == -1, "truncated PNG fails");
    ok(count_image_size(jpeg_400x300, 24, &w, &h) == -1, "truncated JPEG fails");
    ok(count_image_size("BM6\0\0\0", 6, &w, &h) == -1, "BMP is not supported");
    ok(count_image_size("", 0, &w, &h) == -1, "empty input fails");
    static const unsigned char eoi_first[] = {0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xC0};
    ok(count_image_size(eoi_first, sizeof eoi_first, &w, &h) == -1, "JPEG EOI before SOF");

    char *u = data_url("png", png_800x600, sizeof png_800x600);
    ok(count_data_url_image_size(u, &w, &h) == 0 && w == 800 && h == 600, "data: URL PNG");
    free(u);
    u = data_url("webp", webp_vp8x_4000x3000, sizeof webp_vp8x_4000x3000);
    ok(count_data_url_image_size(u, &w, &h) == 0 && w == 4000 && h == 3000, "data: URL WebP");
    free(u);

    /* A JPEG whose frame header lies 64 KB in, behind an APP1 segment: needs a full decode. */
    size_t big_n = 4 + 65535 + sizeof jpeg_400x300 - 20;
    unsigned char *big = xcalloc(1, big_n);
    memcpy(big, "\xFF\xD8\xFF\xE1\xFF\xFF", 6);
    memcpy(big + 4 + 65535, jpeg_400x300 + 20, sizeof jpeg_400x300 - 20);
    u = data_url("jpeg", big, big_n);
    ok(count_data_url_image_size(u, &w, &h) == 0 && w == 400 && h == 300,
       "data: URL JPEG with the SOF past the probe");
    free(u);
    free(big);

    char *enc = b64(gif_320x240, sizeof gif_320x240);
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "data:image/gif;base64,%.8s\r\n%s", enc, enc + 8);
    ok(count_data_url_image_size(sb.p, &w, &h) == 0 && w == 320, "line breaks in base64");
    sb_reset(&sb);
    sb_printf(&sb, "data:image/gif;base64,%.8s*%s", enc, enc + 8);
    ok(count_data_url_image_size(sb.p, &w, &h) == -1, "invalid base64 character");
    sb_reset(&sb);
    sb_printf(&sb, "data:text/plain;base64,%s", enc);
    ok(count_data_url_image_size(sb.p, &w, &h) == -1, "non-image data URL");
    sb_reset(&sb);
    sb_printf(&sb, "data:image/gif,%s", enc);
    ok(count_data_url_image_size(sb.p, &w, &h) == -1, "data URL without base64");
    sb_free(&sb);
    free(enc);
}

/* A fake fetcher: "http(s)://img/WxH" answers that size, "http://img/text" a non-image,
 * anything else a transport error. */
static int fake_fetch(void *ud, const char *url, int *w, int *h)
{
    int *calls = ud;
    (*calls)++;
    if (strcmp(url, "http://img/text") == 0) {
        *w = *h = 0;
        return 0;
    }
    const char *host = strstr(url, "://img/");
    if (host && sscanf(host, "://img/%dx%d", w, h) == 2)
        return 0;
    return -1;
}

static void test_image_tokens(void)
{
    note("image tokens (6.4)");
    is_int(count_image_tile_tokens(1024, 1024, "gpt-4o"), 765, "1024x1024 high: 765");
    is_int(count_image_tile_tokens(2048, 4096, "gpt-4o"), 1105,
           "2048x4096: 1024x2048, then 768x1536: 6 tiles");
    is_int(count_image_tile_tokens(4096, 8192, "gpt-4o"), 1105, "4096x8192: same as 2048x4096");
    is_int(count_image_tile_tokens(512, 512, "gpt-4o"), 255, "512x512: one tile");
    is_int(count_image_tile_tokens(125, 50, "gpt-4o"), 255, "125x50: one tile");
    is_int(count_image_tile_tokens(800, 600, "gpt-4o"), 765, "800x600: 2x2 tiles (no scaling)");
    is_int(count_image_tile_tokens(1000, 800, "gpt-4o"), 765, "1000x800: 960x768, 2x2 tiles");
    is_int(count_image_tile_tokens(3000, 1000, "gpt-4o"), 1445,
           "3000x1000: 2048x682, short side <= 768 so no second step: 4x2 tiles");
    is_int(count_image_tile_tokens(0, 0, "gpt-4o"), 85, "0x0 (non-image): fixed 85");
    is_int(count_image_tile_tokens(1024, 1024, "gpt-4o-mini"), 25501, "gpt-4o-mini: 4*5667+2833");
    is_int(count_image_tile_tokens(0, 0, "gpt-4o-mini-2024-07-18"), 2833, "gpt-4o-mini base");

    int64_t tk = -1;
    int calls = 0;
    struct count_opts o = {.fetch_image_size = fake_fetch, .fetch_ud = &calls};
    ok(count_image_tokens("http://x/a.png", "low", "gpt-4o", NULL, &tk) == 0 && tk == 85,
       "low: 85");
    ok(count_image_tokens("http://x/a.png", "low", "gpt-4o-mini", NULL, &tk) == 0 && tk == 2833,
       "low gpt-4o-mini: 2833");
    ok(count_image_tokens("http://img/1024x1024", "high", "gpt-4o", NULL, &tk) == 0 && tk == 85,
       "remote without a fetcher: low's fixed cost");
    ok(count_image_tokens("http://img/1024x1024", "high", "gpt-4o", &o, &tk) == 0 && tk == 765,
       "remote high via the fetcher");
    ok(count_image_tokens("https://img/2048x4096", "auto", "gpt-4o", &o, &tk) == 0 && tk == 1105,
       "auto is high");
    ok(count_image_tokens("http://img/1024x1024", NULL, "gpt-4o", &o, &tk) == 0 && tk == 765,
       "no detail is high");
    ok(count_image_tokens("http://img/text", "high", "gpt-4o", &o, &tk) == 0 && tk == 85,
       "non-image content type: fixed 85");
    ok(count_image_tokens("http://down/x", "high", "gpt-4o", &o, &tk) == -1 && tk == 0,
       "fetch error counts 0");
    is_int(calls, 5, "fetcher called only for high/auto remote images");
    ok(count_image_tokens("http://img/1x1", "medium", "gpt-4o", &o, &tk) == -1,
       "unknown detail counts 0");
    ok(count_image_tokens("ftp://img/1x1", "high", "gpt-4o", &o, &tk) == -1, "ftp counts 0");
    char *u = data_url("png", png_800x600, sizeof png_800x600);
    ok(count_image_tokens(u, "high", "gpt-4o", NULL, &tk) == 0 && tk == 765,
       "data: URL decoded locally: 800x600 -> 765");
    free(u);
}

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    if (!o)
        abort();
    return o;
}

static void test_counting_no_encoder(void)
{
    note("prompt counting without rank files (ceil(bytes/4)) and approximate mode");
    json_object *msgs = parse("[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                              "{\"role\":\"user\",\"name\":\"bob\",\"content\":\"Hi\"}]");
    /* per message 3+3; "You are a helpful assistant." 28 -> 7; "system" 6 -> 2; "Hi" -> 1;
     * "user" -> 1; name: 1 + "bob" -> 1; priming 3. */
    is_int(count_chat_prompt(NULL, msgs, "gpt-4", NULL), 6 + 7 + 2 + 1 + 1 + 2 + 3,
           "chat prompt, NULL encoder");
    is_int(count_chat_prompt(NULL, msgs, "gpt-3.5-turbo-0301", NULL), 8 + 7 + 2 + 1 + 1 + 0 + 3,
           "gpt-3.5-turbo-0301: 4 per message, -1 per name");
    struct count_opts ap = {.is_approximate = true};
    /* int(len * 0.38): 28 -> 10, 6 -> 2, 2 -> 0, 4 -> 1, 3 -> 1 */
    is_int(count_chat_prompt(NULL, msgs, "gpt-4", &ap), 6 + 10 + 2 + 0 + 1 + 2 + 3,
           "ApproximateTokenEnabled: len * 0.38");
    json_object_put(msgs);

    char *u = data_url("png", png_800x600, sizeof png_800x600);
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb,
              "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"%s\",\"detail\":\"high\"}},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://e/x.png\"}},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"%s\",\"detail\":\"low\"}},"
              "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"xx\"}}]},"
              "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
              "{\"role\":\"tool\",\"content\":\"42\",\"name\":null}]",
              u, u);
    msgs = parse(sb.p);
    /* 3 + "What is this?" (13 -> 4) + 765 + 85 (remote, no fetcher) + 85 (low) + "user" 1;
     * 3 + "assistant" (9 -> 3); 3 + "42" 1 + "tool" 1 (null name is absent); + 3 */
    is_int(count_chat_prompt(NULL, msgs, "gpt-4o", NULL),
           3 + 4 + 765 + 85 + 85 + 1 + 3 + 3 + 3 + 1 + 1 + 3, "multimodal content array");
    is_int(count_chat_prompt(NULL, msgs, "gpt-4o-mini", NULL),
           3 + 4 + 25501 + 2833 + 2833 + 1 + 3 + 3 + 3 + 1 + 1 + 3, "gpt-4o-mini image costs");
    json_object_put(msgs);
    sb_free(&sb);
    free(u);
    is_int(count_chat_prompt(NULL, NULL, "gpt-4", NULL), 3, "no messages: 3");

    json_object *in = parse("\"hello world\"");
    is_int(count_input(NULL, in, NULL), 3, "string input: ceil(11/4)");
    json_object_put(in);
    in = parse("[\"ab\",\"abcd\",\"abcde\"]");
    is_int(count_input(NULL, in, NULL), 1 + 1 + 2, "array input counted per element (quirk 8)");
    json_object_put(in);
    in = parse("[1,2,3]");
    is_int(count_input(NULL, in, NULL), 3, "token-id array");
    json_object_put(in);
    in = parse("[[1,2],[3],\"abcd\"]");
    is_int(count_input(NULL, in, NULL), 4, "array of token arrays");
    json_object_put(in);
    in = parse("[{\"type\":\"text\",\"text\":\"abcdefgh\"},{\"type\":\"image_url\"}]");
    is_int(count_input(NULL, in, NULL), 2, "moderation multimodal input");
    json_object_put(in);
    in = parse("42");
    is_int(count_input(NULL, in, NULL), 0, "bare number counts 0");
    json_object_put(in);
    is_int(count_input(NULL, NULL, NULL), 0, "missing input counts 0");
    is_int(count_text(NULL, "abcde", 5, NULL), 2, "count_text estimate");
    is_int(count_text(NULL, "abcde", 5, &ap), 1, "count_text approximate: int(1.9)");

    int a, b;
    const struct tiktoken *cl = (const struct tiktoken *)&a, *o2 = (const struct tiktoken *)&b;
    static const struct {
        const char *model;
        int is_o200k;
    } pick[] = {
        {"gpt-4o", 1},
        {"gpt-4o-mini", 1},
        {"chatgpt-4o-latest", 1},
        {"o1", 1},
        {"o1-mini", 1},
        {"o3-mini", 1},
        {"o4-mini", 1},
        {"gpt-4.1-nano", 1},
        {"gpt-5", 1},
        {"gpt-4", 0},
        {"gpt-3.5-turbo", 0},
        {"o10", 0},
        {"claude-3", 0},
        {"text-embedding-3-small", 0},
    };
    for (size_t i = 0; i < sizeof pick / sizeof *pick; i++)
        ok(count_pick_encoder(pick[i].model, cl, o2) == (pick[i].is_o200k ? o2 : cl), "%s uses %s",
           pick[i].model, pick[i].is_o200k ? "o200k_base" : "cl100k_base");
    ok(count_pick_encoder("gpt-4o", cl, NULL) == cl, "o200k missing: cl100k instead");
    ok(count_pick_encoder("gpt-4", NULL, NULL) == NULL, "none loaded: NULL");
}

/* The OpenAI cookbook's "How to count tokens with tiktoken" conversation. */
static const char cookbook[] =
    "[{\"role\":\"system\",\"content\":\"You are a helpful, pattern-following assistant that "
    "translates corporate jargon into plain English.\"},"
    "{\"role\":\"system\",\"name\":\"example_user\",\"content\":\"New synergies will help drive "
    "top-line growth.\"},"
    "{\"role\":\"system\",\"name\":\"example_assistant\",\"content\":\"Things working well "
    "together will increase revenue.\"},"
    "{\"role\":\"system\",\"name\":\"example_user\",\"content\":\"Let's circle back when we have "
    "more bandwidth to touch base on opportunities for increased leverage.\"},"
    "{\"role\":\"system\",\"name\":\"example_assistant\",\"content\":\"Let's talk later when "
    "we're less busy about how to do better.\"},"
    "{\"role\":\"user\",\"content\":\"This late pivot means we don't have time to boil the ocean "
    "for the client deliverable.\"}]";

static void test_counting_real(void)
{
    note("prompt counting with the real tokenizer ($TIKTOKEN_CACHE_DIR)");
    const char *dir = getenv("TIKTOKEN_CACHE_DIR");
    char err[256] = "TIKTOKEN_CACHE_DIR not set";
    struct tiktoken *cl = NULL, *o2 = NULL;
    if (dir && *dir) {
        cl = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
        if (cl)
            o2 = tiktoken_load(TIKTOKEN_O200K, dir, err, sizeof err);
    }
    if (!cl || !o2) {
        for (int i = 0; i < 6; i++)
            ok(1, "# SKIP rank files unavailable: %s", err);
        tiktoken_free(cl);
        tiktoken_free(o2);
        return;
    }
    json_object *msgs = parse(cookbook);
    /* The cookbook's API-verified counts for this conversation. */
    is_int(count_chat_prompt(count_pick_encoder("gpt-4", cl, o2), msgs, "gpt-4", NULL), 129,
           "cookbook conversation, gpt-4 (cl100k): 129");
    is_int(count_chat_prompt(count_pick_encoder("gpt-3.5-turbo-0301", cl, o2), msgs,
                             "gpt-3.5-turbo-0301", NULL),
           127, "cookbook conversation, gpt-3.5-turbo-0301: 127");
    is_int(count_chat_prompt(count_pick_encoder("gpt-4o", cl, o2), msgs, "gpt-4o", NULL), 124,
           "cookbook conversation, gpt-4o (o200k): 124");
    json_object_put(msgs);

    /* A 3-message conversation, expectation assembled from per-string tokenizer counts. */
    msgs = parse("[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                 "{\"role\":\"user\",\"content\":\"Hello world, let's test tiktoken.\"},"
                 "{\"role\":\"assistant\",\"name\":\"bot\",\"content\":\"Sure!\"}]");
    const char *strs[] = {"You are a helpful assistant.",
                          "system",
                          "Hello world, let's test tiktoken.",
                          "user",
                          "Sure!",
                          "assistant",
                          "bot"};
    int64_t want = 3 * 3 + 1 + 3;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        want += (int64_t)tiktoken_count(cl, strs[i], strlen(strs[i]));
    is_int(tiktoken_count(cl, strs[2], strlen(strs[2])), 9, "known count: 9 tokens (cl100k)");
    is_int(count_chat_prompt(cl, msgs, "gpt-3.5-turbo", NULL), want,
           "3-message conversation = 3/msg + role + content + 1 + name + 3");
    json_object_put(msgs);
    json_object *in = parse("[\"Hello world, let's test tiktoken.\",\"Sure!\"]");
    is_int(count_input(cl, in, NULL), 9 + (int64_t)tiktoken_count(cl, "Sure!", 5),
           "array prompt counted per element");
    json_object_put(in);
    tiktoken_free(cl);
    tiktoken_free(o2);
}

int main(void)
{
    test_default_tables();
    test_defaults_json();
    test_parse_errors();
    test_lookups();
    test_quota();
    test_log_strings();
    test_image_headers();
    test_image_tokens();
    test_counting_no_encoder();
    test_counting_real();
    return done_testing();
}
