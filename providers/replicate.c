/* Replicate adaptor: a prediction is created, then its event stream is read or its state
 * polled until it settles, through the core's follow-up requests. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/crypto.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/catalogue.h"
#include "providers/provider.h"
#include "providers/replicate.h"
#include "providers/sse.h"

#define REPLICATE_TYPE 46
#define REPLICATE_POLL_MS 1000     /* between two polls of a prediction still running */
#define REPLICATE_MAX_TOKENS 500   /* max_tokens when the client gives none */
#define REPLICATE_MAX_OUTPUTS 16   /* image outputs kept from one prediction */
#define REPLICATE_IMAGE_SIDE 1440  /* width and height of a generated image */
#define REPLICATE_IMAGE_STEPS 25   /* diffusion steps */
#define REPLICATE_IMAGE_GUIDANCE 3 /* prompt guidance */
#define REPLICATE_IMAGE_SAFETY 5   /* the most permissive safety tolerance */

/* Which answer parse_response reads next. */
enum rep_stage {
    REP_CREATED,  /* the prediction just created */
    REP_POLL,     /* the prediction as urls.get shows it */
    REP_STREAM,   /* the whole event stream (a client that does not stream) */
    REP_DOWNLOAD, /* the bytes of image output number `next` */
};

/* What one request's follow-ups share, in the arena. */
struct rep_state {
    enum rep_stage stage;
    struct prov_chunk chunk; /* the fixed part of every chunk sent to a streaming client */
    int is_role_sent;        /* the first chunk (with role) is out */
    const char *outputs[REPLICATE_MAX_OUTPUTS]; /* image output URLs to download */
    int n_outputs;
    int next;                /* the output being downloaded */
    struct json_object *b64; /* the downloaded images as base64 strings (owned by the arena) */
};

static struct rep_state *rep_state(struct prov_ctx *ctx)
{
    struct rep_state *st = ctx->state;
    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
    st->chunk.model = prov_answer_model(ctx);
    st->chunk.created = ctx->created;
    ctx->state = st;
    return st;
}

/* Is model one of the type's built-in models? */
static int rep_model_known(const char *model)
{
    const char *const *names = catalogue_for_type(REPLICATE_TYPE);
    for (size_t i = 0; names && names[i]; i++)
        if (!strcmp(names[i], model))
            return 1;
    return 0;
}

/* Appends the text of one message's content: a string, or the text parts of an array. */
static void rep_content_text(json_object *content, struct strbuf *out)
{
    if (json_object_is_type(content, json_type_string)) {
        sb_putn(out, json_object_get_string(content), (size_t)json_object_get_string_len(content));
        return;
    }
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = jstr(part, "type");
        json_object *text = jget(part, "text");
        if (type && !strcmp(type, "text") && json_object_is_type(text, json_type_string))
            sb_putn(out, json_object_get_string(text), (size_t)json_object_get_string_len(text));
    }
}

/* Copies the client's number at key into input, else def. */
static void rep_number(json_object *input, json_object *req, const char *key, double def)
{
    json_object *v = jget(req, key);
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
        json_object_object_add(input, key, json_object_get(v));
    else
        json_object_object_add(input, key, json_object_new_double(def));
}

