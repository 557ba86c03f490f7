/* Google Gemini adaptor (channel type 24): OpenAI chat and embeddings over Gemini's native API. */
#ifndef OA_PROVIDERS_GEMINI_H
#define OA_PROVIDERS_GEMINI_H

#include "providers/provider.h"

/*
 * The Gemini adaptor. Serves RELAY_CHAT (generateContent, or
 * streamGenerateContent?alt=sse when ctx->is_stream) and RELAY_EMBEDDINGS (batchEmbedContents);
 * any other mode is refused with a 400. The key goes in the `x-goog-api-key` header.
 *
 * Settings, read from the channel only (the adaptor never reads the environment):
 *   - URL version: the channel config's `api_version` when set; else `v1beta` for models whose
 *     name contains `gemini-1.5` or `gemini-2.0`; else ch->api_version (the legacy `other`
 *     column, or GEMINI_VERSION, which the core passes there when the channel has neither);
 *     else `v1`. Because the core folds GEMINI_VERSION into api_version, a legacy `other`
 *     value loses to the model rule; a separate field for the process default would fix that.
 *   - Safety threshold for the five harm categories: channel config key
 *     `gemini_safety_setting`, else ch->gemini_safety (GEMINI_SAFETY_SETTING as the core
 *     passes it), else `BLOCK_NONE` (One API's default).
 *
 * Conventions beyond provider.h:
 *   - parse_event with data == NULL means the upstream closed the stream (EOF). Gemini sends no
 *     terminator, so this is where unfinished choices get a finish_reason and, when
 *     ctx->include_usage, the usage chunk is sent if a finishReason has not already done so.
 *   - Gemini reports no token counts for embeddings: the embedding body's usage echoes
 *     ctx->usage.prompt_tokens, so the core should put its local estimate there before calling
 *     parse_response; has_usage stays 0 so the core bills its own count.
 *   - Chunk and completion ids are "chatcmpl-" + ctx->request_id; tool-call ids are
 *     "call_" + 32 random hex digits (Gemini has none).
 */
extern const struct provider provider_gemini;

#endif
