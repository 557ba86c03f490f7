/* fastcgi: the FastCGI 1.0 responder role over one non-blocking connection with deadlines. */
#include "config.h"
#include "fcgi/fastcgi.h"
#include "fcgi/arena.h"
#include "fcgi/log.h"
#include "fcgi/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    T_BEGIN = 1,
    T_ABORT = 2,
    T_END = 3,
    T_PARAMS = 4,
    T_STDIN = 5,
    T_STDOUT = 6,
    T_GET_VALUES = 9,
    T_GET_VALUES_RESULT = 10,
    T_UNKNOWN_TYPE = 11,
};
enum { ROLE_RESPONDER = 1, FLAG_KEEP_CONN = 1 };
enum { ST_COMPLETE = 0, ST_CANT_MPX = 1, ST_UNKNOWN_ROLE = 3 };
#define HDR 8
#define MAX_CONTENT 65535
#define MAX_PARAMS_BYTES (1u << 20) /* nginx sends a few KB; refuse absurd headers */

struct rec {
    int type;
    unsigned id;
    size_t len, pad;
};

static const struct fcgi_limits default_limits = {5000, 60000, 1, 1};

void fcgi_conn_init(struct fcgi_conn *c, int fd, const struct fcgi_limits *lim)
{
    c->fd = fd;
    c->lim = lim ? lim : &default_limits;
    c->in_off = c->in_len = 0;
    c->out_len = 0;
    c->failed = c->timed_out = 0;
    c->in_head = c->streaming = 0;
    c->head_deadline = 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The peer, for the log: "127.0.0.1:40000", "[::1]:40000" or "unix socket". */
static void peer_name(int fd, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(buf, n, "a closed socket");
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, n, "%s:%u", host, ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, n, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(buf, n, "unix socket (fd %d)", fd);
    }
}

/* Marks c failed for a missed deadline, with one info line naming the peer. */
static void missed(struct fcgi_conn *c, const char *what, int ms)
{
    char peer[96];
    peer_name(c->fd, peer, sizeof peer);
    LOG_INFO("FastCGI connection from %s: %s (%d ms); closing it", peer, what, ms);
    c->failed = 1;
    c->timed_out = 1;
}

/* Inside the head, the time left before its deadline, which starts with the first wait
 * (the connection was readable when it was dispatched, so that is within microseconds of
 * it): 0 when it has passed. */
static int head_left(struct fcgi_conn *c)
{
    long long now = now_ms();
    if (!c->head_deadline)
        c->head_deadline = now + c->lim->head_ms;
    return c->head_deadline > now ? (int)(c->head_deadline - now) : 0;
}

/* Waits until fd is ready for events (POLLIN or POLLOUT) or its deadline passes: the head
 * deadline inside fcgi_begin, else FCGI_IO_TIMEOUT per wait (none for a streamed answer's
 * writes). 0 when ready (or in error: the next read or write says which), -1 on timeout. */
static int wait_io(struct fcgi_conn *c, short events)
{
    int ms = -1;
    if (c->in_head) {
        ms = head_left(c);
        if (ms == 0) {
            missed(c, "request head not complete before FCGI_HEAD_TIMEOUT", c->lim->head_ms);
            return -1;
        }
    } else if (c->lim->io_ms > 0 && !(events == POLLOUT && c->streaming)) {
        ms = c->lim->io_ms;
    }
    struct pollfd p = {.fd = c->fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue; /* the head deadline is re-read on the next wait; I/O ones restart */
        if (n < 0) {
            c->failed = 1;
            return -1;
        }
        missed(c,
               c->in_head          ? "request head not complete before FCGI_HEAD_TIMEOUT"
               : events == POLLOUT ? "the web server read nothing within FCGI_IO_TIMEOUT"
                                   : "no request body within FCGI_IO_TIMEOUT",
               c->in_head ? c->lim->head_ms : ms);
        return -1;
    }
}

/* read(2) that waits for data within the deadline: bytes read, 0 at EOF, -1 on error. */
static ssize_t read_some(struct fcgi_conn *c, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(c->fd, buf, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || wait_io(c, POLLIN) < 0)
            return -1;
    }
}

