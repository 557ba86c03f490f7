/* relay: the pipeline of a /v1 request: parse and check it, route it to a channel (the
 * highest priority tier first, falling through tiers on retryable failures), and for each
 * attempt price and reserve, call the upstream through the channel's adaptor (streamed or
 * not) and settle the charge with its log row as one ledger entry. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/relay/credcache.h"
#include "handlers/relay/pricing.h"
#include "handlers/relay/quota.h"
#include "handlers/relay/upstream.h"
#include "handlers/relay/usercontent.h"
#include "handlers/respond.h"
#include "db/db.h"
#include "db/relay.h"
#include "db/writer.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/request.h"
#include "fcgi/router.h"
#include "fcgi/strlist.h"
#include "providers/eventstream.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "providers/sse.h"

#include <assert.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KEEPALIVE_SECONDS                                                                          \
    15 /* an SSE comment after this long without an upstream event, so                             \
        * that proxies do not time the stream out */
#define MAX_UPSTREAM_BODY (64u << 20) /* a non-stream answer larger than this is refused */

/* ---------------------------------------------------------------- the request */

/* One relay request: what the client asked for, and where routing stands. */
struct relay {
    struct req *r;
    struct app *app;
    struct relay_auth *au;
    enum relay_mode mode;
    json_object *body; /* the client's JSON request, owned by the arena (NULL: multipart) */
    const char *model; /* the model the client asked for */
    int is_stream;
    int client_usage; /* stream_options.include_usage from the client */
    int64_t max_tokens;
    struct relay_route route; /* the channels able to serve (group, model), and those tried */
    struct prov_error err;    /* the last attempt's failure */
    int sql_quota;            /* reservations go through the sql store (quota.h) */
    struct usercontent *uc;   /* the prompt's image URLs fetched so far (relay_uc) */
};

int relay_uses_sql_quota(const struct app *app)
{
    return quota_use_sql(app->is_cgi, cfg_str(app->cfg, CFG_QUOTA_STORE)) || !app->quota ||
           !app->writer;
}

/* The model of a request that names none, as One API assumes it. */
static const char *mode_default_model(enum relay_mode m)
{
    switch (m) {
    case RELAY_MODERATIONS: return "text-moderation-stable";
    case RELAY_IMAGES: return "dall-e-2";
    case RELAY_TRANSCRIPTION:
    case RELAY_TRANSLATION: return "whisper-1";
    default: return "";
    }
}

/* The value of form field name in a multipart body, into the arena, or NULL. */
static const char *multipart_field(struct req *r, const char *name)
{
    const char *ct = req_header(r, "Content-Type");
    const char *b = ct ? strstr(ct, "boundary=") : NULL;
    if (!b)
        return NULL;
    b += 9;
    size_t bl = strcspn(b, "; ");
    if (*b == '"')
        b++, bl = strcspn(b, "\"");
    char *needle = arena_printf(r->a, "name=\"%s\"", name);
    const char *p = r->body, *end = r->body + r->body_len;
    while (p && p < end) {
        const char *hit = memmem(p, (size_t)(end - p), needle, strlen(needle));
        if (!hit)
            return NULL;
        const char *v = memmem(hit, (size_t)(end - hit), "\r\n\r\n", 4);
        if (!v)
            return NULL;
        v += 4;
        const char *stop = memmem(v, (size_t)(end - v), b, bl);
        if (!stop || stop - v < 4)
            return NULL;
        return arena_strndup(r->a, v, (size_t)(stop - v) - 4); /* minus "\r\n--" */
    }
    return NULL;
}

/* Fails the request with One API's relay error shape (auth/distributor: no param, no code).
 * Returns 0: the answer is written. */
static int relay_fail(struct req *r, int status, const char *msg)
{
    openai_error(r, status, msg, "one_api_error", NULL, 1);
    return 0;
}

/* As relay_fail, with param "" and code. */
static int relay_fail_code(struct req *r, int status, const char *msg, const char *code)
{
    openai_error(r, status, msg, "one_api_error", code, 1);
    return 0;
}

/* Disables ch when the failure e says the channel itself is unusable and the option allows. */
static void channel_disable(struct relay *rl, const struct relay_channel *ch,
                            const struct prov_error *e)
{
    struct app *app = rl->app;
    if (!options_bool(app->opts, "AutomaticDisableChannelEnabled") || !relay_should_disable(e))
        return;
    relay_disable_channel(app, req_db(rl->r), ch, e->message ? e->message : "", "automatically");
}

/* Another channel is tried after 429, 5xx and every other non-2xx except 400, as One API
 * does. */
static int retryable(int status)
{
    return status != 400 && (status < 200 || status > 299);
}

/* ---------------------------------------------------------------- the channel's view */

static const char *config_str(struct arena *a, const char *config, const char *key)
{
    if (!config || !*config)
        return "";
    const char *v = jstr(jown(a, json_tokener_parse(config)), key);
    return v ? v : "";
}

const char *relay_map_model(struct arena *a, const char *mapping, const char *model)
{
    if (!mapping || !*mapping || !strcmp(mapping, "{}"))
        return model;
    const char *v = jstr(jown(a, json_tokener_parse(mapping)), model);
    return v && *v ? v : model;
}

void relay_prov_channel(struct arena *a, const struct app *app, const struct relay_channel *ch,
                        const struct channel_type *ct, struct prov_channel *out)
{
    *out = (struct prov_channel){
        .id = ch->id,
        .type = (int)ch->type,
        .key = ch->key,
        .base_url = *ch->base_url ? ch->base_url : ct->default_base,
        .is_default_base = !*ch->base_url,
        .config = ch->config,
    };
    size_t bl = strlen(out->base_url);
    if (bl && out->base_url[bl - 1] == '/')
        out->base_url = arena_strndup(a, out->base_url, bl - 1);
    out->gemini_safety = cfg_str(app->cfg, CFG_GEMINI_SAFETY_SETTING);
    out->api_version = config_str(a, ch->config, "api_version");
    if (!*out->api_version)
        out->api_version = *ch->other       ? ch->other
                           : ch->type == 24 ? cfg_str(app->cfg, CFG_GEMINI_VERSION)
                                            : "";
}

