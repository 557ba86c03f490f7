/* The provider vtable: one adaptor per upstream wire format. The relay core (handlers/relay*)
 * owns retries, balancing, billing and the client connection; adaptors only translate.
 * Adaptors never touch the database or the client connection. */
#ifndef OA_PROVIDER_H
#define OA_PROVIDER_H
#include <stddef.h>
#include <stdint.h>

#include "fcgi/strbuf.h"

struct arena;
struct json_object;

/* What the client asked for (from the path). */
enum relay_mode {
    RELAY_CHAT,          /* /v1/chat/completions */
    RELAY_COMPLETIONS,   /* /v1/completions */
    RELAY_EMBEDDINGS,    /* /v1/embeddings */
    RELAY_MODERATIONS,   /* /v1/moderations */
    RELAY_EDITS,         /* /v1/edits (OpenAI's retired Edits API) */
    RELAY_IMAGES,        /* /v1/images/generations */
    RELAY_SPEECH,        /* /v1/audio/speech */
    RELAY_TRANSCRIPTION, /* /v1/audio/transcriptions */
    RELAY_TRANSLATION,   /* /v1/audio/translations */
    RELAY_MODE__MAX
};

/* The channel as an adaptor sees it. Strings are never NULL ("" when unset). */
struct prov_channel {
    int64_t id;
    int type;                /* One API channel type id (providers/registry.c) */
    const char *key;         /* upstream credential */
    const char *base_url;    /* the channel's base URL, else the type's default; no trailing '/' */
    int is_default_base;     /* base_url is the type's default: the channel has none of its own */
    const char *api_version; /* config.api_version, else the legacy `other` column */
    const char *config;      /* the channel's config JSON text */
    const char *gemini_safety; /* GEMINI_SAFETY_SETTING, the Gemini threshold of the process
                                * ("" or NULL: the adaptor's default); the channel's config
                                * key gemini_safety_setting wins over it */
};

/* Token usage as the upstream reported it. */
struct prov_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int has_usage; /* the upstream reported usage (else the core counts tokens) */
};

/* One attempt against one channel. The core fills the inputs; the adaptor fills the outputs. */
struct prov_ctx {
    struct arena *a; /* request arena: all allocations of the adaptor go here */
    enum relay_mode mode;
    const struct prov_channel *ch;
    const char *model;        /* the model sent upstream (after the channel's mapping) */
    const char *origin_model; /* the model the client asked for */
    struct json_object *req;  /* the client's OpenAI request (mapping applied); read-only;
                               * NULL for multipart requests (audio transcription) */
    const char *body;         /* the OpenAI-format body the core prepared (the client's
                               * bytes when nothing had to change), for pass-through */
    size_t body_len;
    const char *content_type; /* the client's Content-Type */
    int is_stream;            /* the client asked for a stream */
    int include_usage;        /* the client asked for stream_options.include_usage */
    const char *request_id;   /* for chunk ids where the upstream gives none */
    int64_t created;          /* Unix time of the request, for "created" */
    const char *credential;   /* the token the core obtained through the adaptor's
                               * credential operation (see struct prov_cred), for
                               * build_request; NULL for adaptors without one */
    /* What the client sent beyond its body; NULL when unknown (channel tests). */
    const char *client_uri;        /* the request URI ("/v1/embeddings?x=1"), which the OpenAI
                                    * family forwards as it is */
    const char *anthropic_version; /* the client's anthropic-version header */
    const char *anthropic_beta;    /* the client's anthropic-beta header */
    int64_t prompt_estimate;       /* the core's local count of the prompt's tokens */

    /* Outputs. */
    struct prov_usage usage;        /* usage seen so far (the last report wins, never summed) */
    struct strbuf text;             /* completion text produced, for counting when no usage */
    int finished;                   /* the upstream signalled the end of the stream */
    void *state;                    /* the adaptor's own state (stream, follow-ups), in the arena */
    struct prov_request *follow_up; /* set with PROV_FOLLOW_UP: the next upstream request */
};

/* The upstream request an adaptor builds. */
struct prov_request {
    const char *url;         /* absolute URL */
    const char *headers[16]; /* "Name: value" lines, in the arena */
    int n_headers;
    const char *body; /* in the arena; NULL sends a GET */
    size_t body_len;
    const char *method;              /* NULL: POST when there is a body, else GET */
    const char *const *more_headers; /* n_more further "Name: value" lines, or NULL */
    int n_more;
    int delay_ms;  /* follow-ups only: how long the core waits before sending it (polling) */
    int is_stream; /* follow-ups only: the answer is an event stream (see PROV_FOLLOW_UP) */
};