static void put_hdr(unsigned char *h, int type, unsigned id, size_t len)
{
    h[0] = 1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(id >> 8);
    h[3] = (unsigned char)id;
    h[4] = (unsigned char)(len >> 8);
    h[5] = (unsigned char)len;
    h[6] = 0; /* no padding: alignment is a hint, and every web server reads unpadded records */
    h[7] = 0;
}

/* Writes all of iov; marks the connection failed on error. */
static int write_all(struct fcgi_conn *c, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_io(c, POLLOUT) == 0)
                continue;
            c->failed = 1;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int send_out(struct fcgi_conn *c)
{
    if (!c->out_len)
        return 0;
    struct iovec v = {c->out, c->out_len};
    c->out_len = 0;
    return write_all(c, &v, 1);
}

/* Appends a whole small record (management answers, END_REQUEST) to the output. */
static int put_record(struct fcgi_conn *c, int type, unsigned id, const void *body, size_t len)
{
    if (c->out_len + HDR + len > sizeof c->out && send_out(c) < 0)
        return -1;
    put_hdr(c->out + c->out_len, type, id, len);
    if (len)
        memcpy(c->out + c->out_len + HDR, body, len);
    c->out_len += HDR + len;
    return 0;
}

static int put_end(struct fcgi_conn *c, unsigned id, int proto_status)
{
    unsigned char b[8] = {0, 0, 0, 0, (unsigned char)proto_status, 0, 0, 0};
    return put_record(c, T_END, id, b, sizeof b);
}

/* Makes at least want bytes available in c->in (want <= FCGI_INBUF). */
static int fill(struct fcgi_conn *c, size_t want)
{
    if (c->in_len - c->in_off >= want)
        return 0;
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    while (c->in_len < want) {
        ssize_t r = read_some(c, c->in + c->in_len, sizeof c->in - c->in_len);
        if (r <= 0) {
            c->failed = 1;
            return -1;
        }
        c->in_len += (size_t)r;
    }
    return 0;
}

/* Copies n bytes of the stream into dst (NULL: skips them). */
static int take(struct fcgi_conn *c, void *dst, size_t n)
{
    unsigned char *d = dst;
    while (n) {
        if (c->in_off == c->in_len && fill(c, 1) < 0)
            return -1;
        size_t k = c->in_len - c->in_off;
        if (k > n)
            k = n;
        if (d) {
            memcpy(d, c->in + c->in_off, k);
            d += k;
        }
        c->in_off += k;
        n -= k;
    }
    return 0;
}

static int next_record(struct fcgi_conn *c, struct rec *rc)
{
    if (fill(c, HDR) < 0)
        return -1;
    const unsigned char *h = c->in + c->in_off;
    if (h[0] != 1) {
        c->failed = 1;
        return -1;
    }
    rc->type = h[1];
    rc->id = (unsigned)h[2] << 8 | h[3];
    rc->len = (size_t)h[4] << 8 | h[5];
    rc->pad = h[6];
    c->in_off += HDR;
    return 0;
}

static int read_len(const unsigned char **p, const unsigned char *end, size_t *out)
{
    if (*p >= end)
        return -1;
    if (!(**p & 0x80)) {
        *out = *(*p)++;
        return 0;
    }
    if (end - *p < 4)
        return -1;
    *out = ((size_t)((*p)[0] & 0x7f) << 24) | ((size_t)(*p)[1] << 16) | ((size_t)(*p)[2] << 8) |
           (*p)[3];
    *p += 4;
    return 0;
}

/* Splits name-value pairs into NUL-terminated strings in place: a pair's length prefix (at
 * least two bytes) makes room for the two NULs, so the output never overtakes the input. */
static int decode_params(struct fcgi_conn *c, struct arena *a, unsigned char *p, size_t n)
{
    if (!n) { /* no params at all (p may be NULL) */
        c->params = NULL;
        c->n_params = 0;
        return 0;
    }
    const unsigned char *in = p, *end = p + n;
    unsigned char *out = p;
    size_t count = 0;
    for (const unsigned char *q = in; q < end; count++) { /* count and validate first */
        size_t nl, vl;
        if (read_len(&q, end, &nl) < 0 || read_len(&q, end, &vl) < 0 || (size_t)(end - q) < nl ||
            (size_t)(end - q) - nl < vl)
            return -1;
        q += nl + vl;
    }
    const char **v = arena_alloc(a, (2 * count + 1) * sizeof *v);
    for (size_t i = 0; i < count; i++) {
        size_t nl, vl;
        read_len(&in, end, &nl);
        read_len(&in, end, &vl);
        memmove(out, in, nl);
        v[2 * i] = (const char *)out;
        out += nl;
        *out++ = '\0';
        memmove(out, in + nl, vl);
        v[2 * i + 1] = (const char *)out;
        out += vl;
        *out++ = '\0';
        in += nl + vl;
    }
    c->params = v;
    c->n_params = count;
    return 0;
}

