/* registry: One API's channel type table, by id. */
#include "config.h"
#include "providers/registry.h"

#include <stddef.h>

#define OPENAI(id, name, base)                                                                     \
    {                                                                                              \
        id, name, base, &provider_openai, URL_APPEND, NULL, NULL                                   \
    }
/* An OpenAI-compatible type whose upstream has a balance API. */
#define OPENAI_BALANCE(id, name, base, balance)                                                    \
    {                                                                                              \
        id, name, base, &provider_openai, URL_APPEND, NULL, balance                                \
    }

static const struct channel_type types[] = {
    OPENAI(0, "Unknown", "https://api.openai.com"),
    OPENAI_BALANCE(1, "OpenAI", "https://api.openai.com", balance_openai),
    OPENAI(2, "API2D", "https://oa.api2d.net"),
    {3, "Azure", "", &provider_openai, URL_AZURE, NULL, NULL},
    OPENAI_BALANCE(4, "CloseAI", "https://api.closeai-proxy.xyz", balance_closeai),
    OPENAI_BALANCE(5, "OpenAI-SB", "https://api.openai-sb.com", balance_openai_sb),
    OPENAI(6, "OpenAI Max", "https://api.openaimax.com"),
    OPENAI(7, "OhMyGPT", "https://api.ohmygpt.com"),
    OPENAI_BALANCE(8, "Custom", "", balance_openai),
    OPENAI(9, "AI.LS", "https://api.caipacity.com"),
    OPENAI_BALANCE(10, "AI Proxy", "https://api.aiproxy.io", balance_aiproxy),
    {11, "PaLM2", "https://generativelanguage.googleapis.com", &provider_palm, URL_APPEND, NULL,
     NULL},
    OPENAI_BALANCE(12, "API2GPT", "https://api.api2gpt.com", balance_api2gpt),
    OPENAI_BALANCE(13, "AIGC2D", "https://api.aigc2d.com", balance_aigc2d),
    {14, "Anthropic", "https://api.anthropic.com", &provider_claude, URL_APPEND, NULL, NULL},
    {15, "Baidu", "https://aip.baidubce.com", &provider_baidu, URL_APPEND, NULL, NULL},
    {16, "Zhipu", "https://open.bigmodel.cn", &provider_zhipu, URL_APPEND, NULL, NULL},
    {17, "Ali", "https://dashscope.aliyuncs.com", &provider_ali, URL_APPEND, NULL, NULL},
    {18, "Xunfei", "", &provider_spark, URL_APPEND, NULL, NULL},
    OPENAI(19, "360", "https://ai.360.cn"),
    {20, "OpenRouter", "https://openrouter.ai/api", &provider_openai, URL_APPEND,
     "HTTP-Referer: https://github.com/songquanpeng/one-api\nX-Title: One API\n",
     balance_openrouter},
    {21, "AI Proxy Library", "https://api.aiproxy.io", &provider_aiproxylib, URL_APPEND, NULL,
     NULL},
    OPENAI(22, "FastGPT", "https://fastgpt.run/api/openapi"),
    {23, "Tencent", "https://hunyuan.tencentcloudapi.com", &provider_tencent, URL_APPEND, NULL,
     NULL},
    {24, "Gemini", "https://generativelanguage.googleapis.com", &provider_gemini, URL_APPEND, NULL,
     NULL},
    OPENAI(25, "Moonshot", "https://api.moonshot.cn"),
    OPENAI(26, "Baichuan", "https://api.baichuan-ai.com"),
    {27, "MiniMax", "https://api.minimax.chat", &provider_openai, URL_MINIMAX, NULL, NULL},
    OPENAI(28, "Mistral", "https://api.mistral.ai"),
    OPENAI(29, "Groq", "https://api.groq.com/openai"),
    {30, "Ollama", "http://localhost:11434", &provider_ollama, URL_APPEND, NULL, NULL},
    OPENAI(31, "01.AI", "https://api.lingyiwanwu.com"),
    OPENAI(32, "StepFun", "https://api.stepfun.com"),
    {33, "AWS Claude", "", &provider_bedrock, URL_APPEND, NULL, NULL},
    {34, "Coze", "https://api.coze.com", &provider_coze, URL_APPEND, NULL, NULL},
    {35, "Cohere", "https://api.cohere.ai", &provider_cohere, URL_APPEND, NULL, NULL},
    OPENAI_BALANCE(36, "DeepSeek", "https://api.deepseek.com", balance_deepseek),
    {37, "Cloudflare", "https://api.cloudflare.com", &provider_cloudflare, URL_CLOUDFLARE, NULL,
     NULL},
    {38, "DeepL", "https://api-free.deepl.com", &provider_deepl, URL_APPEND, NULL, NULL},
    OPENAI(39, "together.ai", "https://api.together.xyz"),
    {40, "Doubao", "https://ark.cn-beijing.volces.com", &provider_openai, URL_ARK, NULL, NULL},
    {41, "Novita", "https://api.novita.ai/v3/openai", &provider_openai, URL_CHAT_ONLY, NULL, NULL},
    {42, "VertexAI", "", &provider_vertex, URL_APPEND, NULL, NULL},
    {43, "Proxy", "", NULL, URL_APPEND, NULL, NULL},
    OPENAI_BALANCE(44, "SiliconFlow", "https://api.siliconflow.cn", balance_siliconflow),
    OPENAI(45, "xAI", "https://api.x.ai"),
    {46, "Replicate", "https://api.replicate.com/v1/models/", &provider_replicate, URL_APPEND, NULL,
     NULL},
    {47, "Baidu V2", "https://qianfan.baidubce.com", &provider_openai, URL_QIANFAN_V2, NULL, NULL},
    OPENAI(48, "Xunfei V2", "https://spark-api-open.xf-yun.com"),
    {49, "Ali Bailian", "https://dashscope.aliyuncs.com", &provider_openai, URL_BAILIAN, NULL,
     NULL},
    {50, "OpenAI Compatible", "", &provider_openai, URL_STRIP_V1, NULL, NULL},
    {51, "Gemini (OpenAI)", "https://generativelanguage.googleapis.com/v1beta/openai",
     &provider_openai, URL_STRIP_V1, NULL, NULL},
};

const struct channel_type *channel_type_get(int id)
{
    /* Rows are indexed by id (checked by the registry unit test). */
    if (id < 0 || (size_t)id >= sizeof types / sizeof *types)
        return NULL;
    return &types[id];
}

int channel_type_servable(const struct channel_type *ct)
{
    return ct && (ct->prov || ct->id == CHANNEL_TYPE_PROXY);
}

int channel_type_count(void)
{
    return (int)(sizeof types / sizeof *types);
}

const struct channel_type *channel_type_at(int i)
{
    return i >= 0 && i < channel_type_count() ? &types[i] : NULL;
}
