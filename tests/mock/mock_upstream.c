/* mock_upstream: single-threaded epoll HTTP/1.1 server that fakes LLM providers' APIs for
 * gateway tests and benchmarks. This file holds start-up, the event loop, connections, HTTP
 * parsing, the timer heap, the request log, scripted responses, the control API /_mock/...,
 * routing and dispatch; the providers' wire formats live in the other mock_*.c files. */

#include "mock.h"

/* Indexed by enum prov. */
const char *const prov_names[P__MAX] = {
    "openai",     /* P_OPENAI */
    "azure",      /* P_AZURE */
    "anthropic",  /* P_ANTHROPIC */
    "gemini",     /* P_GEMINI */
    "deepl",      /* P_DEEPL */
    "palm",       /* P_PALM */
    "cohere",     /* P_COHERE */
    "ollama",     /* P_OLLAMA */
    "bedrock",    /* P_BEDROCK */
    "replicate",  /* P_REPLICATE */
    "spark",      /* P_SPARK */
    "coze",       /* P_COZE */
    "cloudflare", /* P_CLOUDFLARE */
    "aiproxylib", /* P_AIPROXYLIB */
    "minimax",    /* P_MINIMAX */
    "tencent",    /* P_TENCENT */
    "ali",        /* P_ALI */
    "zhipu",      /* P_ZHIPU */
    "spark-http", /* P_XFHTTP */
};

/* ------------------------------------------------------------------------- */
/* Timer heap */

static void heap_swap(struct server *srv, size_t i, size_t j)
{
    struct conn *t = srv->heap[i];
    srv->heap[i] = srv->heap[j];
    srv->heap[j] = t;
    srv->heap[i]->heap_idx = i;
    srv->heap[j]->heap_idx = j;
}

static void heap_up(struct server *srv, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (srv->heap[parent]->due_ms <= srv->heap[i]->due_ms)
            break;
        heap_swap(srv, i, parent);
        i = parent;
    }
}

static void heap_down(struct server *srv, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < srv->heap_len && srv->heap[l]->due_ms < srv->heap[m]->due_ms)
            m = l;
        if (r < srv->heap_len && srv->heap[r]->due_ms < srv->heap[m]->due_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(srv, i, m);
        i = m;
    }
}

static void timer_del(struct server *srv, struct conn *c)
{
    size_t i = c->heap_idx;
    if (i == NO_HEAP)
        return;
    c->heap_idx = NO_HEAP;
    size_t last = --srv->heap_len;
    if (i != last) {
        srv->heap[i] = srv->heap[last];
        srv->heap[i]->heap_idx = i;
        heap_down(srv, i);
        heap_up(srv, i);
    }
}

static void timer_set(struct server *srv, struct conn *c, uint64_t due)
{
    timer_del(srv, c);
    if (srv->heap_len == srv->heap_cap) {
        srv->heap_cap = srv->heap_cap ? srv->heap_cap * 2 : 64;
        srv->heap = xrealloc(srv->heap, srv->heap_cap * sizeof *srv->heap);
    }
    c->due_ms = due;
    c->heap_idx = srv->heap_len;
    srv->heap[srv->heap_len++] = c;
    heap_up(srv, c->heap_idx);
}

/* ------------------------------------------------------------------------- */
/* Connections */

static void conn_close(struct server *srv, struct conn *c)
{
    if (c->sched) {
        if (c->sched->is_stream)
            srv->st.streams_active--;
        if (!srv->stopping)
            srv->st.client_disconnects++;
        rep_free(c->sched);
        free(c->sched);
    }
    timer_del(srv, c);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    srv->st.connections_active--;
    if (srv->listen_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->lfd, &ev) == 0)
            srv->listen_paused = false;
    }
}

/* Sends what it can. Returns -1 when the peer is gone (the connection is then freed). */
static int conn_write(struct server *srv, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            srv->st.bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        conn_close(srv, c);
        return -1;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > BUF_KEEP)
        buf_free(&c->out);
    return 0;
}

/* Emits due segments of the scheduled reply; fired = the timer for the next one expired. */
static void sched_run(struct server *srv, struct conn *c, bool fired)
{
    struct reply *s = c->sched;
    while (s->next < s->n) {
        struct seg *g = &s->segs[s->next];
        if (g->delay_ms > 0 && !fired) {
            timer_set(srv, c, srv->now_ms + (uint64_t)g->delay_ms);
            return;
        }
        fired = false;
        size_t end = s->next + 1 < s->n ? s->segs[s->next + 1].start : s->data.len;
        buf_put(&c->out, s->data.p + g->start, end - g->start);
        s->next++;
    }
    if (s->is_stream) {
        srv->st.streams_active--;
        if (s->cut)
            srv->st.streams_cut++;
        else
            srv->st.streams_completed++;
    }
    if (s->cut)
        c->close_after = true;
    rep_free(s);
    free(s);
    c->sched = NULL;
}

/* Hands the reply built in srv->rep to the connection. */
static void commit(struct server *srv, struct conn *c)
{
    struct reply *p = &srv->rep;
    if (p->n == 1 && p->segs[0].delay_ms == 0 && !p->cut) {
        /* fast path: everything goes out now, no allocation */
        buf_put(&c->out, p->data.p, p->data.len);
        if (p->is_stream) {
            srv->st.streams_active--;
            srv->st.streams_completed++;
        }
        return;
    }
    struct reply *s = xrealloc(NULL, sizeof *s);
    *s = *p;
    rep_init(p);
    rep_reset(p);
    c->sched = s;
    sched_run(srv, c, false);
}

static void http_fail(struct server *srv, struct conn *c, int status, const char *msg)
{
    buf_fmt(&c->out,
            "HTTP/1.1 %d %s\r\nServer: mock-upstream\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n{\"error\":\"%s\"}",
            status, reason_phrase(status), strlen(msg) + 12, msg);
    c->close_after = true;
    srv->st.bad_http++;
}

static void dispatch(struct server *srv, struct req *r);

/*
 * Decodes a chunked body from p[0..n). Returns 1 when complete (*wire = bytes used),
 * 0 when more input is needed, -1 when malformed or too large.
 */
static int dechunk(const char *p, size_t n, struct buf *out, size_t *wire)
{
    size_t i = 0;
    buf_clear(out);
    for (;;) {
        const char *le = memchr(p + i, '\n', n - i);
        if (!le)
            return n - i > 1024 ? -1 : 0;
        size_t size = 0;
        size_t j = i;
        int digits = 0;
        for (; p + j < le; j++, digits++) {
            char ch = p[j];
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (v < 0)
                break;
            if (size > MAX_BODY_BYTES)
                return -1;
            size = size * 16 + (size_t)v;
        }
        if (!digits)
            return -1;
        i = (size_t)(le - p) + 1;
        if (size == 0) {
            /* trailer section: lines until an empty one */
            for (;;) {
                const char *te = memchr(p + i, '\n', n - i);
                if (!te)
                    return 0;
                size_t len = (size_t)(te - (p + i));
                i = (size_t)(te - p) + 1;
                if (len == 0 || (len == 1 && p[i - 2] == '\r')) {
                    *wire = i;
                    return 1;
                }
            }
        }
        if (out->len + size > MAX_BODY_BYTES)
            return -1;
        if (n - i < size + 2)
            return 0;
        buf_put(out, p + i, size);
        i += size;
        if (p[i] == '\r')
            i++;
        if (i >= n)
            return 0;
        if (p[i] != '\n')
            return -1;
        i++;
    }
}

const struct hdr *hfind(const struct req *r, const char *name)
{
    for (size_t i = 0; i < r->n_h; i++)
        if (mem_ieq(r->h[i].name, r->h[i].name_len, name))
            return &r->h[i];
    return NULL;
}

