/* Cloudflare Workers AI adaptor (channel type 37). */
#ifndef OA_PROVIDERS_CLOUDFLARE_H
#define OA_PROVIDERS_CLOUDFLARE_H

#include "providers/provider.h"

/*
 * The Workers AI adaptor. Bearer auth with the channel key (an API token with Workers AI
 * permission); the account id is the channel's config.user_id, unless the base URL is a
 * Cloudflare AI Gateway's Workers AI base (https://gateway.ai.cloudflare.com/..., ending in
 * "/workers-ai"), which names the account already.
 *
 *   - RELAY_CHAT and RELAY_EMBEDDINGS go to Workers AI's OpenAI-compatible endpoints
 *     (.../ai/v1/chat/completions, .../ai/v1/embeddings) through provider_openai: bodies pass
 *     through and the reported usage is billed. A chat stream asks the upstream for usage
 *     (stream_options.include_usage); the usage chunk reaches only clients that asked.
 *   - RELAY_COMPLETIONS, which that endpoint lacks, goes to the native endpoint
 *     .../ai/run/{model} (AI Gateway: {base}/{model}) as {"prompt", "max_tokens", "stream",
 *     ...}. The {"result":{"response":...},"success":...,"errors":[...]} envelope becomes an
 *     OpenAI text_completion, and the native SSE stream ({"response":"..."} events, then
 *     [DONE]) becomes text_completion chunks ending with finish_reason "stop". result.usage,
 *     when present, is billed; without it the core counts.
 *   - Any other mode fails with 500 "unsupported relay mode", as One API answers it.
 *   - Errors in Cloudflare's envelope (errors[0].message and .code), in a non-2xx answer or
 *     in a 2xx one with "success": false, become OpenAI errors; the upstream's status is kept
 *     (a 429 stays retryable) and an envelope error in a 2xx answer is a 500.
 */
extern const struct provider provider_cloudflare;

/* The URL of a Workers AI call for ctx's channel: with task (OpenAI's path after "/v1", as
 * "/chat/completions") the OpenAI-compatible endpoint, with task NULL the native run of
 * ctx->model. In ctx->a. NULL with err filled (500 convert_request_failed) when the channel
 * has no account id. */
const char *cloudflare_url(struct prov_ctx *ctx, const char *task, struct prov_error *err);

#endif
