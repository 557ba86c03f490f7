/* Unit tests for fcgi/server.c: the poller and the hand-off to workers, with a stub
 * application. server_run runs in a child process listening on a unix socket in a scratch
 * directory; the test speaks FastCGI to it like a web server. */
#include "config.h"
#include "fcgi/cfg.h"
#include "fcgi/request.h"
#include "fcgi/server.h"
#include "fcgi/xmalloc.h"
#include "tests/unit/tap.h"
#include "tests/unit/tmpdir.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- the stub application ------------------------------------------------------------ */

static int stub_token;

static void *stub_init(const struct config *cfg, int is_cgi)
{
    (void)cfg;
    (void)is_cgi;
    return &stub_token;
}
static void *stub_worker_init(void *app)
{
    return app;
}
static void stub_worker_fini(void *app, void *worker)
{
    (void)app;
    (void)worker;
}
#define BIG_ANSWER (2u << 20) /* more than the socket buffers hold */

/* "/slow" takes 700 ms (a request in flight during a drain); "/stream" streams and "/big"
 * buffers a 2 MB answer; the rest answer at once. */
static void stub_handle(struct req *r)
{
    static char chunk[64 * 1024];
    if (!strcmp(r->path, "/stream") || !strcmp(r->path, "/big")) {
        memset(chunk, 's', sizeof chunk);
        int stream = !strcmp(r->path, "/stream");
        if (stream && resp_stream_begin(r) < 0)
            return;
        for (size_t n = 0; n < BIG_ANSWER; n += sizeof chunk) {
            if (stream && resp_stream_write(r, chunk, sizeof chunk) < 0)
                return;
            if (!stream)
                resp_write(r, chunk, sizeof chunk);
        }
        return;
    }
    if (!strcmp(r->path, "/slow"))
        usleep(700 * 1000);
    resp_status(r, 200);
    resp_header(r, "Content-Type", "text/plain");
    resp_write(r, "hello ", 6);
    resp_write(r, r->path, strlen(r->path));
}
static void stub_busy(struct req *r)
{
    resp_status(r, 503);
}
static void stub_done(struct req *r)
{
    (void)r;
}
static void stub_app_fn(void *app)
{
    (void)app;
}

static const struct server_app stub = {
    .init = stub_init,
    .worker_init = stub_worker_init,
    .worker_fini = stub_worker_fini,
    .handle = stub_handle,
    .busy = stub_busy,
    .request_done = stub_done,
    .flush = stub_app_fn,
    .fini = stub_app_fn,
};

/* --- the "web server" ---------------------------------------------------------------- */

static char sock_path[100]; /* a unix socket path: at most 107 bytes */
static size_t stdout_bytes; /* STDOUT content bytes of the last read_answer */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_unix(void)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    memcpy(un.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof un) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static size_t put_rec(unsigned char *b, int type, unsigned id, const void *c, size_t n)
{
    unsigned char h[8] = {1,
                          (unsigned char)type,
                          (unsigned char)(id >> 8),
                          (unsigned char)id,
                          (unsigned char)(n >> 8),
                          (unsigned char)n,
                          0,
                          0};
    memcpy(b, h, 8);
    if (n)
        memcpy(b + 8, c, n);
    return 8 + n;
}

static size_t put_nv(unsigned char *b, const char *k, const char *v)
{
    size_t kl = strlen(k), vl = strlen(v);
    b[0] = (unsigned char)kl;
    b[1] = (unsigned char)vl;
    memcpy(b + 2, k, kl);
    memcpy(b + 2 + kl, v, vl);
    return 2 + kl + vl;
}

