/* Replicate adaptor (channel type 46): chat and image models run as predictions. */
#ifndef OA_PROVIDERS_REPLICATE_H
#define OA_PROVIDERS_REPLICATE_H

#include "providers/provider.h"

/*
 * The Replicate adaptor. Every request creates a prediction with
 * POST {base}/{model}/predictions and `Authorization: Bearer <key>` (the type's default base
 * is https://api.replicate.com/v1/models), then follows it up (PROV_FOLLOW_UP):
 *
 *   - The model sent upstream must be one of the type's built-in models (chat models for
 *     RELAY_CHAT, image models for RELAY_IMAGES); others fail with 500 do_request_failed,
 *     so the relay tries another channel. Other modes fail with 500 not_implemented.
 *   - Chat: the messages become one prompt of "role: text" lines (text parts of array
 *     contents joined); max_tokens (default 500), temperature and top_p (default 1),
 *     presence_penalty and frequency_penalty (default 0) and stop (as "stop_sequences", comma
 *     separated) go in the input. The prediction is always created with "stream": true; its
 *     urls.stream is then read (Accept: text/event-stream): `event: output` carries text,
 *     `event: error` a failure, `event: done` the end. A streaming client gets OpenAI chunks as
 *     the events come; any other client gets the collected text as one chat.completion. A
 *     prediction without a stream URL is polled through urls.get until it settles, and its
 *     output (a string or an array of strings, concatenated) is the answer.
 *   - Replicate reports no token counts: has_usage stays 0, the text goes to ctx->text and
 *     the core counts it; streams carry no usage chunk.
 *   - Images: a FLUX-style input (prompt, 1440x1440, aspect_ratio 1:1, steps 25, guidance 3,
 *     safety_tolerance 5, a random seed); n must be 1 (Replicate makes one image). urls.get
 *     is polled every second until the prediction settles; the answer is OpenAI's
 *     {"created","data":[{"url"}]}, or with response_format b64_json each output is
 *     downloaded (one follow-up each) and sent as base64.
 *   - A prediction that ends "failed" or "canceled" (or a stream's error event) fails with 500
 *     chat_task_failed / image_task_failed and the upstream's error text.
 *   - HTTP errors ({"detail": ...} or {"title","detail","status"}) keep the upstream status
 *     (a 429 stays retryable) with type upstream_error and code bad_status_code.
 */
extern const struct provider provider_replicate;

#endif
