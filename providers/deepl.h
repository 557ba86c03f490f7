/* DeepL adaptor (channel type 38): translation exposed as an OpenAI chat model. */
#ifndef OA_PROVIDERS_DEEPL_H
#define OA_PROVIDERS_DEEPL_H

#include "providers/provider.h"

/*
 * The DeepL adaptor. Serves RELAY_CHAT only (any other mode is refused with a 400) through
 * POST {base}/v2/translate with `Authorization: DeepL-Auth-Key <key>`.
 *
 *   - The target language is everything after the first '-' of the model sent upstream
 *     ("deepl-zh" -> "zh", "deepl-en-us" -> "en-us"); a name without '-' translates to "ZH".
 *   - The source text is the text of the last message only; earlier turns are ignored.
 *   - A channel without its own base URL goes to the free host (the type's default) with a
 *     free-plan key (ending in ":fx") and to https://api.deepl.com with any other key, as each
 *     host refuses the other plan's keys.
 *   - DeepL cannot stream and reports no tokens: the provider sets is_stream_emulated, and
 *     parse_response writes, when ctx->is_stream, one chunk holding the whole translation
 *     (role assistant, finish_reason stop) and, when ctx->include_usage, the usage chunk.
 *   - Usage: prompt_tokens is the number of characters (UTF-8 code points) of the source text,
 *     DeepL's billing unit; completion_tokens is 0. has_usage is set so the core bills it.
 *   - Errors ({"message": "..."}) keep the upstream status with code "deepl_error".
 */
extern const struct provider provider_deepl;

#endif