/* Sends a GET for uri (request id 1, connection not kept). */
static int send_get(int fd, const char *uri)
{
    unsigned char b[1024], p[512];
    size_t n = 0, pl = 0;
    unsigned char role[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    n += put_rec(b + n, 1, 1, role, 8);
    pl += put_nv(p + pl, "REQUEST_METHOD", "GET");
    pl += put_nv(p + pl, "REQUEST_URI", uri);
    pl += put_nv(p + pl, "SCRIPT_NAME", "");
    pl += put_nv(p + pl, "REMOTE_ADDR", "127.0.0.1");
    n += put_rec(b + n, 4, 1, p, pl);
    n += put_rec(b + n, 4, 1, NULL, 0);
    n += put_rec(b + n, 5, 1, NULL, 0);
    return write(fd, b, n) == (ssize_t)n ? 0 : -1;
}

/* Reads records until END_REQUEST (or timeout_ms passes): STDOUT goes into out (NUL
 * terminated), GET_VALUES_RESULT content too. The record type that ended it, or -1. */
static int read_answer(int fd, char *out, size_t cap, int timeout_ms)
{
    /* On the heap: fortified memmove on a stack array of known size is __memmove_chk, which
     * valgrind reports as an overlapping memcpy. */
    static unsigned char *buf;
    if (!buf)
        buf = xmalloc(70000);
    size_t have = 0, o = 0;
    double end = now_s() + timeout_ms / 1000.0;
    out[0] = '\0';
    stdout_bytes = 0;
    for (;;) {
        while (have >= 8) {
            size_t len = (size_t)buf[4] << 8 | buf[5], total = 8 + len + buf[6];
            if (have < total)
                break;
            int type = buf[1];
            if (type == 6)
                stdout_bytes += len;
            if ((type == 6 || type == 10) && o + len < cap) {
                memcpy(out + o, buf + 8, len);
                o += len;
                out[o] = '\0';
            }
            memmove(buf, buf + total, have - total);
            have -= total;
            if (type == 3 || type == 10)
                return type;
        }
        int left = (int)((end - now_s()) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) != 1)
            return -1;
        ssize_t r = read(fd, buf + have, 70000 - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
}

static int early_status = -1; /* wait status of a server that exited while starting */

/* Starts server_run in a child on sock_path with threads workers; waits until it accepts
 * (or exits: early_status). */
static pid_t start_server(const char *threads)
{
    early_status = -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* Short deadlines (1 s) keep the test quick. */
        const char *argv[] = {"one-api",
                              "--listen=",
                              "--threads=",
                              "--log-dir=",
                              "--env-file=",
                              "--busy-reserve=0",
                              "--drain-timeout=5",
                              "--fcgi-head-timeout=1",
                              "--fcgi-io-timeout=1",
                              NULL};
        char listen[128], nthreads[32];
        snprintf(listen, sizeof listen, "--listen=%s", sock_path);
        snprintf(nthreads, sizeof nthreads, "--threads=%s", threads);
        argv[1] = listen;
        argv[2] = nthreads;
        struct config cfg;
        char err[256];
        int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
        if (config_load(&cfg, argc, argv, "test", err, sizeof err) != 0) {
            fprintf(stderr, "config: %s\n", err);
            _exit(3);
        }
        _exit(server_run(&cfg, &stub));
    }
    for (int i = 0; i < 200; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            early_status = st;
            return pid;
        }
        int fd = connect_unix();
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        usleep(10000);
    }
    return pid;
}

