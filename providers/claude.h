/* Anthropic Claude adaptor (Messages API): the provider the registry lists for channel type 14. */
#ifndef OA_PROVIDER_CLAUDE_H
#define OA_PROVIDER_CLAUDE_H
#include "providers/provider.h"

/* Chat only: OpenAI chat requests to POST {base}/v1/messages, answers and SSE events back to
 * OpenAI's shapes. Other relay modes fail with 400. */
extern const struct provider provider_claude;

struct json_object;

/* The Anthropic Messages body for ctx's OpenAI chat request, with "model" (ctx->model) and,
 * for a stream, "stream": true; callers that name the model elsewhere (Bedrock) remove them.
 * 0 with a new reference in *body, or -1 with err filled (400 for a request Anthropic cannot
 * take, or another relay mode than chat). The stream events and answers of such a request are
 * read by provider_claude's parse_event and parse_response, which also take the
 * "amazon-bedrock-invocationMetrics" of a Bedrock message_stop as the final usage. */
int claude_body_new(struct prov_ctx *ctx, struct prov_error *err, struct json_object **body);

#endif
