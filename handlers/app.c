/* app: start-up (database, migration, root bootstrap, options, writer) and the per-request
 * glue the server calls. */
#include "config.h"
#include "handlers/app.h"
#include "handlers/api/api.h"
#include "handlers/bootstrap.h"
#include "handlers/console/console.h"
#include "handlers/errors.h"
#include "handlers/gate.h"
#include "handlers/relay/chcache.h"
#include "handlers/relay/credcache.h"
#include "handlers/options.h"
#include "handlers/throttle.h"
#include "handlers/session.h"
#include "handlers/relay/pricing.h"
#include "handlers/relay/quota.h"
#include "handlers/relay/upstream.h"
#include "db/db.h"
#include "db/writer.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/log.h"
#include "fcgi/request.h"
#include "fcgi/server.h"
#include "fcgi/ticker.h"
#include "fcgi/xmalloc.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct db_conn *req_db(struct req *r)
{
    struct app_worker *w = r->worker;
    if (!w->conn && !w->db_busy) {
        int ms = (int)cfg_int(w->app->cfg, CFG_SQL_POOL_TIMEOUT) * 1000;
        w->conn = db_acquire_wait(w->app->db, ms);
        if (!w->conn) {
            /* Once per request: its later queries fail at once instead of waiting again. */
            w->db_busy = 1;
            LOG_WARN("request %s: no database connection free within %d ms", r->request_id, ms);
        }
    }
    return w->conn;
}

int req_db_busy(struct req *r)
{
    return ((struct app_worker *)r->worker)->db_busy;
}

void *req_curl(struct req *r)
{
    struct app_worker *w = r->worker;
    if (!w->curl)
        w->curl = upstream_handle_new();
    return w->curl;
}

void app_channels_changed(struct app *app)
{
    if (app->chcache)
        chcache_clear(app->chcache);
}

void req_db_release(struct req *r)
{
    struct app_worker *w = r->worker;
    if (w->conn) {
        db_release(w->conn);
        w->conn = NULL;
    }
}

/* Re-reads the options table and applies what derives from it (the ratio tables of pricing),
 * on a connection of the pool. */
static void reload_options(struct app *app)
{
    struct db_conn *c = db_acquire(app->db);
    if (options_load(app->opts, c) < 0)
        LOG_WARN("options re-read failed: %s", db_errmsg(c));
    else
        pricing_reload(app->pricing, app->opts);
    db_release(c);
}

/*
 * How a saved option reaches every process: the process that handles PUT /api/option/ stores
 * the row and applies it at once; every other FastCGI process (on this host or another node
 * sharing the database) re-reads the whole options table every OPTIONS_REFRESH seconds. The
 * read is one SELECT of about seventy short rows, and nothing is parsed again unless a ratio
 * text changed (pricing_reload compares the texts), so a period of a second costs nearly
 * nothing while a change of price or a switch applies everywhere within it. A version row
 * would still be read each period, and PostgreSQL's LISTEN has no SQLite counterpart for
 * processes sharing a file; plain CGI reads the table at the start of every request anyway.
 */
static void options_refresh_job(void *ud)
{
    reload_options(ud);
}

/* The cache re-reader of MEMORY_CACHE_ENABLED: other nodes' channel changes arrive within
 * SYNC_FREQUENCY seconds (the options too, for a gateway run with OPTIONS_REFRESH=0). */
static void sync_job(void *ud)
{
    struct app *app = ud;
    reload_options(app);
    app_channels_changed(app); /* other nodes may have changed channels */
}

/* The batch test of all channels every CHANNEL_TEST_FREQUENCY minutes. */
static void test_job(void *ud)
{
    struct app *app = ud;
    LOG_INFO("testing all channels");
    if (channel_test_all(app) > 0)
        LOG_INFO("a channel test is already running: this round is skipped");
}

/* Waits for a batch channel test the HTTP route started: it uses the database and the
 * writer, which are freed next. It sees app->is_stopping between channels and during the
 * upstream call, so it ends soon. */
static void join_batch_test(struct app *app)
{
    pthread_mutex_lock(&app->batch_mu);
    if (app->has_batch_thread) {
        if (atomic_load(&app->batch_test_running))
            LOG_INFO("waiting for the channel test under way to stop");
        pthread_join(app->batch_thread, NULL);
        app->has_batch_thread = 0;
    }
    pthread_mutex_unlock(&app->batch_mu);
}

static void app_free(struct app *app)
{
    if (!app)
        return;
    atomic_store(&app->is_stopping, 1);
    ticker_stop(app->tester);
    join_batch_test(app);
    ticker_stop(app->syncer);
    ticker_stop(app->opt_refresher);
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
    console_free(app->console);
    chcache_free(app->chcache);
    credcache_free(app->creds);
    throttle_free(app->login_throttle);
    writer_stop(app->writer);
    db_close(app->db);
    options_free(app->opts);
    quota_store_free(app->quota);
    pricing_free(app->pricing);
    curl_global_cleanup();
    pthread_mutex_destroy(&app->batch_mu);
    free(app);
}