static json_object *rep_chat_body(struct prov_ctx *ctx)
{
    json_object *req = ctx->req;
    struct strbuf prompt;
    sb_init(&prompt, ctx->a);
    json_object *msgs = jget(req, "messages");
    size_t n = json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = jstr(m, "role");
        sb_puts(&prompt, role ? role : "user");
        SB_LIT(&prompt, ": ");
        rep_content_text(jget(m, "content"), &prompt);
        sb_putc(&prompt, '\n');
    }
    json_object *input = jnew_obj();
    json_object_object_add(input, "prompt", prov_str_new(prompt.p, prompt.len));
    int64_t max_tokens = jint(req, "max_tokens");
    json_object_object_add(
        input, "max_tokens",
        json_object_new_int64(max_tokens > 0 ? max_tokens : REPLICATE_MAX_TOKENS));
    rep_number(input, req, "temperature", 1);
    rep_number(input, req, "top_p", 1);
    rep_number(input, req, "presence_penalty", 0);
    rep_number(input, req, "frequency_penalty", 0);
    json_object *stop = jget(req, "stop");
    if (json_object_is_type(stop, json_type_string)) {
        json_object_object_add(input, "stop_sequences", json_object_get(stop));
    } else if (json_object_is_type(stop, json_type_array) && json_object_array_length(stop)) {
        struct strbuf seq;
        sb_init(&seq, ctx->a);
        for (size_t i = 0; i < json_object_array_length(stop); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(stop, i));
            if (i)
                sb_putc(&seq, ',');
            sb_puts(&seq, s ? s : "");
        }
        json_object_object_add(input, "stop_sequences", prov_str_new(seq.p, seq.len));
    }
    json_object *body = jnew_obj();
    json_object_object_add(body, "stream", json_object_new_boolean(1));
    json_object_object_add(body, "input", input);
    return body;
}

/* The image request's response_format: 1 for b64_json, 0 for url; -1 for anything else. */
static int rep_wants_b64(const struct prov_ctx *ctx)
{
    const char *rf = jstr(ctx->req, "response_format");
    if (!rf || !*rf || !strcmp(rf, "url"))
        return 0;
    return !strcmp(rf, "b64_json") ? 1 : -1;
}

static json_object *rep_image_body(struct prov_ctx *ctx)
{
    json_object *input = jnew_obj();
    const char *prompt = jstr(ctx->req, "prompt");
    json_object_object_add(input, "prompt", json_object_new_string(prompt ? prompt : ""));
    json_object_object_add(input, "width", json_object_new_int(REPLICATE_IMAGE_SIDE));
    json_object_object_add(input, "height", json_object_new_int(REPLICATE_IMAGE_SIDE));
    json_object_object_add(input, "aspect_ratio", json_object_new_string("1:1"));
    json_object_object_add(input, "steps", json_object_new_int(REPLICATE_IMAGE_STEPS));
    json_object_object_add(input, "guidance", json_object_new_int(REPLICATE_IMAGE_GUIDANCE));
    json_object_object_add(input, "safety_tolerance", json_object_new_int(REPLICATE_IMAGE_SAFETY));
    json_object_object_add(input, "seed", json_object_new_int64((int64_t)(fast_random() >> 33)));
    json_object *body = jnew_obj();
    json_object_object_add(body, "input", input);
    return body;
}

static int rep_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_IMAGES)
        return prov_fail(err, 500, "one_api_error", "not_implemented", "",
                         "Replicate channels serve chat completions and image generations only");
    if (!rep_model_known(ctx->model))
        return prov_failf(err, ctx->a, 500, "one_api_error", "do_request_failed", "",
                          "model %s not supported by Replicate channels", ctx->model);
    json_object *body;
    if (ctx->mode == RELAY_IMAGES) {
        json_object *n = jget(ctx->req, "n");
        if (n && json_object_get_int64(n) != 1 && json_object_get_int64(n) != 0)
            return prov_fail(err, 400, "invalid_request_error", "n_not_within_range", "n",
                             "Replicate models make one image per request: n must be 1");
        if (rep_wants_b64(ctx) < 0)
            return prov_fail(err, 400, "invalid_request_error", "invalid_response_format",
                             "response_format", "response_format must be url or b64_json");
        body = rep_image_body(ctx);
    } else {
        body = rep_chat_body(ctx);
    }
    struct strbuf b;
    sb_init(&b, ctx->a);
    jput(&b, body);
    json_object_put(body);
    rep_state(ctx)->stage = REP_CREATED;
    out->url = arena_printf(ctx->a, "%s/%s/predictions", ctx->ch->base_url, ctx->model);
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", ctx->ch->key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->body = b.p;
    out->body_len = b.len;
    return 0;
}

