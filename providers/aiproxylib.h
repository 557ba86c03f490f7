/* AI Proxy Library adaptor (channel type 21): a knowledge-base question as an OpenAI chat. */
#ifndef OA_PROVIDERS_AIPROXYLIB_H
#define OA_PROVIDERS_AIPROXYLIB_H

#include "providers/provider.h"

/*
 * The AI Proxy Library adaptor. Serves RELAY_CHAT only (other modes are refused with a 400)
 * through POST {base}/api/library/ask with the channel key as a Bearer token.
 *
 *   - Body {"model", "query", "libraryId", "stream"}: query is the text of the last message
 *     (earlier turns are not sent: the API takes one question); libraryId is the channel's
 *     config.library_id, else the legacy `other` column (which the core passes in
 *     ch->api_version). A channel with neither fails with 500 convert_request_failed.
 *   - Answer {"success", "answer", "documents": [{"title", "url"}]}: the message content is
 *     the answer followed by the documents as a numbered Markdown list under "参考文档：",
 *     as One API writes them; finish_reason "stop".
 *   - Stream: SSE events {"content", "finish", "model", "documents"} become content deltas;
 *     the last chunk carries the documents (when any) and finish_reason "stop". It is sent
 *     on an event with "finish": true, on [DONE], or when the upstream closes.
 *   - Usage: none reported; the text (documents included) goes to ctx->text for counting.
 *   - Errors {"errCode": N, "message": "..."} with N != 0, in a 2xx body or an error answer,
 *     become OpenAI errors with code "<N>": a non-2xx status is kept (a 429 stays retryable),
 *     an error in a 2xx body is a 500.
 */
extern const struct provider provider_aiproxylib;

#endif