/* Parses and answers one request. Returns 0 when more input is needed, 1 otherwise. */
static int handle_next_request(struct server *srv, struct conn *c)
{
    if (c->ws)
        return spark_ws_next(srv, c);
    if (c->in_off == c->in.len)
        return 0; /* also covers in.p == NULL, where even p + 0 is undefined */
    char *buf = c->in.p + c->in_off;
    size_t avail = c->in.len - c->in_off;
    /* RFC 9112 lets clients send stray CRLFs between requests */
    while (avail > 0 && (buf[0] == '\r' || buf[0] == '\n')) {
        buf++;
        avail--;
        c->in_off++;
    }
    if (avail == 0)
        return 0;
    char *hend = memmem(buf, avail, "\r\n\r\n", 4);
    if (!hend) {
        if (avail > MAX_HEADER_BYTES)
            http_fail(srv, c, 431, "request header too large");
        return avail > MAX_HEADER_BYTES;
    }
    size_t hlen = (size_t)(hend - buf) + 4;
    if (hlen > MAX_HEADER_BYTES) {
        http_fail(srv, c, 431, "request header too large");
        return 1;
    }

    struct req *r = xrealloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    r->srv = srv;
    r->c = c;

    char *eol = memchr(buf, '\r', hlen);
    char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1 || eol - sp2 - 1 != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1') ||
        (sp1[1] != '/' && strncmp(sp1 + 1, "http://", 7) != 0)) {
        http_fail(srv, c, 400, "malformed request line");
        free(r);
        return 1;
    }
    r->http10 = sp2[8] == '0';

    for (char *line = eol + 2; line < hend;) {
        char *le = memchr(line, '\r', (size_t)(hend - line) + 1);
        char *colon = memchr(line, ':', (size_t)(le - line));
        if (le[1] != '\n' || !colon || colon == line) {
            http_fail(srv, c, 400, "malformed header");
            free(r);
            return 1;
        }
        if (r->n_h == MAX_HEADERS) {
            http_fail(srv, c, 431, "too many headers");
            free(r);
            return 1;
        }
        char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        r->h[r->n_h++] = (struct hdr){line, (size_t)(colon - line), v, (size_t)(ve - v)};
        line = le + 2;
    }

    const struct hdr *te = hfind(r, "transfer-encoding");
    const struct hdr *cl = hfind(r, "content-length");
    const struct hdr *ex = hfind(r, "expect");
    size_t wire = 0;
    int need_more = 0;
    if (te && mem_icontains(te->val, te->val_len, "chunked")) {
        int k = dechunk(hend + 4, avail - hlen, &srv->dechunked, &wire);
        if (k < 0) {
            http_fail(srv, c, srv->dechunked.len >= MAX_BODY_BYTES ? 413 : 400, "bad chunked body");
            free(r);
            return 1;
        }
        need_more = k == 0;
        r->body = srv->dechunked.p;
        r->body_len = srv->dechunked.len;
    } else if (cl) {
        size_t len = 0;
        for (size_t i = 0; i < cl->val_len; i++) {
            if (cl->val[i] < '0' || cl->val[i] > '9' || len > MAX_BODY_BYTES) {
                http_fail(srv, c, 400, "bad content-length");
                free(r);
                return 1;
            }
            len = len * 10 + (size_t)(cl->val[i] - '0');
        }
        if (len > MAX_BODY_BYTES) {
            http_fail(srv, c, 413, "body too large");
            free(r);
            return 1;
        }
        need_more = avail - hlen < len;
        wire = len;
        r->body = hend + 4;
        r->body_len = len;
    }
    if (need_more) {
        /* curl waits up to a second for this before sending a large body */
        if (ex && mem_ieq(ex->val, ex->val_len, "100-continue") && !c->sent_continue &&
            !r->http10) {
            buf_lit(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            c->sent_continue = true;
        }
        free(r);
        return 0;
    }

    /* the request is complete: NUL-terminate its pieces in place */
    *sp1 = '\0';
    *sp2 = '\0';
    r->method = buf;
    r->target = sp1 + 1;
    const struct hdr *conn_h = hfind(r, "connection");
    if (r->http10)
        r->keep_alive = conn_h && mem_icontains(conn_h->val, conn_h->val_len, "keep-alive");
    else
        r->keep_alive = !(conn_h && mem_icontains(conn_h->val, conn_h->val_len, "close"));

    rep_reset(&srv->rep);
    dispatch(srv, r);
    if (!srv->rep.has_head && !srv->rep.cut) {
        buf_clear(&srv->body);
        buf_lit(&srv->body, "{\"error\":\"mock: no reply produced\"}");
        send_body(r, 500, "application/json", NULL);
    }
    if (!r->keep_alive)
        c->close_after = true;
    c->in_off += hlen + wire;
    c->sent_continue = false;
    free(r);
    commit(srv, c);
    return 1;
}

/* Answers whatever is complete in the input, then flushes; may free c. */
static void conn_progress(struct server *srv, struct conn *c)
{
    for (;;) {
        bool starved = false;
        while (!c->sched && !c->close_after && c->out.len - c->out_off < OUT_HIGH_WATER) {
            if (handle_next_request(srv, c) == 0) {
                starved = true;
                break;
            }
        }
        if (c->in_off == c->in.len) {
            c->in_off = c->in.len = 0;
            if (c->in.cap > BUF_KEEP)
                buf_free(&c->in);
        }
        if (conn_write(srv, c) < 0)
            return;
        if (c->out.len > c->out_off || c->sched)
            return; /* EPOLLOUT or the timer brings us back */
        if (c->close_after || (starved && c->read_eof)) {
            conn_close(srv, c);
            return;
        }
        if (starved)
            return;
        /* stopped at the high-water mark but the output drained: go on */
    }
}

/* Reads everything available. Returns -1 when the connection was closed. */
static int conn_read(struct server *srv, struct conn *c)
{
    if (c->in_off > 0 && c->in_off == c->in.len) {
        c->in_off = c->in.len = 0;
    } else if (c->in_off > 65536) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    for (;;) {
        ssize_t n = recv(c->fd, srv->rbuf, sizeof srv->rbuf, 0);
        if (n > 0) {
            buf_put(&c->in, srv->rbuf, (size_t)n);
            srv->st.bytes_in += (uint64_t)n;
            if (c->in.len - c->in_off > MAX_BODY_BYTES + 2 * MAX_HEADER_BYTES) {
                conn_close(srv, c);
                return -1;
            }
            /* a short read drained the socket; edge-triggered epoll reports new data */
            if ((size_t)n < sizeof srv->rbuf)
                break;
            continue;
        }
        if (n == 0) {
            c->read_eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        conn_close(srv, c);
        return -1;
    }
    if (c->read_eof && c->sched) {
        /* a streaming client went away */
        conn_close(srv, c);
        return -1;
    }
    return 0;
}

static void accept_all(struct server *srv)
{
    for (;;) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* level-triggered listen socket would spin; resume when a connection closes */
                struct epoll_event ev = {.events = 0, .data.ptr = &srv->lfd};
                if (srv->st.connections_active > 0 &&
                    epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->lfd, &ev) == 0)
                    srv->listen_paused = true;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = xrealloc(NULL, sizeof *c);
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->heap_idx = NO_HEAP;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->st.connections_total++;
        srv->st.connections_active++;
    }
}

/* ------------------------------------------------------------------------- */
/* Request log */

static void rec_clear(struct rec *e)
{
    free(e->method);
    free(e->target);
    free(e->hdrs);
    free(e->body);
    free(e->key);
    free(e->model);
    free(e->deployment);
    memset(e, 0, sizeof *e);
}

static void log_clear(struct server *srv)
{
    for (size_t i = 0; i < srv->log_cap; i++)
        rec_clear(&srv->log[i]);
    srv->log_start = srv->log_count = 0;
}