/* Follow-up requests, for upstreams that need more than one request per client request
 * (create a task, then poll it or open its stream; download a result).
 *
 * parse_response may return PROV_FOLLOW_UP instead of 0 after pointing ctx->follow_up at a
 * new prov_request in the arena (URL, headers, body NULL for a GET, delay_ms, is_stream).
 * The core then waits delay_ms, performs it with the relay's proxy and cancellation rules,
 * and:
 *   - on a 200/201 answer, hands its whole body to parse_response again, which answers 0
 *     (out holds the final OpenAI answer), PROV_FOLLOW_UP again, or -1. The adaptor knows
 *     which answer it is reading from its own ctx->state. When the client asked for a stream
 *     and the follow-up has is_stream set, an answer that is not application/json is instead
 *     fed event by event to parse_event, as a first answer that streams would be;
 *   - on any other status, normalises it through parse_error as for the first request.
 * The body passed to parse_response is only valid during that call: copy what must survive
 * into the arena. The first request and its follow-ups share the relay timeout as one
 * deadline, and at most PROV_MAX_FOLLOW_UPS follow-ups are made; past either the attempt
 * fails with 500 do_request_failed. Only a provider with may_follow_up set may answer
 * PROV_FOLLOW_UP: for it, a 2xx JSON answer to a stream request goes to parse_response
 * (which writes SSE chunks, as with is_stream_emulated, when it answers at once) instead of
 * being refused as "not a stream". */
#define PROV_FOLLOW_UP 1
#define PROV_MAX_FOLLOW_UPS 600

/* An error to show the client, normalised to OpenAI's shape. */
struct prov_error {
    int status; /* HTTP status for the client */
    const char *message;
    const char *type;  /* e.g. "upstream_error", "invalid_request_error" */
    const char *param; /* NULL omits it */
    const char *code;  /* a JSON string value, or NULL */
};

/* A credential an adaptor needs before it can build requests: an access token that must be
 * fetched from a token endpoint (OAuth), or one the adaptor mints itself (a signed JWT).
 * The relay core keeps the token per process, keyed by channel id and a hash of the
 * channel's key and config, and hands it to build_request in ctx->credential. It asks the
 * adaptor again when less than 5 minutes of the token's life remain; concurrent requests of
 * one channel wait for a single exchange instead of each making their own. Neither the key
 * nor the token is ever logged.
 *
 * The adaptor's credential operation fills this in one of two ways:
 *   - a token it minted: token and expires_at set, req.url NULL; the core uses it as it is;
 *   - a token request: req (url, headers, body; POST when body is set, else GET) set, token
 *     NULL; the core performs it and passes a 2xx answer to credential_parse, which sets
 *     token and expires_at. A non-2xx answer goes through credential_parse too (status set),
 *     which fills the error.
 * Everything lives in ctx->a. */
struct prov_cred {
    struct prov_request req; /* the token request to perform, or req.url NULL */
    const char *token;       /* the token, once known */
    int64_t expires_at;      /* Unix time the token stops working */
};

