/* What the adaptors that translate into OpenAI's chat format share: error filling, and the
 * OpenAI answer pieces (chunks, messages, tool calls, usage) they write. */
#ifndef OA_PROVIDERS_ADAPTOR_H
#define OA_PROVIDERS_ADAPTOR_H
#include <stddef.h>
#include <stdint.h>

#include "providers/provider.h"

struct arena;
struct json_object;
struct strbuf;

/* Fills err and returns -1, so a failing path can return it. The strings are stored as given:
 * static text, or copies in the request arena. */
int prov_fail(struct prov_error *err, int status, const char *type, const char *code,
              const char *param, const char *msg);
/* As prov_fail with the message formatted into a. */
int prov_failf(struct prov_error *err, struct arena *a, int status, const char *type,
               const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* The error of a non-2xx answer nothing readable came with, as One API words it: message
 * "bad response status code N", type upstream_error, code bad_response_status_code, param N. */
void prov_fail_status(struct prov_error *err, struct arena *a, int status);
/* The message of an error body in the places One API looks after error.message: message, msg,
 * err, error_msg, header.message, response.error.message. Empty ones are skipped. NULL when
 * there is none; valid while root lives. */
const char *prov_error_message(struct json_object *root);

/* Parses exactly n bytes of s as a JSON object (white space may follow): a new reference, or
 * NULL for anything else, an upstream's broken body included. */
struct json_object *prov_parse_object(const char *s, size_t n);

/* The model named in answers to the client: the one it asked for, else the one sent upstream,
 * else "". */
const char *prov_answer_model(const struct prov_ctx *ctx);
/* The value of key in the channel's JSON config when it is a non-empty string, copied into
 * ctx->a; NULL otherwise, also for an empty or broken config (a broken config must not break
 * the channel, it only loses its settings). */
const char *prov_config_str(struct prov_ctx *ctx, const char *key);

/* The fixed part of every chat.completion.chunk of one stream. */
struct prov_chunk {
    const char *id;    /* "chatcmpl-..." */
    const char *model; /* the model the client is shown */
    int64_t created;   /* Unix time */
    int usage_null;    /* every chunk carries "usage":null, as OpenAI's do when usage was asked */
};

/* Opens the SSE event of a chunk with one choice, up to its "delta": member; the caller writes
 * the delta object, then calls prov_chunk_close. */
void prov_chunk_open(struct strbuf *out, const struct prov_chunk *c, int index);
/* Closes a chunk opened by prov_chunk_open with finish_reason finish (NULL: null). */
void prov_chunk_close(struct strbuf *out, const struct prov_chunk *c, const char *finish);
/* A whole chunk whose only choice has the given delta (borrowed) and finish_reason. */
void prov_chunk_put(struct strbuf *out, const struct prov_chunk *c, int index,
                    struct json_object *delta, const char *finish);
/* The chunk that reports usage (borrowed): no choices. */
void prov_chunk_usage(struct strbuf *out, const struct prov_chunk *c, struct json_object *usage);

/* A JSON string of the n bytes at s (NULL: ""), cut at INT_MAX bytes, json-c's limit. A new
 * reference. */
struct json_object *prov_str_new(const char *s, size_t n);
/* A non-stream chat.completion with id, object, created and model, and an empty choices
 * array, borrowed into *choices. A new reference. */
struct json_object *prov_completion_new(const char *id, int64_t created, const char *model,
                                        struct json_object **choices);
/* A choice {index, <key>: value (consumed), finish_reason} ("message" or "delta"); finish NULL
 * writes null. A new reference. */
struct json_object *prov_choice_new(int64_t index, const char *key, struct json_object *value,
                                    const char *finish);
/* An assistant message: content is the text, or null when there is none but tool calls;
 * reasoning_content when reasoning is not empty; tool_calls when calls (consumed; NULL
 * allowed) holds any. A new reference. */
struct json_object *prov_message_new(const char *text, size_t text_len, const char *reasoning,
                                     size_t reasoning_len, struct json_object *calls);
/* An OpenAI tool call {index (when index >= 0), id, type "function", function: {name,
 * arguments}}. A new reference. */
struct json_object *prov_tool_call_new(int index, const char *id, const char *name,
                                       const char *arguments);
/* OpenAI's usage object for u: total_tokens is total when positive, else prompt + completion;
 * prompt_tokens_details.cached_tokens and completion_tokens_details.reasoning_tokens appear
 * when positive. A new reference. */
struct json_object *prov_usage_new(const struct prov_usage *u, int64_t total, int64_t cached,
                                   int64_t reasoning);
/* An embedding vector (a JSON array of numbers) as OpenAI's encoding_format=base64 gives it:
 * the base64 of the values as little-endian float32, in *res (a new reference). -1 when an
 * element is not a number. */
int prov_b64_floats(struct arena *a, struct json_object *values, struct json_object **res);
/* Appends OpenAI's {"object":"embedding","index":index,"embedding":...} to data for values,
 * an upstream's array of floats: shared as they are (the numbers keep their text) or, with
 * is_b64, as base64 floats. 0, or -1 when values is not an array of numbers. */
int prov_embedding_add(struct arena *a, struct json_object *data, size_t index,
                       struct json_object *values, int is_b64);
/* The plain text of an OpenAI message content: the string itself, or the text parts of an
 * array joined with '\n' (other parts are skipped); "" for anything else. Valid while content
 * lives, or in a. */
const char *prov_content_text(struct arena *a, struct json_object *content);

/* A base64 data: URL, split; both pointers point into the URL. */
struct prov_data_url {
    const char *mime; /* the media type, mime_len bytes (0 when the URL names none) */
    size_t mime_len;
    const char *data; /* the base64 payload, to the end of the URL, never empty */
};
/* Splits url, "data:[<media type>][;<param>]*;base64,<payload>", into out. -1 for anything
 * else: NULL, another scheme, a payload that is not base64 or is empty. */
int prov_data_url(const char *url, struct prov_data_url *out);
/* The image of an OpenAI image_url part ({"image_url":{"url":...}} or {"image_url":"..."}),
 * split into out. For adaptors with needs_inline_images the core has turned every http(s)
 * URL into a data: URL before build_request, so any other URL is the client's mistake: -1
 * with err a 400 invalid_request_error for param "messages" (static text). */
int prov_image_data(struct json_object *part, struct prov_data_url *out, struct prov_error *err);

#endif