/* ---------------------------------------------------------------- one non-stream call */

/* A non-2xx answer (or one the caller refuses) as the client's error: the adaptor's
 * normalisation, with the status given when it set none. */
static void answer_error(const struct provider *p, struct prov_ctx *ctx, int status,
                         const char *body, size_t n, struct prov_error *err)
{
    provider_parse_error(p, ctx, status, body, n, err);
    if (!err->status)
        err->status = status;
}

/* A token answer larger than this is not a token answer. */
#define MAX_TOKEN_ANSWER (1u << 20)

/* credcache_http_fn over upstream_fetch with the call's options. */
static int credential_http(void *ud, const struct prov_request *rq, long *status,
                           struct strbuf *body, struct prov_error *err)
{
    const struct relay_call_opts *o = ud;
    struct upstream_answer ans = {.body = *body};
    char errbuf[256] = "";
    int rc = upstream_fetch(o->curl, rq, o->timeout_s, o->proxy, MAX_TOKEN_ANSWER, o->should_stop,
                            o->ud, &ans, errbuf, sizeof errbuf);
    *body = ans.body;
    if (rc != UPSTREAM_OK) {
        *err = (struct prov_error){500,
                                   arena_printf(body->a, "access token request failed: %s",
                                                rc == UPSTREAM_ABORTED ? "aborted" : errbuf),
                                   "one_api_error", "", "get_access_token_failed"};
        return -1;
    }
    *status = ans.status;
    return 0;
}

int relay_credential(const struct relay_call_opts *o, const struct provider *p,
                     struct prov_ctx *ctx, struct prov_error *err)
{
    if (!p->credential)
        return 0;
    return credcache_get(o->creds, p, ctx, credential_http, (void *)o, err);
}

/* Waits ms before a follow-up request, in slices so that should_stop (NULL: never) is
 * honoured. 0, or -1 when should_stop ended the wait. */
static int follow_up_wait(int ms, int (*should_stop)(void *ud), void *ud)
{
    while (ms > 0) {
        if (should_stop && should_stop(ud))
            return -1;
        int slice = ms < 200 ? ms : 200;
        nanosleep(&(struct timespec){0, (long)slice * 1000000L}, NULL);
        ms -= slice;
    }
    return should_stop && should_stop(ud) ? -1 : 0;
}

/* The timeout of follow-up number n (from 1) of a call that began at t0 with timeout_s for
 * the whole: the seconds left (0 when timeout_s is 0: none). -1 with err filled when the
 * deadline or the follow-up cap has passed. */
static long follow_up_timeout(struct arena *a, const struct timespec *t0, long timeout_s, int n,
                              struct prov_error *err)
{
    if (n > PROV_MAX_FOLLOW_UPS) {
        *err = (struct prov_error){
            500, arena_printf(a, "the upstream task needed more than %d requests", n - 1),
            "one_api_error", "", "do_request_failed"};
        return -1;
    }
    if (timeout_s <= 0)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = timeout_s - (long)(now.tv_sec - t0->tv_sec);
    if (left <= 0) {
        *err = (struct prov_error){
            500, arena_printf(a, "the upstream task did not finish within %ld seconds", timeout_s),
            "one_api_error", "", "do_request_failed"};
        return -1;
    }
    return left;
}

int relay_call(const struct relay_call_opts *o, const struct provider *p, struct prov_ctx *ctx,
               struct upstream_answer *ans, struct strbuf *out, struct prov_error *err)
{
    memset(err, 0, sizeof *err);
    struct prov_request rq = {0};
    if (relay_credential(o, p, ctx, err) < 0)
        return RELAY_CALL_CREDENTIAL;
    if (provider_build_request(p, ctx, &rq, err) < 0)
        return RELAY_CALL_BUILD;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long timeout_s = o->timeout_s;
    for (int n = 1;; n++) {
        char errbuf[256] = "";
        sb_reset(&ans->body);
        int rc = upstream_fetch(o->curl, &rq, timeout_s, o->proxy, o->max_answer, o->should_stop,
                                o->ud, ans, errbuf, sizeof errbuf);
        if (rc == UPSTREAM_ABORTED)
            return RELAY_CALL_ABORTED;
        if (rc != UPSTREAM_OK) {
            *err = (struct prov_error){500, arena_strdup(ctx->a, errbuf), "one_api_error", "",
                                       "do_request_failed"};
            return RELAY_CALL_TRANSPORT;
        }
        if (ans->status != 200 && ans->status != 201) {
            answer_error(p, ctx, (int)ans->status, ans->body.p, ans->body.len, err);
            return RELAY_CALL_STATUS;
        }
        ctx->follow_up = NULL;
        int pr = provider_parse_response(p, ctx, ans->body.p, ans->body.len, out, err);
        if (pr < 0 || (pr == PROV_FOLLOW_UP && (!p->may_follow_up || !ctx->follow_up))) {
            if (pr >= 0)
                *err = (struct prov_error){500,
                                           "the adaptor asked for a follow-up request it "
                                           "cannot make",
                                           "one_api_error", "", "read_response_body_failed"};
            if (!err->status)
                err->status = 500;
            return RELAY_CALL_PARSE;
        }
        if (pr != PROV_FOLLOW_UP)
            return RELAY_CALL_OK;
        rq = *ctx->follow_up;
        if (follow_up_wait(rq.delay_ms, o->should_stop, o->ud) < 0)
            return RELAY_CALL_ABORTED;
        if ((timeout_s = follow_up_timeout(ctx->a, &t0, o->timeout_s, n, err)) < 0)
            return RELAY_CALL_TRANSPORT;
    }
}

/* ---------------------------------------------------------------- one attempt */

