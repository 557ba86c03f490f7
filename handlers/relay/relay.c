/* relay: /v1 requests end to end. Key auth (spec 2.3), channel choice by priority tier and
 * weight (5.2), reservation (6.3), the upstream call through the channel's adaptor, streamed
 * or not (7, 8), retries that fall through tiers (5.3), auto-disable (5.4), settlement into
 * one ledger entry with its log row (6.3 step 12, 6.8). */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/relay/chcache.h"
#include "handlers/relay/pricing.h"
#include "handlers/options.h"
#include "handlers/relay/quota.h"
#include "handlers/respond.h"
#include "handlers/relay/upstream.h"
#include "db/db.h"
#include "db/relay.h"
#include "db/writer.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/log.h"
#include "fcgi/netaddr.h"
#include "fcgi/request.h"
#include "fcgi/router.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "providers/sse.h"

#include <assert.h>
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KEEPALIVE_SECONDS 15          /* SSE comment while the upstream is silent (DESIGN.md) */
#define MAX_UPSTREAM_BODY (64u << 20) /* a non-stream answer larger than this is refused */

/* ---------------------------------------------------------------- the request */

struct relay {
    struct req *r;
    struct app *app;
    struct relay_auth *au;
    enum relay_mode mode;
    json_object *body; /* the client's JSON request (NULL for multipart) */
    const char *model; /* the model the client asked for */
    int is_stream;
    int client_usage; /* stream_options.include_usage from the client */
    int64_t max_tokens;
    struct relay_route route; /* the channels able to serve (group, model), and those tried */
    struct prov_error err;    /* the last attempt's failure */
    int responded;            /* the client has (part of) an answer: no more retries */
    int sql_quota;            /* reservations go through the sql store (handlers/quota.h) */
};

int relay_uses_sql_quota(const struct app *app)
{
    return quota_use_sql(app->is_cgi, cfg_str(app->cfg, CFG_QUOTA_STORE)) || !app->quota ||
           !app->writer;
}

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

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Fails the request with One API's relay error shape (auth/distributor: no param, no code). */
static int relay_fail(struct req *r, int status, const char *msg)
{
    openai_error(r, status, msg, "one_api_error", NULL, 1);
    return 0;
}

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

/* Spec 5.3: retry on 429, 5xx and every other non-2xx except 400. */
static int retryable(int status)
{
    return status != 400 && (status < 200 || status > 299);
}

/* ---------------------------------------------------------------- one attempt */

struct attempt {
    struct relay *rl;
    struct prov_ctx ctx;
    const struct provider *prov;
    long status;
    char ctype[128];
    int streaming; /* upstream answered a stream: events go to the client */
    struct sse_parser sse;
    struct strbuf body; /* non-stream body, or an error body */
    struct strbuf out;  /* converted events waiting to be written */
    size_t sent_text;   /* ctx.text bytes the client has received */
    int client_gone;
    int midstream_error; /* the adaptor reported an upstream error inside the stream */
    struct prov_error err;
    time_t last_write;
    int too_big;
};

static void on_head(void *ud, long status, const char *ctype)
{
    struct attempt *at = ud;
    at->status = status;
    snprintf(at->ctype, sizeof at->ctype, "%s", ctype);
    if (at->rl->is_stream && (status == 200 || status == 201) &&
        strncasecmp(ctype, "application/json", 16) != 0) {
        struct req *r = at->rl->r;
        at->streaming = 1;
        at->rl->responded = 1;
        resp_status(r, 200);
        resp_header(r, "Content-Type", "text/event-stream");
        resp_header(r, "Cache-Control", "no-cache");
        resp_header(r, "X-Accel-Buffering", "no");
        if (resp_stream_begin(r) < 0)
            at->client_gone = 1;
        at->last_write = time(NULL);
    }
}

static int flush_out(struct attempt *at)
{
    if (!at->out.len)
        return 0;
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
    if (at->prov->parse_event(&at->ctx, event, data, n, &at->out, &at->err) < 0) {
        at->midstream_error = 1;
        return -1;
    }
    return flush_out(at);
}