/* FCGI_GET_VALUES: the web server asks what we support. Each known name is answered once
 * whatever the query repeats, so the answer stays small. */
static int answer_get_values(struct fcgi_conn *c, const unsigned char *p, size_t n)
{
    char conns[16], reqs[16];
    snprintf(conns, sizeof conns, "%u", c->lim->max_conns);
    snprintf(reqs, sizeof reqs, "%u", c->lim->max_reqs);
    const struct {
        const char *name, *value;
    } known[] = {{"FCGI_MAX_CONNS", conns}, {"FCGI_MAX_REQS", reqs}, {"FCGI_MPXS_CONNS", "0"}};
    enum { N_KNOWN = sizeof known / sizeof known[0] };
    unsigned char body[N_KNOWN * (2 + 16 + 16)];
    int done[N_KNOWN] = {0};
    size_t bl = 0;
    const unsigned char *end = p + n;
    while (p < end) {
        size_t nl, vl;
        if (read_len(&p, end, &nl) < 0 || read_len(&p, end, &vl) < 0 || (size_t)(end - p) < nl ||
            (size_t)(end - p) - nl < vl)
            break;
        for (size_t i = 0; i < N_KNOWN; i++) {
            size_t kl = strlen(known[i].name), vv = strlen(known[i].value);
            if (!done[i] && kl == nl && !memcmp(p, known[i].name, nl)) {
                done[i] = 1;
                body[bl++] = (unsigned char)kl;
                body[bl++] = (unsigned char)vv;
                memcpy(body + bl, known[i].name, kl);
                bl += kl;
                memcpy(body + bl, known[i].value, vv);
                bl += vv;
            }
        }
        p += nl + vl;
    }
    if (put_record(c, T_GET_VALUES_RESULT, 0, body, bl) < 0)
        return -1;
    return send_out(c);
}

/* A record that is not for the current request's streams: management records, a second
 * BEGIN_REQUEST (no multiplexing), an abort. Its content is still unread. */
static int other_record(struct fcgi_conn *c, const struct rec *rc, int active)
{
    if (c->in_head && !head_left(c)) { /* a stream of records that never completes a head */
        missed(c, "request head not complete before FCGI_HEAD_TIMEOUT", c->lim->head_ms);
        return -1;
    }
    if (rc->id == 0 && rc->type == T_GET_VALUES) {
        /* A query is at most one record (64 KB): rare, so a long one goes to the heap. */
        unsigned char small[256];
        unsigned char *q = rc->len <= sizeof small ? small : xmalloc(rc->len);
        int ok = take(c, q, rc->len) == 0 && take(c, NULL, rc->pad) == 0 &&
                 answer_get_values(c, q, rc->len) == 0;
        if (q != small)
            free(q);
        return ok ? 0 : -1;
    }
    if (take(c, NULL, rc->len + rc->pad) < 0)
        return -1;
    if (rc->id == 0) {
        unsigned char b[8] = {(unsigned char)rc->type};
        if (put_record(c, T_UNKNOWN_TYPE, 0, b, sizeof b) < 0)
            return -1;
        return send_out(c);
    }
    if (rc->type == T_BEGIN && active && rc->id != c->id) {
        if (put_end(c, rc->id, ST_CANT_MPX) < 0)
            return -1;
        return send_out(c);
    }
    if (rc->type == T_ABORT && active && rc->id == c->id)
        c->aborted = 1;
    return 0; /* records of finished or unknown requests are dropped */
}