/* One attempt on one channel: the adaptor's context, the price, and the stream's state. */
struct attempt {
    struct relay *rl;
    const struct relay_channel *ch;
    const struct provider *prov;
    struct prov_channel pch; /* the channel as the adaptor sees it */
    struct prov_ctx ctx;
    struct price price;  /* decided before the call */
    int64_t reserved;    /* quota taken before the call */
    int is_system_reset; /* the channel's system prompt replaced the client's */
    long status;         /* the upstream's HTTP status */
    char ctype[128];     /* and its Content-Type */
    int streaming;       /* upstream answered a stream: events go to the client */
    int committed;       /* the client has the stream's head: from now on a failure can only
                          * end the stream, never move to another channel */
    int expect_stream;   /* the request in flight may answer a stream (not a follow-up that
                          * downloads or polls) */
    struct sse_parser sse;
    struct evs_parser evs; /* AWS event-stream frames, read instead of SSE when is_evs */
    int is_evs;            /* the stream is application/vnd.amazon.eventstream (Bedrock) */
    struct strbuf body;    /* an answer that is not a stream (an error body) */
    struct strbuf out;     /* converted events waiting to be written */
    size_t sent_text;      /* ctx.text bytes the client has received */
    int client_gone;       /* a write to the client failed */
    int midstream_error;   /* the adaptor reported an upstream error inside the stream */
    struct prov_error err; /* that error */
    time_t last_write;     /* when the client last got bytes */
    int too_big;           /* the answer went over MAX_UPSTREAM_BODY */
};

/* 1 when ctype names newline-delimited JSON, under any of the names upstreams use. */
static int is_ndjson_type(const char *ctype)
{
    static const char *const types[] = {"application/x-ndjson", "application/ndjson",
                                        "application/stream+json", "application/jsonl",
                                        "application/x-jsonlines"};

    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        size_t n = strlen(types[i]);

        if (!strncasecmp(ctype, types[i], n) &&
            (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' '))
            return 1;
    }
    return 0;
}

static void on_head(void *ud, long status, const char *ctype)
{
    struct attempt *at = ud;
    at->status = status;
    snprintf(at->ctype, sizeof at->ctype, "%s", ctype);
    if (at->expect_stream && (status == 200 || status == 201) &&
        strncasecmp(ctype, "application/json", 16) != 0) {
        at->streaming = 1;
        /* Some upstreams (Cohere, Ollama) stream one JSON object per line instead of SSE,
         * Bedrock binary event-stream frames. */
        at->sse.is_ndjson = is_ndjson_type(ctype);
        at->is_evs = !strncasecmp(ctype, "application/vnd.amazon.eventstream", 34);
        at->last_write = time(NULL);
    }
}

/* Sends the stream's head, once. It waits for the first converted event because several
 * upstreams (MiniMax, DashScope) answer a rate limit or a refused request with a 200 stream
 * whose first event is the error: until the client has seen a byte, such an attempt can
 * still fail over to another channel. */
static int stream_commit(struct attempt *at)
{
    if (at->committed)
        return 0;
    struct req *r = at->rl->r;
    at->committed = 1;
    resp_status(r, 200);
    resp_header(r, "Content-Type", "text/event-stream");
    resp_header(r, "Cache-Control", "no-cache");
    resp_header(r, "X-Accel-Buffering", "no");
    if (resp_stream_begin(r) < 0) {
        at->client_gone = 1;
        return -1;
    }
    return 0;
}

static int flush_out(struct attempt *at)
{
    if (!at->out.len)
        return 0;
    if (stream_commit(at) < 0)
        return -1;
    if (resp_stream_write(at->rl->r, at->out.p, at->out.len) < 0) {
        at->client_gone = 1;
        return -1;
    }
    sb_reset(&at->out);
    at->sent_text = at->ctx.text.len;
    at->last_write = time(NULL);
    return 0;
}

static int on_event(void *ud, const char *event, const char *data, size_t n)
{
    struct attempt *at = ud;
    if (at->ctx.finished)
        return 0;
    if (provider_parse_event(at->prov, &at->ctx, event, data, n, &at->out, &at->err) < 0) {
        at->midstream_error = 1;
        return -1;
    }
    return flush_out(at);
}

/* One event-stream frame as an event for the adaptor: a chunk's payload under its event type,
 * an exception's under "exception:<type>", an error's message under "error:<code>". */
static int on_frame(void *ud, const struct evs_message *m)
{
    char name[300];
    if (!strcmp(m->message_type, "exception")) {
        snprintf(name, sizeof name, "exception:%s", m->exception_type);
    } else if (!strcmp(m->message_type, "error")) {
        snprintf(name, sizeof name, "error:%s", m->error_code);
        return on_event(ud, name, m->error_message, strlen(m->error_message));
    } else {
        snprintf(name, sizeof name, "%s", m->event_type);
    }
    return on_event(ud, name, m->payload, m->payload_len);
}

/* A corrupt or cut event stream as the attempt's mid-stream error. */
static void evs_broken(struct attempt *at, int code)
{
    at->midstream_error = 1;
    at->err =
        (struct prov_error){502, evs_strerror(code), "upstream_error", "", "stream_interrupted"};
}

static int on_body(void *ud, const char *p, size_t n)
{
    struct attempt *at = ud;
    if (at->client_gone)
        return -1;
    if (at->streaming && at->is_evs) {
        int rc = evs_feed(&at->evs, p, n, on_frame, at);
        if (rc <= EVS_BAD_PRELUDE) /* not a callback's -1: the frames themselves are bad */
            evs_broken(at, rc);
        return rc ? -1 : 0;
    }
    if (at->streaming)
        return sse_feed(&at->sse, p, n, on_event, at) ? -1 : 0;
    if (at->body.len + n > MAX_UPSTREAM_BODY) {
        at->too_big = 1;
        return -1;
    }
    sb_putn(&at->body, p, n);
    return 0;
}

static int on_tick(void *ud)
{
    struct attempt *at = ud;
    if (at->client_gone)
        return -1;
    if (at->streaming && time(NULL) - at->last_write >= KEEPALIVE_SECONDS) {
        /* This also sends a held stream's head: a client kept waiting that long needs bytes
         * more than the chance of another channel. */
        SB_LIT(&at->out, ": keep-alive\n\n");
        return flush_out(at);
    }
    return 0;
}

/* A WebSocket upstream's first message: the adaptor says whether it starts an answer, so
 * that an error in it (a rate limit) fails the attempt before the client's stream begins. */
static int on_first_message(void *ud, const char *msg, size_t n)
{
    struct attempt *at = ud;
    return provider_message_status(at->prov, &at->ctx, msg, n);
}

