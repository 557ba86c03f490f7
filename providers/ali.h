/* Ali DashScope native adaptor (channel type 17): Qwen chat, text embeddings and the
 * asynchronous image synthesis, over DashScope's own API. */
#ifndef OA_PROVIDERS_ALI_H
#define OA_PROVIDERS_ALI_H

#include "providers/provider.h"

/*
 * The DashScope adaptor. Every request carries `Authorization: Bearer <key>`, and the
 * channel config's `plugin` (a string) as `X-DashScope-Plugin` when set.
 *
 *   - Chat: POST {base}/api/v1/services/aigc/text-generation/generation with
 *     {"model","input":{"messages"},"parameters":{...}}. Messages keep their role (lower-cased)
 *     and their content flattened to text (the text parts of an array joined); tool calls and
 *     tool_call_id are copied. Parameters: result_format "message", incremental_output true
 *     for streams (with `Accept: text/event-stream` and `X-DashScope-SSE: enable`), max_tokens
 *     (or max_completion_tokens), temperature, top_p (capped at 0.9999, as DashScope refuses
 *     1), top_k, seed and tools. A model named "<name>-internet" is sent as <name> with
 *     enable_search true.
 *   - Answers: output.choices (or the older output.text and output.finish_reason) become one
 *     chat.completion whose id is the request_id and whose model is the one the client asked
 *     for; usage is input_tokens/output_tokens. Stream events (`data:` without a space,
 *     `event:result`, no [DONE]) become one chunk each, finish_reason "null" meaning none;
 *     the usage of every event is cumulative and the last non-empty one wins; with
 *     stream_options.include_usage a usage chunk follows the last one. Finish reasons other
 *     than stop, length and tool_calls map to stop.
 *   - Errors: an HTTP error body, an `event:error` frame or a 200 body holding only
 *     {"code","message","request_id"} becomes {"message","type":code,"param":request_id,
 *     "code":code}; Throttling codes are 429 (retryable), InvalidApiKey 401, other codes keep
 *     the HTTP status (400 inside a stream, 500 when there is none).
 *   - Embeddings: POST {base}/api/v1/services/embeddings/text-embedding/text-embedding with
 *     {"model","input":{"texts":[...]}}; output.embeddings[].embedding at text_index; usage is
 *     total_tokens, all of it prompt tokens. encoding_format base64 is honoured.
 *   - Images: POST {base}/api/v1/services/aigc/text2image/image-synthesis with
 *     `X-DashScope-Async: enable`, {"model","input":{"prompt","negative_prompt"},
 *     "parameters":{"size":"W*H","n"}}; the task is then polled (follow-ups, one a second) at
 *     {base}/api/v1/tasks/{task_id} until SUCCEEDED (answer {"created","data":[{"url"}]}, or
 *     with response_format b64_json each result downloaded and base64-encoded) or FAILED,
 *     CANCELED or UNKNOWN (500 image_task_failed with the task's message).
 *   - Other modes fail with 400.
 */
extern const struct provider provider_ali;

#endif
