/* PaLM 2 adaptor (channel type 11): OpenAI chat over Google's legacy generateMessage API. */
#ifndef OA_PROVIDERS_PALM_H
#define OA_PROVIDERS_PALM_H

#include "providers/provider.h"

/*
 * The PaLM 2 adaptor. Serves RELAY_CHAT only (any other mode is refused with a 400) through
 * POST {base}/v1beta2/models/chat-bison-001:generateMessage, the only chat model the API had,
 * whatever model the client named. The key goes in the `x-goog-api-key` header, which the API
 * accepts as it does the `key` query parameter, so the key never shows in a logged URL.
 *
 *   - Messages: user turns get author "0", assistant and tool turns author "1"; system text
 *     becomes prompt.context. temperature, top_p (topP), top_k (topK) and n (candidateCount)
 *     are copied; max_tokens has no PaLM counterpart and is not sent.
 *   - The answer has one choice per candidate with finish_reason "stop"; no candidates (the
 *     prompt was filtered) gives one empty choice with finish_reason "content_filter".
 *   - PaLM cannot stream: the provider sets is_stream_emulated, and parse_response writes, when
 *     ctx->is_stream, one chunk per candidate with the whole text, then nothing else.
 *   - PaLM reports no tokens: has_usage stays 0, the text goes to ctx->text for the core's
 *     count, and the answer carries no usage object.
 *   - Errors are Google's {"error":{"code","message","status"}}: the message is kept with the
 *     upstream status, type "upstream_error" and the Google status as code.
 */
extern const struct provider provider_palm;

#endif
