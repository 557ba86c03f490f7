/* channel_test: channel tests: one from the console, all of them in a batch (from the console
 * or every CHANNEL_TEST_FREQUENCY minutes), with their log rows and health changes. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/relay/relay.h"
#include "handlers/respond.h"
#include "handlers/relay/upstream.h"
#include "db/channels.h"
#include "db/db.h"
#include "db/relay.h"
#include "db/writer.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/strlist.h"
#include "fcgi/xmalloc.h"
#include "providers/provider.h"
#include "providers/catalogue.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEST_MAX_ANSWER (16u << 20) /* a longer answer fails the test */

/* Result of one channel test. */
struct test_result {
    int ok;
    double seconds;
    const char *message; /* the reply text, or the failure */
    struct prov_error err;
};

/* The model a test asks for: the asked one when the channel's models text contains it (as a
 * substring, as One API checks), else the channel's first model, else the asked one or
 * gpt-3.5-turbo. */
static const char *test_model(struct arena *a, const char *asked, const char *models)
{
    if (asked && *asked && strstr(models, asked))
        return asked;
    const char *cursor = models, *first = "";
    size_t n = 0;
    strlist_next(&cursor, &first, &n);
    return n ? arena_strndup(a, first, n) : (asked && *asked ? asked : "gpt-3.5-turbo");
}

/* A test can wait a minute on a silent upstream: shutdown should not. */
static int test_should_stop(void *ud)
{
    const struct app *app = ud;
    return atomic_load(&app->is_stopping);
}

/* Runs the test request (one chat message, TEST_PROMPT) against ch on the given curl handle:
 * res->ok when a 2xx answer with usage and a string reply came back. */
