/* app: start-up (database, migration, root bootstrap, options, writer) and the per-request
 * glue the server calls. */
#include "config.h"
#include "handlers/app.h"
#include "handlers/relay/chcache.h"
#include "handlers/options.h"
#include "handlers/relay/pricing.h"
#include "handlers/relay/quota.h"
#include "handlers/relay/upstream.h"
#include "db/db.h"
#include "db/tokens.h"
#include "db/users.h"
#include "db/writer.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/log.h"
#include "fcgi/request.h"
#include "fcgi/server.h"
#include "fcgi/xmalloc.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROOT_QUOTA 500000000000000LL /* spec 13.6: US$1,000,000,000 */

struct db_conn *req_db(struct req *r)
{
    struct worker_ctx *w = r->worker;
    if (!w->conn)
        w->conn = db_acquire(w->app->db);
    return w->conn;
}

void app_channels_changed(struct app *app)
{
    if (app->chcache)
        chcache_clear(app->chcache);
}

void req_db_release(struct req *r)
{
    struct worker_ctx *w = r->worker;
    if (w->conn) {
        db_release(w->conn);
        w->conn = NULL;
    }
}

/* Spec 13.6: the first start creates root / 123456 (and INITIAL_ROOT_TOKEN's key). */
static int bootstrap_root(struct app *app, struct db_conn *c)
{
    int64_t n = db_users_count(c);
    if (n < 0)
        return -1;
    if (n > 0)
        return 0;
    char hash[128], access[33];
    if (pw_hash("123456", hash, sizeof hash) < 0) {
        LOG_ERR("bcrypt is not available from libcrypt");
        return -1;
    }
    const char *given = cfg_str(app->cfg, CFG_INITIAL_ROOT_ACCESS_TOKEN);
    if (!*given)
        uuid_hex(access);
    struct user u = {.username = "root",
                     .password = hash,
                     .display_name = "Root User",
                     .role = 100,
                     .status = 1,
                     .access_token = *given ? given : access,
                     .quota = ROOT_QUOTA,
                     .group = "default"};
    int64_t uid = 0;
    int rc = db_users_insert(c, &u, &uid);
    if (rc == DB_CONSTRAINT)
        return 0; /* another process bootstrapped first */
    if (rc < 0) {
        LOG_ERR("cannot create the root user: %s", db_errmsg(c));
        return -1;
    }
    LOG_WARN("created the root user: log in as root / 123456 and change the password");
    const char *key = cfg_str(app->cfg, CFG_INITIAL_ROOT_TOKEN);
    if (*key) {
        int64_t now = (int64_t)time(NULL);
        struct token t = {.user_id = uid,
                          .key = key,
                          .status = 1,
                          .name = "Initial Root Token",
                          .created_time = now,
                          .accessed_time = now,
                          .expired_time = -1,
                          .remain_quota = ROOT_QUOTA,
                          .unlimited_quota = 1};
        if (db_tokens_insert(c, &t, NULL) < 0)
            LOG_ERR("cannot create INITIAL_ROOT_TOKEN: %s", db_errmsg(c));
    }
    return 0;
}

/* A background job run every period, on a thread of its own that stops at once when asked
 * (a job under way is asked through app->is_stopping). */
struct ticker {
    pthread_t th;                 /* the job's thread */
    pthread_mutex_t mu;           /* guards is_stopping */
    pthread_cond_t cv;            /* signalled by ticker_stop */
    int is_stopping;              /* ticker_stop was called */
    struct app *app;              /* passed to job */
    double period_s;              /* seconds from the end of one run to the next */
    void (*job)(struct app *app); /* the work */
};

