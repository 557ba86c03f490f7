/* Self-test of the channel type registry (STYLE 13) and unit tests of the OpenAI adaptor. */
#include "config.h"
#include "fcgi/arena.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "tests/unit/tap.h"

#include <json-c/json.h>
#include <string.h>

static int event(struct prov_ctx *ctx, const char *data, struct strbuf *out)
{
    struct prov_error err = {0};
    return provider_openai.parse_event(ctx, "", data, strlen(data), out, &err);
}

int main(void)
{
    int bad = 0, missing_ops = 0;
    for (int i = 0; i < channel_type_count(); i++) {
        const struct channel_type *t = channel_type_at(i);
        if (t->id != i || !t->name || !t->default_base)
            bad++;
        if (t->prov && (!t->prov->name || !t->prov->build_request || !t->prov->parse_response ||
                        !t->prov->parse_event))
            missing_ops++;
    }
    is_int(channel_type_count(), 52, "52 channel types (ids 0..51)");
    is_int(bad, 0, "rows are indexed by id and named");
    is_int(missing_ops, 0, "every provider has a name and the required ops");
    ok(channel_type_get(52) == NULL && channel_type_get(-1) == NULL, "unknown ids have no row");
    ok(channel_type_get(14)->prov == &provider_claude, "Anthropic is the Claude adaptor");
    ok(channel_type_get(24)->prov == &provider_gemini, "Gemini is the Gemini adaptor");

    struct arena *a = arena_new(4096);
    struct prov_channel ch = {.id = 1,
                              .type = 3,
                              .key = "az",
                              .base_url = "https://r.openai.azure.com",
                              .api_version = "2024-02-01",
                              .config = ""};
    struct prov_ctx ctx = {.a = a,
                           .mode = RELAY_CHAT,
                           .ch = &ch,
                           .model = "gpt-3.5-turbo",
                           .body = "{}",
                           .body_len = 2,
                           .content_type = "application/json"};
    sb_init(&ctx.text, a);
    struct prov_request rq = {0};
    struct prov_error err = {0};
    is_int(provider_openai.build_request(&ctx, &rq, &err), 0, "Azure request builds");
    is_str(rq.url,
           "https://r.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions"
           "?api-version=2024-02-01",
           "Azure URL: deployment without dots, api-version from the channel");
    is_str(rq.headers[0], "api-key: az", "Azure authenticates with api-key");

    ch.type = 50;
    ch.base_url = "https://host/api/v3";
    memset(&rq, 0, sizeof rq);
    provider_openai.build_request(&ctx, &rq, &err);
    is_str(rq.url, "https://host/api/v3/chat/completions", "type 50 strips /v1");
    is_str(rq.headers[0], "Authorization: Bearer az", "Bearer key otherwise");
    ch.type = 37;
    ch.base_url = "https://api.cloudflare.com";
    ch.config = "{\"user_id\":\"acct42\"}";
    memset(&rq, 0, sizeof rq);
    is_int(provider_openai.build_request(&ctx, &rq, &err), 0, "Cloudflare Workers AI builds");
    is_str(rq.url, "https://api.cloudflare.com/client/v4/accounts/acct42/ai/v1/chat/completions",
           "Workers AI: the OpenAI endpoint of the account in config.user_id");
    ch.base_url = "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai";
    memset(&rq, 0, sizeof rq);
    provider_openai.build_request(&ctx, &rq, &err);
    is_str(rq.url, "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai/v1/chat/completions",
           "Workers AI through AI Gateway");
    ch.config = "";
    ch.type = 1;
    ch.base_url = "https://api.openai.com";
    memset(&rq, 0, sizeof rq);
    provider_openai.build_request(&ctx, &rq, &err);
    is_str(rq.url, "https://api.openai.com/v1/chat/completions", "OpenAI appends the client path");

    struct strbuf out;
    sb_init(&out, a);
    event(&ctx, "{\"choices\":[],\"prompt_filter_results\":[]}", &out);
    is_int(out.len, 0, "Azure's prompt-filter chunk is dropped");
    event(&ctx, "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", &out);
    ok(out.len > 0 && ctx.text.len == 2, "a content chunk passes and its text is kept");
    sb_reset(&out);
    event(&ctx, "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}", &out);
    ok(out.len == 0 && ctx.usage.has_usage && ctx.usage.prompt_tokens == 9,
       "a usage-only chunk is read but not sent to a client that did not ask");
    ctx.include_usage = 1;
    event(&ctx, "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}", &out);
    ok(out.len > 0 && ctx.usage.completion_tokens == 3, "sent when asked; the last usage wins");
    event(&ctx,
          "{\"choices\":[{\"delta\":{},\"usage\":{\"prompt_tokens\":4,"
          "\"completion_tokens\":5}}]}",
          &out);
    is_int(ctx.usage.completion_tokens, 5, "Moonshot's usage inside the choice is read");
    event(&ctx,
          "{\"choices\":[{\"delta\":{}}],\"x_groq\":{\"usage\":{\"prompt_tokens\":1,"
          "\"total_tokens\":8}}}",
          &out);
    is_int(ctx.usage.completion_tokens, 7, "Groq's x_groq.usage; completion from total - prompt");
    event(&ctx, "[DONE]", &out);
    ok(ctx.finished, "[DONE] finishes the stream");

    ctx.usage = (struct prov_usage){0};
    sb_reset(&out);
    const char *resp =
        "{\"choices\":[{\"message\":{\"content\":\"abc\"}}],\"usage\":{\"prompt_tokens\":"
        "3,\"completion_tokens\":1,\"total_tokens\":4}}";
    is_int(provider_openai.parse_response(&ctx, resp, strlen(resp), &out, &err), 0,
           "a non-stream answer passes");
    is_str(out.p, resp, "byte for byte");
    const char *e200 = "{\"error\":{\"type\":\"server_error\",\"message\":\"boom\"}}";
    is_int(provider_openai.parse_response(&ctx, e200, strlen(e200), &out, &err), -1,
           "a 200 carrying error.type is an error");
    is_str(err.message, "boom", "with the upstream's message");
    arena_free(a);
    return done_testing();
}