struct rec *rec_new(struct server *srv, const struct req *r)
{
    struct rec *e;
    if (srv->log_count < srv->log_cap) {
        e = &srv->log[(srv->log_start + srv->log_count++) % srv->log_cap];
    } else {
        e = &srv->log[srv->log_start];
        srv->log_start = (srv->log_start + 1) % srv->log_cap;
    }
    rec_clear(e);
    e->seq = r->seq;
    e->when = wall_now();
    e->method = xstrndup(r->method, strlen(r->method));
    e->target = xstrndup(r->target, strlen(r->target));
    size_t n = 0;
    for (size_t i = 0; i < r->n_h; i++)
        n += r->h[i].name_len + r->h[i].val_len + 2;
    e->hdrs = xrealloc(NULL, n ? n : 1);
    e->hdrs_len = n;
    char *o = e->hdrs;
    for (size_t i = 0; i < r->n_h; i++) {
        for (size_t j = 0; j < r->h[i].name_len; j++) {
            char ch = r->h[i].name[j];
            *o++ = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        *o++ = '\0';
        memcpy(o, r->h[i].val, r->h[i].val_len);
        o += r->h[i].val_len;
        *o++ = '\0';
    }
    e->body_total = r->body_len;
    e->body_len = r->body_len > LOG_BODY_MAX ? LOG_BODY_MAX : r->body_len;
    e->body = xstrndup(r->body ? r->body : "", e->body_len);
    e->provider = r->vertex ? "vertex" : prov_names[r->prov];
    if (r->key[0])
        e->key = xstrndup(r->key, strlen(r->key));
    if (r->deployment[0])
        e->deployment = xstrndup(r->deployment, strlen(r->deployment));
    return e;
}

void rec_model(struct req *r, const char *model)
{
    if (!r->rec || !model)
        return;
    free(r->rec->model);
    r->rec->model = xstrndup(model, strlen(model));
}

void rec_tokens(struct req *r, int prompt, int completion, bool sent)
{
    if (!r->rec)
        return;
    r->rec->has_tokens = true;
    r->rec->prompt_tokens = prompt;
    r->rec->completion_tokens = completion;
    r->rec->usage_sent = sent;
}

/* ------------------------------------------------------------------------- */
/* Scripted responses */

static struct script_q *script_queue(struct server *srv, const char *key, bool create)
{
    for (struct script_q *q = srv->scripts; q; q = q->next)
        if (!strcmp(q->key, key))
            return q;
    if (!create)
        return NULL;
    struct script_q *q = xrealloc(NULL, sizeof *q);
    memset(q, 0, sizeof *q);
    q->key = xstrndup(key, strlen(key));
    q->next = srv->scripts;
    srv->scripts = q;
    return q;
}

static void script_clear(struct server *srv)
{
    while (srv->scripts) {
        struct script_q *q = srv->scripts;
        srv->scripts = q->next;
        for (size_t i = q->head; i < q->len; i++)
            json_object_put(q->items[i]);
        free(q->items);
        free(q->key);
        free(q);
    }
}

/* Takes the next scripted response for this key (or for any key); caller owns it. */
static json_object *script_pop(struct server *srv, const char *key)
{
    struct script_q *q = key[0] ? script_queue(srv, key, false) : NULL;
    if (!q || q->head == q->len)
        q = script_queue(srv, "", false);
    if (!q || q->head == q->len)
        return NULL;
    json_object *e = q->items[q->head++];
    if (q->head == q->len)
        q->head = q->len = 0;
    return e;
}

/* Copies "Name: value\r\n" lines from a JSON object, skipping anything with CR or LF. */
static void script_headers(struct buf *out, json_object *h)
{
    if (!h || !json_object_is_type(h, json_type_object))
        return;
    json_object_object_foreach(h, name, val)
    {
        const char *v = json_object_is_type(val, json_type_string)
                            ? json_object_get_string(val)
                            : json_object_to_json_string(val);
        if (strpbrk(name, "\r\n:") || strpbrk(v, "\r\n"))
            continue;
        buf_fmt(out, "%s: %s\r\n", name, v);
    }
}

/* Returns true when the entry produced the reply; otherwise it adjusted r->d. */
static bool script_apply(struct req *r, json_object *e)
{
    struct server *srv = r->srv;
    int status = (int)jint(e, "status", 0);
    int delay = (int)jint(e, "delay_ms", 0);
    if (delay < 0 || delay > MAX_DELAY_MS)
        delay = 0;
    if (status && (status < 100 || status > 599))
        status = 500;
    if (jbool(e, "close")) {
        r->d.close = true;
        r->d.delay_ms = delay;
        return false;
    }
    json_object *body = jget(e, "body"), *events = jarr(e, "events");
    if (!body && !events) {
        if (status >= 400)
            r->d.status = status;
        if (delay)
            r->d.delay_ms = delay;
        const char *m = jstr(e, "mock");
        if (m && !dir_scan(&r->d, m, strlen(m)))
            dir_parse(&r->d, m, strlen(m));
        return false;
    }
    struct buf extra = {0};
    buf_clear(&extra);
    script_headers(&extra, jget(e, "headers"));
    const char *ctype = jstr(e, "content_type");
    if (events) {
        stream_head(r, status ? status : 200, ctype ? ctype : "text/event-stream", extra.p);
        for (size_t i = 0; i < jlen(events); i++) {
            json_object *ev = json_object_array_get_idx(events, i);
            rep_seg(&srv->rep, delay);
            buf_clear(&srv->ev);
            if (json_object_is_type(ev, json_type_string))
                buf_put(&srv->ev, json_object_get_string(ev),
                        (size_t)json_object_get_string_len(ev));
            else
                buf_puts(&srv->ev, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
            rep_event(r);
        }
        if (jbool(e, "cut"))
            srv->rep.cut = true;
        else
            rep_finish(r);
    } else {
        struct buf *b = body_reset(srv);
        if (json_object_is_type(body, json_type_string))
            buf_put(b, json_object_get_string(body), (size_t)json_object_get_string_len(body));
        else
            buf_puts(b, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        r->d.delay_ms = delay;
        send_body(r, status ? status : 200, ctype ? ctype : "application/json", extra.p);
    }
    buf_free(&extra);
    return true;
}

/* ------------------------------------------------------------------------- */
/* Control API: /_mock/... */

static void ctl_json(struct req *r, int status, json_object *o)
{
    struct buf *b = body_reset(r->srv);
    buf_puts(b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    send_body(r, status, "application/json", NULL);
}

void ctl_msg(struct req *r, int status, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, status < 400 ? "ok" : "error", json_object_new_string(msg));
    ctl_json(r, status, o);
}

/* Value of a query parameter (no percent-decoding), copied into out. */
bool query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            const char *v = p + nl + 1, *amp = strchr(v, '&');
            copy_str(out, cap, v, amp ? (size_t)(amp - v) : strlen(v));
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

static json_object *rec_json(const struct rec *e)
{
    json_object *o = json_object_new_object();
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%.3f", e->when);
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
    json_object_object_add(o, "time", json_object_new_double_s(e->when, tbuf));
    json_object_object_add(o, "method", json_object_new_string(e->method));
    json_object_object_add(o, "path", json_object_new_string(e->target));
    json_object *h = json_object_new_object();
    for (const char *p = e->hdrs; p < e->hdrs + e->hdrs_len;) {
        const char *v = p + strlen(p) + 1;
        json_object_object_add(h, p, json_object_new_string(v));
        p = v + strlen(v) + 1;
    }
    json_object_object_add(o, "headers", h);
    if (utf8_valid((const unsigned char *)e->body, e->body_len) &&
        !memchr(e->body, '\0', e->body_len)) {
        json_object_object_add(o, "body", json_object_new_string_len(e->body, (int)e->body_len));
    } else {
        struct buf b64 = {0};
        buf_clear(&b64);
        buf_b64(&b64, (const unsigned char *)e->body, e->body_len);
        json_object_object_add(o, "body_base64", json_object_new_string_len(b64.p, (int)b64.len));
        buf_free(&b64);
    }
    json_object_object_add(o, "body_len", json_object_new_int64((int64_t)e->body_total));
    if (e->body_total > e->body_len)
        json_object_object_add(o, "body_truncated", json_object_new_boolean(1));
    json_object_object_add(o, "provider", json_object_new_string(e->provider));
    json_object_object_add(o, "key", e->key ? json_object_new_string(e->key) : NULL);
    json_object_object_add(o, "model", e->model ? json_object_new_string(e->model) : NULL);
    if (e->deployment)
        json_object_object_add(o, "deployment", json_object_new_string(e->deployment));
    json_object_object_add(o, "status", json_object_new_int(e->status));
    json_object_object_add(o, "stream", json_object_new_boolean(e->stream));
    json_object_object_add(o, "scripted", json_object_new_boolean(e->scripted));
    if (e->has_tokens) {
        json_object_object_add(o, "prompt_tokens", json_object_new_int(e->prompt_tokens));
        json_object_object_add(o, "completion_tokens", json_object_new_int(e->completion_tokens));
        json_object_object_add(o, "usage_sent", json_object_new_boolean(e->usage_sent));
    }
    return o;
}

static void ctl_requests(struct req *r)
{
    struct server *srv = r->srv;
    char v[512];
    size_t limit = srv->log_cap;
    uint64_t since = 0;
    const char *key = NULL;
    if (query_param(r->query, "limit", v, sizeof v))
        limit = (size_t)strtoull(v, NULL, 10);
    if (query_param(r->query, "since", v, sizeof v))
        since = strtoull(v, NULL, 10);
    char keybuf[512];
    if (query_param(r->query, "key", keybuf, sizeof keybuf))
        key = keybuf;
    /* walk newest to oldest to apply the limit, then reverse into chronological order */
    size_t *pick = xrealloc(NULL, (srv->log_count + 1) * sizeof *pick);
    size_t n = 0;
    for (size_t i = srv->log_count; i-- > 0 && n < limit;) {
        const struct rec *e = &srv->log[(srv->log_start + i) % srv->log_cap];
        if (e->seq <= since)
            break;
        if (key && (!e->key || strcmp(e->key, key)))
            continue;
        pick[n++] = (srv->log_start + i) % srv->log_cap;
    }
    json_object *a = json_object_new_array();
    while (n-- > 0)
        json_object_array_add(a, rec_json(&srv->log[pick[n]]));
    free(pick);
    ctl_json(r, 200, a);
}

static void ctl_stats(struct req *r)
{
    const struct stats *s = &r->srv->st;
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"uptime_s\":%lld,\"last_seq\":%" PRIu64 ",\"requests_total\":%" PRIu64
            ",\"requests_control\":%" PRIu64 ",\"requests_by_provider\":{\"openai\":%" PRIu64
            ",\"azure\":%" PRIu64 ",\"anthropic\":%" PRIu64 ",\"gemini\":%" PRIu64
            "},\"connections_total\":%" PRIu64 ",\"connections_active\":%" PRIu64
            ",\"streams_total\":%" PRIu64 ",\"streams_active\":%" PRIu64
            ",\"streams_completed\":%" PRIu64 ",\"streams_cut\":%" PRIu64
            ",\"client_disconnects\":%" PRIu64 ",\"injected_errors\":%" PRIu64
            ",\"scripted\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"bad_http\":%" PRIu64
            ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"timers_pending\":%zu"
            ",\"spark_sessions\":%" PRIu64 ",\"spark_pongs\":%" PRIu64 "}",
            (long long)(time(NULL) - r->srv->started), r->srv->seq, s->requests_total,
            s->requests_control, s->requests[P_OPENAI], s->requests[P_AZURE],
            s->requests[P_ANTHROPIC], s->requests[P_GEMINI], s->connections_total,
            s->connections_active, s->streams_total, s->streams_active, s->streams_completed,
            s->streams_cut, s->client_disconnects, s->injected_errors, s->scripted, s->dropped,
            s->bad_http, s->bytes_in, s->bytes_out, r->srv->heap_len, s->spark_sessions,
            s->spark_pongs);
    send_body(r, 200, "application/json", NULL);
}

static void ctl_reset_stats(struct server *srv)
{
    /* keep the gauges: they describe what is open right now */
    uint64_t conns = srv->st.connections_active, streams = srv->st.streams_active;
    memset(&srv->st, 0, sizeof srv->st);
    srv->st.connections_active = conns;
    srv->st.streams_active = streams;
}

/* Adds one {"key":..., "responses":[...]} object; returns the count or -1. */
static int ctl_script_one(struct server *srv, json_object *o)
{
    json_object *resp = jarr(o, "responses");
    json_object *k = jget(o, "key");
    if (!resp ||
        (k && !json_object_is_type(k, json_type_string) && !json_object_is_type(k, json_type_null)))
        return -1;
    for (size_t i = 0; i < jlen(resp); i++)
        if (!json_object_is_type(json_object_array_get_idx(resp, i), json_type_object))
            return -1;
    const char *key = jstr(o, "key");
    struct script_q *q = script_queue(srv, key ? key : "", true);
    for (size_t i = 0; i < jlen(resp); i++) {
        if (q->len == q->cap) {
            q->cap = q->cap ? q->cap * 2 : 8;
            q->items = xrealloc(q->items, q->cap * sizeof *q->items);
        }
        q->items[q->len++] = json_object_get(json_object_array_get_idx(resp, i));
    }
    return (int)jlen(resp);
}

/* POST {"<access key>": "<secret>", ...}: secrets to check Bedrock signatures with; DELETE
 * forgets them. */
static void ctl_aws_keys(struct req *r)
{
    struct server *srv = r->srv;
    if (!strcmp(r->method, "DELETE")) {
        json_object_put(srv->aws_keys);
        srv->aws_keys = NULL;
        ctl_msg(r, 200, "aws keys cleared");
        return;
    }
    if (strcmp(r->method, "POST")) {
        ctl_msg(r, 405, "use POST or DELETE");
        return;
    }
    json_object *o = json_tokener_parse(r->body ? r->body : "");
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        ctl_msg(r, 400, "body must be a JSON object {\"<access key>\":\"<secret>\"}");
        return;
    }
    if (!srv->aws_keys)
        srv->aws_keys = json_object_new_object();
    json_object_object_foreach(o, k, v)
    {
        json_object_object_add(srv->aws_keys, k, json_object_get(v));
    }
    json_object_put(o);
    ctl_msg(r, 200, "aws keys set");
}

static void ctl_script(struct req *r)
{
    struct server *srv = r->srv;
    if (!strcmp(r->method, "DELETE")) {
        script_clear(srv);
        ctl_msg(r, 200, "scripts cleared");
        return;
    }
    if (!strcmp(r->method, "GET")) {
        json_object *a = json_object_new_array();
        for (struct script_q *q = srv->scripts; q; q = q->next) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "key", json_object_new_string(q->key));
            json_object_object_add(o, "pending",
                                   json_object_new_int64((int64_t)(q->len - q->head)));
            json_object_array_add(a, o);
        }
        ctl_json(r, 200, a);
        return;
    }
    if (strcmp(r->method, "POST")) {
        ctl_msg(r, 405, "use GET, POST or DELETE");
        return;
    }
    json_tokener_reset(srv->tok);
    json_object *o = json_tokener_parse_ex(srv->tok, r->body ? r->body : "", (int)r->body_len);
    if (!o) {
        ctl_msg(r, 400,
                "body must be JSON: {\"key\":...,\"responses\":[...]} or an array of those");
        return;
    }
    int total = 0, n = 0;
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < jlen(o) && n >= 0; i++) {
            n = ctl_script_one(srv, json_object_array_get_idx(o, i));
            total += n;
        }
    } else {
        n = total = ctl_script_one(srv, o);
    }
    json_object_put(o);
    if (n < 0) {
        ctl_msg(r, 400,
                "each script needs \"responses\": an array of objects, and \"key\" a string");
        return;
    }
    json_object *res = json_object_new_object();
    json_object_object_add(res, "queued", json_object_new_int(total));
    ctl_json(r, 200, res);
}