/* Edits the request for the channel (model mapping, forced system prompt, usage in streams)
 * and serialises it into the adaptor's context; the client's bytes go untouched when nothing
 * changes. The edited copy belongs to the request's arena. */
static void prepare_body(struct attempt *at, const struct channel_type *ct)
{
    struct relay *rl = at->rl;
    struct req *r = rl->r;
    const struct relay_channel *ch = at->ch;
    struct prov_ctx *ctx = &at->ctx;
    ctx->body = r->body;
    ctx->body_len = r->body_len;
    if (!rl->body)
        return;
    int want_usage = rl->is_stream && ct->prov == &provider_openai && ch->type != 28 &&
                     (rl->mode == RELAY_CHAT || rl->mode == RELAY_COMPLETIONS);
    int need_system = *ch->system_prompt && rl->mode == RELAY_CHAT;
    /* A model taken from the path or a default (engines embeddings, moderations) must reach
     * the upstream too. */
    const char *sent = jstr(rl->body, "model");
    int mapped_differs = strcmp(ctx->model, sent ? sent : "") != 0;
    if (!want_usage && !need_system && !mapped_differs)
        return;
    json_object *copy = jown(r->a, jcopy(rl->body));
    if (mapped_differs)
        json_object_object_add(copy, "model", json_object_new_string(ctx->model));
    json_object *msgs = jget(copy, "messages");
    if (need_system && json_object_is_type(msgs, json_type_array)) {
        json_object *first = json_object_array_get_idx(msgs, 0);
        const char *role = jstr(first, "role");
        if (role && !strcmp(role, "system")) {
            json_object_object_add(first, "content", json_object_new_string(ch->system_prompt));
        } else {
            json_object *sys = jnew_obj();
            json_object_object_add(sys, "role", json_object_new_string("system"));
            json_object_object_add(sys, "content", json_object_new_string(ch->system_prompt));
            json_object *with = jnew_arr();
            json_object_array_add(with, sys);
            for (size_t i = 0; i < json_object_array_length(msgs); i++)
                json_object_array_add(with, json_object_get(json_object_array_get_idx(msgs, i)));
            json_object_object_add(copy, "messages", with);
        }
        at->is_system_reset = 1;
    }
    /* One API sends the client the usage chunk of every stream whose request it had to
     * re-encode (a mapped model, a system prompt, Baichuan), asked for or not. */
    if (want_usage && (mapped_differs || *ch->system_prompt || ch->type == 26))
        ctx->include_usage = 1;
    if (want_usage) {
        json_object *so = jget(copy, "stream_options");
        if (!json_object_is_type(so, json_type_object)) {
            so = jnew_obj();
            json_object_object_add(copy, "stream_options", so);
        }
        json_object_object_add(so, "include_usage", json_object_new_boolean(1));
    }
    ctx->body = jdump(r->a, copy, &ctx->body_len);
    ctx->req = copy;
}

/* The request's fetcher of client image URLs, made on first use. */
static struct usercontent *relay_uc(struct relay *rl)
{
    if (!rl->uc)
        rl->uc = usercontent_new(rl->r->a, req_curl(rl->r),
                                 cfg_str(rl->app->cfg, CFG_USER_CONTENT_REQUEST_PROXY),
                                 (long)cfg_int(rl->app->cfg, CFG_USER_CONTENT_REQUEST_TIMEOUT));
    return rl->uc;
}

/* For an upstream that cannot fetch image URLs itself: the chat request's http(s) images
 * become data: URLs (each fetched once per request) in the attempt's copy of the request.
 * 0, or 1 with rl->err (400) when an image cannot be fetched. */
static int attempt_inline_images(struct attempt *at)
{
    struct relay *rl = at->rl;
    struct prov_ctx *ctx = &at->ctx;
    if (rl->mode != RELAY_CHAT || !ctx->req ||
        !usercontent_has_remote_images(jget(ctx->req, "messages")))
        return 0;
    if (ctx->req == rl->body) /* the client's own request stays as it came, for other channels */
        ctx->req = jown(rl->r->a, jcopy(rl->body));
    const char *why = NULL;
    if (usercontent_inline_images(jget(ctx->req, "messages"), usercontent_data_url, relay_uc(rl),
                                  &why) < 0) {
        rl->err =
            (struct prov_error){400, why, "invalid_request_error", "messages", "invalid_image_url"};
        return 1;
    }
    ctx->body = jdump(rl->r->a, ctx->req, &ctx->body_len);
    return 0;
}

/* Fills the adaptor's context for the attempt on the channel of type row ct. */
static void attempt_prepare(struct attempt *at, const struct channel_type *ct)
{
    struct relay *rl = at->rl;
    struct req *r = rl->r;
    relay_prov_channel(r->a, rl->app, at->ch, ct, &at->pch);
    struct prov_ctx *ctx = &at->ctx;
    ctx->a = r->a;
    ctx->mode = rl->mode;
    ctx->ch = &at->pch;
    ctx->origin_model = rl->model;
    ctx->model = relay_map_model(r->a, at->ch->model_mapping, rl->model);
    ctx->req = rl->body;
    ctx->is_stream = rl->is_stream;
    ctx->include_usage = rl->client_usage;
    ctx->request_id = r->request_id;
    ctx->created = (int64_t)time(NULL);
    ctx->content_type = req_header(r, "Content-Type");
    ctx->client_uri = *r->query ? arena_printf(r->a, "%s?%s", r->raw_path, r->query) : r->raw_path;
    ctx->anthropic_version = req_header(r, "anthropic-version");
    ctx->anthropic_beta = req_header(r, "anthropic-beta");
    sb_init(&ctx->text, r->a);
    prepare_body(at, ct);
}

/* Prices the attempt and reserves its estimate, in One API's order: the key's quota, then the
 * user's. 0 when reserved; 1 when the request was refused (the answer is written). */