/* A follow-up GET of url, with the key unless it is a download. */
static int rep_follow(struct prov_ctx *ctx, const char *url, int with_key, int delay_ms,
                      int is_stream)
{
    struct prov_request *rq = arena_calloc(ctx->a, 1, sizeof *rq);
    rq->url = arena_strdup(ctx->a, url);
    if (with_key)
        rq->headers[rq->n_headers++] =
            arena_printf(ctx->a, "Authorization: Bearer %s", ctx->ch->key);
    if (is_stream) {
        rq->headers[rq->n_headers++] = "Accept: text/event-stream";
        rq->headers[rq->n_headers++] = "Cache-Control: no-store";
    }
    rq->delay_ms = delay_ms;
    rq->is_stream = is_stream;
    ctx->follow_up = rq;
    return PROV_FOLLOW_UP;
}

static const char *rep_task_code(const struct prov_ctx *ctx)
{
    return ctx->mode == RELAY_IMAGES ? "image_task_failed" : "chat_task_failed";
}

/* The text of a Replicate error value: a string, or an object's detail/title/message. */
static const char *rep_error_text(struct arena *a, json_object *e)
{
    if (!e || json_object_is_type(e, json_type_null))
        return "";
    if (json_object_is_type(e, json_type_string))
        return arena_strdup(a, json_object_get_string(e));
    static const char *const keys[] = {"detail", "title", "message", "error"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *s = jstr(e, keys[i]);
        if (s && *s)
            return arena_strdup(a, s);
    }
    return arena_strdup(a, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
}

/* The final chat answer with the text collected in ctx->text: chunks for a streaming
 * client, else one chat.completion. */
static int rep_chat_answer(struct prov_ctx *ctx, struct strbuf *out)
{
    struct rep_state *st = rep_state(ctx);
    ctx->finished = 1;
    if (ctx->is_stream) {
        json_object *delta = jnew_obj();
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
        json_object_object_add(delta, "content", prov_str_new(ctx->text.p, ctx->text.len));
        prov_chunk_put(out, &st->chunk, 0, delta, NULL);
        json_object_put(delta);
        delta = jnew_obj();
        prov_chunk_put(out, &st->chunk, 0, delta, "stop");
        json_object_put(delta);
        return 0;
    }
    json_object *choices;
    json_object *res =
        prov_completion_new(st->chunk.id, ctx->created, prov_answer_model(ctx), &choices);
    json_object_array_add(
        choices,
        prov_choice_new(0, "message", prov_message_new(ctx->text.p, ctx->text.len, NULL, 0, NULL),
                        "stop"));
    jput(out, res);
    json_object_put(res);
    return 0;
}

/* The final image answer: the output URLs, or the downloaded images as base64. */
static int rep_image_answer(struct prov_ctx *ctx, struct strbuf *out)
{
    struct rep_state *st = rep_state(ctx);
    json_object *res = jnew_obj(), *data = jnew_arr();
    json_object_object_add(res, "created", json_object_new_int64(ctx->created));
    for (int i = 0; i < st->n_outputs; i++) {
        json_object *item = jnew_obj();
        if (st->b64)
            json_object_object_add(item, "b64_json",
                                   json_object_get(json_object_array_get_idx(st->b64, (size_t)i)));
        else
            json_object_object_add(item, "url", json_object_new_string(st->outputs[i]));
        json_object_array_add(data, item);
    }
    json_object_object_add(res, "data", data);
    jput(out, res);
    json_object_put(res);
    ctx->finished = 1;
    return 0;
}

/* A prediction that succeeded: its output is the answer (text, or images). */
static int rep_succeeded(struct prov_ctx *ctx, json_object *pred, struct strbuf *out,
                         struct prov_error *err)
{
    struct rep_state *st = rep_state(ctx);
    json_object *output = jget(pred, "output");
    size_t n = json_object_is_type(output, json_type_array)    ? json_object_array_length(output)
               : json_object_is_type(output, json_type_string) ? 1
                                                               : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_is_type(output, json_type_array)
                             ? json_object_array_get_idx(output, i)
                             : output;
        if (!json_object_is_type(v, json_type_string))
            continue;
        if (ctx->mode == RELAY_CHAT)
            sb_putn(&ctx->text, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        else if (st->n_outputs < REPLICATE_MAX_OUTPUTS)
            st->outputs[st->n_outputs++] = arena_strdup(ctx->a, json_object_get_string(v));
    }
    if (ctx->mode == RELAY_CHAT)
        return rep_chat_answer(ctx, out);
    if (!st->n_outputs)
        return prov_fail(err, 500, "one_api_error", "image_task_failed", "",
                         "the prediction succeeded without an image");
    if (rep_wants_b64(ctx) != 1)
        return rep_image_answer(ctx, out);
    st->b64 = jown(ctx->a, jnew_arr());
    st->stage = REP_DOWNLOAD;
    st->next = 0;
    return rep_follow(ctx, st->outputs[0], 0, 0, 0);
}

/* A prediction as created or polled: settled (answer or failure), or still running (poll
 * again). */
static int rep_prediction(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                          struct prov_error *err)
{
    struct rep_state *st = rep_state(ctx);
    json_object *pred = jown(ctx->a, prov_parse_object(body, n));
    if (!pred)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", "",
                         "the upstream answered without a prediction");
    const char *status = jstr(pred, "status");
    if (!status)
        status = "";
    if (!strcmp(status, "failed") || !strcmp(status, "canceled"))
        return prov_failf(err, ctx->a, 500, "one_api_error", rep_task_code(ctx), "",
                          "task failed, [%s]%s", status,
                          rep_error_text(ctx->a, jget(pred, "error")));
    json_object *urls = jget(pred, "urls");
    const char *stream = jstr(urls, "stream");
    if (ctx->mode == RELAY_CHAT && st->stage == REP_CREATED && stream && *stream) {
        st->stage = REP_STREAM;
        return rep_follow(ctx, stream, 1, 0, 1);
    }
    if (!strcmp(status, "succeeded"))
        return rep_succeeded(ctx, pred, out, err);
    const char *get = jstr(urls, "get");
    if (!get || !*get)
        return prov_fail(err, 500, "one_api_error", rep_task_code(ctx), "",
                         "the prediction has no URL to poll");
    st->stage = REP_POLL;
    return rep_follow(ctx, get, 1, REPLICATE_POLL_MS, 0);
}