static void control(struct req *r)
{
    struct server *srv = r->srv;
    const char *what = r->path + strlen("/_mock/");
    bool get = !strcmp(r->method, "GET"), del = !strcmp(r->method, "DELETE");
    if (!strcmp(what, "requests")) {
        if (get) {
            ctl_requests(r);
        } else if (del) {
            log_clear(srv);
            ctl_msg(r, 200, "requests cleared");
        } else {
            ctl_msg(r, 405, "use GET or DELETE");
        }
    } else if (!strcmp(what, "script")) {
        ctl_script(r);
    } else if (!strcmp(what, "spark") && !strcmp(r->method, "POST")) {
        ctl_spark(r);
    } else if (!strcmp(what, "stats")) {
        if (get) {
            ctl_stats(r);
        } else if (del) {
            ctl_reset_stats(srv);
            ctl_msg(r, 200, "stats reset");
        } else {
            ctl_msg(r, 405, "use GET or DELETE");
        }
    } else if (!strcmp(what, "reset") && !strcmp(r->method, "POST")) {
        log_clear(srv);
        script_clear(srv);
        ctl_reset_stats(srv);
        ctl_msg(r, 200, "reset");
    } else if (!strcmp(what, "aws_keys")) {
        ctl_aws_keys(r);
    } else if (!strcmp(what, "vertex")) {
        ctl_vertex(r);
    } else if (!strcmp(what, "zhipu")) {
        ctl_zhipu(r);
    } else if (!strcmp(what, "baidu")) {
        ctl_baidu(r);
    } else if (!strcmp(what, "health")) {
        ctl_msg(r, 200, "ok");
    } else {
        ctl_msg(r, 404, "unknown control endpoint");
    }
}

