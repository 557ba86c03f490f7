/* upstream: libcurl easy transfers with header capture and streaming callbacks. */
#include "config.h"
#include "handlers/relay/upstream.h"
#include "fcgi/websocket.h"
#include "providers/provider.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define WS_MAX_MESSAGE (16u << 20) /* a WebSocket message larger than this breaks the exchange */
#define WS_MAX_REFUSAL (1u << 20)  /* the body kept from a refused handshake */

static int ws_perform(const struct prov_request *rq, long timeout_s, const char *proxy,
                      const struct upstream_cb *cb, char *err, size_t errlen);

struct xfer {
    const struct upstream_cb *cb;
    CURL *curl;
    int head_sent;      /* on_head was called */
    int aborted;        /* a callback asked to stop */
    char ctype[128];    /* Content-Type of the final response */
    struct strbuf hdrs; /* its header lines ("name\0value\0"), for cb->on_header */
};

static void send_head(struct xfer *x)
{
    if (x->head_sent)
        return;
    x->head_sent = 1;
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    for (size_t i = 0; x->cb->on_header && i < x->hdrs.len;) {
        const char *n = x->hdrs.p + i, *v = n + strlen(n) + 1;
        x->cb->on_header(x->cb->ud, n, strlen(n), v, strlen(v));
        i = (size_t)(v + strlen(v) + 1 - x->hdrs.p);
    }
    if (x->cb->on_head)
        x->cb->on_head(x->cb->ud, status, x->ctype);
}

/* Keeps a "Name: value" line for cb->on_header (folded continuation lines are dropped). */
static void keep_header(struct xfer *x, const char *p, size_t len)
{
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p || *p == ' ' || *p == '\t')
        return;
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (memchr(p, '\0', len))
        return;
    sb_putn(&x->hdrs, p, (size_t)(colon - p));
    sb_putc(&x->hdrs, '\0');
    sb_putn(&x->hdrs, v, (size_t)(end - v));
    sb_putc(&x->hdrs, '\0');
}

