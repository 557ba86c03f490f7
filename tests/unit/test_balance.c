/* Unit tests for providers/balance.c over a scripted fetch callback, and the registry's
 * balance entries. */
#include "config.h"
#include "fcgi/arena.h"
#include "providers/balance.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "tests/unit/tap.h"

#include <string.h>

/* A scripted transport: the answers to give in order, and what was asked. */
struct script {
    struct arena *a;
    const char *bodies[4]; /* NULL: a transport failure */
    long statuses[4];      /* 0 means 200 */
    int n_calls;
    const char *urls[4];    /* the URLs asked, in order */
    const char *headers[4]; /* the header lines sent */
};

static int fake_get(void *ud, const char *url, const char *header, long *status, const char **body,
                    size_t *n, const char **why)
{
    struct script *s = ud;
    int i = s->n_calls++;
    if (i >= 4)
        return *why = "too many calls", -1;
    s->urls[i] = arena_strdup(s->a, url);
    s->headers[i] = arena_strdup(s->a, header);
    if (!s->bodies[i])
        return *why = "connection refused", -1;
    *status = s->statuses[i] ? s->statuses[i] : 200;
    *body = s->bodies[i];
    *n = strlen(s->bodies[i]);
    return 0;
}

/* Runs fn on a channel of type at base (is_default: the type's default) with the script. */
static int run(prov_balance_fn fn, struct script *s, const char *base, int is_default, double *out,
               const char **why)
{
    struct prov_channel ch = {.id = 1,
                              .key = "k y",
                              .base_url = base,
                              .is_default_base = is_default,
                              .api_version = "",
                              .config = ""};
    struct prov_fetch f = {fake_get, s};
    *out = -1;
    *why = NULL;
    return fn(&ch, s->a, &f, out, why);
}

