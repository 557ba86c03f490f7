/* server: FastCGI (a poller accepting connections and holding idle ones until they are
 * readable, worker threads serving one request at a time), CGI mode, signals, drain. */
#include "config.h"
#include "fcgi/server.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/log.h"
#include "fcgi/netaddr.h"
#include "fcgi/request.h"
#include "fcgi/xmalloc.h"

#include "fcgi/fastcgi.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_STACK (1024 * 1024) /* sanitizers use several times the stack */
#else
#define WORKER_STACK (256 * 1024) /* measured ample for the deepest path, a relayed stream */
#endif
#define ARENA_BLOCK (16 * 1024)
#define INITIAL_WORKERS 16 /* more start as concurrency needs them, up to THREADS */
#define LINGER_MS 20       /* how long a worker waits for its kept connection's next request */
#define FD_RESERVE 32      /* descriptors not counted in FCGI_MAX_CONNS (listener, log, db) */

/* Ready connections wait here for a worker. Idle workers wait last-in first-out, so the
 * next request goes to the thread that ran the previous one (its stack and caches are warm,
 * and at low concurrency most threads never touch their stacks). */
struct worker {
    sem_t wake; /* posted once fd is set: a semaphore, not a condition variable, so the
                 * woken worker does not then block on the dispatcher's mutex */
    int fd;     /* handed over by the dispatcher; -1: stop */
    struct worker *next_idle;
    struct server *s;
};

/* Shared by the workers, the poller and main for one run; lives on main's stack. */
struct server {
    const struct config *cfg;
    const struct server_app *vt; /* the application's entry points */
    void *app;
    struct fcgi_limits lim; /* deadlines and GET_VALUES answers for every connection */
    const char *web_addrs;  /* FCGI_WEB_SERVER_ADDRS for a TCP listener; NULL: any peer */
    int listen_fd;
    int epfd;    /* the listener and connections waiting to be readable */
    int wake_fd; /* eventfd: main tells the poller to stop */
    int n_threads;
    int reserve;            /* workers kept for fast 503s */
    atomic_int busy;        /* requests being served */
    atomic_int live;        /* worker threads still running */
    pthread_t *tids;        /* n_threads slots; started of them run (written by one thread at a
                             * time: main before the poller starts, then the poller) */
    struct worker *workers; /* n_threads slots, alive until the workers are joined */
    int started;
    pthread_attr_t attr;

    pthread_mutex_t mu;  /* guards everything below */
    atomic_int draining; /* SIGTERM/SIGINT: kept connections are closed, not parked */
    int stopping;        /* then: workers leave once the queue is empty */
    struct worker *idle; /* stack of waiting workers */
    int *queue;          /* ring of ready connections */
    size_t q_head, q_len, q_cap;
    unsigned char *parked; /* parked[fd]: fd waits in epoll for its next request (or, just
                            * accepted, for its first) */
    size_t parked_cap;
};

static void *worker_main(void *arg);

/* Starts one more worker; 0 or -1. */
static int spawn_worker(struct server *s)
{
    if (s->started >= s->n_threads)
        return -1;
    struct worker *w = &s->workers[s->started];
    sem_init(&w->wake, 0, 0);
    w->fd = -1;
    atomic_fetch_add(&s->live, 1);
    int rc = pthread_create(&s->tids[s->started], &s->attr, worker_main, w);
    if (rc != 0) {
        sem_destroy(&w->wake);
        atomic_fetch_sub(&s->live, 1);
        LOG_ERR("cannot start worker thread %d of %d: %s", s->started + 1, s->n_threads,
                strerror(rc));
        return -1;
    }
    s->started++;
    return 0;
}

/* Gives fd to a waiting worker, or queues it and starts a worker if the limit allows:
 * threads exist only as far as concurrency has needed them (each costs stack pages). */
