/* Server: run modes (listening FastCGI, spawned FastCGI, CGI), worker threads, admission
 * control and graceful drain. The application plugs in through struct server_app. */
#ifndef OA_SERVER_H
#define OA_SERVER_H

struct config;
struct req;

/* What the application provides: its entry points, handed to server_main (or server_run).
 * The runtime names no symbol of the application. */
struct server_app {
    /* Once at start-up, before any worker exists; is_cgi: one request per process.
     * Returns the app (opaque) or NULL. */
    void *(*init)(const struct config *cfg, int is_cgi);
    /* Per worker thread: its resources (opaque), freed by worker_fini. */
    void *(*worker_init)(void *app);
    void (*worker_fini)(void *app, void *worker);
    /* Serves one request: routes it and leaves the response in r. */
    void (*handle)(struct req *r);
    /* Answers r at once with 503 because every worker is busy. */
    void (*busy)(struct req *r);
    /* After the response went out (the client has it): deferred work, then cleanup. */
    void (*request_done)(struct req *r);
    /* When the drain deadline passes with requests still running: make what was done
     * durable (the workers are still alive, so nothing may be freed). */
    void (*flush)(void *app);
    /* At exit, after the drain: flush and close. */
    void (*fini)(void *app);
};

/* Chooses the run mode from cfg and the environment and serves app until SIGTERM/SIGINT
 * (or one request in CGI mode). app must outlive the call. Returns the process exit status. */
int server_run(const struct config *cfg, const struct server_app *app);

/* The whole program for main(): re-executes itself once without glibc's per-thread malloc
 * cache (FastCGI modes), loads the settings from argv, the environment and .env, opens the
 * log and runs server_run. Returns the exit status (2: bad settings, 0 after --help). */
int server_main(int argc, char **argv, const struct server_app *app);

#endif