/* ------------------------------------------------------------------------- */
/* Routing and dispatch */

static enum op openai_op(const char *tail)
{
    static const struct {
        const char *suffix;
        enum op op;
    } tab[] = {
        {"/chat/completions", OP_CHAT},
        {"/completions", OP_COMPLETIONS},
        {"/embeddings", OP_EMBEDDINGS},
        {"/moderations", OP_MODERATIONS},
        {"/images/generations", OP_IMAGES},
        {"/audio/transcriptions", OP_TRANSCRIBE},
        {"/audio/translations", OP_TRANSLATE},
        {"/audio/speech", OP_SPEECH},
        {"/edits", OP_EDITS},
    };
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (has_suffix(tail, tab[i].suffix))
            return tab[i].op;
    return OP_NONE;
}

/* Decodes %XX escapes of s[0..n) into out (cap bytes, cut to fit). */
static void pct_decode(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Decides provider and operation from the path (and, for model lists, from the auth headers). */
static void route(struct req *r)
{
    const char *p = r->path;
    r->prov = P_OPENAI;
    r->op = OP_NONE;
    if (has_prefix(p, "/img/")) {
        r->op = OP_IMAGE_FILE;
        return;
    }
    const struct hdr *up = hfind(r, "upgrade");
    if (up && mem_ieq(up->val, up->val_len, "websocket")) {
        r->prov = P_SPARK; /* the only WebSocket API the mock speaks */
        return;
    }
    if (has_prefix(p, "/push/") || !strcmp(p, "/push")) {
        r->op = OP_PUSH;
        return;
    }
    if (has_suffix(p, "/dashboard/billing/credit_grants") || has_suffix(p, "/sb-api/user/status") ||
        has_suffix(p, "/api/report/getUserOverview")) {
        r->op = OP_BALANCE;
        return;
    }
    const char *bm = strstr(p, "/model/");
    const char *bslash = bm ? strchr(bm + 7, '/') : NULL;
    if (bslash && (has_suffix(p, "/invoke") || has_suffix(p, "/invoke-with-response-stream"))) {
        const char *id = bm + 7, *slash = bslash;
        r->prov = P_BEDROCK;
        r->op = has_suffix(p, "/invoke") ? OP_BR_INVOKE : OP_BR_STREAM;
        pct_decode(r->pmodel, sizeof r->pmodel, id, (size_t)(slash - id));
        return;
    }
    if (has_suffix(p, "/predictions") && strstr(p, "/models/")) {
        const char *m = strstr(p, "/models/") + 8;
        r->prov = P_REPLICATE;
        r->op = OP_RP_CREATE;
        copy_str(r->pmodel, sizeof r->pmodel, m, strlen(m) - strlen("/predictions"));
        return;
    }
    static const struct {
        const char *prefix;
        enum op op;
    } rp[] = {{"/v1/predictions/", OP_RP_GET},
              {"/v1/streams/", OP_RP_STREAM},
              {"/v1/files/", OP_RP_FILE}};
    for (size_t i = 0; i < sizeof rp / sizeof *rp; i++)
        if (has_prefix(p, rp[i].prefix)) {
            r->prov = P_REPLICATE;
            r->op = rp[i].op;
            return;
        }
    if (has_prefix(p, XF_PREFIX "/")) {
        r->prov = P_XFHTTP;
        if (has_suffix(p, "/v1/chat/completions") || has_suffix(p, "/v2/chat/completions"))
            r->op = OP_CHAT;
        return;
    }
    if (has_prefix(p, "/api/paas/v4/")) {
        r->prov = P_ZHIPU;
        r->op = openai_op(p);
        return;
    }
    if (has_prefix(p, "/api/paas/v3/model-api/")) {
        const char *m = p + strlen("/api/paas/v3/model-api/"), *slash = strchr(m, '/');
        r->prov = P_ZHIPU;
        if (slash && (!strcmp(slash, "/invoke") || !strcmp(slash, "/sse-invoke"))) {
            r->op = OP_ZP_V3;
            copy_str(r->pmodel, sizeof r->pmodel, m, (size_t)(slash - m));
        }
        return;
    }
    if (has_suffix(p, "/open_api/v2/chat")) {
        r->prov = P_COZE;
        r->op = OP_COZE_CHAT;
        return;
    }
    if (has_suffix(p, "/api/library/ask")) {
        r->prov = P_AIPROXYLIB;
        r->op = OP_LIB_ASK;
        return;
    }
    if (has_prefix(p, "/client/v4/accounts/")) {
        const char *run = strstr(p, "/ai/run/");
        r->prov = P_CLOUDFLARE;
        if (run) {
            r->op = OP_CF_RUN;
            copy_str(r->pmodel, sizeof r->pmodel, run + 8, strlen(run + 8));
        } else if (strstr(p, "/ai/v1/")) {
            r->op = openai_op(p);
        }
        return;
    }
    static const struct {
        const char *suffix;
        enum op op;
    } al[] = {{"/api/v1/services/aigc/text-generation/generation", OP_AL_CHAT},
              {"/api/v1/services/embeddings/text-embedding/text-embedding", OP_AL_EMBED},
              {"/api/v1/services/aigc/text2image/image-synthesis", OP_AL_IMAGE}};
    for (size_t i = 0; i < sizeof al / sizeof *al; i++)
        if (has_suffix(p, al[i].suffix)) {
            r->prov = P_ALI;
            r->op = al[i].op;
            return;
        }
    if (has_prefix(p, "/api/v1/tasks/")) {
        r->prov = P_ALI;
        r->op = OP_AL_TASK;
        return;
    }
    if (has_suffix(p, "/api/chat") || has_suffix(p, "/api/embed")) {
        r->prov = P_OLLAMA;
        r->op = has_suffix(p, "/api/chat") ? OP_OL_CHAT : OP_OL_EMBED;
        return;
    }
    if (has_prefix(p, "/openai/deployments/")) {
        const char *dep = p + strlen("/openai/deployments/");
        const char *slash = strchr(dep, '/');
        r->prov = P_AZURE;
        if (!slash)
            return;
        copy_str(r->deployment, sizeof r->deployment, dep, (size_t)(slash - dep));
        r->op = openai_op(slash);
        return;
    }
    if (!strcmp(p, "/oauth/2.0/token")) {
        r->op = OP_BD_TOKEN;
        return;
    }
    if (has_prefix(p, "/rpc/2.0/ai_custom/v1/wenxinworkshop/")) {
        const char *ep = p + strlen("/rpc/2.0/ai_custom/v1/wenxinworkshop/");
        r->op = has_prefix(ep, "chat/")         ? OP_BD_CHAT
                : has_prefix(ep, "embeddings/") ? OP_BD_EMBED
                                                : OP_NONE;
        return;
    }
    if (hfind(r, "x-tc-action")) {
        r->prov = P_TENCENT;
        r->op = OP_TC;
        return;
    }
    if (has_suffix(p, "/v1/text/chatcompletion_v2")) {
        r->prov = P_MINIMAX;
        r->op = OP_MM_CHAT;
        return;
    }
    if (!strcmp(p, "/token")) {
        r->vertex = true;
        r->op = OP_VX_TOKEN;
        return;
    }
    const char *pub = strstr(p, "/projects/") ? strstr(p, "/publishers/") : NULL;
    if (pub) {
        /* Vertex AI: .../publishers/google/models/M:generateContent is Gemini's body, and
         * .../publishers/anthropic/models/M:rawPredict Anthropic's. */
        r->vertex = true;
        const char *am = "/publishers/anthropic/models/";
        if (has_prefix(pub, am)) {
            const char *model = pub + strlen(am), *colon = strchr(model, ':');
            r->prov = P_ANTHROPIC;
            if (colon && (!strcmp(colon, ":rawPredict") || !strcmp(colon, ":streamRawPredict"))) {
                r->op = OP_MESSAGES;
                copy_str(r->pmodel, sizeof r->pmodel, model, (size_t)(colon - model));
            }
            return;
        }
        if (!has_prefix(pub, "/publishers/google/models/"))
            return;
    }
    if (has_suffix(p, "/v2/translate")) {
        r->prov = P_DEEPL;
        r->op = OP_DEEPL;
        return;
    }
    if (has_suffix(p, ":generateMessage")) {
        r->prov = P_PALM;
        r->op = OP_PALM;
        return;
    }
    const char *m = strstr(p, "/models/");
    const char *colon = m ? strchr(m + 8, ':') : NULL;
    if (colon) {
        static const struct {
            const char *name;
            enum op op;
        } gm[] = {
            {"generateContent", OP_GENERATE}, {"streamGenerateContent", OP_STREAM},
            {"embedContent", OP_EMBED},       {"batchEmbedContents", OP_BATCH_EMBED},
            {"countTokens", OP_GCOUNT},
        };
        for (size_t i = 0; i < sizeof gm / sizeof *gm; i++)
            if (!strcmp(colon + 1, gm[i].name)) {
                r->prov = P_GEMINI;
                r->op = gm[i].op;
                copy_str(r->pmodel, sizeof r->pmodel, m + 8, (size_t)(colon - m - 8));
                return;
            }
    }
    if (!strcmp(p, "/v1/chat") || has_suffix(p, "/v1/chat")) {
        r->prov = P_COHERE;
        r->op = OP_CO_CHAT;
        return;
    }
    if (has_suffix(p, "/messages") || has_suffix(p, "/messages/count_tokens")) {
        r->prov = P_ANTHROPIC;
        r->op = has_suffix(p, "/messages") ? OP_MESSAGES : OP_COUNT_TOKENS;
        return;
    }
    if (has_suffix(p, "/models") || m) {
        r->op = m ? OP_MODEL : OP_MODELS;
        if (m)
            copy_str(r->pmodel, sizeof r->pmodel, m + 8, strlen(m + 8));
        if (strstr(p, "/v1beta/") || hfind(r, "x-goog-api-key") || strstr(r->query, "key="))
            r->prov = P_GEMINI;
        else if (hfind(r, "x-api-key") || hfind(r, "anthropic-version"))
            r->prov = P_ANTHROPIC;
        return;
    }
    r->op = openai_op(p);
    /* legacy /v1/engines/{model}/embeddings names the model in the path */
    const char *eng = strstr(p, "/engines/");
    if (eng) {
        const char *slash = strchr(eng + 9, '/');
        copy_str(r->pmodel, sizeof r->pmodel, eng + 9,
                 slash ? (size_t)(slash - eng - 9) : strlen(eng + 9));
    }
}

static void req_key(struct req *r)
{
    const struct hdr *h = hfind(r, "authorization");
    if (h && h->val_len > 7 && !strncasecmp(h->val, "Bearer ", 7)) {
        copy_str(r->key, sizeof r->key, h->val + 7, h->val_len - 7);
        return;
    }
    if (h && h->val_len > 28 && !strncmp(h->val, "AWS4-HMAC-SHA256 Credential=", 28)) {
        const char *ak = h->val + 28, *end = memchr(ak, '/', h->val_len - 28);
        copy_str(r->key, sizeof r->key, ak, end ? (size_t)(end - ak) : h->val_len - 28);
        return;
    }
    if (h && h->val_len > 28 && !strncmp(h->val, "TC3-HMAC-SHA256 Credential=", 27)) {
        /* Tencent: the SecretId names the key. */
        const char *id = h->val + 27, *slash = memchr(id, '/', h->val_len - 27);
        copy_str(r->key, sizeof r->key, id, slash ? (size_t)(slash - id) : h->val_len - 27);
        return;
    }
    if (h && h->val_len > 15 && !strncmp(h->val, "DeepL-Auth-Key ", 15)) {
        copy_str(r->key, sizeof r->key, h->val + 15, h->val_len - 15);
        return;
    }
    static const char *const names[] = {"api-key", "x-api-key", "x-goog-api-key"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((h = hfind(r, names[i])) != NULL) {
            copy_str(r->key, sizeof r->key, h->val, h->val_len);
            return;
        }
    if (query_param(r->query, "key", r->key, sizeof r->key))
        return;
    /* A bare credential (no scheme) is how One API's Proxy channels send their key. */
    h = hfind(r, "authorization");
    if (h && h->val_len && !memchr(h->val, ' ', h->val_len))
        copy_str(r->key, sizeof r->key, h->val, h->val_len);
}

/* The text that may hold [[mock ...]]: the last user message, or the field playing its role. */
static void directive_text(struct req *r, struct buf *t)
{
    json_object *j = r->json;
    buf_clear(t);
    if (r->op == OP_TRANSCRIBE || r->op == OP_TRANSLATE) {
        if (r->mp_prompt)
            buf_put(t, r->mp_prompt, r->mp_prompt_len);
        return;
    }
    if (!j) {
        if (r->body)
            buf_put(t, r->body, r->body_len);
        return;
    }
    json_object *list = NULL, *v = NULL;
    switch (r->op) {
    case OP_TC:
        list = jarr(j, "Messages");
        if (list) {
            for (size_t i = jlen(list); i-- > 0;) {
                json_object *m = json_object_array_get_idx(list, i);
                const char *role = jstr(m, "Role");
                if (role && !strcmp(role, "user")) {
                    v = jget(m, "Content");
                    break;
                }
            }
        } else if (jlen(list = jarr(j, "InputList"))) {
            v = json_object_array_get_idx(list, jlen(list) - 1);
        }
        break;
    case OP_CHAT:
    case OP_MM_CHAT:
    case OP_OL_CHAT:
    case OP_BD_CHAT:
    case OP_MESSAGES:
    case OP_BR_INVOKE:
    case OP_BR_STREAM:
    case OP_COUNT_TOKENS:
        list = jarr(j, "messages");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *role = jstr(m, "role");
            if (role && !strcmp(role, "user")) {
                v = jget(m, "content");
                break;
            }
        }
        break;
    case OP_GENERATE:
    case OP_STREAM:
    case OP_GCOUNT:
        list = jarr(j, "contents");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *role = jstr(m, "role");
            if (!role || !strcmp(role, "user")) {
                v = jget(m, "parts");
                break;
            }
        }
        break;
    case OP_COMPLETIONS:
    case OP_IMAGES: v = jget(j, "prompt"); break;
    case OP_EDITS: v = jget(j, "instruction"); break;
    case OP_EMBEDDINGS:
    case OP_OL_EMBED:
    case OP_MODERATIONS:
    case OP_SPEECH: v = jget(j, "input"); break;
    case OP_EMBED: v = jget(j, "content"); break;
    case OP_DEEPL:
        list = jarr(j, "text");
        if (jlen(list))
            v = json_object_array_get_idx(list, jlen(list) - 1);
        break;
    case OP_PALM:
        list = jarr(jget(j, "prompt"), "messages");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *author = jstr(m, "author");
            if (author && !strcmp(author, "0")) {
                v = jget(m, "content");
                break;
            }
        }
        break;
    case OP_CO_CHAT: v = jget(j, "message"); break;
    case OP_RP_CREATE: v = jget(jget(j, "input"), "prompt"); break;
    case OP_AL_CHAT:
        list = jarr(jget(j, "input"), "messages");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *role = jstr(m, "role");
            if (role && !strcmp(role, "user")) {
                v = jget(m, "content");
                break;
            }
        }
        break;
    case OP_AL_EMBED:
        list = jarr(jget(j, "input"), "texts");
        if (jlen(list))
            v = json_object_array_get_idx(list, jlen(list) - 1);
        break;
    case OP_AL_IMAGE: v = jget(jget(j, "input"), "prompt"); break;
    case OP_ZP_V3:
        list = jarr(j, "prompt");
        if (jlen(list))
            v = jget(json_object_array_get_idx(list, jlen(list) - 1), "content");
        break;
    case OP_COZE_CHAT:
    case OP_LIB_ASK: v = jget(j, "query"); break;
    case OP_CF_RUN:
        v = jget(j, "prompt");
        if (!v) {
            list = jarr(j, "messages");
            if (jlen(list))
                v = jget(json_object_array_get_idx(list, jlen(list) - 1), "content");
        }
        break;
    case OP_BATCH_EMBED:
        list = jarr(j, "requests");
        if (jlen(list))
            v = jget(json_object_array_get_idx(list, jlen(list) - 1), "content");
        break;
    default: break;
    }
    jtext(v, t, 0);
}