static int attempt_reserve(struct attempt *at)
{
    struct relay *rl = at->rl;
    struct req *r = rl->r;
    struct app *app = rl->app;
    struct relay_auth *au = rl->au;
    const char *pcode = NULL, *pmsg = NULL;
    if (pricing_request(app->pricing, app->opts, rl->mode, at->ctx.model, (int)at->ch->type,
                        au->user.group, rl->body, rl->max_tokens, usercontent_image_size,
                        relay_uc(rl), &at->price, &pcode, &pmsg) < 0) {
        relay_fail_code(r, 400, pmsg, pcode);
        return 1;
    }
    at->reserved = at->price.reserve;
    at->ctx.prompt_estimate = at->price.prompt_tokens;
    db_snapshot_end(req_db(r)); /* the reservation must see the latest commits */
    int q;
    if (rl->sql_quota) {
        q = quota_sql_reserve(req_db(r), au->user.id, au->tok.id, !au->tok.unlimited_quota,
                              at->reserved);
    } else {
        while ((q = quota_reserve(app->quota, au->quota_epoch, au->user.id, au->user.quota,
                                  au->tok.id, au->tok.unlimited_quota ? -1 : au->tok.remain_quota,
                                  at->reserved)) == QUOTA_STALE) {
            /* A charge reached the database after the quotas were read: read them again. */
            struct relay_token t;
            struct relay_user u;
            au->quota_epoch = quota_epoch(app->quota);
            if (db_relay_token(req_db(r), r->a, au->tok.key, &t) <= 0 ||
                db_relay_user(req_db(r), r->a, au->user.id, &u) <= 0) {
                relay_fail_code(r, 500, "get_user_quota_failed", "get_user_quota_failed");
                return 1;
            }
            au->tok.remain_quota = t.remain_quota;
            au->user.quota = u.quota;
        }
    }
    if (q == QUOTA_OK) {
        /* The low-quota mail is queued, never sent here. */
        notify_quota_reserved(app, au->user.id, au->user.quota, at->reserved);
        return 0;
    }
    if (q == QUOTA_USER_SHORT)
        relay_fail_code(r, 403, "user quota is not enough", "insufficient_user_quota");
    else if (q == QUOTA_TOKEN_SHORT)
        relay_fail_code(r, 403, "令牌额度不足", "pre_consume_token_quota_failed");
    else
        relay_fail_code(r, 500, "decrease_user_quota_failed", "decrease_user_quota_failed");
    return 1;
}

/* The attempt's settlement as one ledger entry (user, token, channel, log row), committed by
 * the writer (or at once in CGI mode). Without reported usage the prompt is the estimate and
 * the completion is counted from the text the adaptor collected. */
static void attempt_settle(struct attempt *at)
{
    struct relay *rl = at->rl;
    struct app *app = rl->app;
    struct req *r = rl->r;
    struct relay_auth *au = rl->au;
    struct prov_ctx *ctx = &at->ctx;
    const struct price *price = &at->price;
    int64_t prompt = ctx->usage.has_usage ? ctx->usage.prompt_tokens : price->prompt_tokens;
    int64_t completion = ctx->usage.has_usage ? ctx->usage.completion_tokens
                                              : pricing_count_text(app->pricing, ctx->model,
                                                                   ctx->text.p, ctx->text.len);
    int64_t quota = pricing_settle_quota(price, prompt, completion);
    struct ledger_entry e = {0};
    e.user_id = au->user.id;
    e.user_quota_delta = quota;
    e.user_used_delta = quota;
    e.user_request_delta = 1;
    e.token_id = au->tok.id;
    e.token_remain_delta = au->tok.unlimited_quota ? 0 : quota;
    /* Kept for unlimited keys too: One API leaves their used_quota at 0
     * (docs/compatibility.md). */
    e.token_used_delta = quota;
    e.token_accessed_time = (int64_t)time(NULL);
    e.channel_id = at->ch->id;
    e.channel_used_delta = quota;
    e.has_log = options_bool(app->opts, "LogConsumeEnabled");
    if (e.has_log) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        e.log.user_id = au->user.id;
        e.log.created_at = (int64_t)time(NULL);
        e.log.type = 2;
        e.log.quota = quota;
        e.log.prompt_tokens = prompt;
        e.log.completion_tokens = completion;
        e.log.channel_id = at->ch->id;
        e.log.elapsed_time = (int64_t)(now.tv_sec - r->start.tv_sec) * 1000 +
                             (now.tv_nsec - r->start.tv_nsec) / 1000000;
        e.log.is_stream = rl->is_stream;
        e.log.system_prompt_reset = at->is_system_reset;
        pricing_log_content(price, e.log.content, sizeof e.log.content);
        snprintf(e.log.username, sizeof e.log.username, "%s", au->user.username);
        snprintf(e.log.token_name, sizeof e.log.token_name, "%s", au->tok.name);
        snprintf(e.log.model_name, sizeof e.log.model_name, "%s", ctx->model);
        snprintf(e.log.request_id, sizeof e.log.request_id, "%s", r->request_id);
    }
    if (rl->sql_quota)
        quota_sql_settle(&e, at->reserved, !au->tok.unlimited_quota);
    else
        quota_settle(app->quota, au->user.id, au->tok.id, at->reserved, quota);
    if (app->writer)
        writer_submit(app->writer, &e);
    else if (writer_commit_one(req_db(r), &e) < 0)
        LOG_ERR("settlement of request %s failed (charge %lld lost, reservation %lld of user "
                "%lld still taken): %s",
                r->request_id, (long long)quota, (long long)at->reserved, (long long)au->user.id,
                db_errmsg(req_db(r)));
}

/* Gives back the reservation of an attempt that will not be charged: on every failure, where
 * One API leaks it on transport and conversion errors (docs/compatibility.md). */
static void attempt_release(struct attempt *at)
{
    struct relay *rl = at->rl;
    struct relay_auth *au = rl->au;
    if (rl->sql_quota)
        quota_sql_release(req_db(rl->r), au->user.id, au->tok.id, !au->tok.unlimited_quota,
                          at->reserved);
    else
        quota_release(rl->app->quota, au->user.id, au->tok.id, at->reserved);
}

/* A non-stream attempt: relay_call, then the answer to the client. 0 answered; 1 failed
 * before answering (rl->err). */