static void run_test(struct app *app, struct arena *a, void *curl, const struct relay_channel *ch,
                     const char *asked, struct test_result *res)
{
    memset(res, 0, sizeof *res);
    const struct channel_type *ct = channel_type_get((int)ch->type);
    if (!ct || !ct->prov) {
        res->message = "this build has no adaptor for the channel's type";
        return;
    }
    const char *model = test_model(a, asked, ch->models);
    const char *mapped = relay_map_model(a, ch->model_mapping, model);
    json_object *req = jown(a, jnew_obj()), *msgs = jnew_arr(), *m = jnew_obj();
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object_object_add(m, "content",
                           json_object_new_string(cfg_str(app->cfg, CFG_TEST_PROMPT)));
    json_object_array_add(msgs, m);
    json_object_object_add(req, "model", json_object_new_string(mapped));
    json_object_object_add(req, "messages", msgs);

    struct prov_channel pch;
    relay_prov_channel(a, app, ch, ct, &pch);
    struct prov_ctx ctx = {.a = a,
                           .mode = RELAY_CHAT,
                           .ch = &pch,
                           .model = mapped,
                           .origin_model = model,
                           .req = req,
                           .content_type = "application/json",
                           .request_id = "channel-test",
                           .created = (int64_t)time(NULL)};
    ctx.body = jdump(a, req, &ctx.body_len);
    sb_init(&ctx.text, a);
    long timeout = cfg_int(app->cfg, CFG_RELAY_TIMEOUT);
    struct relay_call_opts o = {.curl = curl,
                                .timeout_s = timeout > 0 ? timeout : 60,
                                .proxy = cfg_str(app->cfg, CFG_RELAY_PROXY),
                                .max_answer = TEST_MAX_ANSWER,
                                .should_stop = test_should_stop,
                                .ud = app,
                                .creds = app->creds};
    struct upstream_answer ans;
    struct strbuf out;
    sb_init(&ans.body, a);
    sb_init(&out, a);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int stage = relay_call(&o, ct->prov, &ctx, &ans, &out, &res->err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    switch (stage) {
    case RELAY_CALL_OK: break;
    case RELAY_CALL_BUILD:
        res->message = res->err.message ? res->err.message : "convert_request_failed";
        return;
    case RELAY_CALL_TRANSPORT:
    case RELAY_CALL_ABORTED:
        /* No answer says nothing about the key: no disabling on the error's words. */
        res->message = res->err.message ? res->err.message : "";
        memset(&res->err, 0, sizeof res->err);
        return;
    case RELAY_CALL_STATUS:
        res->message = arena_printf(a, "http status code: %ld, error message: %s", ans.status,
                                    res->err.message ? res->err.message : "");
        return;
    default:
        res->message = res->err.message ? res->err.message : "unmarshal_response_body_failed";
        return;
    }
    json_object *resp = jown(a, json_tokener_parse(out.p));
    json_object *choices = jget(resp, "choices"), *content = NULL;
    int has_choice =
        json_object_is_type(choices, json_type_array) && json_object_array_length(choices) >= 1;
    if (has_choice)
        content = jget(jget(json_object_array_get_idx(choices, 0), "message"), "content");
    if (!ctx.usage.has_usage) {
        res->message = "usage is nil";
    } else if (!has_choice) {
        res->message = "response has no choices";
    } else if (!json_object_is_type(content, json_type_string)) {
        res->message = "response content is not string";
    } else {
        res->ok = 1;
        res->message = json_object_get_string(content);
    }
}

/* Writes the type-5 log row and the channel's test time; no quota moves. */
static void record_test(struct app *app, struct db_conn *c, const struct relay_channel *ch,
                        const char *model, const struct test_result *res)
{
    int64_t now = (int64_t)time(NULL), ms = (int64_t)(res->seconds * 1000);
    db_relay_channel_tested(c, ch->id, now, res->ok ? ms : 0);
    struct ledger_entry e = {0};
    e.has_log = 1;
    e.log.created_at = now;
    e.log.type = 5;
    e.log.channel_id = ch->id;
    e.log.elapsed_time = ms;
    snprintf(e.log.model_name, sizeof e.log.model_name, "%s", model);
    snprintf(e.log.content, sizeof e.log.content,
             res->ok ? "渠道 %s 测试成功，响应：%s" : "渠道 %s 测试失败，错误：%s", ch->name,
             res->message ? res->message : "");
    if (app->writer)
        writer_submit(app->writer, &e);
    else
        writer_commit_one(c, &e);
}

/* A passing test re-enables a channel the gateway disabled, when the option says so. */
static void maybe_enable(struct app *app, struct db_conn *c, const struct relay_channel *ch,
                         const struct test_result *res)
{
    if (res->ok && ch->status == 3 && options_bool(app->opts, "AutomaticEnableChannelEnabled"))
        relay_enable_channel(app, c, ch);
}

int channel_test_one(struct req *r, int64_t id, const char *asked, int *ok, double *seconds,
                     const char **message)
{
    struct app *app = req_app(r);
    struct relay_channel ch;
    int found = db_relay_channel(req_db(r), r->a, id, &ch);
    if (found <= 0)
        return found < 0 ? OA_ERR_DB : 0;
    struct test_result res;
    req_db_release(r); /* hold no connection during the upstream call */
    run_test(app, r->a, req_curl(r), &ch, asked, &res);
    record_test(app, req_db(r), &ch, test_model(r->a, asked, ch.models), &res);
    maybe_enable(app, req_db(r), &ch, &res);
    *ok = res.ok;
    *seconds = res.ok ? res.seconds : 0;
    *message = res.message ? res.message : "";
    return 1;
}

int h_channel_test(struct req *r)
{
    int64_t id;
    if (req_path_id(r, 0, &id) < 0 || id <= 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    const char *asked = req_query(r, "model");
    int ok = 0;
    double seconds = 0;
    const char *message = "";
    int rc = channel_test_one(r, id, asked, &ok, &seconds, &message);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, "渠道不存在");
        return 0;
    }
    json_object *j = jown(r->a, jnew_obj());
    json_object_object_add(j, "success", json_object_new_boolean(ok));
    json_object_object_add(j, "message", json_object_new_string(message));
    json_object_object_add(j, "time", jgo_double(seconds));
    json_object_object_add(j, "modelName", json_object_new_string(asked ? asked : ""));
    respond_json(r, 200, j);
    return 0;
}

/* Sleeps for seconds, or less when the app is stopping. */
static void pause_unless_stopping(const struct app *app, long long seconds)
{
    for (long long ms = seconds * 1000; ms > 0 && !atomic_load(&app->is_stopping); ms -= 100)
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
}

/* Tests every channel (the disabled ones only with only_disabled) one after the
 * other, disabling, enabling and notifying as the results say, until done or the app stops.
 * The caller has set app->batch_test_running; it is cleared here. is_manual: an admin asked,
 * so root hears when it is over (One API never sends that: docs/compatibility.md). */