static int on_body(void *ud, const char *p, size_t n)
{
    struct attempt *at = ud;
    if (at->client_gone)
        return -1;
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
        SB_LIT(&at->out, ": keep-alive\n\n");
        return flush_out(at);
    }
    return 0;
}

/* Edits the request for ch in place (model mapping, forced system prompt, usage in streams)
 * and serialises it; the client's bytes go untouched when nothing changes. */
static void prepare_body(struct relay *rl, const struct relay_channel *ch,
                         const struct channel_type *ct, const char *mapped, struct prov_ctx *ctx,
                         int *system_reset)
{
    struct req *r = rl->r;
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
    int mapped_differs = strcmp(mapped, sent ? sent : "") != 0;
    if (!want_usage && !need_system && !mapped_differs)
        return;
    json_object *copy = NULL;
    if (json_object_deep_copy(rl->body, &copy, NULL) != 0)
        return;
    if (mapped_differs)
        json_object_object_add(copy, "model", json_object_new_string(mapped));
    json_object *msgs;
    if (need_system && json_object_object_get_ex(copy, "messages", &msgs) &&
        json_object_is_type(msgs, json_type_array)) {
        json_object *first = json_object_array_get_idx(msgs, 0);
        const char *role = first ? jstr(first, "role") : NULL;
        if (role && !strcmp(role, "system")) {
            json_object_object_add(first, "content", json_object_new_string(ch->system_prompt));
        } else {
            json_object *sys = json_object_new_object();
            json_object_object_add(sys, "role", json_object_new_string("system"));
            json_object_object_add(sys, "content", json_object_new_string(ch->system_prompt));
            json_object *with = json_object_new_array();
            json_object_array_add(with, sys);
            for (size_t i = 0; i < json_object_array_length(msgs); i++)
                json_object_array_add(with, json_object_get(json_object_array_get_idx(msgs, i)));
            json_object_object_add(copy, "messages", with);
        }
        *system_reset = 1;
    }
    if (want_usage) {
        json_object *so;
        if (!json_object_object_get_ex(copy, "stream_options", &so) ||
            !json_object_is_type(so, json_type_object)) {
            so = json_object_new_object();
            json_object_object_add(copy, "stream_options", so);
        }
        json_object_object_add(so, "include_usage", json_object_new_boolean(1));
    }
    size_t n;
    const char *s = json_object_to_json_string_length(
        copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    ctx->body = arena_strndup(r->a, s, n);
    ctx->body_len = n;
    ctx->req = copy; /* freed by the caller after the attempt */
}

static const char *config_str(struct arena *a, const char *config, const char *key)
{
    if (!config || !*config)
        return "";
    json_object *j = json_tokener_parse(config);
    const char *v = jstr(j, key);
    const char *out = v ? arena_strdup(a, v) : "";
    json_object_put(j);
    return out;
}

const char *relay_map_model(struct arena *a, const char *mapping, const char *model)
{
    if (!mapping || !*mapping || !strcmp(mapping, "{}"))
        return model;
    json_object *j = json_tokener_parse(mapping);
    const char *v = jstr(j, model);
    const char *out = v && *v ? arena_strdup(a, v) : model;
    json_object_put(j);
    return out;
}

/* The settlement of spec 6.3 step 12 as one ledger entry (user, token, channel, log row),
 * committed by the writer (or at once in CGI mode). */
static void settle(struct relay *rl, const struct relay_channel *ch, struct prov_ctx *ctx,
                   const struct price *price, int64_t reserved, int system_reset)
{
    struct app *app = rl->app;
    struct req *r = rl->r;
    struct relay_auth *au = rl->au;
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
    e.token_used_delta = quota; /* kept for unlimited keys too (spec 14, quirk 20) */
    e.token_accessed_time = (int64_t)time(NULL);
    e.channel_id = ch->id;
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
        e.log.channel_id = ch->id;
        e.log.elapsed_time = (int64_t)(now.tv_sec - r->start.tv_sec) * 1000 +
                             (now.tv_nsec - r->start.tv_nsec) / 1000000;
        e.log.is_stream = rl->is_stream;
        e.log.system_prompt_reset = system_reset;
        pricing_log_content(price, e.log.content, sizeof e.log.content);
        snprintf(e.log.username, sizeof e.log.username, "%s", au->user.username);
        snprintf(e.log.token_name, sizeof e.log.token_name, "%s", au->tok.name);
        snprintf(e.log.model_name, sizeof e.log.model_name, "%s", ctx->model);
        snprintf(e.log.request_id, sizeof e.log.request_id, "%s", r->request_id);
    }
    if (rl->sql_quota)
        quota_sql_settle(&e, reserved, !au->tok.unlimited_quota);
    else
        quota_settle(app->quota, au->user.id, au->tok.id, reserved, quota);
    if (app->writer)
        writer_submit(app->writer, &e);
    else if (writer_commit_one(req_db(r), &e) < 0)
        LOG_ERR("settlement of request %s failed (charge %lld lost, reservation %lld of user "
                "%lld still taken): %s",
                r->request_id, (long long)quota, (long long)reserved, (long long)au->user.id,
                db_errmsg(req_db(r)));
}