static int attempt_once(struct attempt *at)
{
    struct relay *rl = at->rl;
    struct req *r = rl->r;
    struct app *app = rl->app;
    struct relay_call_opts o = {.curl = req_curl(r),
                                .timeout_s = (long)cfg_int(app->cfg, CFG_RELAY_TIMEOUT),
                                .proxy = cfg_str(app->cfg, CFG_RELAY_PROXY),
                                .max_answer = MAX_UPSTREAM_BODY,
                                .creds = app->creds};
    struct upstream_answer ans;
    struct strbuf out;
    sb_init(&ans.body, r->a);
    sb_init(&out, r->a);
    /* Adaptors whose upstream reports no counts (Gemini embeddings) echo the estimate. */
    at->ctx.usage.prompt_tokens = at->price.prompt_tokens;
    int stage = relay_call(&o, at->prov, &at->ctx, &ans, &out, &rl->err);
    if (stage != RELAY_CALL_OK) {
        attempt_release(at);
        if (stage == RELAY_CALL_STATUS || stage == RELAY_CALL_CREDENTIAL)
            channel_disable(rl, at->ch, &rl->err);
        /* The token may have been revoked; some upstreams say so inside a 200 answer,
         * which the adaptor turns into a 401. */
        if ((stage == RELAY_CALL_STATUS || stage == RELAY_CALL_PARSE) && rl->err.status == 401)
            credcache_drop(app->creds, at->ch->id);
        return 1;
    }
    resp_status(r, 200);
    if (rl->is_stream) {
        /* An upstream that cannot stream: the adaptor wrote the whole answer as chunks. */
        resp_header(r, "Content-Type", "text/event-stream");
        resp_header(r, "Cache-Control", "no-cache");
        SB_LIT(&out, "data: [DONE]\n\n");
    } else {
        resp_header(r, "Content-Type",
                    *ans.ctype && rl->mode >= RELAY_SPEECH ? ans.ctype : "application/json");
        /* The OpenAI family's answers come with the upstream's headers (x-request-id,
         * x-ratelimit-*, openai-processing-ms), as One API copies them. */
        if (at->prov == &provider_openai)
            relay_pass_headers(r, ans.headers.p, ans.headers.len);
    }
    resp_write(r, out.p, out.len);
    attempt_settle(at);
    return 0;
}

/* After the upstream closed a complete stream: its last, unterminated event, and the
 * adaptor's last word when the upstream ended without one (both may still fail). */
static void attempt_drain_stream(struct attempt *at, int rc)
{
    if (at->client_gone || rc != UPSTREAM_OK || at->midstream_error)
        return;
    if (at->is_evs && evs_finish(&at->evs) != 0) {
        evs_broken(at, evs_finish(&at->evs));
        return;
    }
    sse_finish(&at->sse, on_event, at);
    if (!at->client_gone && !at->midstream_error && !at->ctx.finished) {
        if (provider_parse_event(at->prov, &at->ctx, "", NULL, 0, &at->out, &at->err) < 0)
            at->midstream_error = 1;
        else
            flush_out(at);
    }
}

/* Ends a drained stream: an error event when it broke, then [DONE]. Whatever happens, the
 * attempt is billed for what the client received. */
static void attempt_finish_stream(struct attempt *at, int rc, const char *errbuf)
{
    struct req *r = at->rl->r;
    if (!at->client_gone && (rc == UPSTREAM_TRANSPORT || at->midstream_error)) {
        if (!at->midstream_error)
            at->err =
                (struct prov_error){502, arena_printf(r->a, "upstream stream broke: %s", errbuf),
                                    "upstream_error", "", "stream_interrupted"};
        json_object *e = jown(r->a, jnew_obj()), *o = jnew_obj();
        json_object_object_add(o, "message",
                               json_object_new_string(at->err.message ? at->err.message : ""));
        json_object_object_add(
            o, "type", json_object_new_string(at->err.type ? at->err.type : "upstream_error"));
        json_object_object_add(o, "code",
                               at->err.code ? json_object_new_string(at->err.code) : NULL);
        json_object_object_add(e, "error", o);
        SB_LIT(&at->out, "data: ");
        jput(&at->out, e);
        SB_LIT(&at->out, "\n\n");
        LOG_WARN("request %s: channel #%lld failed mid-stream: %s", r->request_id,
                 (long long)at->ch->id, at->err.message ? at->err.message : "");
    }
    if (!at->client_gone) {
        SB_LIT(&at->out, "data: [DONE]\n\n");
        flush_out(at);
    }
    if (at->client_gone) {
        /* Bill only the text the client received. */
        at->ctx.text.len = at->sent_text;
        at->ctx.text.p[at->sent_text] = '\0';
        if (!at->ctx.finished)
            at->ctx.usage.has_usage = 0;
        LOG_INFO("request %s: client gone mid-stream; billing what it received", r->request_id);
    }
    attempt_settle(at);
}

/* The answer of a may_follow_up adaptor that ended a stream attempt without streaming (it
 * wrote SSE chunks): sent whole, then [DONE], and settled. */
static void attempt_send_chunks(struct attempt *at)
{
    struct req *r = at->rl->r;
    resp_status(r, 200);
    resp_header(r, "Content-Type", "text/event-stream");
    resp_header(r, "Cache-Control", "no-cache");
    SB_LIT(&at->out, "data: [DONE]\n\n");
    resp_write(r, at->out.p, at->out.len);
    attempt_settle(at);
}

/* A stream attempt: events go to the client as they come; an upstream that answers with an
 * error (or JSON instead of a stream) fails the attempt before anything was sent, unless the
 * adaptor reads that JSON and asks for follow-up requests (PROV_FOLLOW_UP). 0 answered;
 * 1 failed before answering (rl->err). */
