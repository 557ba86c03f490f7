/* The application: process-lifetime state (struct app) and per-worker resources. */
#ifndef OA_APP_H
#define OA_APP_H
#include <pthread.h>
#include <stdint.h>

#include "fcgi/request.h"
#include "fcgi/router.h"
#include "handlers/notify.h" /* the app owns the notifier; its users reach it through app */

struct config;
struct db;
struct db_conn;
struct options;
struct pricing;
struct quota_store;
struct chcache;
struct credcache;
struct req;
struct ticker;
struct writer;

/* Built at start-up, read-only afterwards except the caches, which lock themselves. */
struct app {
    const struct config *cfg;
    struct db *db;                   /* main database */
    struct writer *writer;           /* group-committing ledger writer */
    struct options *opts;            /* options cache */
    struct quota_store *quota;       /* in-process reservations (FastCGI mode) */
    struct pricing *pricing;         /* ratio tables and tokenizer */
    int64_t start_time;              /* Unix seconds, for /api/status */
    unsigned char session_key[32];   /* SHA-256 of SESSION_SECRET (or random) */
    int cookie_secure;               /* add Secure to the session cookie */
    int is_cgi;                      /* one request per process */
    struct router router;            /* the route table and its hooks */
    _Atomic int batch_test_running;  /* a batch channel test runs (one per process) */
    pthread_mutex_t batch_mu;        /* guards batch_thread and has_batch_thread */
    pthread_t batch_thread;          /* the batch test the HTTP route started last */
    int has_batch_thread;            /* batch_thread is to be joined */
    _Atomic int is_stopping;         /* shutting down: long background work ends early */
    struct ticker *syncer;           /* re-reads options every SYNC_FREQUENCY s, or NULL */
    struct ticker *opt_refresher;    /* re-reads options every OPTIONS_REFRESH s, or NULL */
    struct ticker *tester;           /* tests all channels every CHANNEL_TEST_FREQUENCY min */
    struct notify *notify;           /* alerts to root */
    struct chcache *chcache;         /* MEMORY_CACHE_ENABLED channel cache, or NULL */
    struct credcache *creds;         /* access tokens of the channels that need one */
    struct console *console;         /* the pages' templates, or NULL when they did not load */
    struct throttle *login_throttle; /* sign-in attempts per address and name (this process) */
};

/* Per worker thread (or the CGI process). */
struct app_worker {
    struct app *app;
    struct db_conn *conn; /* taken on first use in a request, given back after it */
    int db_busy;          /* this request found no free connection in time (req_db) */
    void *curl;           /* the worker's libcurl handle, kept for its connection cache */
};

/* The application a request belongs to. */
static inline struct app *req_app(struct req *r)
{
    return r->app;
}
/* The request's database connection, acquired on first use (waiting at most
 * SQL_POOL_TIMEOUT), released by the worker loop. NULL when none came free in time: the db/
 * calls then fail (DB_ERR), the handler returns OA_ERR_DB, and the answer is a 503. */
struct db_conn *req_db(struct req *r);
/* Whether req_db found no free connection in time during this request. */
int req_db_busy(struct req *r);
/* Gives the connection back early, before a long wait (an upstream call, a stream), so
 * connections are held only while queries run; req_db takes one again if needed. */
void req_db_release(struct req *r);

/* The worker's libcurl handle (a CURL *), created on first use and kept for its connection
 * cache; freed with the worker. */
void *req_curl(struct req *r);

/* A channel or its abilities changed in this process: drop cached routing. */
void app_channels_changed(struct app *app);

/* The application's entry points, handed to the runtime by main() (handlers/main.c). */
struct server_app;
extern const struct server_app app_server;

/* The route table (handlers/routes.c). */
extern const struct route app_routes[];
extern const unsigned app_n_routes;

#endif
