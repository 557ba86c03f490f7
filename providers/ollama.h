/* Ollama native adaptor (channel type 30): OpenAI chat and embeddings over /api/chat and
 * /api/embed. */
#ifndef OA_PROVIDERS_OLLAMA_H
#define OA_PROVIDERS_OLLAMA_H

#include "providers/provider.h"

/*
 * The Ollama adaptor. Serves RELAY_CHAT (POST <base>/api/chat; the stream is NDJSON, one
 * object per line, the last one with "done": true and the token counters) and
 * RELAY_EMBEDDINGS (POST <base>/api/embed); any other mode is refused with a 400. The key,
 * when the channel has one, goes in `Authorization: Bearer`, for Ollama behind an
 * authenticating proxy.
 *
 * Conventions beyond provider.h:
 *   - Images must be base64 data URLs (Ollama takes raw base64 in "images"; adaptors do no
 *     I/O, so an http(s) image URL is refused with a 400).
 *   - A message whose content has several text parts sends them joined by "\n".
 *   - Usage is prompt_eval_count / eval_count, for embeddings prompt_eval_count.
 *   - A tool message gets "tool_name", the name of the call its tool_call_id answers, since
 *     Ollama's calls have no ids.
 *   - Chunk and completion ids are "chatcmpl-" + ctx->request_id, one per response; tool
 *     calls, which Ollama sends without ids and with arguments as an object, get
 *     "call_" + 32 random hex digits and their arguments as JSON text.
 */
extern const struct provider provider_ollama;

#endif
