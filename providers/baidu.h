/* Baidu ERNIE adaptor (channel type 15): OpenAI chat and embeddings to and from Qianfan's
 * legacy "wenxinworkshop" API, with an OAuth access token exchanged from the key.
 *
 * Conventions beyond provider.h:
 *   - The key is "APIKey|SecretKey"; the token comes from <base>/oauth/2.0/token on the
 *     channel's base URL (the default base is Baidu's token host too) and goes into the
 *     query as access_token. The core caches it (credential / credential_parse).
 *   - The model picks the endpoint: a fixed table of ERNIE names, else the lower-cased name.
 *   - Baidu answers errors with HTTP 200 and {"error_code","error_msg"}: rate and quota codes
 *     become 429, token codes 401 (the core then drops the cached token), parameter errors
 *     400, a busy service 503, anything else 500; code is the error_code as text.
 *   - Streams end at the event with is_end (Baidu sends no [DONE]); usage is the last one
 *     reported, completion = total - prompt.
 */
#ifndef OA_PROVIDERS_BAIDU_H
#define OA_PROVIDERS_BAIDU_H

#include "providers/provider.h"

/* A token's life when the token endpoint does not say: Baidu's tokens live 30 days. */
#define BAIDU_DEFAULT_EXPIRES 2592000

/* The URL suffix after ".../wenxinworkshop/" for model in mode: "chat/completions" for
 * ERNIE-3.5-8K, "embeddings/embedding-v1" for Embedding-V1, else "chat/" or "embeddings/"
 * and the lower-cased model. Allocated in a. */
const char *baidu_endpoint(struct arena *a, const char *model, enum relay_mode mode);

extern const struct provider provider_baidu;

#endif