static void batch_run(struct app *app, int only_disabled, int is_manual)
{
    struct arena *a = arena_new(64 * 1024), *ids_a = arena_new(4096);
    void *curl = upstream_handle_new();
    int64_t *ids = NULL;
    size_t n = 0;
    struct db_conn *c = db_acquire(app->db);
    if (db_channels_ids(c, ids_a, &ids, &n) < 0)
        LOG_ERR("channel test: cannot list the channels: %s", db_errmsg(c));
    db_release(c);
    double threshold = options_double(app->opts, "ChannelDisableThreshold");
    long long pause = cfg_int(app->cfg, CFG_POLLING_INTERVAL);
    int tested = 0;
    for (size_t i = 0; i < n && !atomic_load(&app->is_stopping); i++) {
        struct relay_channel ch;
        arena_reset(a);
        /* The connection is held only while queries run, not during the upstream call. */
        c = db_acquire(app->db);
        int found = db_relay_channel(c, a, ids[i], &ch);
        db_release(c);
        if (found <= 0 || (only_disabled && ch.status != 2 && ch.status != 3))
            continue;
        if (tested++ && pause > 0)
            pause_unless_stopping(app, pause);
        if (atomic_load(&app->is_stopping))
            break;
        struct test_result res;
        run_test(app, a, curl, &ch, "gpt-3.5-turbo", &res);
        if (atomic_load(&app->is_stopping))
            break; /* a test cut short says nothing about the channel */
        c = db_acquire(app->db);
        int auto_disable = options_bool(app->opts, "AutomaticDisableChannelEnabled");
        if (ch.status == 1 && threshold > 0 && res.seconds > threshold && res.ok) {
            res.ok = 0;
            res.message = arena_printf(a, "响应时间 %.2fs 超过阈值 %.2fs", res.seconds, threshold);
            if (auto_disable)
                relay_disable_channel(app, c, &ch, res.message, "by the batch test");
            else
                notify_root_text(
                    app, arena_printf(a, "渠道 %s （%lld）测试超时", ch.name, (long long)ch.id),
                    res.message);
        }
        /* A batch test disables on the type, code and message rules only, as One API does: the
         * status does not count (it is -1 there). */
        struct prov_error judged = res.err;
        judged.status = -1;
        if (ch.status == 1 && !res.ok && res.err.message && auto_disable &&
            relay_should_disable(&judged))
            relay_disable_channel(app, c, &ch, res.message, "by the batch test");
        record_test(app, c, &ch, test_model(a, "gpt-3.5-turbo", ch.models), &res);
        maybe_enable(app, c, &ch, &res);
        db_release(c);
    }
    if (atomic_load(&app->is_stopping)) {
        LOG_INFO("channel test stopped: shutting down after %d channels", tested);
    } else {
        LOG_INFO("channel test finished: %d channels tested", tested);
        if (is_manual)
            notify_root_text(app, "渠道测试完成",
                             "渠道测试完成，如果没有收到禁用通知，说明所有渠道都正常");
    }
    upstream_handle_free(curl);
    arena_free(ids_a);
    arena_free(a);
    atomic_store(&app->batch_test_running, 0);
}

/* Takes this process's batch-test slot: 1, or 0 when a batch test already runs. */
static int batch_claim(struct app *app)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&app->batch_test_running, &expected, 1);
}

int channel_test_all(struct app *app)
{
    if (!batch_claim(app))
        return 1;
    batch_run(app, 0, 0);
    return 0;
}

/* A batch test the route started, on a thread of its own; app_free joins it. */
struct batch {
    struct app *app;   /* whose channels */
    int only_disabled; /* scope=disabled */
};

static void *batch_main(void *arg)
{
    struct batch b = *(struct batch *)arg;
    free(arg);
    batch_run(b.app, b.only_disabled, 1);
    return NULL;
}

int channel_test_start(struct app *app, int only_disabled)
{
    if (!batch_claim(app))
        return 1;
    struct batch *b = xcalloc(1, sizeof *b);
    b->app = app;
    b->only_disabled = only_disabled;
    /* The previous batch has ended (the slot was free): collect its thread first. */
    pthread_mutex_lock(&app->batch_mu);
    if (app->has_batch_thread)
        pthread_join(app->batch_thread, NULL);
    app->has_batch_thread = pthread_create(&app->batch_thread, NULL, batch_main, b) == 0;
    int started = app->has_batch_thread;
    pthread_mutex_unlock(&app->batch_mu);
    if (!started) {
        free(b);
        atomic_store(&app->batch_test_running, 0);
        return OA_ERR_INTERNAL;
    }
    return 0;
}

int h_channel_test_all(struct req *r)
{
    const char *scope = req_query(r, "scope");
    int rc = channel_test_start(req_app(r), scope && !strcmp(scope, "disabled"));
    if (rc < 0)
        return rc;
    if (rc == 1) {
        api_fail(r, 200, "测试已在运行中");
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}
