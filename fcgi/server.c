/* server: FastCGI workers on libfcgi (one request per thread), CGI mode, signals, drain. */
#include "config.h"
#include "fcgi/server.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/log.h"
#include "fcgi/request.h"
#include "fcgi/xmalloc.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_STACK (1024 * 1024) /* sanitizers use several times the stack */
#else
#define WORKER_STACK (256 * 1024) /* measured ample: notes/fastcgi-spike.md section 1.1 */
#endif
#define ARENA_BLOCK (16 * 1024)

/* Shared by the workers and main for one run; lives on main's stack. */
struct server {
    const struct config *cfg;
    void *app;
    int listen_fd;
    int n_threads;
    int reserve;         /* workers kept for fast 503s */
    atomic_int busy;     /* requests being served */
    atomic_int stopping; /* set once by main on SIGTERM/SIGINT */
    atomic_int live;     /* worker threads still running */
};

static const char *fcgi_param(void *ctx, const char *name)
{
    FCGX_Request *fr = ctx;
    return FCGX_GetParam(name, fr->envp);
}

static long fcgi_read(void *ctx, char *buf, size_t n)
{
    FCGX_Request *fr = ctx;
    int got = FCGX_GetStr(buf, (int)(n > 1 << 30 ? 1 << 30 : n), fr->in);
    if (got == 0 && FCGX_GetError(fr->in))
        return -1;
    return got;
}