struct provider {
    const char *name;
    /* Builds URL, headers and body for ctx. Returns 0, or -1 with err filled
     * (status 500, code "convert_request_failed", or 400 for a request it cannot serve). */
    int (*build_request)(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err);
    /* Converts a successful (2xx) non-stream upstream body into the OpenAI response body
     * appended to out, and fills ctx->usage when the upstream reported it. -1 with err;
     * PROV_FOLLOW_UP (may_follow_up providers) to ask for another upstream request. */
    int (*parse_response)(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                          struct prov_error *err);
    /* Converts one upstream stream event into zero or more complete OpenAI SSE events
     * ("data: {chunk}\n\n") appended to out. event is the SSE event name ("" when none;
     * NULL for NDJSON lines); data is the event's data (or the NDJSON line). For an AWS
     * event stream (application/vnd.amazon.eventstream) each frame is one event: data is the
     * payload and event the frame's :event-type, "exception:<:exception-type>" for an
     * exception frame, or "error:<:error-code>" with data the :error-message. Sets
     * ctx->finished when the upstream says the stream is over, updates ctx->usage and appends
     * generated text to ctx->text. Never writes "data: [DONE]": the core does, once.
     * A mid-stream upstream error returns -1 with err filled.
     * When the upstream closes without the adaptor having set ctx->finished, the core calls
     * it once more with data NULL and n 0, so it can close open choices and emit usage. */
    int (*parse_event)(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                       struct strbuf *out, struct prov_error *err);
    /* Normalises a non-2xx upstream answer (status, body) into err. Optional: NULL means
     * provider_error_default. */
    void (*parse_error)(struct prov_ctx *ctx, int status, const char *body, size_t n,
                        struct prov_error *err);
    /* The upstream cannot stream. For a stream request the core makes the non-stream call,
     * and parse_response (ctx->is_stream set) writes the whole answer as SSE chunks, which the
     * core sends as a stream followed by [DONE]; parse_event is never called. */
    int is_stream_emulated;
    /* Optional; NULL for adaptors that use ch->key as it is. Describes the credential of
     * ctx->ch (see struct prov_cred), using ctx->created as the current time. -1 with err
     * filled when the channel's settings cannot give one (500 convert_request_failed). */
    int (*credential)(struct prov_ctx *ctx, struct prov_cred *out, struct prov_error *err);
    /* Reads the token endpoint's answer (status, body) into out->token and out->expires_at:
     * 0, or -1 with err filled (the endpoint's error, normalised; a 2xx answer without a
     * token is a 500). Required when credential can return a token request. */
    int (*credential_parse)(struct prov_ctx *ctx, int status, const char *body, size_t n,
                            struct prov_cred *out, struct prov_error *err);
    /* parse_response may answer PROV_FOLLOW_UP (see there). */
    int may_follow_up;
    /* The upstream cannot fetch image URLs itself: before build_request the core replaces
     * every http(s) image_url of a chat request by a base64 data: URL of the image. */
    int needs_inline_images;
    /* WebSocket upstreams (a build_request URL of ws:// or wss://): the core sends the body
     * as one text message and hands every message the server sends to parse_event as an
     * NDJSON line (event NULL) or, for a non-stream request, all of them as the lines of
     * one body to parse_response. message_status gives the HTTP status the first message
     * stands for: 200 when it starts an answer, else an error status, and the message then
     * goes to parse_error as the body of that status, before anything reached the client,
     * so another channel can be tried. Optional: NULL means every first message is 200. */
    int (*message_status)(struct prov_ctx *ctx, const char *msg, size_t n);
};

/* The default of parse_error, for upstreams that answer errors in OpenAI's shape or close to
 * it: an {"error":{"message",...}} body is taken as it is; otherwise the first message-like
 * field (message, msg, err, error_msg, header.message, response.error.message, a string
 * error) with type "upstream_error", param the status and code "bad_response_status_code";
 * without one, "bad response status code N". Strings in a. */
void provider_error_default(struct arena *a, int status, const char *body, size_t n,
                            struct prov_error *err);

/* The core calls the adaptor through these, never through the pointers: each documents what
 * happens when an optional operation is NULL. */
static inline int provider_build_request(const struct provider *p, struct prov_ctx *ctx,
                                         struct prov_request *out, struct prov_error *err)
{
    return p->build_request(ctx, out, err);
}

static inline int provider_parse_response(const struct provider *p, struct prov_ctx *ctx,
                                          const char *body, size_t n, struct strbuf *out,
                                          struct prov_error *err)
{
    return p->parse_response(ctx, body, n, out, err);
}

static inline int provider_parse_event(const struct provider *p, struct prov_ctx *ctx,
                                       const char *event, const char *data, size_t n,
                                       struct strbuf *out, struct prov_error *err)
{
    return p->parse_event(ctx, event, data, n, out, err);
}

/* parse_error, or provider_error_default when the adaptor has none. */
static inline void provider_parse_error(const struct provider *p, struct prov_ctx *ctx, int status,
                                        const char *body, size_t n, struct prov_error *err)
{
    if (p->parse_error)
        p->parse_error(ctx, status, body, n, err);
    else
        provider_error_default(ctx->a, status, body, n, err);
}

/* message_status, or 200 when the adaptor has none. */
static inline int provider_message_status(const struct provider *p, struct prov_ctx *ctx,
                                          const char *msg, size_t n)
{
    return p->message_status ? p->message_status(ctx, msg, n) : 200;
}

/* Finish reasons the client may see: a known upstream value maps to one of OpenAI's
 * ("stop", "length", "tool_calls", "content_filter"); anything else maps to "stop". */

#endif
