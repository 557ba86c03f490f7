/* iFlytek Spark adaptor (channel type 18, "Xunfei"): OpenAI chat over Spark's WebSocket API. */
#ifndef OA_PROVIDERS_SPARK_H
#define OA_PROVIDERS_SPARK_H

#include <stdint.h>

#include "providers/provider.h"

struct arena;

/*
 * The Spark adaptor. Serves RELAY_CHAT only (other modes are refused with a 400). The key is
 * "APPID|APISecret|APIKey" (the secret before the key). The URL is
 * wss://spark-api.xf-yun.com/<version path>, or the channel's base URL with the same path
 * (ws:// and http:// give ws://, https:// gives wss://), signed for the host and date of the
 * request (ctx->created); build_request's body is the one request frame, and the core speaks
 * WebSocket to it (provider.h).
 *
 * Conventions beyond provider.h:
 *   - The model picks the version: Spark-Lite, Spark-Pro, Spark-Pro-128K, Spark-Max,
 *     Spark-Max-32K, Spark-4.0-Ultra and x1 by name; else the text after the model's first
 *     '-' ("SparkDesk-v3.5"); else the channel's api_version; else v1.1. An unknown version
 *     v gets the path /v/chat and the domain "general" + v.
 *   - Answer frames with header.code != 0 are errors: 400 for content, length and parameter
 *     codes, 403 for 11200, 429 for 11201-11203 (so another channel is tried), else 500;
 *     the error's code is the Spark code.
 *   - The completion id is the frames' sid; usage is the last frame's payload.usage.text; a
 *     function_call becomes a tool call with finish_reason "tool_calls".
 */
extern const struct provider provider_spark;

/* The signed URL: origin ("wss://host[:port]" plus any path prefix) + path + the query
 * authorization, date and host, for host (the Host header's value), path, date (an HTTP
 * date, used verbatim) and the key pair. is_kong_form writes `hmac username="..."` in the
 * authorization (One API's form) instead of the documented `api_key="..."`. In a. */
char *spark_auth_url(struct arena *a, const char *origin, const char *host, const char *path,
                     const char *date, const char *api_key, const char *api_secret,
                     int is_kong_form);
/* The signature alone: base64(HMAC-SHA256(api_secret, "host: H\ndate: D\nGET P HTTP/1.1")).
 * In a. */
char *spark_signature(struct arena *a, const char *host, const char *date, const char *path,
                      const char *api_secret);
/* The RFC 1123 date of Unix time t in GMT ("Tue, 14 Nov 2023 22:13:20 GMT") into out. */
void spark_http_date(int64_t t, char out[32]);
/* The HTTP status of a Spark error code. */
int spark_error_status(int64_t code);

#endif