static void *ticker_main(void *arg)
{
    struct ticker *tk = arg;
    long long period_ns = (long long)(tk->period_s * 1e9);
    pthread_mutex_lock(&tk->mu);
    while (!tk->is_stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + period_ns % 1000000000LL;
        until.tv_sec += (time_t)(period_ns / 1000000000LL + ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (!tk->is_stopping && pthread_cond_timedwait(&tk->cv, &tk->mu, &until) == 0)
            ;
        if (tk->is_stopping)
            break;
        pthread_mutex_unlock(&tk->mu);
        tk->job(tk->app);
        pthread_mutex_lock(&tk->mu);
    }
    pthread_mutex_unlock(&tk->mu);
    return NULL;
}

static struct ticker *ticker_start(struct app *app, double period_s, void (*job)(struct app *))
{
    struct ticker *tk = xcalloc(1, sizeof *tk);
    tk->app = app;
    tk->period_s = period_s;
    tk->job = job;
    pthread_mutex_init(&tk->mu, NULL);
    pthread_cond_init(&tk->cv, NULL);
    if (pthread_create(&tk->th, NULL, ticker_main, tk) != 0) {
        pthread_mutex_destroy(&tk->mu);
        pthread_cond_destroy(&tk->cv);
        free(tk);
        return NULL;
    }
    return tk;
}

static void ticker_stop(struct ticker *tk)
{
    if (!tk)
        return;
    pthread_mutex_lock(&tk->mu);
    tk->is_stopping = 1;
    pthread_cond_signal(&tk->cv);
    pthread_mutex_unlock(&tk->mu);
    pthread_join(tk->th, NULL);
    pthread_mutex_destroy(&tk->mu);
    pthread_cond_destroy(&tk->cv);
    free(tk);
}

/* The option re-reader of MEMORY_CACHE_ENABLED (spec 11.3): other nodes' changes arrive
 * within SYNC_FREQUENCY seconds. */
static void sync_job(struct app *app)
{
    struct db_conn *c = db_acquire(app->db);
    if (options_load(app->opts, c) < 0)
        LOG_WARN("options re-read failed: %s", db_errmsg(c));
    else
        pricing_reload(app->pricing, app->opts);
    app_channels_changed(app); /* other nodes may have changed channels */
    db_release(c);
}

/* Spec 13.8: the batch test of all channels every CHANNEL_TEST_FREQUENCY minutes. */
static void test_job(struct app *app)
{
    LOG_INFO("testing all channels");
    if (app_test_all_channels(app) > 0)
        LOG_INFO("a channel test is already running: this round is skipped");
}

/* Waits (at most ms) for a batch channel test started by the HTTP route, which runs on a
 * detached thread, to see app->is_stopping and end: it uses the database and the writer. */
static void wait_batch_test(struct app *app, int ms)
{
    for (; ms > 0 && atomic_load(&app->batch_test_running); ms -= 20)
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    if (atomic_load(&app->batch_test_running))
        LOG_WARN("a channel test is still running at exit");
}

static void app_free(struct app *app)
{
    if (!app)
        return;
    atomic_store(&app->is_stopping, 1);
    ticker_stop(app->tester);
    wait_batch_test(app, 10000);
    ticker_stop(app->syncer);
    if (app->is_cgi && notify_pending(app->notify)) {
        /* The answer is complete: give the web server its end of file now, so that the
         * client does not wait for the mail server too. */
        fflush(stdout);
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
    }
    notify_free(app->notify);
    app->notify = NULL;
    chcache_free(app->chcache);
    writer_stop(app->writer);
    db_close(app->db);
    options_free(app->opts);
    quota_store_free(app->quota);
    pricing_free(app->pricing);
    curl_global_cleanup();
    free(app);
}

static void *app_init(const struct config *cfg, int is_cgi)
{
    struct app *app = xcalloc(1, sizeof *app);
    app->cfg = cfg;
    app->is_cgi = is_cgi;
    app->start_time = (int64_t)time(NULL);
    app->cookie_secure = (int)cfg_int(cfg, CFG_COOKIE_SECURE);
    const char *secret = cfg_str(cfg, CFG_SESSION_SECRET);
    if (*secret) {
        sha256(secret, strlen(secret), app->session_key);
    } else {
        random_bytes(app->session_key, sizeof app->session_key);
        if (!is_cgi)
            LOG_WARN("SESSION_SECRET is not set: sessions end when the process restarts");
    }
    app->router = (struct router){.routes = app_routes,
                                  .n_routes = app_n_routes,
                                  .max_body = (size_t)cfg_int(cfg, CFG_MAX_BODY_MB) << 20,
                                  .auth = app_auth,
                                  .render_error = app_render_error};
    app->opts = options_new(cfg_str(cfg, CFG_THEME));
    app->pricing = pricing_new(cfg_str(cfg, CFG_TIKTOKEN_CACHE_DIR));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char err[512] = "";
    struct db_opts o = {.dsn = cfg_str(cfg, CFG_SQL_DSN),
                        .sqlite_path = cfg_str(cfg, CFG_SQLITE_PATH),
                        .busy_timeout_ms = (int)cfg_int(cfg, CFG_SQLITE_BUSY_TIMEOUT),
                        .pool_size = (int)cfg_int(cfg, CFG_SQL_MAX_OPEN_CONNS)};
    app->db = db_open(&o, err, sizeof err);
    if (!app->db) {
        LOG_ERR("cannot open the database: %s", err);
        app_free(app);
        return NULL;
    }
    struct db_conn *c = db_acquire(app->db);
    int rc = 0;
    if (!strcmp(cfg_str(cfg, CFG_NODE_TYPE), "master") && db_migrate(c) < 0) {
        LOG_ERR("database migration failed");
        rc = -1;
    }
    if (rc == 0 && bootstrap_root(app, c) < 0)
        rc = -1;
    if (rc == 0 && options_load(app->opts, c) < 0) {
        LOG_ERR("cannot read the options table: %s", db_errmsg(c));
        rc = -1;
    }
    db_release(c);
    if (rc == 0 && pricing_reload(app->pricing, app->opts) < 0)
        LOG_WARN("the ratio options are invalid; using the built-in ratios");
    if (rc == 0)
        app->notify = notify_new(app, !is_cgi);
    if (rc == 0 && !is_cgi) {
        app->quota = quota_store_new();
        if (!(app->writer = writer_start(app->db, 20, 512, 4096)))
            rc = -1;
        else
            writer_set_done_hook(app->writer, quota_committed, app->quota);
        if (cfg_int(cfg, CFG_MEMORY_CACHE_ENABLED)) {
            app->chcache = chcache_new();
            app->syncer = ticker_start(app, (double)cfg_int(cfg, CFG_SYNC_FREQUENCY), sync_job);
        }
        /* Only the master tests on a schedule: every node testing the same channels would
         * multiply the upstream calls and the notifications. */
        double every_min = cfg_double(cfg, CFG_CHANNEL_TEST_FREQUENCY);
        if (every_min > 0 && strcmp(cfg_str(cfg, CFG_NODE_TYPE), "slave") != 0)
            app->tester = ticker_start(app, every_min * 60, test_job);
    }
    if (rc < 0) {
        app_free(app);
        return NULL;
    }
    if (!is_cgi)
        LOG_INFO("One API %s ready (%s)", PACKAGE_VERSION,
                 db_kind(app->db) == DB_POSTGRES ? "PostgreSQL" : "SQLite");
    return app;
}

static void *app_worker_init(void *appv)
{
    struct worker_ctx *w = xcalloc(1, sizeof *w);
    w->app = appv;
    return w;
}

static void app_worker_fini(void *appv, void *wv)
{
    (void)appv;
    struct worker_ctx *w = wv;
    if (w && w->conn)
        db_release(w->conn);
    if (w)
        upstream_handle_free(w->curl);
    free(w);
}

static double elapsed_ms(const struct req *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
           (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
}

static void app_handle(struct req *r)
{
    struct app *app = req_app(r);
    router_dispatch(&app->router, r);
    log_access(r->request_id, r->status, elapsed_ms(r), r->client_ip, r->method, r->raw_path);
}

static void app_busy(struct req *r)
{
    app_render_error(r, OA_ERR_BUSY);
    log_access(r->request_id, r->status, elapsed_ms(r), r->client_ip, r->method, r->raw_path);
}

static void app_request_done(struct req *r)
{
    struct worker_ctx *w = r->worker;
    if (w->conn) {
        db_release(w->conn);
        w->conn = NULL;
    }
}

static void app_flush(void *appv)
{
    struct app *app = appv;
    if (app->writer)
        writer_flush(app->writer);
}

static void app_fini(void *appv)
{
    app_free(appv);
}

const struct server_app server_app = {
    .init = app_init,
    .worker_init = app_worker_init,
    .worker_fini = app_worker_fini,
    .handle = app_handle,
    .busy = app_busy,
    .request_done = app_request_done,
    .flush = app_flush,
    .fini = app_fini,
};