static bool op_needs_json(enum op op)
{
    return op != OP_MODELS && op != OP_MODEL && op != OP_TRANSCRIBE && op != OP_TRANSLATE &&
           op != OP_BALANCE && op != OP_RP_GET && op != OP_RP_STREAM && op != OP_RP_FILE &&
           op != OP_AL_TASK && op != OP_IMAGE_FILE;
}

static void dispatch(struct server *srv, struct req *r)
{
    r->now = time(NULL);
    buf_clear(&srv->path);
    /* Through a proxy the target is absolute ("http://host/path"): route on its path, as a
     * forward proxy to the named host would (the recorded path keeps the whole URL). */
    const char *target = r->target;
    if (!strncmp(target, "http://", 7)) {
        const char *slash = strchr(target + 7, '/');
        target = slash ? slash : "/";
    }
    buf_puts(&srv->path, target);
    char *q = strchr(srv->path.p, '?');
    if (q)
        *q++ = '\0';
    r->path = srv->path.p;
    r->query = q ? q : "";
    dir_defaults(&r->d);
    if (has_prefix(r->path, "/_mock/")) {
        srv->st.requests_control++;
        control(r);
        return;
    }
    /* only provider requests are numbered, so ?since= sees no gaps from control calls */
    r->seq = ++srv->seq;
    srv->st.requests_total++;
    route(r);
    srv->st.requests[r->prov]++;
    req_key(r);
    r->rec = rec_new(srv, r);
    r->crlf = r->prov == P_GEMINI;
    if (r->prov == P_SPARK) {
        h_spark_upgrade(r);
        return;
    }

    if (r->op == OP_TRANSCRIBE || r->op == OP_TRANSLATE) {
        multipart_parse(r);
    } else if (r->body_len) {
        json_tokener_reset(srv->tok);
        r->json = json_tokener_parse_ex(srv->tok, r->body, (int)r->body_len);
        if (!r->json || json_tokener_get_parse_end(srv->tok) < r->body_len) {
            json_object_put(r->json);
            r->json = NULL;
            r->bad_json = true;
        }
    }
    if (r->json)
        rec_model(r, jstr(r->json, "model"));
    if (!r->rec->model && (r->pmodel[0] || r->deployment[0]))
        rec_model(r, r->pmodel[0] ? r->pmodel : r->deployment);

    /* Vertex: the token endpoint and the token check come before scripts and directives,
     * which are about the model's answer. */
    if (r->op == OP_VX_TOKEN) {
        h_vx_token(r);
        goto out;
    }
    if (r->vertex && !vx_authorized(r))
        goto out;
    if (r->prov == P_ZHIPU && !zp_authorized(r))
        goto out;

    if (r->op == OP_BD_TOKEN) {
        h_bd_token(r);
        goto out;
    }
    directive_text(r, &srv->text);
    dir_scan(&r->d, srv->text.p, srv->text.len);
    if (r->op == OP_BD_CHAT || r->op == OP_BD_EMBED) {
        h_bd_call(r);
        goto out;
    }

    json_object *entry = script_pop(srv, r->key);
    if (entry) {
        srv->st.scripted++;
        r->rec->scripted = true;
        bool done = script_apply(r, entry);
        json_object_put(entry);
        if (done)
            goto out;
    }
    if (r->d.eol)
        r->crlf = r->d.eol == 2;
    if (r->d.close) {
        srv->st.dropped++;
        srv->rep.segs[0].delay_ms = r->d.delay_ms;
        srv->rep.cut = true;
        goto out;
    }
    if (r->prov == P_XFHTTP && r->op == OP_CHAT) {
        h_xf_chat(r); /* its errors, injected ones included, are Spark's */
        goto out;
    }
    if (r->d.status) {
        srv->st.injected_errors++;
        reply_error(r, r->d.status, NULL, true);
        goto out;
    }
    if (r->op == OP_NONE) {
        char msg[300];
        snprintf(msg, sizeof msg, "mock: unknown endpoint %s %s", r->method, r->path);
        copy_str(r->d.err_code, sizeof r->d.err_code, "unknown_url", 11);
        reply_error(r, 404, msg, true);
        goto out;
    }
    bool want_get = r->op == OP_MODELS || r->op == OP_MODEL || r->op == OP_BALANCE ||
                    r->op == OP_RP_GET || r->op == OP_RP_STREAM || r->op == OP_RP_FILE ||
                    r->op == OP_AL_TASK || r->op == OP_IMAGE_FILE;
    if (strcmp(r->method, want_get ? "GET" : "POST") &&
        !(r->op == OP_IMAGE_FILE && !strcmp(r->method, "HEAD"))) {
        reply_errorf(r, 405, "mock: use %s for %s", want_get ? "GET" : "POST", r->path);
        goto out;
    }
    if (op_needs_json(r->op) && !r->json) {
        reply_error(r, 400,
                    r->bad_json ? "mock: request body is not valid JSON"
                                : "mock: request body is required",
                    false);
        goto out;
    }
    if (r->d.tool[0] && r->d.args[0]) {
        json_object *a = json_tokener_parse(r->d.args);
        bool ok = a && json_object_is_type(a, json_type_object);
        json_object_put(a);
        if (!ok) {
            reply_error(r, 400, "mock: args= must be a JSON object", false);
            goto out;
        }
    }
    /* These check the Bearer token before anything else, as the real services do. */
    if ((r->prov == P_COZE || r->prov == P_CLOUDFLARE || r->prov == P_AIPROXYLIB) && !r->key[0]) {
        reply_error(r, 401,
                    r->prov == P_CLOUDFLARE ? "Authentication error" : "authentication is invalid",
                    false);
        goto out;
    }
    if (r->prov == P_AZURE && r->d.strict && !strstr(r->query, "api-version=")) {
        struct buf *b = body_reset(srv);
        buf_lit(b, "{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}");
        send_body(r, 404, "application/json", NULL);
        goto out;
    }
    switch (r->op) {
    case OP_CHAT: h_oa_chat(r); break;
    case OP_COMPLETIONS: h_oa_completions(r); break;
    case OP_OL_CHAT: h_ol_chat(r); break;
    case OP_OL_EMBED: h_ol_embed(r); break;
    case OP_EMBEDDINGS: h_oa_embeddings(r); break;
    case OP_MM_CHAT: h_mm_chat(r); break;
    case OP_TC: h_tc(r); break;
    case OP_MODERATIONS: h_oa_moderations(r); break;
    case OP_IMAGES: h_oa_images(r); break;
    case OP_TRANSCRIBE:
    case OP_TRANSLATE: h_oa_audio_text(r); break;
    case OP_SPEECH: h_oa_speech(r); break;
    case OP_MODELS:
    case OP_MODEL: h_models(r); break;
    case OP_MESSAGES:
    case OP_COUNT_TOKENS: h_an_messages(r); break;
    case OP_GENERATE:
    case OP_STREAM:
    case OP_GCOUNT: h_gm_generate(r); break;
    case OP_EMBED:
    case OP_BATCH_EMBED: h_gm_embed(r); break;
    case OP_PUSH: h_push(r); break;
    case OP_BALANCE: h_balance(r); break;
    case OP_DEEPL: h_deepl(r); break;
    case OP_PALM: h_palm(r); break;
    case OP_CO_CHAT: h_co_chat(r); break;
    case OP_BR_INVOKE:
    case OP_BR_STREAM: h_br_invoke(r); break;
    case OP_RP_CREATE: h_rp_create(r); break;
    case OP_RP_GET: h_rp_get(r); break;
    case OP_RP_STREAM: h_rp_stream(r); break;
    case OP_RP_FILE: h_rp_file(r); break;
    case OP_AL_CHAT: h_al_chat(r); break;
    case OP_AL_EMBED: h_al_embed(r); break;
    case OP_AL_IMAGE: h_al_image(r); break;
    case OP_AL_TASK: h_al_task(r); break;
    case OP_EDITS: h_oa_edits(r); break;
    case OP_IMAGE_FILE: h_image_file(r); break;
    case OP_COZE_CHAT: h_coze_chat(r); break;
    case OP_CF_RUN: h_cf_run(r); break;
    case OP_LIB_ASK: h_lib_ask(r); break;
    case OP_ZP_V3: h_zp_v3(r); break;
    case OP_VX_TOKEN:
    case OP_BD_TOKEN:
    case OP_BD_CHAT:
    case OP_BD_EMBED:
    case OP_NONE: break;
    }
out:
    json_object_put(r->json);
    r->json = NULL;
}