void upstream_track_ctype(const char *line, size_t len, char *ctype, size_t cap)
{
    /* A new status line (redirect, 100 Continue) starts a new header block. */
    if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
        ctype[0] = '\0';
    } else if (len > 13 && !strncasecmp(line, "content-type:", 13)) {
        const char *v = line + 13;
        size_t vl = len - 13;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        snprintf(ctype, cap, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = sz * n;
    upstream_track_ctype(p, len, x->ctype, sizeof x->ctype);
    if (len >= 5 && !strncmp(p, "HTTP/", 5))
        sb_reset(&x->hdrs);
    else if (x->cb->on_header)
        keep_header(x, p, len);
    return len;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = sz * n;
    send_head(x);
    if (x->cb->on_body && x->cb->on_body(x->cb->ud, p, len) < 0) {
        x->aborted = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct xfer *x = ud;
    if (x->cb->on_tick && x->cb->on_tick(x->cb->ud) < 0) {
        x->aborted = 1;
        return 1;
    }
    return 0;
}

void *upstream_handle_new(void)
{
    CURL *c = curl_easy_init();
    if (!c)
        abort(); /* only out of memory: as every allocator of ours, stop */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

struct curl_slist *upstream_slist_append(struct curl_slist *list, const char *line)
{
    struct curl_slist *l = curl_slist_append(list, line);
    if (!l)
        abort(); /* a dropped line could be the credential: never go on without it */
    return l;
}

void upstream_handle_free(void *curl)
{
    if (curl)
        curl_easy_cleanup(curl);
}

int upstream_perform(void *curl, const struct prov_request *rq, long timeout_s, const char *proxy,
                     const struct upstream_cb *cb, char *err, size_t errlen)
{
    if (!strncmp(rq->url, "ws://", 5) || !strncmp(rq->url, "wss://", 6))
        return ws_perform(rq, timeout_s, proxy, cb, err, errlen);
    CURL *c = curl;
    struct xfer x = {.cb = cb, .curl = c};
    sb_init(&x.hdrs, NULL);
    struct curl_slist *hl = NULL;
    for (int i = 0; i < rq->n_headers; i++)
        hl = upstream_slist_append(hl, rq->headers[i]);
    for (int i = 0; i < rq->n_more; i++)
        hl = upstream_slist_append(hl, rq->more_headers[i]);
    hl = upstream_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    char errbuf[CURL_ERROR_SIZE] = "";

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (rq->method && !strcmp(rq->method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (rq->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 0L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    /* The receive buffer is per handle, so per worker: 4 KB instead of 16 KB saves 24 MB at
     * 2,000 open streams; an SSE event still fits in one read, a long answer takes more. */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 4096L);
    if (proxy && *proxy)
        curl_easy_setopt(c, CURLOPT_PROXY, proxy);

    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    if (!x.aborted && rc == CURLE_OK)
        send_head(&x); /* an empty body still has a status */
    sb_free(&x.hdrs);
    if (x.aborted)
        return UPSTREAM_ABORTED;
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return UPSTREAM_TRANSPORT;
    }
    return UPSTREAM_OK;
}

/* What upstream_fetch's callbacks share. */
struct fetch {
    struct upstream_answer *ans;
    size_t max;                   /* longest body accepted */
    int is_too_large;             /* the body went over max */
    int (*should_stop)(void *ud); /* NULL: never */
    void *ud;                     /* for should_stop */
};

static void fetch_head(void *ud, long status, const char *ctype)
{
    struct fetch *f = ud;
    f->ans->status = status;
    snprintf(f->ans->ctype, sizeof f->ans->ctype, "%s", ctype);
}

static void fetch_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct fetch *f = ud;
    sb_putn(&f->ans->headers, name, nlen);
    sb_putc(&f->ans->headers, '\0');
    sb_putn(&f->ans->headers, value, vlen);
    sb_putc(&f->ans->headers, '\0');
}

static int fetch_body(void *ud, const char *p, size_t n)
{
    struct fetch *f = ud;
    if (f->ans->body.len + n > f->max) {
        f->is_too_large = 1;
        return -1;
    }
    sb_putn(&f->ans->body, p, n);
    return 0;
}

static int fetch_tick(void *ud)
{
    struct fetch *f = ud;
    return f->should_stop && f->should_stop(f->ud) ? -1 : 0;
}

int upstream_fetch(void *curl, const struct prov_request *rq, long timeout_s, const char *proxy,
                   size_t max, int (*should_stop)(void *ud), void *ud, struct upstream_answer *ans,
                   char *err, size_t errlen)
{
    struct fetch f = {.ans = ans, .max = max, .should_stop = should_stop, .ud = ud};
    struct upstream_cb cb = {.on_head = fetch_head,
                             .on_body = fetch_body,
                             .on_tick = fetch_tick,
                             .ud = &f,
                             .on_header = ans->body.a ? fetch_header : NULL};
    sb_init(&ans->headers, ans->body.a);
    ans->status = 0;
    ans->ctype[0] = '\0';
    int rc = upstream_perform(curl, rq, timeout_s, proxy, &cb, err, errlen);
    if (f.is_too_large) {
        snprintf(err, errlen, "upstream answer too large");
        return UPSTREAM_TOO_LARGE;
    }
    return rc;
}

/* ---------------------------------------------------------------- WebSocket */

/* One WebSocket exchange on a CONNECT_ONLY libcurl connection. */
struct ws_xchg {
    CURL *c;
    curl_socket_t fd;
    const struct upstream_cb *cb;
    time_t deadline; /* 0: none */
    time_t last_tick;
    char *err;
    size_t errlen;
};

enum { WS_IO_OK = 0, WS_IO_EOF = 1, WS_IO_FAIL = -1, WS_IO_ABORT = -2 };

/* Waits until fd is ready for events, at most a second; ticks and checks the deadline.
 * WS_IO_OK (ready or a second went by), WS_IO_FAIL (timeout), WS_IO_ABORT. */
static int ws_wait(struct ws_xchg *x, short events)
{
    struct pollfd pfd = {.fd = x->fd, .events = events};
    int n = poll(&pfd, 1, 1000);
    time_t now = time(NULL);
    if (n < 0 && errno != EINTR) {
        snprintf(x->err, x->errlen, "WebSocket poll: %s", strerror(errno));
        return WS_IO_FAIL;
    }
    if (now != x->last_tick) {
        x->last_tick = now;
        if (x->cb->on_tick && x->cb->on_tick(x->cb->ud) < 0)
            return WS_IO_ABORT;
    }
    if (x->deadline && now >= x->deadline) {
        snprintf(x->err, x->errlen, "Operation timed out (WebSocket)");
        return WS_IO_FAIL;
    }
    return WS_IO_OK;
}

static int ws_send(struct ws_xchg *x, const char *p, size_t n)
{
    while (n) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(x->c, p, n, &sent);
        if (rc == CURLE_AGAIN) {
            int w = ws_wait(x, POLLOUT);
            if (w != WS_IO_OK)
                return w;
            continue;
        }
        if (rc != CURLE_OK) {
            snprintf(x->err, x->errlen, "WebSocket send: %s", curl_easy_strerror(rc));
            return WS_IO_FAIL;
        }
        p += sent;
        n -= sent;
    }
    return WS_IO_OK;
}

/* Some received bytes into buf: WS_IO_OK with *got > 0, WS_IO_EOF, or a failure. */
static int ws_recv(struct ws_xchg *x, char *buf, size_t cap, size_t *got)
{
    for (;;) {
        *got = 0;
        CURLcode rc = curl_easy_recv(x->c, buf, cap, got);
        if (rc == CURLE_OK)
            return *got ? WS_IO_OK : WS_IO_EOF;
        if (rc != CURLE_AGAIN) {
            snprintf(x->err, x->errlen, "WebSocket receive: %s", curl_easy_strerror(rc));
            return WS_IO_FAIL;
        }
        int w = ws_wait(x, POLLIN);
        if (w != WS_IO_OK)
            return w;
    }
}

/* Sends a control frame; failures are left to the next receive to notice. */
static void ws_control(struct ws_xchg *x, int opcode, const char *p, size_t n)
{
    struct strbuf f;
    sb_init(&f, NULL);
    ws_frame_put_client(&f, opcode, p, n);
    ws_send(x, f.p, f.len);
    sb_free(&f);
}

static void ws_close(struct ws_xchg *x, int code)
{
    char b[2] = {(char)(code >> 8), (char)(code & 0xFF)};
    ws_control(x, WS_OP_CLOSE, b, sizeof b);
}

/* A refused handshake: its body (Content-Length bytes, else up to the close) as an HTTP
 * answer. have: the body bytes already received. */
static int ws_refused(struct ws_xchg *x, const struct ws_response *res, struct strbuf *body)
{
    char buf[4096];
    while (body->len < WS_MAX_REFUSAL &&
           (res->content_len < 0 || body->len < (size_t)res->content_len)) {
        size_t got;
        int rc = ws_recv(x, buf, sizeof buf, &got);
        if (rc == WS_IO_EOF)
            break;
        if (rc != WS_IO_OK)
            return rc == WS_IO_ABORT ? UPSTREAM_ABORTED : UPSTREAM_TRANSPORT;
        sb_putn(body, buf, got);
    }
    if (res->content_len >= 0 && body->len > (size_t)res->content_len)
        body->len = (size_t)res->content_len;
    if (x->cb->on_head)
        x->cb->on_head(x->cb->ud, res->status, res->content_type);
    if (body->len && x->cb->on_body && x->cb->on_body(x->cb->ud, body->p, body->len) < 0)
        return UPSTREAM_ABORTED;
    return UPSTREAM_OK;
}

/* Hands one message to the callbacks as a line; the first one decides the head. 0 to go
 * on, 1 when the exchange is over (an error status), -1 when a callback stopped it. */
static int ws_deliver(struct ws_xchg *x, const char *msg, size_t n, int *n_msgs,
                      struct strbuf *line)
{
    int status = 200;
    if ((*n_msgs)++ == 0) {
        if (x->cb->on_first_message)
            status = x->cb->on_first_message(x->cb->ud, msg, n);
        if (x->cb->on_head)
            x->cb->on_head(x->cb->ud, status,
                           status >= 200 && status <= 299 ? "application/x-ndjson"
                                                          : "application/json");
    }
    sb_reset(line);
    sb_putn(line, msg, n);
    for (size_t i = 0; i < line->len; i++)
        if (line->p[i] == '\n' || line->p[i] == '\r')
            line->p[i] = ' ';
    sb_putc(line, '\n');
    if (x->cb->on_body && x->cb->on_body(x->cb->ud, line->p, line->len) < 0)
        return -1;
    return status >= 200 && status <= 299 ? 0 : 1;
}

/* Splits a ws:// or wss:// URL into the libcurl URL of its origin, its authority (the Host
 * header) and its request target. */
static void ws_split(const char *url, struct strbuf *curl_url, struct strbuf *host,
                     struct strbuf *target)
{
    int tls = !strncmp(url, "wss://", 6);
    const char *auth = url + (tls ? 6 : 5);
    size_t al = strcspn(auth, "/?#");
    sb_printf(curl_url, "%s://%.*s/", tls ? "https" : "http", (int)al, auth);
    sb_putn(host, auth, al);
    const char *t = auth + al;
    if (*t != '/')
        sb_putc(target, '/');
    sb_puts(target, t);
}

static int ws_perform(const struct prov_request *rq, long timeout_s, const char *proxy,
                      const struct upstream_cb *cb, char *err, size_t errlen)
{
    struct strbuf url, host, target, out, in, line;
    sb_init(&url, NULL);
    sb_init(&host, NULL);
    sb_init(&target, NULL);
    sb_init(&out, NULL);
    sb_init(&in, NULL);
    sb_init(&line, NULL);
    ws_split(rq->url, &url, &host, &target);
    struct ws_reader rd;
    ws_reader_init(&rd, NULL, WS_MAX_MESSAGE, 0);
    /* A handle of its own: the connection is closed with it, never reused for HTTP. */
    CURL *c = upstream_handle_new();
    struct ws_xchg x = {.c = c,
                        .cb = cb,
                        .deadline = timeout_s > 0 ? time(NULL) + timeout_s : 0,
                        .last_tick = time(NULL),
                        .err = err,
                        .errlen = errlen};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 0L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (proxy && *proxy) {
        curl_easy_setopt(c, CURLOPT_PROXY, proxy);
        curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 1L);
    }
    int result = UPSTREAM_TRANSPORT, n_msgs = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto done;
    }
    if (curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &x.fd) != CURLE_OK || x.fd == CURL_SOCKET_BAD) {
        snprintf(err, errlen, "WebSocket: no socket after connecting");
        goto done;
    }
    char key[25];
    ws_new_key(key);
    struct strbuf extra;
    sb_init(&extra, NULL);
    for (int i = 0; i < rq->n_headers; i++)
        sb_printf(&extra, "%s\r\n", rq->headers[i]);
    ws_handshake_request(&out, host.p, target.p, key, extra.p);
    sb_free(&extra);
    int io = ws_send(&x, out.p, out.len);
    if (io != WS_IO_OK) {
        result = io == WS_IO_ABORT ? UPSTREAM_ABORTED : UPSTREAM_TRANSPORT;
        goto done;
    }
    /* The answer's head. */
    char buf[16384];
    struct ws_response res;
    long hl;
    while ((hl = ws_response_parse(in.p ? in.p : "", in.len, &res)) == 0) {
        size_t got;
        io = ws_recv(&x, buf, sizeof buf, &got);
        if (io == WS_IO_EOF)
            snprintf(err, errlen, "WebSocket: the server closed during the handshake");
        if (io != WS_IO_OK) {
            result = io == WS_IO_ABORT ? UPSTREAM_ABORTED : UPSTREAM_TRANSPORT;
            goto done;
        }
        sb_putn(&in, buf, got);
    }
    if (hl < 0) {
        snprintf(err, errlen, "WebSocket: the handshake answer is not HTTP");
        goto done;
    }
    if (res.status != 101) {
        struct strbuf body;
        sb_init(&body, NULL);
        sb_putn(&body, in.p + hl, in.len - (size_t)hl);
        result = ws_refused(&x, &res, &body);
        sb_free(&body);
        goto done;
    }
    if (!ws_response_ok(&res, key)) {
        snprintf(err, errlen, "WebSocket: the server's handshake answer does not match");
        goto done;
    }
    ws_reader_feed(&rd, in.p + hl, in.len - (size_t)hl);
    sb_reset(&out);
    ws_frame_put_client(&out, WS_OP_TEXT, rq->body ? rq->body : "", rq->body ? rq->body_len : 0);
    io = ws_send(&x, out.p, out.len);
    if (io != WS_IO_OK) {
        result = io == WS_IO_ABORT ? UPSTREAM_ABORTED : UPSTREAM_TRANSPORT;
        goto done;
    }
    for (;;) {
        struct ws_event ev;
        enum ws_event_type t = ws_reader_next(&rd, &ev);
        if (t == WS_EV_TEXT || t == WS_EV_BINARY) {
            int d = ws_deliver(&x, ev.data, ev.len, &n_msgs, &line);
            if (d != 0) {
                ws_close(&x, 1000);
                result = d < 0 ? UPSTREAM_ABORTED : UPSTREAM_OK;
                goto done;
            }
        } else if (t == WS_EV_PING) {
            ws_control(&x, WS_OP_PONG, ev.data, ev.len);
        } else if (t == WS_EV_CLOSE) {
            ws_close(&x, ev.close_code == 1005 ? 1000 : ev.close_code);
            break;
        } else if (t == WS_EV_ERROR) {
            snprintf(err, errlen, "WebSocket: %s", ev.error);
            ws_close(&x, ev.error_code);
            goto done;
        } else if (t == WS_EV_NONE) {
            size_t got;
            io = ws_recv(&x, buf, sizeof buf, &got);
            if (io == WS_IO_EOF)
                break;
            if (io != WS_IO_OK) {
                result = io == WS_IO_ABORT ? UPSTREAM_ABORTED : UPSTREAM_TRANSPORT;
                goto done;
            }
            ws_reader_feed(&rd, buf, got);
        }
    }
    if (n_msgs) {
        result = UPSTREAM_OK;
    } else {
        snprintf(err, errlen, "WebSocket: the server closed without answering");
    }
done:
    curl_easy_cleanup(c);
    ws_reader_free(&rd);
    sb_free(&url);
    sb_free(&host);
    sb_free(&target);
    sb_free(&out);
    sb_free(&in);
    sb_free(&line);
    return result;
}