/* What reading a whole event stream collects. */
struct rep_collect {
    struct prov_ctx *ctx;
    struct prov_error *err;
    int failed; /* an error event, or done with a failure reason */
};

/* The reason of a done event's data ({"reason": "..."}); "" when it ended normally. */
static const char *rep_done_reason(struct arena *a, const char *data, size_t n)
{
    json_object *o = jown(a, prov_parse_object(data, n));
    const char *reason = jstr(o, "reason");
    return reason ? reason : "";
}

/* The failure an error event (its data: JSON with a detail, or plain text) means. */
static int rep_event_error(struct prov_ctx *ctx, const char *data, size_t n, struct prov_error *err)
{
    json_object *o = jown(ctx->a, prov_parse_object(data, n));
    const char *msg = o ? rep_error_text(ctx->a, o) : arena_strndup(ctx->a, data, n);
    return prov_failf(err, ctx->a, 500, "one_api_error", "chat_task_failed", "", "task failed, %s",
                      msg);
}

static int rep_collect_event(void *ud, const char *event, const char *data, size_t n)
{
    struct rep_collect *c = ud;
    if (!strcmp(event, "output")) {
        sb_putn(&c->ctx->text, data, n);
    } else if (!strcmp(event, "error")) {
        rep_event_error(c->ctx, data, n, c->err);
        c->failed = 1;
        return 1;
    } else if (!strcmp(event, "done")) {
        const char *reason = rep_done_reason(c->ctx->a, data, n);
        if (*reason) {
            prov_failf(c->err, c->ctx->a, 500, "one_api_error", "chat_task_failed", "",
                       "task failed, [%s]", reason);
            c->failed = 1;
        }
        return 1;
    }
    return 0;
}

