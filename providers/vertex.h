/* Google Vertex AI adaptor (channel type 42): Gemini and Claude models behind Vertex's
 * publisher endpoints, authorised by an OAuth access token of a service account. */
#ifndef OA_PROVIDERS_VERTEX_H
#define OA_PROVIDERS_VERTEX_H

#include "providers/provider.h"

/*
 * The Vertex AI adaptor. Chat only (other modes are refused with a 400).
 *
 * Channel settings: the config fields `region`, `vertex_ai_project_id` and `vertex_ai_adc`
 * (the service account's JSON key as a string); when the config has no region, the key
 * `region|project|adc` as One API's channel form stores it.
 *
 * Models whose name starts with "claude" go to
 *   {base}/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict
 * (streamRawPredict?alt=sse for streams) with the Anthropic body of providers/claude.c minus its
 * model field plus "anthropic_version":"vertex-2023-10-16"; models whose name starts with
 * "gemini" go to .../publishers/google/models/{model}:generateContent
 * (streamGenerateContent?alt=sse) with the body of providers/gemini.c. Any other model fails
 * with 500 convert_request_failed. {base} is the channel's base URL, else
 * https://{region}-aiplatform.googleapis.com. Answers, stream events and errors are read by
 * the Claude or Gemini adaptor (Google-shaped errors always by Gemini's).
 *
 * Credential: a JWT signed RS256 with the service account's private_key (iss client_email,
 * scope cloud-platform, aud token_uri, one hour), exchanged at token_uri (default
 * https://oauth2.googleapis.com/token) for an access token sent as `Authorization: Bearer`.
 */
extern const struct provider provider_vertex;

/* Vertex's API version for the model family, as One API sends it. */
#define VERTEX_ANTHROPIC_VERSION "vertex-2023-10-16"

#endif