static void dispatch(struct server *s, int fd)
{
    pthread_mutex_lock(&s->mu);
    struct worker *w = s->idle;
    int spawn = 0;
    if (w) {
        s->idle = w->next_idle;
        w->fd = fd;
    } else {
        if (s->q_len == s->q_cap) {
            size_t ncap = s->q_cap ? s->q_cap * 2 : 256;
            int *nq = xcalloc(ncap, sizeof *nq);
            for (size_t i = 0; i < s->q_len; i++)
                nq[i] = s->queue[(s->q_head + i) % s->q_cap];
            free(s->queue);
            s->queue = nq;
            s->q_head = 0;
            s->q_cap = ncap;
        }
        s->queue[(s->q_head + s->q_len++) % s->q_cap] = fd;
        spawn = 1;
    }
    pthread_mutex_unlock(&s->mu);
    if (w)
        sem_post(&w->wake);
    else if (spawn)
        spawn_worker(s);
}

/* The next connection to serve, or -1 when stopping and nothing is left. */
static int take_conn(struct server *s, struct worker *w)
{
    pthread_mutex_lock(&s->mu);
    if (s->q_len) {
        int fd = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        pthread_mutex_unlock(&s->mu);
        return fd;
    }
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    w->next_idle = s->idle;
    s->idle = w;
    pthread_mutex_unlock(&s->mu);
    while (sem_wait(&w->wake) < 0 && errno == EINTR)
        ;
    return w->fd;
}

/* Until fd is readable, epoll watches it and no thread waits on it: a connection just
 * accepted (is_new) for its first request, a kept one for its next. */
static void watch(struct server *s, int fd, int is_new)
{
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->draining)) {
        pthread_mutex_unlock(&s->mu);
        close(fd);
        return;
    }
    if ((size_t)fd >= s->parked_cap) {
        size_t ncap = s->parked_cap ? s->parked_cap : 1024;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        unsigned char *np = xcalloc(ncap, 1);
        if (s->parked_cap)
            memcpy(np, s->parked, s->parked_cap);
        free(s->parked);
        s->parked = np;
        s->parked_cap = ncap;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = fd};
    if ((is_new || epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) &&
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        pthread_mutex_unlock(&s->mu);
        close(fd);
        return;
    }
    s->parked[fd] = 1;
    pthread_mutex_unlock(&s->mu);
}

static const char *conn_param(void *ctx, const char *name)
{
    return fcgi_param(ctx, name);
}
static int conn_param_at(void *ctx, size_t i, const char **name, size_t *nlen, const char **value)
{
    if (fcgi_param_at(ctx, i, name, value) < 0)
        return -1;
    *nlen = strlen(*name);
    return 0;
}
static long conn_read(void *ctx, char *buf, size_t n)
{
    return fcgi_read(ctx, buf, n);
}
static int conn_write(void *ctx, const char *buf, size_t n)
{
    return fcgi_write(ctx, buf, n);
}
static int conn_flush(void *ctx)
{
    return fcgi_flush(ctx);
}
static void conn_stream(void *ctx)
{
    fcgi_stream(ctx);
}

static void serve_one(struct server *s, struct req *r)
{
    int busy = atomic_load(&s->busy);
    if (s->reserve > 0 && busy > s->n_threads - s->reserve)
        s->vt->busy(r);
    else
        s->vt->handle(r);
    resp_finish(r);
}

/* Serves requests on fd until the web server is done with it; returns 1 when fd is kept. */
static int serve_conn(struct server *s, struct fcgi_conn *c, struct arena *a, void *w)
{
    struct req_io io = {conn_param, conn_read,   conn_write,   conn_flush,
                        c,          conn_stream, conn_param_at};
    int keep;
    do {
        if (fcgi_begin(c, a) < 0) {
            arena_reset(a);
            return 0;
        }
        atomic_fetch_add(&s->busy, 1);
        struct req r;
        req_init(&r, a, &io, s->app, w);
        serve_one(s, &r);
        keep = fcgi_end(c);
        s->vt->request_done(&r);
        arena_reset(a);
        atomic_fetch_sub(&s->busy, 1);
    } while (keep && fcgi_has_pending(c));
    return keep;
}

