/* AWS Bedrock adaptor (channel type 33, "AWS Claude"): OpenAI chat over Claude's InvokeModel
 * and InvokeModelWithResponseStream, SigV4-signed. */
#ifndef OA_PROVIDERS_BEDROCK_H
#define OA_PROVIDERS_BEDROCK_H

#include "providers/provider.h"

/*
 * Chat only; other relay modes are refused with a 400.
 *
 * Credentials: the channel key "AK|SK|region" (region may be left out when the channel config
 * has "region"); an empty key takes "ak", "sk" and "region" from the config.
 *
 * The model (after the channel's mapping) is looked up in One API's table of Bedrock model
 * ids (claude-3-5-sonnet-20240620 -> anthropic.claude-3-5-sonnet-20240620-v1:0, ...); a name
 * that already is a Bedrock id or inference profile (it contains "anthropic.", or is an ARN)
 * goes as it is; anything else fails as One API does ("adaptor not found", 500).
 *
 * The request goes to the channel's base URL when it has one, else to
 * https://bedrock-runtime.{region}.amazonaws.com, and the signature covers that host. The body
 * is the Anthropic Messages body with "anthropic_version": "bedrock-2023-05-31" and without
 * model and stream. A stream answers in AWS event-stream frames: the core hands each frame's
 * payload to parse_event (see provider.h), whose "chunk" events carry the Anthropic event in
 * base64 "bytes". Usage is Anthropic's, or the final invocation metrics of a stream.
 */
extern const struct provider provider_bedrock;

/* The Bedrock model id for an OpenAI-side model name from One API's table, or NULL. */
const char *bedrock_model_id(const char *model);

#endif