/* Reads records up to a responder BEGIN_REQUEST: 0, or -1 (close). */
static int read_begin(struct fcgi_conn *c)
{
    struct rec rc;
    for (;;) {
        if (c->failed || next_record(c, &rc) < 0)
            return -1;
        if (rc.type != T_BEGIN || rc.id == 0 || rc.len != 8) {
            if (other_record(c, &rc, 0) < 0)
                return -1;
            continue;
        }
        unsigned char b[8];
        if (take(c, b, 8) < 0 || take(c, NULL, rc.pad) < 0)
            return -1;
        int role = b[0] << 8 | b[1];
        c->id = (uint16_t)rc.id;
        c->keep_conn = b[2] & FLAG_KEEP_CONN;
        if (role == ROLE_RESPONDER)
            return 0;
        if (put_end(c, rc.id, ST_UNKNOWN_ROLE) < 0 || send_out(c) < 0 || !c->keep_conn)
            return -1;
    }
}

int fcgi_begin(struct fcgi_conn *c, struct arena *a)
{
    struct rec rc;
    c->params = NULL;
    c->n_params = 0;
    c->stdin_done = c->aborted = 0;
    c->stdin_left = c->pad_left = 0;
    c->keep_conn = 0;
    c->streaming = 0;
    c->in_head = 1;
    c->head_deadline = 0;
    /* PARAMS until the empty record, gathered in one arena buffer (a pair may span records).
     * A request aborted before its params ended is answered and the next one read into the
     * same buffer: the params bytes of all of them count against MAX_PARAMS_BYTES, and the
     * whole cycle against the head deadline. */
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, total = 0;
    int ready = 0;
    while (!ready) {
        if (read_begin(c) < 0)
            return -1;
        len = 0;
        for (;;) {
            if (next_record(c, &rc) < 0)
                return -1;
            if (rc.id != c->id || (rc.type != T_PARAMS && rc.type != T_ABORT)) {
                if (other_record(c, &rc, 1) < 0)
                    return -1;
                continue;
            }
            if (rc.type == T_ABORT) { /* gone before it began: answer, then the next one */
                if (take(c, NULL, rc.len + rc.pad) < 0 || put_end(c, c->id, ST_COMPLETE) < 0 ||
                    send_out(c) < 0 || !c->keep_conn)
                    return -1;
                if (!head_left(c)) {
                    missed(c, "request head not complete before FCGI_HEAD_TIMEOUT",
                           c->lim->head_ms);
                    return -1;
                }
                break;
            }
            if (rc.len == 0) {
                if (take(c, NULL, rc.pad) < 0)
                    return -1;
                ready = 1;
                break;
            }
            if (total + rc.len > MAX_PARAMS_BYTES) {
                c->failed = 1;
                return -1;
            }
            if (len + rc.len > cap) {
                size_t ncap = cap ? cap * 2 : 2048;
                while (ncap < len + rc.len)
                    ncap *= 2;
                buf = arena_realloc(a, buf, cap, ncap);
                cap = ncap;
            }
            if (take(c, buf + len, rc.len) < 0 || take(c, NULL, rc.pad) < 0)
                return -1;
            len += rc.len;
            total += rc.len;
        }
    }
    if (decode_params(c, a, buf, len) < 0) {
        c->failed = 1;
        return -1;
    }
    c->in_head = 0;
    return 0;
}

const char *fcgi_param(const struct fcgi_conn *c, const char *name)
{
    for (size_t i = 0; i < c->n_params; i++)
        if (!strcmp(c->params[2 * i], name))
            return c->params[2 * i + 1];
    return NULL;
}

int fcgi_param_at(const struct fcgi_conn *c, size_t i, const char **name, const char **value)
{
    if (i >= c->n_params)
        return -1;
    *name = c->params[2 * i];
    *value = c->params[2 * i + 1];
    return 0;
}

long fcgi_read(struct fcgi_conn *c, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n && !c->stdin_done) {
        if (c->failed || c->aborted)
            return got ? (long)got : -1;
        if (c->stdin_left) {
            size_t k = c->stdin_left < n - got ? c->stdin_left : n - got;
            size_t have = c->in_len - c->in_off;
            if (have == 0) {
                if (got)
                    break;               /* return what we have rather than block */
                if (k >= sizeof c->in) { /* large body: straight into the caller's buffer */
                    ssize_t r = read_some(c, buf + got, k);
                    if (r <= 0) {
                        c->failed = 1;
                        return -1;
                    }
                    got += (size_t)r;
                    c->stdin_left -= (size_t)r;
                    continue;
                }
                if (fill(c, 1) < 0)
                    return -1;
                have = c->in_len - c->in_off;
            }
            if (k > have)
                k = have;
            memcpy(buf + got, c->in + c->in_off, k);
            c->in_off += k;
            got += k;
            c->stdin_left -= k;
            continue;
        }
        if (c->pad_left) {
            if (take(c, NULL, c->pad_left) < 0)
                return -1;
            c->pad_left = 0;
        }
        if (got && c->in_off == c->in_len)
            break; /* do not block for the next record with bytes in hand */
        struct rec rc;
        if (next_record(c, &rc) < 0)
            return got ? (long)got : -1;
        if (rc.id == c->id && rc.type == T_STDIN) {
            if (rc.len == 0) {
                c->stdin_done = 1;
                if (take(c, NULL, rc.pad) < 0)
                    return -1;
                break;
            }
            c->stdin_left = rc.len;
            c->pad_left = rc.pad;
            continue;
        }
        if (other_record(c, &rc, 1) < 0)
            return -1;
    }
    return (long)got;
}

