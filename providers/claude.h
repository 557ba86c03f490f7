/* Anthropic Claude adaptor (Messages API): the provider the registry lists for channel type 14. */
#ifndef OA_PROVIDER_CLAUDE_H
#define OA_PROVIDER_CLAUDE_H
#include "providers/provider.h"

/* Chat only: OpenAI chat requests to POST {base}/v1/messages, answers and SSE events back to
 * OpenAI's shapes. Other relay modes fail with 400. */
extern const struct provider provider_claude;

#endif
