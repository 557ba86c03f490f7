/* Channel types: One API's id, name, default base URL, the adaptor that serves them and
 * their balance API.
 * OpenAI-compatible providers are rows here, not code. */
#ifndef OA_REGISTRY_H
#define OA_REGISTRY_H

#include "providers/balance.h"
#include "providers/provider.h"

/* How an OpenAI-family type turns the client's path into the upstream URL. */
enum url_rule {
    URL_APPEND,     /* base + client path ("/v1/chat/completions") */
    URL_STRIP_V1,   /* base + client path without its leading "/v1" (types 50, 51) */
    URL_CHAT_ONLY,  /* base + "/chat/completions"; other modes unsupported (Novita) */
    URL_AZURE,      /* base + /openai/deployments/{model without dots}/{task}?api-version= */
    URL_CLOUDFLARE, /* Workers AI's OpenAI endpoints: base + /client/v4/accounts/{config
                     * user_id}/ai/v1/{task}; chat and embeddings only */
    URL_ARK,        /* Volcengine Ark (Doubao): base + /api/v3/{task}; chat, embeddings */
    URL_QIANFAN_V2, /* Baidu Qianfan V2: base + /v2/{task}; chat, embeddings */
    URL_BAILIAN,    /* DashScope compatible mode: base + /compatible-mode/v1/{task}; chat,
                     * embeddings */
    URL_MINIMAX,    /* base + /v1/text/chatcompletion_v2; chat only */
};

struct channel_type {
    int id;                      /* One API's type id, stored in channels.type */
    const char *name;            /* English label */
    const char *default_base;    /* "" when the channel must give base_url */
    const struct provider *prov; /* adaptor, NULL when this build has none yet */
    enum url_rule url_rule;      /* for the OpenAI family */
    const char *extra_headers;   /* "Name: value\n..." sent with every request, or NULL */
    prov_balance_fn balance;     /* the upstream's balance API (providers/balance.c), or NULL */
};

/* The row for type id, or NULL for an unknown id. */
const struct channel_type *channel_type_get(int id);

#define CHANNEL_TYPE_PROXY 43     /* served only by /v1/oneapi/proxy/:channelid, never by routing */
#define CHANNEL_TYPE_XUNFEI_V2 48 /* iFlytek Spark's HTTP API: OpenAI's shape plus code/sid */
/* Can this build serve a channel of row ct (NULL: no): it has an adaptor, or it is the Proxy
 * type. Channels of other types cannot be created. */
int channel_type_servable(const struct channel_type *ct);
/* Number of rows and the row at i, for listings and the registry self-test. */
int channel_type_count(void);
const struct channel_type *channel_type_at(int i);

extern const struct provider provider_openai;
extern const struct provider provider_claude;
extern const struct provider provider_gemini;
extern const struct provider provider_deepl;
extern const struct provider provider_palm;
extern const struct provider provider_cohere;
extern const struct provider provider_ollama;
extern const struct provider provider_bedrock;
extern const struct provider provider_tencent;
extern const struct provider provider_vertex;
extern const struct provider provider_replicate;
extern const struct provider provider_ali;
extern const struct provider provider_spark;
extern const struct provider provider_baidu;
extern const struct provider provider_coze;
extern const struct provider provider_cloudflare;
extern const struct provider provider_aiproxylib;
extern const struct provider provider_zhipu;

#endif