static int attempt_stream(struct attempt *at)
{
    struct relay *rl = at->rl;
    struct req *r = rl->r;
    struct app *app = rl->app;
    struct prov_request rq = {0};
    struct relay_call_opts o = {.curl = req_curl(r),
                                .timeout_s = (long)cfg_int(app->cfg, CFG_RELAY_TIMEOUT),
                                .proxy = cfg_str(app->cfg, CFG_RELAY_PROXY),
                                .creds = app->creds};
    if (relay_credential(&o, at->prov, &at->ctx, &rl->err) < 0) {
        attempt_release(at);
        channel_disable(rl, at->ch, &rl->err);
        return 1;
    }
    if (provider_build_request(at->prov, &at->ctx, &rq, &rl->err) < 0) {
        attempt_release(at);
        return 1;
    }
    sb_init(&at->body, r->a);
    sb_init(&at->out, r->a);
    sse_init(&at->sse, r->a, 0);
    evs_init(&at->evs, r->a);
    at->sse.keeps_data_space = at->prov->sse_keeps_data_space;
    struct upstream_cb cb = {.on_head = on_head,
                             .on_body = on_body,
                             .on_tick = on_tick,
                             .ud = at,
                             .on_first_message = on_first_message};
    long timeout_s = (long)cfg_int(app->cfg, CFG_RELAY_TIMEOUT);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    at->expect_stream = 1;
    for (int n = 1;; n++) {
        char errbuf[256] = "";
        at->status = 0;
        at->ctype[0] = '\0';
        sb_reset(&at->body);
        int rc = upstream_perform(req_curl(r), &rq, timeout_s, cfg_str(app->cfg, CFG_RELAY_PROXY),
                                  &cb, errbuf, sizeof errbuf);
        if (at->streaming) {
            attempt_drain_stream(at, rc);
            if (!at->committed && (at->midstream_error || rc == UPSTREAM_TRANSPORT)) {
                /* Nothing reached the client: fail like an error status, so that the next
                 * channel may answer. */
                rl->err = at->midstream_error
                              ? at->err
                              : (struct prov_error){500, arena_strdup(r->a, errbuf),
                                                    "one_api_error", "", "do_request_failed"};
                if (!rl->err.status)
                    rl->err.status = 500;
                channel_disable(rl, at->ch, &rl->err);
                if (rl->err.status == 401)
                    credcache_drop(app->creds, at->ch->id);
                break;
            }
            attempt_finish_stream(at, rc, errbuf);
            return 0;
        }
        if (at->too_big) {
            rl->err = (struct prov_error){500, "upstream answer too large", "one_api_error", "",
                                          "do_request_failed"};
            break;
        }
        if (rc != UPSTREAM_OK) {
            rl->err = (struct prov_error){500, arena_strdup(r->a, errbuf), "one_api_error", "",
                                          "do_request_failed"};
            break;
        }
        /* Not a stream: an error status, or JSON where a stream was asked for, normalised
         * with the upstream's status either way (a JSON 200 reaches the client as a 200
         * error, as in One API). */
        int is_ok = at->status == 200 || at->status == 201;
        if (!is_ok || !at->prov->may_follow_up) {
            answer_error(at->prov, &at->ctx, (int)at->status, at->body.p, at->body.len, &rl->err);
            channel_disable(rl, at->ch, &rl->err);
            if (at->status == 401 || rl->err.status == 401)
                credcache_drop(app->creds, at->ch->id); /* the token may have been revoked */
            break;
        }
        at->ctx.follow_up = NULL;
        int pr = provider_parse_response(at->prov, &at->ctx, at->body.p, at->body.len, &at->out,
                                         &rl->err);
        if (pr == 0) {
            attempt_send_chunks(at);
            return 0;
        }
        if (pr != PROV_FOLLOW_UP || !at->ctx.follow_up) {
            if (pr >= 0)
                rl->err = (struct prov_error){500,
                                              "the adaptor asked for a follow-up request "
                                              "it cannot make",
                                              "one_api_error", "", "read_response_body_failed"};
            if (!rl->err.status)
                rl->err.status = 500;
            break;
        }
        rq = *at->ctx.follow_up;
        at->expect_stream = rq.is_stream;
        if (follow_up_wait(rq.delay_ms, NULL, NULL) < 0 ||
            (timeout_s = follow_up_timeout(r->a, &t0, (long)cfg_int(app->cfg, CFG_RELAY_TIMEOUT), n,
                                           &rl->err)) < 0)
            break;
    }
    attempt_release(at);
    return 1;
}

/* Runs one attempt on channel ch. 0: the client has its answer (success, a refusal, or an
 * error after the stream began). 1: failed before answering, rl->err says why. */
static int attempt(struct relay *rl, const struct relay_channel *ch)
{
    memset(&rl->err, 0, sizeof rl->err);
    const struct channel_type *ct = channel_type_get((int)ch->type);
    if (!ct || !ct->prov) {
        rl->err = (struct prov_error){400, "this build has no adaptor for the channel's type",
                                      "one_api_error", "", "invalid_api_type"};
        return 1;
    }
    struct attempt at = {.rl = rl, .ch = ch, .prov = ct->prov};
    attempt_prepare(&at, ct);
    if (at.prov->needs_inline_images && attempt_inline_images(&at) != 0)
        return 1;
    if (attempt_reserve(&at) != 0)
        return 0;
    req_db_release(rl->r); /* a stream may last minutes: hold no connection meanwhile */
    return rl->is_stream && !at.prov->is_stream_emulated ? attempt_stream(&at) : attempt_once(&at);
}

/* ---------------------------------------------------------------- the handler */

/* Reads the request: the body must parse (JSON, or multipart for audio); the model, stream
 * and usage flags and max_tokens come from it. 0, or 1 when refused (the answer is written). */
