/* Coze adaptor (channel type 34): bots exposed as OpenAI chat models over Coze's v2 chat API. */
#ifndef OA_PROVIDERS_COZE_H
#define OA_PROVIDERS_COZE_H

#include "providers/provider.h"

/*
 * The Coze adaptor. Serves RELAY_CHAT only (other modes are refused with a 400) through
 * POST {base}/open_api/v2/chat with the channel key (a personal access token) as a Bearer
 * token.
 *
 *   - The model names the bot: "bot-<bot_id>" sends bot_id <bot_id>; a name without the
 *     prefix is the bot id itself.
 *   - user: the channel's config.user_id, else the request's "user", else "oneapi-user".
 *   - query is the text of the last message; every earlier message (any role) goes to
 *     chat_history as {role, content, content_type "text"}. Array contents give their text
 *     parts, newline-joined.
 *   - Answer: the first message of type "answer" becomes the assistant message, finish_reason
 *     "stop", id "chatcmpl-<conversation_id>". The SSE stream's "message" events of type
 *     "answer" become content deltas (the first also carries the role), "done" the finishing
 *     chunk; follow-up suggestions and other message types are dropped.
 *   - Usage: Coze's v2 API reports none; the text goes to ctx->text and the core counts.
 *   - Errors: {"code": N, "msg": "..."} with a non-zero code, in a 2xx body or an error
 *     answer, and the stream's "error" event ({"error_information": {code, msg}}) become
 *     OpenAI errors with code "<N>". Code 4013 (too many requests) is a 429, so the relay
 *     tries another channel; other errors keep a non-2xx status, and are a 500 in a 2xx body.
 */
extern const struct provider provider_coze;

#endif