/* ------------------------------------------------------------------------- */
/* Start-up, event loop, shutdown */

static int listen_on(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc) {
        fprintf(stderr, "mock_upstream: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "mock_upstream: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "mock_upstream: setrlimit(RLIMIT_NOFILE): %s\n", strerror(errno));
    }
}

static void conn_event(struct server *srv, struct conn *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_close(srv, c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && conn_read(srv, c) < 0)
        return;
    conn_progress(srv, c);
}

static void run(struct server *srv)
{
    struct epoll_event evs[256];
    while (!srv->stopping) {
        int timeout = -1;
        if (srv->heap_len) {
            uint64_t now = mono_ms(), due = srv->heap[0]->due_ms;
            timeout = due <= now ? 0 : due - now > INT_MAX ? INT_MAX : (int)(due - now);
        }
        int n = epoll_wait(srv->epfd, evs, (int)(sizeof evs / sizeof *evs), timeout);
        if (n < 0 && errno != EINTR) {
            perror("mock_upstream: epoll_wait");
            return;
        }
        srv->now_ms = mono_ms();
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &srv->lfd) {
                accept_all(srv);
            } else if (ptr == &srv->sfd) {
                struct signalfd_siginfo si;
                if (read(srv->sfd, &si, sizeof si) > 0)
                    srv->stopping = true;
            } else {
                conn_event(srv, ptr, evs[i].events);
            }
        }
        srv->now_ms = mono_ms();
        while (srv->heap_len && srv->heap[0]->due_ms <= srv->now_ms) {
            struct conn *c = srv->heap[0];
            timer_del(srv, c);
            if (c->sched)
                sched_run(srv, c, true);
            conn_progress(srv, c);
        }
    }
}