/* A kept connection's next request usually follows within a few milliseconds under load.
 * Waiting for it here, briefly, spares the hand-off through the poller (two thread
 * wake-ups, the slowest part of the FastCGI hop on a busy or virtual machine); a quiet
 * connection is parked after LINGER_MS and holds no thread. */
static int next_request_soon(struct server *s, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    /* While draining, a request already sent is still served; none is waited for. */
    return poll(&p, 1, atomic_load(&s->draining) ? 0 : LINGER_MS) == 1;
}

static void *worker_main(void *arg)
{
    struct worker *me = arg;
    struct server *s = me->s;
    void *w = s->vt->worker_init(s->app);
    struct arena *a = arena_new(ARENA_BLOCK);
    struct fcgi_conn *c = NULL; /* 16 KB of buffers, only for workers that ever serve */
    int fd;
    while ((fd = take_conn(s, me)) >= 0) {
        if (!c)
            c = xmalloc(sizeof *c);
        fcgi_conn_init(c, fd, &s->lim);
        int keep;
        while ((keep = serve_conn(s, c, a, w)) && next_request_soon(s, fd))
            ;
        if (keep)
            watch(s, fd, 0);
        else
            fcgi_close(c);
    }
    free(c);
    arena_free(a);
    s->vt->worker_fini(s->app, w);
    atomic_fetch_sub(&s->live, 1);
    return NULL;
}

/* Is the peer of a TCP connection allowed by FCGI_WEB_SERVER_ADDRS? Logs a refusal. */
static int peer_allowed(const struct server *s, const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN] = "";
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof ip);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof ip);
    else
        return 1; /* not an IP peer: the list does not apply */
    if (ip_in_cidr_list(ip, s->web_addrs))
        return 1;
    LOG_INFO("FastCGI connection from %s refused: not in FCGI_WEB_SERVER_ADDRS", ip);
    return 0;
}

/* Accepts what the listen backlog holds. A new connection waits in epoll, holding no
 * thread, until its first bytes arrive: an idle or silent peer cannot pin workers. */
static void accept_all(struct server *s)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd >= 0) {
            if (s->web_addrs && !peer_allowed(s, &ss)) {
                close(cfd);
                continue;
            }
            /* An answer leaves in at most two writes (the records that fit the buffer, then
             * the end of the request); with Nagle on, the second waits for the web server's
             * delayed ACK, 40 ms on Linux, on every answer over the buffer's size. */
            if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
                int one = 1;
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
            watch(s, cfd, 1);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE) {
            LOG_WARN("accept: %s (raise the open file limit)", strerror(errno));
            usleep(10000); /* the limit frees up as requests end */
        }
        break;
    }
}

/* The poller: accepts every connection the web server opens (they are not left in the
 * backlog when workers are busy) and hands a connection to a worker once it is readable:
 * a new one's first request, a kept one's next. */
static void *poller_main(void *arg)
{
    struct server *s = arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(s->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            LOG_ERR("epoll_wait: %s", strerror(errno));
            break;
        }
        int stop = 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->wake_fd) {
                stop = 1;
            } else if (fd == s->listen_fd) {
                accept_all(s);
            } else {
                pthread_mutex_lock(&s->mu);
                if ((size_t)fd < s->parked_cap)
                    s->parked[fd] = 0;
                pthread_mutex_unlock(&s->mu);
                dispatch(s, fd);
            }
        }
        if (stop)
            break;
    }
    /* Draining: refuse new connections; a waiting connection whose request is already
     * here is served, the others are closed (the web server opens new ones elsewhere). */
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->draining, 1);
    int *ready = xcalloc(s->parked_cap + 1, sizeof *ready);
    size_t n_ready = 0;
    for (size_t fd = 0; fd < s->parked_cap; fd++) {
        if (!s->parked[fd])
            continue;
        s->parked[fd] = 0;
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, (int)fd, NULL);
        char b;
        if (recv((int)fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
            ready[n_ready++] = (int)fd;
        else
            close((int)fd);
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n_ready; i++)
        dispatch(s, ready[i]);
    free(ready);
    /* Only now may idle workers leave: everything accepted is queued. */
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    struct worker *idle = s->idle;
    s->idle = NULL;
    pthread_mutex_unlock(&s->mu);
    for (struct worker *w = idle, *next; w; w = next) {
        next = w->next_idle; /* read before the post: the worker may leave at once */
        w->fd = -1;
        sem_post(&w->wake);
    }
    return NULL;
}

