/* Cohere adaptor (channel type 35): OpenAI chat over Cohere's v1 chat API. */
#ifndef OA_PROVIDERS_COHERE_H
#define OA_PROVIDERS_COHERE_H

#include "providers/provider.h"

/*
 * The Cohere adaptor. Serves RELAY_CHAT only (POST {base}/v1/chat, key as a Bearer token);
 * other relay modes are refused with a 400, since One API routes no embeddings to Cohere.
 *
 * Conversion: system (and developer) messages become `preamble`, the last user message
 * becomes `message`, every other turn goes to `chat_history` in order (assistant as CHATBOT,
 * anything else as USER), text parts only. A model name ending in `-internet` is sent without
 * the suffix and with the web-search connector. Tools are not converted.
 *
 * Answers: the id is "chatcmpl-" + response_id (a stream's: + generation_id); usage is
 * meta.billed_units (what Cohere charges), else meta.tokens. The stream is NDJSON: the core
 * must parse it line by line (the upstream labels it application/stream+json).
 */
extern const struct provider provider_cohere;

#endif