static void server_free(struct server *srv)
{
    while (srv->conns) {
        conn_close(srv, srv->conns);
    }
    log_clear(srv);
    free(srv->log);
    free(srv->preds);
    script_clear(srv);
    free(srv->heap);
    rep_free(&srv->rep);
    buf_free(&srv->body);
    buf_free(&srv->ev);
    buf_free(&srv->text);
    buf_free(&srv->piece);
    buf_free(&srv->dechunked);
    buf_free(&srv->path);
    buf_free(&srv->frame);
    json_object_put(srv->aws_keys);
    if (srv->tok)
        json_tokener_free(srv->tok);
    EVP_PKEY_free(srv->vx.pub);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->sfd >= 0)
        close(srv->sfd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    free(srv);
}

static void usage(FILE *f)
{
    fputs(
        "usage: mock_upstream --port N [--host 127.0.0.1] [--log-size 256]\n"
        "  --port 0 picks a free port; the first stdout line is always \"PORT <n>\".\n"
        "  See tests/mock/README.md for endpoints, [[mock ...]] directives and /_mock/ control.\n",
        f);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1, log_size = DEFAULT_LOG_SIZE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--port") && v) {
            port = strtol(v, &end, 10);
            i++;
        } else if (!strcmp(a, "--host") && v) {
            host = v;
            i++;
        } else if (!strcmp(a, "--log-size") && v) {
            log_size = strtol(v, &end, 10);
            i++;
        } else {
            usage(stderr);
            return 2;
        }
        if (end && *end) {
            usage(stderr);
            return 2;
        }
    }
    if (port < 0 || port > 65535 || log_size < 1 || log_size > 1000000) {
        usage(stderr);
        return 2;
    }

    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    struct server *srv = xrealloc(NULL, sizeof *srv);
    memset(srv, 0, sizeof *srv);
    srv->lfd = srv->sfd = srv->epfd = -1;
    srv->log_cap = (size_t)log_size;
    srv->log = xrealloc(NULL, srv->log_cap * sizeof *srv->log);
    srv->preds = xrealloc(NULL, RP_MAX * sizeof *srv->preds);
    memset(srv->preds, 0, RP_MAX * sizeof *srv->preds);
    memset(srv->log, 0, srv->log_cap * sizeof *srv->log);
    srv->tok = json_tokener_new_ex(128); /* tool schemas nest deeper than the default 32 */
    srv->vx.expires_in = 3600;
    /* iFlytek's documentation example credentials */
    spark_cred_set(srv, "addd2272b6d8b7c8abdd79531420ca3b", "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi", 0);
    srv->started = time(NULL);
    rep_reset(&srv->rep);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    srv->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->lfd = listen_on(host, (int)port);
    if (srv->lfd < 0 || srv->sfd < 0 || srv->epfd < 0 || !srv->tok) {
        server_free(srv);
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd};
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev);
    ev.data.ptr = &srv->sfd;
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->sfd, &ev);

    printf("PORT %d\n", bound_port(srv->lfd));
    fflush(stdout);

    run(srv);
    server_free(srv);
    return 0;
}
