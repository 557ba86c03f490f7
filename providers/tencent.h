/* Tencent Hunyuan adaptor (channel type 23): OpenAI chat and embeddings over TencentCloud
 * API 3.0. */
#ifndef OA_PROVIDERS_TENCENT_H
#define OA_PROVIDERS_TENCENT_H

#include "providers/provider.h"

/*
 * The Hunyuan adaptor. The channel key is "AppId|SecretId|SecretKey" (AppId unused). Every
 * call is a POST to {base}/ signed with TC3-HMAC-SHA256 (providers/tc3.h) over the host of
 * the base URL, which is also sent as the Host header, so a proxy base URL signs for the host
 * it is reached at; the timestamp is ctx->created.
 *
 * Chat (X-TC-Action ChatCompletions, X-TC-Version 2023-09-01): messages become
 * Messages[{Role, Content}] (text parts joined), plus Stream, TopP and Temperature when set,
 * in the key order Tencent's own SDKs write. Answers come back as OpenAI chat completions or
 * chunks: id "chatcmpl-" + Id, finish reason "sensitive" as content_filter, usage from Usage
 * (in a stream every event carries the running total: the last one counts). The stream has
 * no [DONE]: the event with a FinishReason ends it.
 *
 * Embeddings (X-TC-Action GetEmbedding): input becomes InputList; Data[].Embedding come back
 * as OpenAI's list with usage from Usage.
 *
 * Errors arrive inside HTTP 200 as Response.Error {Code, Message}: AuthFailure.* maps to 401,
 * LimitExceeded and RequestLimitExceeded (rate limits) to 429, InvalidParameter*,
 * MissingParameter and UnknownParameter to 400, ResourceInsufficient.*, ResourceUnavailable.*,
 * OperationDenied.* and UnauthorizedOperation.* to 403, anything else to 500; the code is
 * kept as the OpenAI error's code. config.region, when set, goes out as X-TC-Region.
 */
extern const struct provider provider_tencent;

#endif
