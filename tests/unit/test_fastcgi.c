/* Unit tests for fcgi/fastcgi.c: the FastCGI responder over a socketpair, byte for byte as
 * a web server sends and reads records. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/fastcgi.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

int main(void)
{
    struct arena *a = arena_new(4096);
    static struct fcgi_conn c;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
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
    fcgi_conn_init(&c, sv[0]);
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
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    b.n = 0;
    begin(&b, 7, 1, 1);
    rec(&b, 4, 7, NULL, 0, 0);
    char chunk[1000];
    memset(chunk, 'b', sizeof chunk);
    rec(&b, 5, 7, chunk, sizeof chunk, 0); /* no end-of-body record yet */
    send_all(sv[1], &b);
    fcgi_conn_init(&c, sv[0]);
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
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    if (write(sv[1], "GET / HTTP/1.1\r\n\r\n", 18) != 18)
        return 1;
    shutdown(sv[1], SHUT_WR);
    fcgi_conn_init(&c, sv[0]);
    is_int(fcgi_begin(&c, a), -1, "HTTP sent to the FastCGI port is refused");
    close(sv[0]);
    close(sv[1]);

    /* EOF in the middle of params. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    b.n = 0;
    begin(&b, 9, 1, 1);
    rec(&b, 4, 9, "\x05", 1, 0);
    send_all(sv[1], &b);
    shutdown(sv[1], SHUT_WR);
    fcgi_conn_init(&c, sv[0]);
    is_int(fcgi_begin(&c, a), -1, "a connection closed mid-params is an error");
    close(sv[0]);
    close(sv[1]);

    free(b.p);
    free(p.p);
    free(out.p);
    arena_free(a);
    return done_testing();
}
