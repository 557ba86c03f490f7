/* Self-test of the channel type registry: rows indexed by id, every adaptor complete. The
 * OpenAI adaptor's own tests are in test_openai.c. */
#include "config.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "tests/unit/tap.h"

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
    ok(channel_type_get(35)->prov == &provider_cohere, "Cohere is the Cohere adaptor");
    ok(channel_type_get(23)->prov == &provider_tencent, "Tencent is the Hunyuan adaptor");
    ok(channel_type_get(27)->prov == &provider_openai &&
           channel_type_get(27)->url_rule == URL_MINIMAX,
       "MiniMax is OpenAI-compatible at its own chat path");
    ok(channel_type_get(40)->url_rule == URL_ARK &&
           channel_type_get(47)->url_rule == URL_QIANFAN_V2 &&
           channel_type_get(49)->url_rule == URL_BAILIAN,
       "Doubao, Baidu V2 and Ali Bailian have their path prefixes");
    ok(channel_type_get(17)->prov == &provider_ali, "Ali is the DashScope adaptor");

    return done_testing();
}
