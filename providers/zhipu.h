/* Zhipu adaptor (channel type 16, "Zhipu"): OpenAI requests to Zhipu's v4 API (OpenAI-like)
 * and its legacy v3 API (its own request, answer and event shapes). */
#ifndef OA_PROVIDERS_ZHIPU_H
#define OA_PROVIDERS_ZHIPU_H

#include <stdint.h>

#include "providers/provider.h"

struct arena;

/*
 * The Zhipu adaptor. The key is "id.secret"; every request carries `Authorization: <JWT>`,
 * a token the adaptor's credential operation mints from the key (zhipu_jwt) and the relay
 * core caches per key, so it is signed once per validity window, not once per request.
 *
 * Conventions beyond provider.h:
 *   - Embeddings and images always use v4; chat uses v3 only for the legacy models
 *     chatglm_turbo, chatglm_pro, chatglm_std, chatglm_lite and characterglm, v4 otherwise.
 *   - v4 chat: the client's request with temperature and top_p clamped to [0, 1] (top_p 1,
 *     which Zhipu refuses, becomes 0.99); chunks without "object" get it.
 *   - v4 embeddings take one string input (more is a 400); images send model and prompt.
 *   - v3: messages become "prompt" with flattened content, at .../invoke or .../sse-invoke;
 *     a quoted answer content is JSON-decoded; {"success":false} inside a 200 is an error.
 *     Its SSE text is raw (a space after "data:" is content), so the adaptor asks the SSE
 *     parser for data lines verbatim and drops the separator space of v4 events itself.
 *   - Errors ({"error":{"code","message"}} of v4, {"code","msg"} of v3): the rate-limit and
 *     overload codes 1302, 1303, 1304 and 1305 become 429 (another channel is tried); the
 *     key codes 1000-1004 become 401; other v3 codes 400. The code is Zhipu's.
 */
extern const struct provider provider_zhipu;

/* The JWT Zhipu accepts for key "id.secret": HS256 over header
 * {"alg":"HS256","sign_type":"SIGN","typ":"JWT"} and claims
 * {"api_key":id,"exp":exp_ms,"timestamp":now_ms} (both in milliseconds), signed with the
 * secret's bytes. In a; NULL when the key has no '.' or an empty part. */
char *zhipu_jwt(struct arena *a, const char *key, int64_t now_ms, int64_t exp_ms);

/* The HTTP status the client gets for Zhipu error code code, an upstream answer of status
 * http (0 for an error inside a 200 answer). */
int zhipu_error_status(int64_t code, int http);

#endif