static int stop_server(pid_t pid)
{
    kill(pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int main(void)
{
    char dir[80];
    if (tmpdir_make(dir, sizeof dir, "oa-server") < 0)
        return 1;
    snprintf(sock_path, sizeof sock_path, "%.80s/s.sock", dir);
    char out[4096];

    /* Two workers and 64 connections that send nothing: none of them holds a worker, so a
     * real request is answered at once. */
    pid_t srv = start_server("2");
    int idle[64];
    int n_idle = 0;
    for (int i = 0; i < 64; i++)
        if ((idle[i] = connect_unix()) >= 0)
            n_idle++;
    is_int(n_idle, 64, "64 idle connections are open");
    usleep(100 * 1000); /* accepted by now */
    int fd = connect_unix();
    double t0 = now_s();
    ok(fd >= 0 && send_get(fd, "/api/status") == 0, "a request is sent after them");
    is_int(read_answer(fd, out, sizeof out, 3000), 3, "it is answered (END_REQUEST)");
    double took = now_s() - t0;
    ok(strstr(out, "hello /api/status") != NULL, "with the handler's body");
    ok(took < 0.5, "at once, though 64 idle connections outnumber the 2 workers (%.3f s)", took);
    close(fd);

    /* GET_VALUES through the server reports its worker limit. */
    fd = connect_unix();
    unsigned char q[64];
    size_t ql = put_nv(q, "FCGI_MAX_REQS", "");
    ql += put_nv(q + ql, "FCGI_MPXS_CONNS", "");
    unsigned char rb[128];
    size_t rl = put_rec(rb, 9, 0, q, ql);
    ok(fd >= 0 && write(fd, rb, rl) == (ssize_t)rl, "GET_VALUES sent");
    is_int(read_answer(fd, out, sizeof out, 3000), 10, "GET_VALUES_RESULT");
    ok(memmem(out, sizeof out, "FCGI_MAX_REQS2", 14) != NULL, "FCGI_MAX_REQS = --threads (2)");
    close(fd);

    /* An idle connection that started a request is closed at the head deadline (1 s). */
    fd = connect_unix();
    unsigned char role[8] = {0, 1, 1, 0, 0, 0, 0, 0};
    rl = put_rec(rb, 1, 1, role, 8);
    ok(fd >= 0 && write(fd, rb, rl) == (ssize_t)rl, "a head that never completes");
    t0 = now_s();
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    char c1;
    int closed = poll(&pf, 1, 4000) == 1 && read(fd, &c1, 1) == 0;
    took = now_s() - t0;
    ok(closed && took > 0.8 && took < 3, "is closed after FCGI_HEAD_TIMEOUT (%.2f s)", took);
    close(fd);
    for (int i = 0; i < 64; i++)
        if (idle[i] >= 0)
            close(idle[i]);

    /* FCGI_IO_TIMEOUT (1 s) through the request layer: a buffered 2 MB answer to a peer that
     * does not read for 2.5 s is cut; a streamed one (resp_stream_begin lifts the write
     * deadline) waits for it and arrives whole. */
    fd = connect_unix();
    ok(fd >= 0 && send_get(fd, "/big") == 0, "a buffered 2 MB answer to a peer that waits");
    usleep(2500 * 1000);
    int cut = read_answer(fd, out, sizeof out, 5000) == -1;
    ok(cut && stdout_bytes > 0 && stdout_bytes < BIG_ANSWER,
       "... is cut after FCGI_IO_TIMEOUT (%zu bytes arrived)", stdout_bytes);
    close(fd);
    fd = connect_unix();
    ok(fd >= 0 && send_get(fd, "/stream") == 0, "a streamed 2 MB answer to a peer that waits");
    usleep(2500 * 1000);
    int end = read_answer(fd, out, sizeof out, 5000);
    is_int(end, 3, "... is not cut: END_REQUEST arrives");
    ok(stdout_bytes > BIG_ANSWER, "... after all of it (%zu bytes)", stdout_bytes);
    close(fd);

    /* Drain: SIGTERM with a request in flight; it completes, then the server exits 0, and
     * the idle connections it held are closed. */
    int slow = connect_unix();
    int idle_one = connect_unix();
    ok(slow >= 0 && send_get(slow, "/slow") == 0, "a slow request in flight");
    usleep(200 * 1000);
    kill(srv, SIGTERM);
    is_int(read_answer(slow, out, sizeof out, 5000), 3, "SIGTERM: the request in flight completes");
    ok(strstr(out, "hello /slow") != NULL, "... with its body");
    pf = (struct pollfd){.fd = idle_one, .events = POLLIN};
    closed = poll(&pf, 1, 3000) == 1 && read(idle_one, &c1, 1) == 0;
    ok(closed, "an idle connection is closed by the drain");
    is_int(stop_server(srv), 0, "the server exits 0 after the drain");
    close(slow);
    close(idle_one);

    /* --listen on a path that is not a socket: refused, the file left alone. */
    snprintf(sock_path, sizeof sock_path, "%.80s/plain-file", dir);
    FILE *f = fopen(sock_path, "w");
    fputs("keep me", f);
    fclose(f);
    start_server("2");
    int st = early_status;
    ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
       "--listen on a regular file fails to start");
    f = fopen(sock_path, "r");
    char content[32] = "";
    if (f) {
        if (!fgets(content, sizeof content, f))
            content[0] = '\0';
        fclose(f);
    }
    is_str(content, "keep me", "... and the file is intact");

    tmpdir_remove(dir);
    return done_testing();
}