/* "unix:/path", "/path", "host:port", ":port", "[v6]:port". */
static int open_listener(const char *addr)
{
    int fd;
    if (!strncmp(addr, "unix:", 5) || strchr(addr, '/')) {
        const char *path = !strncmp(addr, "unix:", 5) ? addr + 5 : addr;
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        size_t plen = strlen(path);
        if (plen >= sizeof un.sun_path) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(un.sun_path, path, plen + 1);
        /* A socket left by an earlier run (or a running one being replaced) is removed;
         * anything else at that path is not ours to delete. */
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                LOG_ERR("refusing to listen on %s: it exists and is not a socket (remove it or "
                        "choose another --listen path)",
                        path);
                errno = EEXIST;
                return -1;
            }
            unlink(path);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0 || listen(fd, 4096) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        chmod(path, 0660); /* the web server's group must be able to connect */
        return fd;
    }
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *h = host;
    if (*h == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res;
    int gai = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
    if (gai) {
        LOG_ERR("cannot resolve %s: %s", addr, gai_strerror(gai));
        errno = EINVAL;
        return -1;
    }
    fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        int e = errno;
        close(fd);
        errno = e;
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* A web server that spawns us (lighttpd bin-path, spawn-fcgi) hands over its listening
 * socket as fd 0: a socket that has no peer. */
static int inherited_listener(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getpeername(0, (struct sockaddr *)&ss, &len) < 0 && errno == ENOTCONN;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_fastcgi(struct server *s, sigset_t *sigs)
{
    int fl = fcntl(s->listen_fd, F_GETFL);
    fcntl(s->listen_fd, F_SETFL, fl | O_NONBLOCK); /* the poller accepts until EAGAIN */
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = s->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.fd = s->wake_fd};
    if (s->epfd < 0 || s->wake_fd < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &wev) < 0) {
        LOG_ERR("epoll: %s", strerror(errno));
        return 1;
    }
    /* FCGI_WEB_SERVER_ADDRS applies to IP listeners only (a unix socket has its mode). */
    struct sockaddr_storage la;
    socklen_t ll = sizeof la;
    const char *addrs = cfg_str(s->cfg, CFG_FCGI_WEB_SERVER_ADDRS);
    if (*addrs && getsockname(s->listen_fd, (struct sockaddr *)&la, &ll) == 0 &&
        (la.ss_family == AF_INET || la.ss_family == AF_INET6))
        s->web_addrs = addrs;
    pthread_attr_init(&s->attr);
    pthread_attr_setstacksize(&s->attr, WORKER_STACK);
    s->tids = xcalloc((size_t)s->n_threads, sizeof *s->tids);
    s->workers = xcalloc((size_t)s->n_threads, sizeof *s->workers);
    for (int i = 0; i < s->n_threads; i++)
        s->workers[i].s = s;
    int initial = s->n_threads < INITIAL_WORKERS ? s->n_threads : INITIAL_WORKERS;
    while (s->started < initial && spawn_worker(s) == 0)
        ;
    pthread_t poller;
    if (s->started == 0 || pthread_create(&poller, &s->attr, poller_main, s) != 0) {
        LOG_ERR("cannot start the FastCGI threads");
        _exit(1); /* workers may be waiting on the app: do not unwind under them */
    }
    LOG_INFO("serving FastCGI with up to %d worker threads", s->n_threads);

    int sig = 0;
    while (sigwait(sigs, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
        LOG_INFO("signal %d ignored", sig);
    LOG_INFO("signal %d: no new requests; draining %d in flight (up to %llds)", sig,
             atomic_load(&s->busy), cfg_int(s->cfg, CFG_DRAIN_TIMEOUT));
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) < 0)
        LOG_ERR("cannot wake the poller: %s", strerror(errno));
    pthread_join(poller, NULL);

    double deadline = now_s() + (double)cfg_int(s->cfg, CFG_DRAIN_TIMEOUT);
    while (atomic_load(&s->live) > 0 && now_s() < deadline)
        usleep(20000);
    int left = atomic_load(&s->busy);
    if (atomic_load(&s->live) > 0) {
        LOG_WARN("drain deadline reached with %d requests in flight; exiting", left);
        s->vt->flush(s->app);
        log_fini();
        _exit(0); /* workers still hold the app: do not unwind under them */
    }
    for (int i = 0; i < s->started; i++) {
        pthread_join(s->tids[i], NULL);
        sem_destroy(&s->workers[i].wake);
    }
    free(s->tids);
    free(s->workers);
    pthread_attr_destroy(&s->attr);
    free(s->queue);
    free(s->parked);
    close(s->epfd);
    close(s->wake_fd);
    LOG_INFO("drained; exiting");
    return 0;
}