int main(void)
{
    struct arena *a = arena_new(4096);
    double v;
    const char *why;

    struct script s = {.a = a,
                       .bodies = {"{\"has_payment_method\":true,\"hard_limit_usd\":120}",
                                  "{\"total_usage\":2050}"}};
    is_int(run(balance_openai, &s, "https://up", 0, &v, &why), 0, "OpenAI: two answers");
    ok(v == 99.5, "OpenAI: hard limit - usage / 100 (%g)", v);
    is_str(s.urls[0], "https://up/v1/dashboard/billing/subscription", "OpenAI: subscription");
    ok(!strncmp(s.urls[1], "https://up/v1/dashboard/billing/usage?start_date=", 49) &&
           strstr(s.urls[1], "-01&end_date=") != NULL,
       "OpenAI: usage from the first of the month with a payment method (%s)", s.urls[1]);
    is_str(s.headers[0], "Authorization: Bearer k y", "OpenAI: the key as Bearer");

    s = (struct script){.a = a, .bodies = {"{\"hard_limit_usd\":1}"}};
    is_int(run(balance_openai, &s, "https://up", 0, &v, &why), -1,
           "OpenAI: a failed usage query fails the balance");
    is_str(why, "connection refused", "with the transport's reason");

    s = (struct script){
        .a = a,
        .bodies = {"{\"balance_infos\":[{\"currency\":\"USD\",\"total_balance\":\"1.00\"},"
                   "{\"currency\":\"CNY\",\"total_balance\":\"42.50\"}]}"}};
    ok(run(balance_deepseek, &s, "https://ds", 1, &v, &why) == 0 && v == 42.5,
       "DeepSeek: the CNY entry, written as a string");
    is_str(s.urls[0], "https://ds/user/balance", "DeepSeek: /user/balance");
    s = (struct script){.a = a, .bodies = {"{\"balance_infos\":[]}"}};
    is_int(run(balance_deepseek, &s, "https://ds", 1, &v, &why), -1, "DeepSeek: no CNY entry");
    is_str(why, "unexpected answer from the upstream", "is an unexpected answer");

    s = (struct script){.a = a,
                        .bodies = {"{\"data\":{\"total_credits\":10,\"total_usage\":2.5}}"}};
    ok(run(balance_openrouter, &s, "https://or", 1, &v, &why) == 0 && v == 7.5,
       "OpenRouter: credits - usage");

    s = (struct script){.a = a,
                        .bodies = {"{\"code\":20000,\"data\":{\"totalBalance\":\"3.25\"}}"}};
    ok(run(balance_siliconflow, &s, "https://sf", 1, &v, &why) == 0 && v == 3.25,
       "SiliconFlow: totalBalance");
    s = (struct script){.a = a, .bodies = {"{\"code\":401,\"data\":{\"totalBalance\":\"3\"}}"}};
    is_int(run(balance_siliconflow, &s, "https://sf", 1, &v, &why), -1,
           "SiliconFlow: a code other than 20000 is an error");
    s = (struct script){.a = a, .bodies = {"{\"code\":20000,\"data\":{\"totalBalance\":null}}"}};
    is_int(run(balance_siliconflow, &s, "https://sf", 1, &v, &why), -1,
           "a null figure is an error, not a zero balance");

    s = (struct script){.a = a, .bodies = {"{\"total_available\":87.5}"}};
    ok(run(balance_closeai, &s, "https://close", 1, &v, &why) == 0 && v == 87.5,
       "CloseAI: total_available");
    is_str(s.urls[0], "https://close/dashboard/billing/credit_grants",
           "CloseAI: at its API host, the type's default included");
    s = (struct script){.a = a, .bodies = {"{\"total_remaining\":66.25}"}};
    ok(run(balance_api2gpt, &s, "https://api.api2gpt.com", 1, &v, &why) == 0 && v == 66.25,
       "API2GPT: total_remaining");
    s = (struct script){.a = a, .bodies = {"{\"total_available\":5}"}};
    run(balance_aigc2d, &s, "https://mine//", 0, &v, &why);
    is_str(s.urls[0], "https://mine/dashboard/billing/credit_grants",
           "AIGC2D: the channel's own base URL, trailing slashes dropped");

    s = (struct script){.a = a, .bodies = {"{\"data\":{\"credit\":\"12.34\"}}"}};
    ok(run(balance_openai_sb, &s, "https://api.openai-sb.com", 1, &v, &why) == 0 && v == 12.34,
       "OpenAI-SB: data.credit");
    is_str(s.urls[0], "https://api.openai-sb.com/sb-api/user/status?api_key=k%20y",
           "OpenAI-SB: the key in the query, URL-encoded");

    s = (struct script){.a = a, .bodies = {"{\"success\":true,\"data\":{\"totalPoints\":56.78}}"}};
    ok(run(balance_aiproxy, &s, "https://api.aiproxy.io", 1, &v, &why) == 0 && v == 56.78,
       "AIProxy: data.totalPoints");
    is_str(s.urls[0], "https://aiproxy.io/api/report/getUserOverview",
           "AIProxy: its billing host, not the API host of the type's default");
    is_str(s.headers[0], "Api-Key: k y", "AIProxy: the key in Api-Key");
    s = (struct script){.a = a,
                        .bodies = {"{\"success\":false,\"errorCode\":1001,\"message\":\"bad\"}"}};
    is_int(run(balance_aiproxy, &s, "https://api.aiproxy.io", 1, &v, &why), -1,
           "AIProxy: success false is an error");
    is_str(why, "code: 1001, message: bad", "with its code and message");

    s = (struct script){.a = a, .bodies = {"{}"}, .statuses = {500}};
    run(balance_openrouter, &s, "https://or", 1, &v, &why);
    is_str(why, "status code: 500", "a status other than 200 is named");
    s = (struct script){.a = a, .bodies = {"<html>"}};
    run(balance_openrouter, &s, "https://or", 1, &v, &why);
    is_str(why, "invalid JSON from the upstream", "an answer that is not JSON");

    static const int with_balance[] = {1, 4, 5, 8, 10, 12, 13, 20, 36, 44};
    int n_with = 0, listed = 0;
    for (int i = 0; i < channel_type_count(); i++) {
        if (!channel_type_at(i)->balance)
            continue;
        n_with++;
        for (size_t k = 0; k < sizeof with_balance / sizeof *with_balance; k++)
            listed += with_balance[k] == i;
    }
    ok(n_with == 10 && listed == 10, "ten channel types have a balance API (%d)", n_with);
    ok(channel_type_get(8)->balance == balance_openai, "Custom asks as OpenAI does");
    ok(channel_type_get(14)->balance == NULL, "Anthropic has none");
    arena_free(a);
    return done_testing();
}