static int fcgi_write(void *ctx, const char *buf, size_t n)
{
    FCGX_Request *fr = ctx;
    while (n) {
        int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
        if (FCGX_PutStr(buf, chunk, fr->out) != chunk)
            return -1;
        buf += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static int fcgi_flush(void *ctx)
{
    FCGX_Request *fr = ctx;
    return FCGX_FFlush(fr->out) < 0 ? -1 : 0;
}

static void serve_one(struct server *s, struct req *r)
{
    int busy = atomic_load(&s->busy);
    if (s->reserve > 0 && busy > s->n_threads - s->reserve)
        server_app.busy(r);
    else
        server_app.handle(r);
    resp_finish(r);
}

static void *worker_main(void *arg)
{
    struct server *s = arg;
    void *w = server_app.worker_init(s->app);
    struct arena *a = arena_new(ARENA_BLOCK);
    FCGX_Request fr;
    FCGX_InitRequest(&fr, s->listen_fd, 0);
    struct req_io io = {fcgi_param, fcgi_read, fcgi_write, fcgi_flush, &fr};
    while (!atomic_load(&s->stopping)) {
        if (FCGX_Accept_r(&fr) < 0)
            break;
        atomic_fetch_add(&s->busy, 1);
        struct req r;
        req_init(&r, a, &io, s->app, w);
        serve_one(s, &r);
        FCGX_Finish_r(&fr);
        server_app.request_done(&r);
        arena_reset(a);
        atomic_fetch_sub(&s->busy, 1);
    }
    FCGX_Free(&fr, 1);
    arena_free(a);
    server_app.worker_fini(s->app, w);
    atomic_fetch_sub(&s->live, 1);
    return NULL;
}

static int open_listener(const char *addr)
{
    char buf[512];
    if (!strncmp(addr, "unix:", 5))
        addr += 5;
    snprintf(buf, sizeof buf, "%s", addr);
    int fd = FCGX_OpenSocket(buf, 4096);
    if (fd < 0)
        return -1;
    if (strchr(buf, '/'))
        chmod(buf, 0660); /* the web server's group must be able to connect */
    return fd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_fastcgi(struct server *s, sigset_t *sigs)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    pthread_t *tids = xcalloc((size_t)s->n_threads, sizeof *tids);
    int started = 0;
    for (; started < s->n_threads; started++) {
        atomic_fetch_add(&s->live, 1);
        if (pthread_create(&tids[started], &attr, worker_main, s) != 0) {
            atomic_fetch_sub(&s->live, 1);
            LOG_ERR("could only start %d of %d worker threads: %s", started, s->n_threads,
                    strerror(errno));
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (started == 0) {
        free(tids);
        return 1;
    }
    LOG_INFO("serving FastCGI with %d worker threads", started);

    int sig = 0;
    while (sigwait(sigs, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
        LOG_INFO("signal %d ignored", sig);
    LOG_INFO("signal %d: no new requests; draining %d in flight (up to %llds)", sig,
             atomic_load(&s->busy), cfg_int(s->cfg, CFG_DRAIN_TIMEOUT));
    atomic_store(&s->stopping, 1);
    FCGX_ShutdownPending();
    /* Wakes every thread blocked in accept() (EINVAL on Linux) and frees the port. */
    shutdown(s->listen_fd, SHUT_RDWR);

    double deadline = now_s() + (double)cfg_int(s->cfg, CFG_DRAIN_TIMEOUT);
    while (atomic_load(&s->live) > 0 && now_s() < deadline)
        usleep(20000);
    int left = atomic_load(&s->busy);
    if (atomic_load(&s->live) > 0) {
        LOG_WARN("drain deadline reached with %d requests in flight; exiting", left);
        server_app.flush(s->app);
        log_fini();
        _exit(0); /* workers still hold the app: do not unwind under them */
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    LOG_INFO("drained; exiting");
    return 0;
}

static const char *cgi_param(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static long cgi_read(void *ctx, char *buf, size_t n)
{
    (void)ctx;
    size_t got = fread(buf, 1, n, stdin);
    if (got == 0 && ferror(stdin))
        return -1;
    return (long)got;
}

static int cgi_write(void *ctx, const char *buf, size_t n)
{
    (void)ctx;
    return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

static int cgi_flush(void *ctx)
{
    (void)ctx;
    return fflush(stdout) == 0 ? 0 : -1;
}

static int run_cgi(struct server *s)
{
    void *w = server_app.worker_init(s->app);
    struct arena *a = arena_new(ARENA_BLOCK);
    struct req_io io = {cgi_param, cgi_read, cgi_write, cgi_flush, NULL};
    struct req r;
    req_init(&r, a, &io, s->app, w);
    server_app.handle(&r);
    resp_finish(&r);
    fflush(stdout);
    server_app.request_done(&r);
    arena_free(a);
    server_app.worker_fini(s->app, w);
    return 0;
}

int server_run(const struct config *cfg)
{
    struct server s = {.cfg = cfg, .listen_fd = -1};
    s.n_threads = (int)cfg_int(cfg, CFG_THREADS);
    long long reserve = cfg_int(cfg, CFG_BUSY_RESERVE);
    if (reserve < 0)
        reserve = s.n_threads >= 4 ? (s.n_threads / 32 > 1 ? s.n_threads / 32 : 1) : 0;
    if (reserve >= s.n_threads)
        reserve = s.n_threads - 1;
    s.reserve = (int)reserve;

    /* Signals go to main's sigwait only: blocked before any thread exists, so workers
     * inherit the mask and a signal never interrupts a worker's write (EINTR). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (FCGX_Init() != 0) {
        LOG_ERR("FCGX_Init failed");
        return 1;
    }
    const char *listen = cfg_str(cfg, CFG_LISTEN);
    int mode_cgi = 0;
    char deflisten[64];
    if (*listen) {
        s.listen_fd = open_listener(listen);
        if (s.listen_fd < 0) {
            LOG_ERR("cannot listen on %s: %s", listen, strerror(errno));
            return 1;
        }
        LOG_INFO("FastCGI listening on %s", listen);
    } else if (!FCGX_IsCGI()) {
        s.listen_fd = 0; /* spawned: the web server handed us the listening socket */
        LOG_INFO("FastCGI on the socket inherited as fd 0");
    } else if (getenv("GATEWAY_INTERFACE")) {
        mode_cgi = 1;
    } else {
        snprintf(deflisten, sizeof deflisten, "127.0.0.1:%lld", cfg_int(cfg, CFG_PORT) + 1);
        s.listen_fd = open_listener(deflisten);
        if (s.listen_fd < 0) {
            LOG_ERR("cannot listen on %s: %s", deflisten, strerror(errno));
            return 1;
        }
        LOG_INFO("FastCGI listening on %s (no --listen given): point the web server's "
                 "fastcgi_pass there, or run contrib/run",
                 deflisten);
    }

    s.app = server_app.init(cfg, mode_cgi);
    if (!s.app) {
        if (mode_cgi) {
            /* The web server shows our answer, not "End of script output before headers". */
            static const char msg[] =
                "Status: 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n"
                "{\"success\":false,\"message\":\"one-api could not start: see its log\"}";
            fwrite(msg, 1, sizeof msg - 1, stdout);
            fflush(stdout);
        }
        return 1;
    }
    int rc = mode_cgi ? run_cgi(&s) : run_fastcgi(&s, &sigs);
    server_app.fini(s.app);
    return rc;
}