/* A whole event stream, for a client that does not stream: the text of its output events. */
static int rep_stream_body(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                           struct prov_error *err)
{
    struct sse_parser p;
    sse_init(&p, ctx->a, 0);
    struct rep_collect c = {ctx, err, 0};
    if (sse_feed(&p, body, n, rep_collect_event, &c) == 0)
        sse_finish(&p, rep_collect_event, &c);
    if (c.failed)
        return -1;
    return rep_chat_answer(ctx, out);
}

static int rep_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                              struct prov_error *err)
{
    struct rep_state *st = rep_state(ctx);
    switch (st->stage) {
    case REP_STREAM: return rep_stream_body(ctx, body, n, out, err);
    case REP_DOWNLOAD: {
        struct strbuf b64;
        sb_init(&b64, ctx->a);
        b64_put(&b64, body, n);
        json_object_array_add(st->b64, prov_str_new(b64.p, b64.len));
        if (++st->next < st->n_outputs)
            return rep_follow(ctx, st->outputs[st->next], 0, 0, 0);
        return rep_image_answer(ctx, out);
    }
    case REP_CREATED:
    case REP_POLL: break;
    }
    return rep_prediction(ctx, body, n, out, err);
}

/* One event of the prediction's stream, for a streaming client. */
static int rep_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                           struct strbuf *out, struct prov_error *err)
{
    struct rep_state *st = rep_state(ctx);
    if (data && event && !strcmp(event, "output")) {
        if (!n)
            return 0;
        json_object *delta = jnew_obj();
        if (!st->is_role_sent)
            json_object_object_add(delta, "role", json_object_new_string("assistant"));
        st->is_role_sent = 1;
        json_object_object_add(delta, "content", prov_str_new(data, n));
        prov_chunk_put(out, &st->chunk, 0, delta, NULL);
        json_object_put(delta);
        sb_putn(&ctx->text, data, n);
        return 0;
    }
    if (data && event && !strcmp(event, "error"))
        return rep_event_error(ctx, data, n, err);
    if (data && !(event && !strcmp(event, "done")))
        return 0; /* other events (logs, comments) say nothing to the client */
    if (data) {
        const char *reason = rep_done_reason(ctx->a, data, n);
        if (*reason)
            return prov_failf(err, ctx->a, 500, "one_api_error", "chat_task_failed", "",
                              "task failed, [%s]", reason);
    }
    /* done, or the stream closed without it: the last chunk. */
    json_object *delta = jnew_obj();
    if (!st->is_role_sent)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    st->is_role_sent = 1;
    prov_chunk_put(out, &st->chunk, 0, delta, "stop");
    json_object_put(delta);
    ctx->finished = 1;
    return 0;
}

static void rep_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                            struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    const char *detail = jstr(root, "detail");
    const char *title = jstr(root, "title");
    const char *msg = detail && *detail ? detail : title && *title ? title : NULL;
    if (!msg) {
        provider_error_default(ctx->a, status, body, n, err);
        return;
    }
    prov_fail(err, status, "upstream_error", "bad_status_code", arena_printf(ctx->a, "%d", status),
              arena_strdup(ctx->a, msg));
}

const struct provider provider_replicate = {
    .name = "replicate",
    .build_request = rep_build_request,
    .parse_response = rep_parse_response,
    .parse_event = rep_parse_event,
    .parse_error = rep_parse_error,
    .may_follow_up = 1,
};
