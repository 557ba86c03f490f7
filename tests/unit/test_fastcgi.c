/* Unit tests for fcgi/fastcgi.c: the FastCGI responder over a socketpair, byte for byte as
 * a web server sends and reads records. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/fastcgi.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A growable byte buffer for building what the "web server" sends. */
struct bytes {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct bytes *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void rec(struct bytes *b, int type, unsigned id, const void *content, size_t len, int pad)
{
    unsigned char h[8] = {1,
                          (unsigned char)type,
                          (unsigned char)(id >> 8),
                          (unsigned char)id,
                          (unsigned char)(len >> 8),
                          (unsigned char)len,
                          (unsigned char)pad,
                          0};
    put(b, h, 8);
    if (len)
        put(b, content, len);
    static const unsigned char zeros[255];
    if (pad)
        put(b, zeros, (size_t)pad);
}

static void begin(struct bytes *b, unsigned id, int role, int keep)
{
    unsigned char body[8] = {
        (unsigned char)(role >> 8), (unsigned char)role, (unsigned char)keep, 0, 0, 0, 0, 0};
    rec(b, 1, id, body, 8, 0);
}

/* name-value pairs, with 4-byte lengths when a value is long */
static void nv(struct bytes *b, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    unsigned char l[8];
    size_t k = 0;
    l[k++] = (unsigned char)nl;
    if (vl < 128) {
        l[k++] = (unsigned char)vl;
    } else {
        l[k++] = (unsigned char)(0x80 | (vl >> 24));
        l[k++] = (unsigned char)(vl >> 16);
        l[k++] = (unsigned char)(vl >> 8);
        l[k++] = (unsigned char)vl;
    }
    put(b, l, k);
    put(b, name, nl);
    put(b, value, vl);
}

struct parsed {
    int type;
    unsigned id;
    size_t len;
    unsigned char content[70000];
};

/* Reads one record the responder wrote. */
static int read_rec(int fd, struct parsed *r)
{
    unsigned char h[8];
    size_t got = 0;
    while (got < 8) {
        ssize_t k = read(fd, h + got, 8 - got);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    r->type = h[1];
    r->id = (unsigned)h[2] << 8 | h[3];
    r->len = (size_t)h[4] << 8 | h[5];
    size_t total = r->len + h[6];
    got = 0;
    unsigned char pad[256];
    while (got < total) {
        unsigned char *dst = got < r->len ? r->content + got : pad;
        size_t want = got < r->len ? r->len - got : total - got;
        ssize_t k = read(fd, dst, want);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Reads the STDOUT stream of request id up to END_REQUEST; returns its protocol status. */
static int read_response(int fd, unsigned id, struct bytes *out)
{
    static struct parsed r;
    out->n = 0;
    while (read_rec(fd, &r) == 0) {
        if (r.id != id)
            continue;
        if (r.type == 6)
            put(out, r.content, r.len);
        if (r.type == 3)
            return r.content[4];
    }
    return -1;
}

static void send_all(int fd, const struct bytes *b)
{
    size_t off = 0;
    while (off < b->n) {
        ssize_t k = write(fd, b->p + off, b->n - off);
        if (k <= 0)
            return;
        off += (size_t)k;
    }
}

/* A connected pair: sv[0] is the responder's end, non-blocking as the server makes it. */
static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A child process plays the web server: writes b to fd (all at once, or one byte per write
 * with gap_us between), then reads and drops whatever comes back until EOF, so that the
 * responder's writes never wait on it. */
static pid_t feeder(const struct bytes *b, int fd, int gap_us)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (gap_us) {
        for (size_t i = 0; i < b->n; i++) {
            if (write(fd, b->p + i, 1) != 1)
                _exit(1);
            usleep((useconds_t)gap_us);
        }
    } else {
        send_all(fd, b);
    }
    char sink[4096];
    while (read(fd, sink, sizeof sink) > 0)
        ;
    _exit(0);
}

static void reap(pid_t pid)
{
    int st;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

/* A request: BEGIN, the params (one record), the end of params, then body (empty allowed),
 * in STDIN records of at most rec_max bytes, and the end of the body. */
static void request(struct bytes *b, unsigned id, int keep, const char *method, const char *body,
                    size_t body_len, size_t rec_max)
{
    struct bytes p = {0};
    begin(b, id, 1, keep);
    nv(&p, "REQUEST_METHOD", method);
    nv(&p, "REQUEST_URI", "/t");
    rec(b, 4, id, p.p, p.n, 0);
    rec(b, 4, id, NULL, 0, 0);
    for (size_t off = 0; off < body_len; off += rec_max) {
        size_t k = body_len - off < rec_max ? body_len - off : rec_max;
        rec(b, 5, id, body + off, k, (int)(off % 7)); /* some padded, some not */
    }
    rec(b, 5, id, NULL, 0, 0);
    free(p.p);
}

/* Reads the whole body of the current request; bytes read, or -1 on an error. */
static long read_body(struct fcgi_conn *c, char *buf, size_t cap, size_t chunk)
{
    size_t got = 0;
    long k;
    while (got < cap && (k = fcgi_read(c, buf + got, cap - got < chunk ? cap - got : chunk)) > 0)
        got += (size_t)k;
    if (got < cap && k < 0)
        return -1;
    return (long)got;
}

/* Searches a GET_VALUES_RESULT for name and copies its value into v. */
static int nv_lookup(const unsigned char *p, size_t n, const char *name, char *v, size_t vn)
{
    size_t i = 0;
    while (i + 2 <= n) {
        size_t nl = p[i], vl = p[i + 1];
        if (i + 2 + nl + vl > n)
            return -1;
        if (nl == strlen(name) && !memcmp(p + i + 2, name, nl)) {
            size_t k = vl < vn - 1 ? vl : vn - 1;
            memcpy(v, p + i + 2 + nl, k);
            v[k] = '\0';
            return 0;
        }
        i += 2 + nl + vl;
    }
    return -1;
}

/* How many times name occurs in a GET_VALUES_RESULT. */
static int nv_count(const unsigned char *p, size_t n, const char *name)
{
    int count = 0;
    for (size_t i = 0; i + 2 <= n && i + 2 + p[i] + p[i + 1] <= n; i += 2 + p[i] + p[i + 1])
        count += p[i] == strlen(name) && !memcmp(p + i + 2, name, p[i]);
    return count;
}

int main(void)
{
    struct arena *a = arena_new(4096);
    static struct fcgi_conn c;
    int sv[2];
    pair(sv);
    struct bytes b = {0}, out = {0};

    /* A GET on a kept connection: params split across records, padding, empty STDIN. */
    begin(&b, 1, 1, 1);
    struct bytes p = {0};
    nv(&p, "REQUEST_METHOD", "GET");
    nv(&p, "REQUEST_URI", "/api/status");
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    nv(&p, "HTTP_X_LONG", longv);
    rec(&b, 4, 1, p.p, 10, 6); /* a pair cut between two records */
    rec(&b, 4, 1, p.p + 10, p.n - 10, 0);
    rec(&b, 4, 1, NULL, 0, 0);
    rec(&b, 5, 1, NULL, 0, 0);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], NULL);
    is_int(fcgi_begin(&c, a), 0, "a request is read");
    ok(c.keep_conn, "FCGI_KEEP_CONN is seen");
    is_str(fcgi_param(&c, "REQUEST_METHOD"), "GET", "a param");
    is_str(fcgi_param(&c, "REQUEST_URI"), "/api/status", "a param split across records");
    is_int(strlen(fcgi_param(&c, "HTTP_X_LONG") ? fcgi_param(&c, "HTTP_X_LONG") : ""), 299,
           "a long value (4-byte length)");
    ok(fcgi_param(&c, "NOPE") == NULL, "a missing param is NULL");
    char buf[100];
    is_int(fcgi_read(&c, buf, sizeof buf), 0, "an empty body reads as its end");
    fcgi_write(&c, "Status: 200\r\n\r\n", 15);
    fcgi_write(&c, "hello", 5);
    is_int(fcgi_end(&c), 1, "the kept connection can carry another request");
    is_int(read_response(sv[1], 1, &out), 0, "END_REQUEST with REQUEST_COMPLETE");
    put(&out, "", 1);
    is_str((char *)out.p, "Status: 200\r\n\r\nhello", "STDOUT carries headers and body");
    arena_reset(a);

    /* The next request on the same connection: a POST whose body spans records, then a
     * large body that is read straight into the caller's buffer. */
    b.n = 0;
    p.n = 0;
    begin(&b, 2, 1, 1);
    nv(&p, "REQUEST_METHOD", "POST");
    rec(&b, 4, 2, p.p, p.n, 0);
    rec(&b, 4, 2, NULL, 0, 0);
    rec(&b, 5, 2, "{\"a\":", 5, 3);
    rec(&b, 5, 2, "1}", 2, 0);
    rec(&b, 5, 2, NULL, 0, 0);
    send_all(sv[1], &b);
    is_int(fcgi_begin(&c, a), 0, "a second request on the kept connection");
    size_t got = 0;
    long k;
    while ((k = fcgi_read(&c, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    is_int(k, 0, "the body ends");
    is_str(buf, "{\"a\":1}", "the body is joined across records, padding skipped");
    is_int(fcgi_end(&c), 1, "kept again");
    is_int(read_response(sv[1], 2, &out), 0, "answered");
    arena_reset(a);

    /* GET_VALUES on the management id is answered; an unknown management type too. */
    b.n = 0;
    p.n = 0;
    nv(&p, "FCGI_MPXS_CONNS", "");
    rec(&b, 9, 0, p.p, p.n, 0);
    rec(&b, 42, 0, NULL, 0, 0);
    /* then a request with a non-responder role, refused, then a responder one */
    begin(&b, 3, 2, 1);
    begin(&b, 4, 1, 0);
    rec(&b, 4, 4, NULL, 0, 0);
    rec(&b, 5, 4, "abc", 3, 0);
    rec(&b, 5, 4, NULL, 0, 0);
    send_all(sv[1], &b);
    is_int(fcgi_begin(&c, a), 0, "a request after management records and a refused role");
    is_int(c.id, 4, "it is the responder request");
    ok(!c.keep_conn, "this one does not keep the connection");
    static struct parsed r;
    read_rec(sv[1], &r);
    is_int(r.type, 10, "GET_VALUES_RESULT");
    r.content[r.len] = '\0';
    ok(r.len > 2 && !memcmp(r.content + 2, "FCGI_MPXS_CONNS0", 16), "FCGI_MPXS_CONNS is 0");
    read_rec(sv[1], &r);
    is_int(r.type, 11, "UNKNOWN_TYPE for type 42");
    is_int(r.content[0], 42, "... naming it");
    read_rec(sv[1], &r);
    ok(r.type == 3 && r.id == 3 && r.content[4] == 3, "the authorizer role gets UNKNOWN_ROLE");
    /* The handler answers without reading the body: not kept (kept only when asked). */
    is_int(fcgi_end(&c), 0, "a connection the web server does not keep is closed");
    read_response(sv[1], 4, &out);
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);

    /* A large response goes out in several records; an unread body that is not buffered
     * yet means the connection cannot be kept. */
    pair(sv);
    b.n = 0;
    begin(&b, 7, 1, 1);
    rec(&b, 4, 7, NULL, 0, 0);
    char chunk[1000];
    memset(chunk, 'b', sizeof chunk);
    rec(&b, 5, 7, chunk, sizeof chunk, 0); /* no end-of-body record yet */
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], NULL);
    is_int(fcgi_begin(&c, a), 0, "a request whose body is still coming");
    static char big[200000];
    memset(big, 'z', sizeof big);
    /* the reader drains the socket in the background of a forked child */
    pid_t child = fork();
    if (child == 0) {
        close(sv[0]);
        struct bytes o = {0};
        int st = read_response(sv[1], 7, &o);
        _exit(st == 0 && o.n == sizeof big ? 0 : 1);
    }
    ok(fcgi_write(&c, big, sizeof big) == 0, "a 200 KB response is written");
    is_int(fcgi_end(&c), 0, "with the body unread, the connection is not kept");
    int st = 0;
    waitpid(child, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the peer reads all 200,000 bytes and END_REQUEST");
    close(sv[0]);
    close(sv[1]);

    /* Garbage instead of a record header: an error, not a crash. */
    pair(sv);
    if (write(sv[1], "GET / HTTP/1.1\r\n\r\n", 18) != 18)
        return 1;
    shutdown(sv[1], SHUT_WR);
    fcgi_conn_init(&c, sv[0], NULL);
    is_int(fcgi_begin(&c, a), -1, "HTTP sent to the FastCGI port is refused");
    close(sv[0]);
    close(sv[1]);

    /* EOF in the middle of params. */
    pair(sv);
    b.n = 0;
    begin(&b, 9, 1, 1);
    rec(&b, 4, 9, "\x05", 1, 0);
    send_all(sv[1], &b);
    shutdown(sv[1], SHUT_WR);
    fcgi_conn_init(&c, sv[0], NULL);
    is_int(fcgi_begin(&c, a), -1, "a connection closed mid-params is an error");
    close(sv[0]);
    close(sv[1]);

    /* Short deadlines for what follows; GET_VALUES reports these limits. */
    static const struct fcgi_limits lim = {
        .head_ms = 300, .io_ms = 300, .max_conns = 1000, .max_reqs = 77};
    double t0;

    /* ABORT_REQUEST in the middle of the params of a kept connection: answered with
     * END_REQUEST, and the next request on the connection is served. */
    pair(sv);
    b.n = 0;
    p.n = 0;
    begin(&b, 11, 1, 1);
    nv(&p, "REQUEST_METHOD", "PUT");
    rec(&b, 4, 11, p.p, p.n, 0);
    rec(&b, 2, 11, NULL, 0, 0);
    request(&b, 12, 1, "GET", NULL, 0, 1);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "abort before the params end: the next request is read");
    is_int(c.id, 12, "... it is the request after the aborted one");
    is_str(fcgi_param(&c, "REQUEST_METHOD"), "GET", "... with its own params only");
    is_int(read_response(sv[1], 11, &out), 0, "the aborted request gets END_REQUEST (complete)");
    is_int(fcgi_read(&c, buf, sizeof buf), 0, "the next request's empty body");
    fcgi_write(&c, "Status: 204\r\n\r\n", 15);
    is_int(fcgi_end(&c), 1, "... answered, the connection kept");
    is_int(read_response(sv[1], 12, &out), 0, "... END_REQUEST for it");
    arena_reset(a);

    /* ABORT_REQUEST once the params are in, while the body is read: the read and the writes
     * fail, END_REQUEST still goes out, and the connection is not kept. A second BEGIN on the
     * busy connection is refused with CANT_MPX_CONN. */
    b.n = 0;
    p.n = 0;
    begin(&b, 13, 1, 1);
    nv(&p, "REQUEST_METHOD", "POST");
    rec(&b, 4, 13, p.p, p.n, 0);
    rec(&b, 4, 13, NULL, 0, 0);
    rec(&b, 5, 13, "abc", 3, 0);
    begin(&b, 14, 1, 1);
    rec(&b, 2, 13, NULL, 0, 0);
    send_all(sv[1], &b);
    is_int(fcgi_begin(&c, a), 0, "a POST whose body is coming");
    char body4[4];
    is_int(fcgi_read(&c, body4, 3), 3, "its first body bytes");
    is_int(fcgi_read(&c, buf, sizeof buf), -1, "after an ABORT_REQUEST the body read fails");
    ok(c.aborted, "... the request is marked aborted");
    is_int(fcgi_write(&c, "x", 1), -1, "... and writes are refused");
    is_int(fcgi_end(&c), 0, "an aborted request does not keep the connection");
    read_rec(sv[1], &r);
    ok(r.type == 3 && r.id == 14 && r.content[4] == 1,
       "a second BEGIN_REQUEST on a busy connection gets CANT_MPX_CONN");
    is_int(read_response(sv[1], 13, &out), 0, "the aborted request gets its END_REQUEST");
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);

    /* Pipelined: two requests in one write, both read from what was read ahead. */
    pair(sv);
    b.n = 0;
    request(&b, 21, 1, "GET", NULL, 0, 1);
    request(&b, 22, 1, "POST", "hello", 5, 2);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "pipelined: the first request");
    fcgi_write(&c, "Status: 200\r\n\r\none", 18);
    is_int(fcgi_end(&c), 1, "... kept");
    ok(fcgi_has_pending(&c), "... the second is already read ahead");
    arena_reset(a);
    is_int(fcgi_begin(&c, a), 0, "pipelined: the second request");
    is_int(c.id, 22, "... with its id");
    is_int(read_body(&c, buf, sizeof buf, sizeof buf), 5, "... its body across records");
    ok(!memcmp(buf, "hello", 5), "... intact");
    fcgi_write(&c, "Status: 200\r\n\r\ntwo", 18);
    is_int(fcgi_end(&c), 1, "... kept");
    is_int(read_response(sv[1], 21, &out), 0, "the first answer");
    is_int(read_response(sv[1], 22, &out), 0, "the second answer, in order");
    put(&out, "", 1);
    is_str((char *)out.p, "Status: 200\r\n\r\ntwo", "... its body");
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);

    /* A 1 MB body in 65,535-byte records (and a few odd sizes), read through the direct
     * path (the caller's buffer is larger than the read-ahead). */
    /* Static: a forked feeder that exits would report heap buffers as leaked (valgrind). */
    static char in_body[1 << 20], got_body[1 << 20];
    size_t big_n = sizeof in_body;
    for (size_t i = 0; i < big_n; i++)
        in_body[i] = (char)('a' + i % 23);
    pair(sv);
    b.n = 0;
    request(&b, 31, 0, "POST", in_body, big_n, 65535);
    pid_t kid = feeder(&b, sv[1], 0);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "a request with a 1 MB body");
    is_int(read_body(&c, got_body, big_n, 65536), (long)big_n, "the whole body is read");
    ok(!memcmp(in_body, got_body, big_n), "... byte for byte");
    is_int(fcgi_read(&c, buf, sizeof buf), 0, "... then its end");
    arena_reset(a);
    close(sv[0]);
    reap(kid);
    close(sv[1]);

    /* Drip-fed: one byte per write, a POST with a body; waits are short but many. */
    pair(sv);
    b.n = 0;
    request(&b, 41, 1, "POST", "{\"drip\":1}", 10, 3);
    kid = feeder(&b, sv[1], 200);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "drip-fed: the head is read byte by byte");
    is_str(fcgi_param(&c, "REQUEST_METHOD"), "POST", "... its params intact");
    memset(buf, 0, sizeof buf);
    is_int(read_body(&c, buf, sizeof buf, 4), 10, "... and its body");
    is_str(buf, "{\"drip\":1}", "... intact");
    arena_reset(a);
    close(sv[0]);
    reap(kid);
    close(sv[1]);

    /* Params over the limit (1 MiB): refused, not buffered without end. */
    size_t huge = (1u << 20) + 4096;
    char *zeros = calloc(1, 65535);
    pair(sv);
    b.n = 0;
    begin(&b, 51, 1, 1);
    for (size_t off = 0; off < huge; off += 65535)
        rec(&b, 4, 51, zeros, 65535, 0);
    kid = feeder(&b, sv[1], 0);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), -1, "params over 1 MiB are refused");
    ok(c.failed && !c.timed_out, "... as a protocol error");
    arena_reset(a);
    close(sv[0]);
    reap(kid);
    close(sv[1]);

    /* The limit holds for one request's head, aborted attempts included: two 600 KB tries. */
    pair(sv);
    b.n = 0;
    for (unsigned id = 52; id <= 53; id++) {
        begin(&b, id, 1, 1);
        for (int i = 0; i < 10; i++)
            rec(&b, 4, id, zeros, 60000, 0);
        rec(&b, 2, id, NULL, 0, 0);
    }
    kid = feeder(&b, sv[1], 0);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), -1, "params of aborted attempts count toward the same limit");
    ok(arena_footprint(a) < (3u << 20), "... the params buffer is reused (arena %zu bytes)",
       arena_footprint(a));
    arena_reset(a);
    close(sv[0]);
    reap(kid);
    close(sv[1]);

    /* Endless BEGIN/ABORT pairs: a loop, not a recursion; the head deadline ends it and
     * memory stays flat. The peer streams pairs as fast as it can and drops the answers. */
    pair(sv);
    kid = fork();
    if (kid == 0) {
        struct bytes cyc = {0};
        for (int i = 0; i < 512; i++) {
            begin(&cyc, 1 + (unsigned)i % 100, 1, 1);
            rec(&cyc, 4, 1 + (unsigned)i % 100,
                "\x01\x01"
                "Xy",
                4, 0);
            rec(&cyc, 2, 1 + (unsigned)i % 100, NULL, 0, 0);
        }
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        char sink[65536];
        double end = now_s() + 10;
        while (now_s() < end) {
            ssize_t w = write(sv[1], cyc.p, cyc.n);
            if (w < 0 && errno != EAGAIN)
                _exit(0);
            while (read(sv[1], sink, sizeof sink) > 0)
                ;
            struct pollfd pf = {.fd = sv[1], .events = POLLOUT | POLLIN};
            poll(&pf, 1, 10);
        }
        _exit(0);
    }
    fcgi_conn_init(&c, sv[0], &lim);
    t0 = now_s();
    is_int(fcgi_begin(&c, a), -1, "endless BEGIN/ABORT pairs end in an error");
    double took = now_s() - t0;
    ok(c.timed_out, "... at the head deadline");
    ok(took >= 0.25 && took < 3, "... after about 300 ms (%.2f s)", took);
    ok(arena_footprint(a) < 64 * 1024, "... in bounded memory (arena %zu bytes)",
       arena_footprint(a));
    arena_reset(a);
    close(sv[0]);
    reap(kid);
    close(sv[1]);

    /* GET_VALUES: the real limits, the query longer than 256 bytes answered, each name once. */
    pair(sv);
    b.n = 0;
    p.n = 0;
    char longname[300];
    memset(longname, 'N', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    nv(&p, "FCGI_MAX_CONNS", "");
    nv(&p, "X", longname); /* a value over 127 bytes: a 4-byte length */
    nv(&p, "FCGI_MAX_REQS", "");
    nv(&p, "FCGI_MPXS_CONNS", "");
    for (int i = 0; i < 40; i++)
        nv(&p, "FCGI_MAX_REQS", "");
    rec(&b, 9, 0, p.p, p.n, 0);
    request(&b, 61, 0, "GET", NULL, 0, 1);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "a request after a long GET_VALUES (%zu bytes)", p.n);
    read_rec(sv[1], &r);
    is_int(r.type, 10, "the long query is answered with GET_VALUES_RESULT");
    char val[32] = "";
    nv_lookup(r.content, r.len, "FCGI_MAX_REQS", val, sizeof val);
    is_str(val, "77", "FCGI_MAX_REQS is the worker limit");
    val[0] = '\0';
    nv_lookup(r.content, r.len, "FCGI_MAX_CONNS", val, sizeof val);
    is_str(val, "1000", "FCGI_MAX_CONNS is the connection limit");
    val[0] = '\0';
    nv_lookup(r.content, r.len, "FCGI_MPXS_CONNS", val, sizeof val);
    is_str(val, "0", "FCGI_MPXS_CONNS is 0");
    is_int(nv_count(r.content, r.len, "FCGI_MAX_REQS"), 1,
           "a name asked 41 times is answered once");
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);

    /* Head deadline: a silent peer, and one that drips a byte every 50 ms forever. The
     * deadline is a total: the drip does not extend it. */
    pair(sv);
    fcgi_conn_init(&c, sv[0], &lim);
    t0 = now_s();
    is_int(fcgi_begin(&c, a), -1, "a silent peer misses the head deadline");
    took = now_s() - t0;
    ok(c.timed_out && took >= 0.25 && took < 2, "... after 300 ms (%.2f s)", took);
    close(sv[0]);
    close(sv[1]);
    pair(sv);
    b.n = 0;
    begin(&b, 71, 1, 1);
    for (int i = 0; i < 200; i++)
        rec(&b, 4, 71,
            "\x01\x01"
            "Ab",
            4, 0);
    kid = feeder(&b, sv[1], 50 * 1000 / 12); /* about one 12-byte record every 50 ms */
    fcgi_conn_init(&c, sv[0], &lim);
    t0 = now_s();
    is_int(fcgi_begin(&c, a), -1, "a dripping peer misses the head deadline");
    took = now_s() - t0;
    ok(c.timed_out && took >= 0.25 && took < 2, "... after 300 ms in all (%.2f s)", took);
    arena_reset(a);
    close(sv[0]);
    reap(kid);
    close(sv[1]);

    /* Body deadline: the params come, the body never does. */
    pair(sv);
    b.n = 0;
    p.n = 0;
    begin(&b, 81, 1, 1);
    nv(&p, "REQUEST_METHOD", "POST");
    rec(&b, 4, 81, p.p, p.n, 0);
    rec(&b, 4, 81, NULL, 0, 0);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "a POST whose body never comes");
    t0 = now_s();
    is_int(fcgi_read(&c, buf, sizeof buf), -1, "the body read gives up");
    took = now_s() - t0;
    ok(c.timed_out && took >= 0.25 && took < 2, "... after FCGI_IO_TIMEOUT (%.2f s)", took);
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);

    /* Write deadline: a peer that never reads gets its buffered answer cut after
     * FCGI_IO_TIMEOUT; a streamed answer instead waits for as long as the peer takes. */
    pair(sv);
    b.n = 0;
    request(&b, 91, 1, "GET", NULL, 0, 1);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "a request from a peer that will not read");
    t0 = now_s();
    int wr = fcgi_write(&c, big, sizeof big);
    if (wr == 0)
        wr = fcgi_write(&c, in_body, big_n);
    took = now_s() - t0;
    is_int(wr, -1, "writing to a peer that never reads fails");
    ok(c.timed_out && took >= 0.25 && took < 2, "... after FCGI_IO_TIMEOUT (%.2f s)", took);
    is_int(fcgi_end(&c), 0, "... and the connection is closed");
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);

    pair(sv);
    b.n = 0;
    request(&b, 92, 1, "GET", NULL, 0, 1);
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0], &lim);
    is_int(fcgi_begin(&c, a), 0, "a streamed answer to a slow reader");
    kid = fork();
    if (kid == 0) { /* reads nothing for 800 ms, then everything */
        close(sv[0]);
        usleep(800 * 1000);
        struct bytes o = {0};
        _exit(read_response(sv[1], 92, &o) == 0 && o.n == big_n ? 0 : 1);
    }
    fcgi_stream(&c);
    t0 = now_s();
    ok(fcgi_write(&c, in_body, big_n) == 0 && fcgi_flush(&c) == 0,
       "a streamed write waits past FCGI_IO_TIMEOUT for the reader");
    took = now_s() - t0;
    ok(took >= 0.5, "... it did wait (%.2f s)", took);
    is_int(fcgi_end(&c), 1, "... and the request ends normally");
    waitpid(kid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the slow reader got all of the stream");
    arena_reset(a);
    close(sv[0]);
    close(sv[1]);
    free(zeros);

    free(b.p);
    free(p.p);
    free(out.p);
    arena_free(a);
    return done_testing();
}