/* Gives back a reservation that will not be charged (spec 14, quirk 23: on every failure). */
static void release(struct relay *rl, int64_t reserved)
{
    struct relay_auth *au = rl->au;
    if (rl->sql_quota)
        quota_sql_release(req_db(rl->r), au->user.id, au->tok.id, !au->tok.unlimited_quota,
                          reserved);
    else
        quota_release(rl->app->quota, au->user.id, au->tok.id, reserved);
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
    out->api_version = config_str(a, ch->config, "api_version");
    if (!*out->api_version)
        out->api_version = *ch->other       ? ch->other
                           : ch->type == 24 ? cfg_str(app->cfg, CFG_GEMINI_VERSION)
                                            : "";
}

/* Runs one attempt on channel ch. 0: the client has its answer (success, or an error after
 * the stream began). 1: failed before answering, rl->err says why. */
static int attempt(struct relay *rl, const struct relay_channel *ch)
{
    struct req *r = rl->r;
    struct app *app = rl->app;
    struct relay_auth *au = rl->au;
    const struct channel_type *ct = channel_type_get((int)ch->type);
    memset(&rl->err, 0, sizeof rl->err);
    if (!ct || !ct->prov) {
        rl->err = (struct prov_error){400, "this build has no adaptor for the channel's type",
                                      "one_api_error", "", "invalid_api_type"};
        return 1;
    }
    struct prov_channel pch;
    relay_prov_channel(r->a, app, ch, ct, &pch);

    struct attempt at = {.rl = rl, .prov = ct->prov};
    struct prov_ctx *ctx = &at.ctx;
    ctx->a = r->a;
    ctx->mode = rl->mode;
    ctx->ch = &pch;
    ctx->origin_model = rl->model;
    ctx->model = relay_map_model(r->a, ch->model_mapping, rl->model);
    ctx->req = rl->body;
    ctx->is_stream = rl->is_stream;
    ctx->include_usage = rl->client_usage;
    ctx->request_id = r->request_id;
    ctx->created = (int64_t)time(NULL);
    ctx->content_type = req_header(r, "Content-Type");
    sb_init(&ctx->text, r->a);
    int system_reset = 0;
    prepare_body(rl, ch, ct, ctx->model, ctx, &system_reset);
    json_object *edited = ctx->req != rl->body ? ctx->req : NULL;

    /* Price and reserve (spec 6.3 steps 6-7). */
    struct price price;
    const char *pcode = NULL, *pmsg = NULL;
    if (pricing_request(app->pricing, app->opts, rl->mode, ctx->model, (int)ch->type,
                        au->user.group, rl->body, rl->max_tokens, &price, &pcode, &pmsg) < 0) {
        json_object_put(edited);
        rl->responded = 1;
        relay_fail_code(r, 400, pmsg, pcode);
        return 0;
    }
    int64_t reserved = price.reserve;
    db_snapshot_end(req_db(r));
    int q;
    if (rl->sql_quota) {
        q = quota_sql_reserve(req_db(r), au->user.id, au->tok.id, !au->tok.unlimited_quota,
                              reserved);
    } else {
        while ((q = quota_reserve(app->quota, au->quota_epoch, au->user.id, au->user.quota,
                                  au->tok.id, au->tok.unlimited_quota ? -1 : au->tok.remain_quota,
                                  reserved)) == QUOTA_STALE) {
            /* A charge reached the database after the quotas were read: read them again. */
            struct relay_token t;
            struct relay_user u;
            au->quota_epoch = quota_epoch(app->quota);
            if (db_relay_token(req_db(r), r->a, au->tok.key, &t) <= 0 ||
                db_relay_user(req_db(r), r->a, au->user.id, &u) <= 0) {
                json_object_put(edited);
                rl->responded = 1;
                relay_fail_code(r, 500, "get_user_quota_failed", "get_user_quota_failed");
                return 0;
            }
            au->tok.remain_quota = t.remain_quota;
            au->user.quota = u.quota;
        }
    }
    if (q != QUOTA_OK) {
        json_object_put(edited);
        rl->responded = 1;
        if (q == QUOTA_USER_SHORT)
            relay_fail_code(r, 403, "user quota is not enough", "insufficient_user_quota");
        else if (q == QUOTA_TOKEN_SHORT)
            relay_fail_code(r, 403, "令牌额度不足", "pre_consume_token_quota_failed");
        else
            relay_fail_code(r, 500, "decrease_user_quota_failed", "decrease_user_quota_failed");
        return 0;
    }

    struct prov_request rq = {0};
    if (ct->prov->build_request(ctx, &rq, &rl->err) < 0) {
        release(rl, reserved);
        json_object_put(edited);
        return 1;
    }
    sb_init(&at.body, r->a);
    sb_init(&at.out, r->a);
    sse_init(&at.sse, r->a, 0);
    req_db_release(r); /* a stream may last minutes: hold no connection meanwhile */
    struct upstream_cb cb = {on_head, on_body, on_tick, &at};
    char errbuf[256] = "";
    int rc = upstream_perform(req_curl(r), &rq, (long)cfg_int(app->cfg, CFG_RELAY_TIMEOUT),
                              cfg_str(app->cfg, CFG_RELAY_PROXY), &cb, errbuf, sizeof errbuf);

    if (at.streaming) {
        /* The client has the headers: whatever happens now ends this stream, billed for
         * what the client received. */
        if (!at.client_gone && rc == UPSTREAM_OK && !at.midstream_error) {
            sse_finish(&at.sse, on_event, &at);
            if (!at.client_gone && !at.midstream_error && !at.ctx.finished) {
                if (at.prov->parse_event(&at.ctx, "", NULL, 0, &at.out, &at.err) < 0)
                    at.midstream_error = 1;
                else
                    flush_out(&at);
            }
        }
        if (!at.client_gone && (rc == UPSTREAM_TRANSPORT || at.midstream_error)) {
            if (!at.midstream_error)
                at.err = (struct prov_error){
                    502, arena_printf(r->a, "upstream stream broke: %s", errbuf), "upstream_error",
                    "", "stream_interrupted"};
            json_object *e = json_object_new_object(), *o = json_object_new_object();
            json_object_object_add(o, "message",
                                   json_object_new_string(at.err.message ? at.err.message : ""));
            json_object_object_add(
                o, "type", json_object_new_string(at.err.type ? at.err.type : "upstream_error"));
            json_object_object_add(o, "code",
                                   at.err.code ? json_object_new_string(at.err.code) : NULL);
            json_object_object_add(e, "error", o);
            SB_LIT(&at.out, "data: ");
            sb_puts(&at.out, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
            SB_LIT(&at.out, "\n\n");
            json_object_put(e);
            LOG_WARN("request %s: channel #%lld failed mid-stream: %s", r->request_id,
                     (long long)ch->id, at.err.message ? at.err.message : "");
        }
        if (!at.client_gone) {
            SB_LIT(&at.out, "data: [DONE]\n\n");
            flush_out(&at);
        }
        if (at.client_gone) {
            /* Bill only the text the client received. */
            at.ctx.text.len = at.sent_text;
            at.ctx.text.p[at.sent_text] = '\0';
            if (!at.ctx.finished)
                at.ctx.usage.has_usage = 0;
            LOG_INFO("request %s: client gone mid-stream; billing what it received", r->request_id);
        }
        settle(rl, ch, ctx, &price, reserved, system_reset);
        json_object_put(edited);
        return 0;
    }

    if (rc != UPSTREAM_OK || at.too_big) {
        release(rl, reserved);
        json_object_put(edited);
        if (at.client_gone || rc == UPSTREAM_ABORTED) {
            rl->responded = 1;
            return 0;
        }
        rl->err = (struct prov_error){500, at.too_big ? "upstream answer too large" : errbuf,
                                      "one_api_error", "", "do_request_failed"};
        rl->err.message = arena_strdup(r->a, rl->err.message);
        return 1;
    }
    int ok_status = at.status == 200 || at.status == 201;
    if (!ok_status || (rl->is_stream && !strncasecmp(at.ctype, "application/json", 16))) {
        int st = ok_status ? 500 : (int)at.status;
        provider_parse_error(ct->prov, ctx, st, at.body.p, at.body.len, &rl->err);
        if (!rl->err.status)
            rl->err.status = st;
        release(rl, reserved);
        json_object_put(edited);
        channel_disable(rl, ch, &rl->err);
        return 1;
    }
    struct strbuf out;
    sb_init(&out, r->a);
    /* Adaptors whose upstream reports no counts (Gemini embeddings) echo the estimate. */
    ctx->usage.prompt_tokens = price.prompt_tokens;
    if (ct->prov->parse_response(ctx, at.body.p, at.body.len, &out, &rl->err) < 0) {
        if (!rl->err.status)
            rl->err.status = 500;
        release(rl, reserved);
        json_object_put(edited);
        return 1;
    }
    rl->responded = 1;
    resp_status(r, 200);
    resp_header(r, "Content-Type",
                *at.ctype && rl->mode >= RELAY_SPEECH ? at.ctype : "application/json");
    resp_write(r, out.p, out.len);
    settle(rl, ch, ctx, &price, reserved, system_reset);
    json_object_put(edited);
    return 0;
}

/* ---------------------------------------------------------------- the handler */

int h_relay(struct req *r)
{
    struct app *app = req_app(r);
    struct relay rl = {.r = r, .app = app, .au = r->auth, .sql_quota = relay_uses_sql_quota(app)};
    if (!rl.au)
        return OA_ERR_INTERNAL;
    /* The route row says which kind of request this is. */
    assert(r->route->arg >= 0 && r->route->arg < RELAY_MODE__MAX);
    rl.mode = (enum relay_mode)r->route->arg;

    /* Check 10 of spec 2.3: the body must parse (JSON, or multipart for audio). */
    const char *ct = req_header(r, "Content-Type");
    int is_multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
    if (is_multipart) {
        rl.model = multipart_field(r, "model");
    } else if (r->body_len) {
        json_tokener *tok = json_tokener_new();
        rl.body = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
        enum json_tokener_error je = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!rl.body || je != json_tokener_success ||
            !json_object_is_type(rl.body, json_type_object)) {
            json_object_put(rl.body);
            return relay_fail(r, 400,
                              arena_printf(r->a, "common.UnmarshalBodyReusable failed: %s",
                                           json_tokener_error_desc(je)));
        }
        json_object *m;
        if (json_object_object_get_ex(rl.body, "model", &m) &&
            !json_object_is_type(m, json_type_string) && !json_object_is_type(m, json_type_null)) {
            json_object_put(rl.body);
            return relay_fail(r, 400, "common.UnmarshalBodyReusable failed: model is not a string");
        }
        rl.model = jstr(rl.body, "model");
        json_object *v;
        if (json_object_object_get_ex(rl.body, "stream", &v))
            rl.is_stream = json_object_get_boolean(v);
        if (json_object_object_get_ex(rl.body, "stream_options", &v))
            rl.client_usage = json_object_get_boolean(
                json_object_object_get_ex(v, "include_usage", &v) ? v : NULL);
        if (json_object_object_get_ex(rl.body, "max_tokens", &v))
            rl.max_tokens = json_object_get_int64(v);
    }
    if (!rl.model || !*rl.model)
        rl.model = mode_default_model(rl.mode);
    if (rl.mode == RELAY_EMBEDDINGS && !*rl.model && req_path_param(r, 0))
        rl.model = req_path_param(r, 0);
    if (cfg_int(app->cfg, CFG_ENFORCE_INCLUDE_USAGE) && rl.is_stream)
        rl.client_usage = 1;

    int rc = 0;
    /* Check 11: the key's model allowlist. */
    if (*rl.au->tok.models && *rl.model) {
        int allowed = 0;
        for (const char *p = rl.au->tok.models; *p;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            while (n && isspace((unsigned char)*p))
                p++, n--;
            while (n && isspace((unsigned char)p[n - 1]))
                n--;
            if (n == strlen(rl.model) && !memcmp(p, rl.model, n))
                allowed = 1;
            if (!comma)
                break;
            p = comma + 1;
        }
        if (!allowed) {
            rc = relay_fail(r, 403, arena_printf(r->a, "该令牌无权使用模型：%s", rl.model));
            goto out;
        }
    }
    if (rl.max_tokens < 0 || rl.max_tokens > 1073741823) {
        rc = relay_fail_code(r, 400, "max_tokens is invalid", "invalid_text_request");
        goto out;
    }

    int retries = (int)options_double(app->opts, "RetryTimes");
    if (rl.au->pinned_channel) {
        struct relay_channel ch;
        int found = relay_load_channel(r, rl.au->pinned_channel, &ch);
        if (found < 0) {
            rc = OA_ERR_DB;
            goto out;
        }
        if (found == 0) {
            rc = relay_fail(r, 400, "无效的渠道 Id");
            goto out;
        }
        if (ch.status != 1) {
            rc = relay_fail(r, 403, "该渠道已被禁用");
            goto out;
        }
        if (attempt(&rl, &ch) == 0)
            goto out;
        retries = 0; /* a pinned channel is never swapped for another */
    } else {
        if (relay_load_candidates(r, rl.au->user.group, rl.model, &rl.route) < 0) {
            rc = OA_ERR_DB;
            goto out;
        }
        for (int i = 0; i <= retries; i++) {
            int64_t id = relay_pick_channel(&rl.route);
            if (!id) {
                if (i == 0) {
                    rc = relay_fail(r, 503,
                                    arena_printf(r->a, "当前分组 %s 下对于模型 %s 无可用渠道",
                                                 rl.au->user.group, rl.model));
                    goto out;
                }
                break;
            }
            struct relay_channel ch;
            int found = relay_load_channel(r, id, &ch);
            if (found <= 0) {
                rl.err = (struct prov_error){503, "数据库一致性已被破坏，请联系管理员",
                                             "one_api_error", NULL, NULL};
                continue;
            }
            if (attempt(&rl, &ch) == 0)
                goto out;
            LOG_INFO("request %s: channel #%lld failed with %d: %s", r->request_id, (long long)id,
                     rl.err.status, rl.err.message ? rl.err.message : "");
            if (!retryable(rl.err.status))
                break;
        }
    }
    /* Every attempt failed before answering: the last error, with the request id. */
    {
        int status = rl.err.status ? rl.err.status : 500;
        const char *msg = rl.err.message ? rl.err.message : "upstream failed";
        if (status == 429)
            msg = "当前分组上游负载已饱和，请稍后再试";
        json_object *e = json_object_new_object();
        json_object_object_add(
            e, "message",
            json_object_new_string(arena_printf(r->a, "%s (request id: %s)", msg, r->request_id)));
        json_object_object_add(e, "type",
                               json_object_new_string(rl.err.type ? rl.err.type : "one_api_error"));
        if (rl.err.param || rl.err.code) {
            json_object_object_add(e, "param",
                                   rl.err.param ? json_object_new_string(rl.err.param) : NULL);
            json_object_object_add(e, "code",
                                   rl.err.code ? json_object_new_string(rl.err.code) : NULL);
        }
        json_object *j = json_object_new_object();
        json_object_object_add(j, "error", e);
        respond_json(r, status, j);
        json_object_put(j);
    }
out:
    json_object_put(rl.body);
    return rc;
}

int h_relay_not_implemented(struct req *r)
{
    openai_error(r, 501, "API not implemented", "one_api_error", "api_not_implemented", 0);
    return 0;
}