static void *app_init(const struct config *cfg, int is_cgi)
{
    struct app *app = xcalloc(1, sizeof *app);
    pthread_mutex_init(&app->batch_mu, NULL);
    app->cfg = cfg;
    app->is_cgi = is_cgi;
    app->start_time = (int64_t)time(NULL);
    app->creds = credcache_new();
    app->cookie_secure = (int)cfg_int(cfg, CFG_COOKIE_SECURE);
    const char *secret = cfg_str(cfg, CFG_SESSION_SECRET);
    /* Published example values would let anyone sign a session cookie: One API logs an error
     * and goes on with a random secret, which is what an unset secret gets too. */
    static const char *const examples[] = {"random_string", "change-me-to-a-long-random-string"};
    const char *example = NULL;
    for (size_t i = 0; i < sizeof examples / sizeof *examples; i++)
        if (!strcmp(secret, examples[i]))
            example = examples[i];
    if (*secret && !example) {
        sha256(secret, strlen(secret), app->session_key);
    } else if (is_cgi) {
        /* Each request is a process of its own: a random key would make every login fail on
         * the next request, without a word. */
        if (example)
            LOG_ERR("SESSION_SECRET is the example value '%s': plain CGI needs a real secret "
                    "(each request is a new process, so a random one cannot stand in); set one, "
                    "for example the output of: head -c 32 /dev/urandom | base64",
                    example);
        else
            LOG_ERR("SESSION_SECRET is not set: plain CGI needs it (each request is a new "
                    "process, so without it no login would last); set it in the web server's "
                    "environment");
        app_free(app);
        return NULL;
    } else {
        random_bytes(app->session_key, sizeof app->session_key);
        if (example)
            LOG_ERR("SESSION_SECRET is the example value '%s', which anyone could use to sign a "
                    "session: using a random secret instead (sessions end when the process "
                    "restarts); set a real one",
                    example);
        else
            LOG_WARN("SESSION_SECRET is not set: sessions end when the process restarts");
    }
    app->router = (struct router){.routes = app_routes,
                                  .n_routes = app_n_routes,
                                  .max_body = (size_t)cfg_int(cfg, CFG_MAX_BODY_MB) << 20,
                                  .trusted_proxies = cfg_str(cfg, CFG_TRUSTED_PROXIES),
                                  .auth = session_auth,
                                  .render_error = errors_render,
                                  .before = gate_before,
                                  .admit = gate_admit};
    char why[256];
    if (router_check(app->router.routes, app->router.n_routes, why, sizeof why) < 0) {
        LOG_BUG("the route table: %s", why);
        app_free(app);
        return NULL;
    }
    app->opts = options_new(cfg_str(cfg, CFG_THEME));
    app->login_throttle = throttle_new();
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
    if (rc == 0 && bootstrap_root(cfg, c) < 0)
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
    if (rc == 0) {
        /* The API and the relay do not need the console: without its templates they still
         * serve, and the pages say what is missing. */
        const char *dir = cfg_str(cfg, CFG_TEMPLATE_DIR);
        app->console = console_new(*dir ? dir : TEMPLATE_DATADIR, err, sizeof err);
        if (!app->console)
            LOG_ERR("the console is off: %s (set TEMPLATE_DIR to the templates directory)", err);
    }
    if (rc == 0 && !is_cgi) {
        app->quota = quota_store_new();
        if (!(app->writer = writer_start(app->db, 20, 512, 4096)))
            rc = -1;
        else
            writer_set_done_hook(app->writer, quota_committed, app->quota);
        if (cfg_int(cfg, CFG_OPTIONS_REFRESH) > 0)
            app->opt_refresher =
                ticker_start((double)cfg_int(cfg, CFG_OPTIONS_REFRESH), options_refresh_job, app);
        if (cfg_int(cfg, CFG_MEMORY_CACHE_ENABLED)) {
            app->chcache = chcache_new();
            app->syncer = ticker_start((double)cfg_int(cfg, CFG_SYNC_FREQUENCY), sync_job, app);
        }
        /* Only the master tests on a schedule: every node testing the same channels would
         * multiply the upstream calls and the notifications. */
        double every_min = cfg_double(cfg, CFG_CHANNEL_TEST_FREQUENCY);
        if (every_min > 0 && strcmp(cfg_str(cfg, CFG_NODE_TYPE), "slave") != 0)
            app->tester = ticker_start(every_min * 60, test_job, app);
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
    struct app_worker *w = xcalloc(1, sizeof *w);
    w->app = appv;
    return w;
}

static void app_worker_fini(void *appv, void *wv)
{
    (void)appv;
    struct app_worker *w = wv;
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
    r->client_ip = req_client_ip(r, req_app(r)->router.trusted_proxies);
    errors_render(r, OA_ERR_BUSY);
    log_access(r->request_id, r->status, elapsed_ms(r), r->client_ip, r->method, r->raw_path);
}

static void app_request_done(struct req *r)
{
    struct app_worker *w = r->worker;
    w->db_busy = 0;
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

const struct server_app app_server = {
    .init = app_init,
    .worker_init = app_worker_init,
    .worker_fini = app_worker_fini,
    .handle = app_handle,
    .busy = app_busy,
    .request_done = app_request_done,
    .flush = app_flush,
    .fini = app_fini,
};