int fcgi_write(struct fcgi_conn *c, const char *buf, size_t n)
{
    if (c->failed || c->aborted)
        return -1;
    while (n) {
        size_t k = n > MAX_CONTENT ? MAX_CONTENT : n;
        if (c->out_len + HDR + k <= sizeof c->out) {
            put_hdr(c->out + c->out_len, T_STDOUT, c->id, k);
            memcpy(c->out + c->out_len + HDR, buf, k);
            c->out_len += HDR + k;
        } else { /* what is buffered, then this record, in one call */
            unsigned char h[HDR];
            put_hdr(h, T_STDOUT, c->id, k);
            struct iovec v[3] = {{c->out, c->out_len}, {h, HDR}, {(char *)buf, k}};
            c->out_len = 0;
            if (write_all(c, v, 3) < 0)
                return -1;
        }
        buf += k;
        n -= k;
    }
    return 0;
}

int fcgi_flush(struct fcgi_conn *c)
{
    if (c->failed || c->aborted)
        return -1;
    return send_out(c);
}

void fcgi_stream(struct fcgi_conn *c)
{
    c->streaming = 1;
}

/* Skips the rest of the body if it is already read ahead (a GET's empty STDIN record comes
 * with its params; a refused request may leave its body unread): 1 when the end was seen. */
static int skip_buffered_stdin(struct fcgi_conn *c)
{
    while (!c->stdin_done) {
        size_t have = c->in_len - c->in_off;
        size_t k = c->stdin_left + c->pad_left;
        if (k) {
            if (have < k)
                return 0;
            c->in_off += k;
            c->stdin_left = c->pad_left = 0;
            continue;
        }
        if (have < HDR)
            return 0;
        const unsigned char *h = c->in + c->in_off;
        size_t len = (size_t)h[4] << 8 | h[5], pad = h[6];
        unsigned id = (unsigned)h[2] << 8 | h[3];
        if (h[0] != 1 || h[1] != T_STDIN || id != c->id || have < HDR + len + pad)
            return 0;
        c->in_off += HDR + len + pad;
        if (len == 0)
            c->stdin_done = 1;
    }
    return 1;
}

int fcgi_end(struct fcgi_conn *c)
{
    if (c->failed)
        return 0;
    if (put_record(c, T_STDOUT, c->id, NULL, 0) < 0 || put_end(c, c->id, ST_COMPLETE) < 0 ||
        send_out(c) < 0)
        return 0;
    /* A body left unread would be taken for the next request's records; when its end is
     * already read ahead, fcgi_close need not linger for it either. */
    int body_done = skip_buffered_stdin(c);
    return c->keep_conn && !c->aborted && body_done;
}

void fcgi_close(struct fcgi_conn *c)
{
    if (!c->failed && !c->stdin_done) {
        /* The body may still be arriving (a request refused before it was read). Closing
         * with unread bytes makes the kernel send a reset, and the web server then reports a
         * 502 instead of our answer: say we are done, and read until the peer closes. */
        shutdown(c->fd, SHUT_WR);
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = 2000 - (long)((now.tv_sec - t0.tv_sec) * 1000 +
                                    (now.tv_nsec - t0.tv_nsec) / 1000000);
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            if (ms <= 0 || poll(&pfd, 1, (int)ms) <= 0)
                break;
            if (read(c->fd, c->in, sizeof c->in) <= 0)
                break;
        }
    }
    close(c->fd);
    c->fd = -1;
}