static int relay_parse(struct relay *rl)
{
    struct req *r = rl->r;
    const char *ct = req_header(r, "Content-Type");
    int is_multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
    if (is_multipart) {
        rl->model = multipart_field(r, "model");
    } else if (r->body_len) {
        json_tokener *tok = jtokener_new(0);
        rl->body = jown(r->a, json_tokener_parse_ex(tok, r->body, (int)r->body_len));
        enum json_tokener_error je = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!rl->body || je != json_tokener_success ||
            !json_object_is_type(rl->body, json_type_object)) {
            relay_fail(r, 400,
                       arena_printf(r->a, "common.UnmarshalBodyReusable failed: %s",
                                    json_tokener_error_desc(je)));
            return 1;
        }
        json_object *m = jget(rl->body, "model");
        if (m && !json_object_is_type(m, json_type_string)) {
            relay_fail(r, 400, "common.UnmarshalBodyReusable failed: model is not a string");
            return 1;
        }
        rl->model = jstr(rl->body, "model");
        rl->is_stream = json_object_get_boolean(jget(rl->body, "stream"));
        rl->client_usage =
            json_object_get_boolean(jget(jget(rl->body, "stream_options"), "include_usage"));
        rl->max_tokens = json_object_get_int64(jget(rl->body, "max_tokens"));
    }
    if (!rl->model || !*rl->model)
        rl->model = mode_default_model(rl->mode);
    if (rl->mode == RELAY_EMBEDDINGS && !*rl->model && req_path_param(r, 0))
        rl->model = req_path_param(r, 0);
    if (cfg_int(rl->app->cfg, CFG_ENFORCE_INCLUDE_USAGE) && rl->is_stream)
        rl->client_usage = 1;
    return 0;
}

/* What the key may ask for: a model on its allowlist, a sane max_tokens. 0, or 1 when
 * refused (the answer is written). */
static int relay_check(struct relay *rl)
{
    struct req *r = rl->r;
    if (*rl->au->tok.models && *rl->model && !strlist_has(rl->au->tok.models, rl->model)) {
        relay_fail(r, 403, arena_printf(r->a, "该令牌无权使用模型：%s", rl->model));
        return 1;
    }
    if (rl->max_tokens < 0 || rl->max_tokens > 1073741823) {
        relay_fail_code(r, 400, "max_tokens is invalid", "invalid_text_request");
        return 1;
    }
    return 0;
}

/* One API's checks of a text request's fields: made once a channel can serve the request
 * (without one, the answer is the 503 of routing, as in One API, which checks after choosing
 * a channel) and before anything is reserved or sent. 0, or 1 when refused (the answer is
 * written). */
static int relay_validate(struct relay *rl)
{
    const char *invalid = relay_text_invalid(rl->mode, rl->body, rl->model);
    if (!invalid)
        return 0;
    relay_fail_code(rl->r, 400, invalid, "invalid_text_request");
    return 1;
}

/* The answer when every attempt failed before answering: the last error, with the request
 * id; a 429 in One API's words. */
static void relay_fail_last(struct relay *rl)
{
    struct req *r = rl->r;
    int status = rl->err.status ? rl->err.status : 500;
    const char *msg = rl->err.message ? rl->err.message : "upstream failed";
    if (status == 429)
        msg = "当前分组上游负载已饱和，请稍后再试";
    json_object *e = jnew_obj();
    json_object_object_add(
        e, "message",
        json_object_new_string(arena_printf(r->a, "%s (request id: %s)", msg, r->request_id)));
    json_object_object_add(e, "type",
                           json_object_new_string(rl->err.type ? rl->err.type : "one_api_error"));
    if (rl->err.param || rl->err.code) {
        json_object_object_add(e, "param",
                               rl->err.param ? json_object_new_string(rl->err.param) : NULL);
        json_object_object_add(e, "code",
                               rl->err.code ? json_object_new_string(rl->err.code) : NULL);
    }
    json_object *j = jown(r->a, jnew_obj());
    json_object_object_add(j, "error", e);
    respond_json(r, status, j);
}

/* Routes the request: to the channel the key pins, else through the candidates of the
 * user's group and the model, trying another after a retryable failure up to RetryTimes.
 * 0 once answered, or an oa_err. */
static int relay_route(struct relay *rl)
{
    struct req *r = rl->r;
    int retries = (int)options_double(rl->app->opts, "RetryTimes");
    if (rl->au->pinned_channel) {
        struct relay_channel ch;
        int found = relay_load_channel(r, rl->au->pinned_channel, &ch);
        if (found < 0)
            return OA_ERR_DB;
        if (found == 0)
            return relay_fail(r, 400, "无效的渠道 Id");
        if (ch.status != 1)
            return relay_fail(r, 403, "该渠道已被禁用");
        if (relay_validate(rl) != 0)
            return 0;
        if (attempt(rl, &ch) == 0)
            return 0;
        retries = 0; /* a pinned channel is never swapped for another */
    } else {
        if (relay_load_candidates(r, rl->au->user.group, rl->model, &rl->route) < 0)
            return OA_ERR_DB;
        for (int i = 0; i <= retries; i++) {
            int64_t id = relay_pick_channel(&rl->route);
            if (!id) {
                if (i == 0)
                    return relay_fail(r, 503,
                                      arena_printf(r->a, "当前分组 %s 下对于模型 %s 无可用渠道",
                                                   rl->au->user.group, rl->model));
                break;
            }
            if (i == 0 && relay_validate(rl) != 0)
                return 0;
            struct relay_channel ch;
            if (relay_load_channel(r, id, &ch) <= 0) {
                rl->err = (struct prov_error){503, "数据库一致性已被破坏，请联系管理员",
                                              "one_api_error", NULL, NULL};
                continue;
            }
            if (attempt(rl, &ch) == 0)
                return 0;
            LOG_INFO("request %s: channel #%lld failed with %d: %s", r->request_id, (long long)id,
                     rl->err.status, rl->err.message ? rl->err.message : "");
            if (!retryable(rl->err.status))
                break;
        }
    }
    relay_fail_last(rl);
    return 0;
}

int h_relay(struct req *r)
{
    struct app *app = req_app(r);
    struct relay rl = {.r = r, .app = app, .au = r->auth, .sql_quota = relay_uses_sql_quota(app)};
    /* The router authenticated the key (AUTH_RELAY_TOKEN), and the row says which kind of
     * request this is. */
    assert(rl.au != NULL);
    assert(r->route->arg >= 0 && r->route->arg < RELAY_MODE__MAX);
    if (!rl.au)
        return OA_ERR_INTERNAL;
    rl.mode = (enum relay_mode)r->route->arg;
    if (relay_parse(&rl) != 0 || relay_check(&rl) != 0)
        return 0;
    return relay_route(&rl);
}

int h_relay_not_implemented(struct req *r)
{
    openai_error(r, 501, "API not implemented", "one_api_error", "api_not_implemented", 0);
    return 0;
}