static const char *cgi_param(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static int cgi_param_at(void *ctx, size_t i, const char **name, size_t *nlen, const char **value)
{
    extern char **environ;
    (void)ctx;
    for (size_t k = 0; k < i; k++)
        if (!environ[k])
            return -1;
    const char *e = environ[i];
    if (!e)
        return -1;
    const char *eq = strchr(e, '=');
    *name = e;
    *nlen = eq ? (size_t)(eq - e) : strlen(e);
    *value = eq ? eq + 1 : "";
    return 0;
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
    void *w = s->vt->worker_init(s->app);
    struct arena *a = arena_new(ARENA_BLOCK);
    struct req_io io = {cgi_param, cgi_read, cgi_write, cgi_flush, NULL, NULL, cgi_param_at};
    struct req r;
    req_init(&r, a, &io, s->app, w);
    s->vt->handle(&r);
    resp_finish(&r);
    fflush(stdout);
    s->vt->request_done(&r);
    arena_free(a);
    s->vt->worker_fini(s->app, w);
    return 0;
}

/* Descriptors the process can hold: the soft limit raised to the hard one (a web server's
 * kept connections and every stream's upstream socket each take one). */
static unsigned open_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 30)
        return 1u << 30;
    return (unsigned)rl.rlim_cur;
}

int server_run(const struct config *cfg, const struct server_app *app)
{
    struct server s = {.cfg = cfg,
                       .vt = app,
                       .listen_fd = -1,
                       .epfd = -1,
                       .wake_fd = -1,
                       .mu = PTHREAD_MUTEX_INITIALIZER};
    s.n_threads = (int)cfg_int(cfg, CFG_THREADS);
    /* FCGI_MAX_CONNS: what is left of the file limit once the listener, epoll, log, database
     * and a few more are open. */
    unsigned nofile = open_file_limit();
    s.lim = (struct fcgi_limits){
        .head_ms = (int)cfg_int(cfg, CFG_FCGI_HEAD_TIMEOUT) * 1000,
        .io_ms = (int)cfg_int(cfg, CFG_FCGI_IO_TIMEOUT) * 1000,
        .max_conns = nofile > FD_RESERVE + 1 ? nofile - FD_RESERVE : 1,
        .max_reqs = (unsigned)s.n_threads,
    };
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
    } else if (inherited_listener()) {
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

    s.app = app->init(cfg, mode_cgi);
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
    app->fini(s.app);
    return rc;
}
