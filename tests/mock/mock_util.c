/* mock_util.c: the mock upstream's shared pieces: byte buffers, string and JSON helpers, reply
 * framing (heads, bodies, SSE events), [[mock ...]] directives, answer plans and generated
 * text, provider-shaped errors and mid-stream failures, and the hashes, HMACs and base64url
 * that the signed protocols need. */

#include "mock.h"

/* ------------------------------------------------------------------------- */
/* Growable byte buffer */

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("mock_upstream: out of memory\n", stderr);
        abort();
    }
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Makes room for extra bytes plus the terminating NUL. */
static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap > b->len && b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void buf_put(struct buf *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends a string literal without a strlen at run time. */

void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_putc(struct buf *b, char ch)
{
    buf_put(b, &ch, 1);
}

void buf_clear(struct buf *b)
{
    buf_reserve(b, 0);
    b->len = 0;
    b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

__attribute__((format(printf, 2, 3))) void buf_fmt(struct buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    buf_reserve(b, 64);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

/* Appends s as a quoted JSON string; bytes >= 0x80 pass through so UTF-8 survives. */
void buf_jstr(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        buf_put(b, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"': buf_lit(b, "\\\""); break;
        case '\\': buf_lit(b, "\\\\"); break;
        case '\n': buf_lit(b, "\\n"); break;
        case '\r': buf_lit(b, "\\r"); break;
        case '\t': buf_lit(b, "\\t"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            buf_put(b, u, sizeof u);
        }
        }
    }
    buf_put(b, s + run, n - run);
    buf_putc(b, '"');
}

void buf_jstrz(struct buf *b, const char *s)
{
    buf_jstr(b, s, strlen(s));
}

void buf_b64(struct buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_reserve(b, (n + 2) / 3 * 4);
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = tab[v >> 6 & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

static void buf_be32(struct buf *b, uint32_t v)
{
    char x[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    buf_put(b, x, 4);
}

/* Appends an AWS event-stream frame: lengths, prelude CRC, n string headers, the payload and
 * the CRC of everything before it (CRC-32 as zlib computes it). */
static void evs_frame(struct buf *out, const char *const *names, const char *const *values, int n,
                      const char *payload, size_t len)
{
    size_t hlen = 0, start = out->len;
    for (int i = 0; i < n; i++)
        hlen += 1 + strlen(names[i]) + 3 + strlen(values[i]);
    buf_be32(out, (uint32_t)(16 + hlen + len));
    buf_be32(out, (uint32_t)hlen);
    buf_be32(out, (uint32_t)crc32(0, (const Bytef *)out->p + start, 8));
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), vl = strlen(values[i]);
        char t[3] = {7, (char)(vl >> 8), (char)vl}; /* 7: string */
        buf_putc(out, (char)nl);
        buf_put(out, names[i], nl);
        buf_put(out, t, 3);
        buf_put(out, values[i], vl);
    }
    buf_put(out, payload, len);
    buf_be32(out, (uint32_t)crc32(0, (const Bytef *)out->p + start, (uInt)(out->len - start)));
}

/* ------------------------------------------------------------------------- */
/* Small string helpers */

bool has_prefix(const char *s, const char *pre)
{
    return strncmp(s, pre, strlen(pre)) == 0;
}

bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

bool mem_ieq(const char *a, size_t n, const char *z)
{
    return strlen(z) == n && strncasecmp(a, z, n) == 0;
}

/* True when token z appears in the comma/space separated header value. */
bool mem_icontains(const char *a, size_t n, const char *z)
{
    size_t m = strlen(z);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(a + i, z, m) == 0)
            return true;
    return false;
}

void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int count_words(const char *s, size_t n)
{
    int words = 0;
    bool in_word = false;
    for (size_t i = 0; i < n; i++) {
        bool space = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        /* overlong forms and surrogates are not UTF-8, and JSON parsers refuse them */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------- */
/* JSON access helpers (json-c), all NULL-tolerant */

json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v))
        return v;
    return NULL;
}

const char *jstr(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *jarr(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

size_t jlen(json_object *a)
{
    return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

bool jbool(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

int64_t jint(json_object *o, const char *k, int64_t def)
{
    json_object *v = jget(o, k);
    if (v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return json_object_get_int64(v);
    return def;
}

/*
 * Appends every piece of text in a message content value: plain strings, "text" members
 * (OpenAI parts, Anthropic blocks, Gemini parts), Anthropic tool_result "content" and Gemini
 * "parts". Pieces are joined with one space so that word counts add up.
 */
void jtext(json_object *v, struct buf *out, int depth)
{
    if (!v || depth > 16)
        return;
    switch (json_object_get_type(v)) {
    case json_type_string:
        if (out->len && out->p[out->len - 1] != ' ')
            buf_putc(out, ' ');
        buf_put(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            jtext(json_object_array_get_idx(v, i), out, depth + 1);
        break;
    case json_type_object: {
        json_object *t = jget(v, "text");
        if (t && json_object_is_type(t, json_type_string))
            jtext(t, out, depth + 1);
        else if ((t = jget(v, "content")) != NULL)
            jtext(t, out, depth + 1);
        else if ((t = jget(v, "parts")) != NULL)
            jtext(t, out, depth + 1);
        break;
    }
    default: break;
    }
}

/* ------------------------------------------------------------------------- */
/* Replies */

void rep_init(struct reply *p)
{
    memset(p, 0, sizeof *p);
}

void rep_free(struct reply *p)
{
    buf_free(&p->data);
    free(p->segs);
    rep_init(p);
}

/* Empties the reply but keeps its memory, leaving one segment sent without delay. */
void rep_reset(struct reply *p)
{
    buf_clear(&p->data);
    if (!p->cap) {
        p->cap = 16;
        p->segs = xrealloc(NULL, p->cap * sizeof *p->segs);
    }
    p->n = 1;
    p->segs[0].start = 0;
    p->segs[0].delay_ms = 0;
    p->next = 0;
    p->chunked = p->cut = p->is_stream = p->has_head = false;
}

/* Starts a new segment sent delay_ms after the previous one; no-op without a delay. */
void rep_seg(struct reply *p, int delay_ms)
{
    if (delay_ms <= 0)
        return;
    if (p->n == p->cap) {
        p->cap *= 2;
        p->segs = xrealloc(p->segs, p->cap * sizeof *p->segs);
    }
    p->segs[p->n].start = p->data.len;
    p->segs[p->n].delay_ms = delay_ms;
    p->n++;
}

const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/*
 * Writes the status line and headers. body_len < 0 starts a stream: chunked for HTTP/1.1,
 * close-delimited for HTTP/1.0 (which has no chunked coding).
 */
void rep_head(struct req *r, int status, const char *ctype, long long body_len, const char *extra)
{
    struct reply *p = &r->srv->rep;
    struct buf *b = &p->data;
    if (body_len < 0 && r->http10)
        r->keep_alive = false;
    buf_fmt(b, "HTTP/1.1 %d %s\r\nServer: mock-upstream\r\nContent-Type: %s\r\n", status,
            reason_phrase(status), ctype);
    if (body_len >= 0) {
        buf_fmt(b, "Content-Length: %lld\r\n", body_len);
    } else {
        buf_lit(b, "Cache-Control: no-cache\r\n");
        if (!r->http10) {
            buf_lit(b, "Transfer-Encoding: chunked\r\n");
            p->chunked = true;
        }
    }
    if (!r->keep_alive)
        buf_lit(b, "Connection: close\r\n");
    else if (r->http10)
        buf_lit(b, "Connection: keep-alive\r\n");
    if (extra)
        buf_puts(b, extra);
    buf_fmt(b, "x-request-id: mock-%" PRIu64 "\r\n\r\n", r->seq);
    p->has_head = true;
    if (r->rec)
        r->rec->status = status;
}

/* Sends srv->body as the whole reply, after the request's delay_ms. */
void send_body(struct req *r, int status, const char *ctype, const char *extra)
{
    struct server *srv = r->srv;
    srv->rep.segs[0].delay_ms = r->d.delay_ms;
    rep_head(r, status, ctype, (long long)srv->body.len, extra);
    buf_put(&srv->rep.data, srv->body.p, srv->body.len);
}

struct buf *body_reset(struct server *srv)
{
    buf_clear(&srv->body);
    return &srv->body;
}

void stream_head(struct req *r, int status, const char *ctype, const char *extra)
{
    rep_head(r, status, ctype, -1, extra);
    r->srv->rep.is_stream = true;
    r->srv->st.streams_total++;
    r->srv->st.streams_active++;
    if (r->rec)
        r->rec->stream = true;
}

/* Appends srv->ev to the reply as one event (one HTTP chunk when chunked). */
void rep_event(struct req *r)
{
    struct server *srv = r->srv;
    struct reply *p = &srv->rep;
    if (!srv->ev.len)
        return;
    if (p->chunked)
        buf_fmt(&p->data, "%zx\r\n", srv->ev.len);
    buf_put(&p->data, srv->ev.p, srv->ev.len);
    if (p->chunked)
        buf_lit(&p->data, "\r\n");
}

void rep_finish(struct req *r)
{
    struct reply *p = &r->srv->rep;
    if (p->chunked)
        buf_lit(&p->data, "0\r\n\r\n");
}

struct buf *sse_data(struct req *r)
{
    buf_clear(&r->srv->ev);
    buf_lit(&r->srv->ev, "data: ");
    return &r->srv->ev;
}

struct buf *sse_named(struct req *r, const char *name)
{
    struct buf *b = &r->srv->ev;
    buf_clear(b);
    if (r->prov == P_BEDROCK)
        return b; /* the event's JSON alone: sse_end wraps it in a frame */
    buf_lit(b, "event: ");
    buf_puts(b, name);
    buf_puts(b, r->crlf ? "\r\ndata: " : "\ndata: ");
    return b;
}

void sse_end(struct req *r)
{
    if (r->prov == P_BEDROCK) {
        /* Bedrock: the Anthropic event in base64 "bytes" plus length padding, in a frame. */
        static const char *const names[] = {":event-type", ":content-type", ":message-type"};
        static const char *const values[] = {"chunk", "application/json", "event"};
        struct server *srv = r->srv;
        struct buf *t = &srv->frame;
        buf_clear(t);
        buf_lit(t, "{\"bytes\":\"");
        buf_b64(t, (const unsigned char *)srv->ev.p, srv->ev.len);
        buf_fmt(t, "\",\"p\":\"%.*s\"}", (int)(1 + srv->ev.len % 17), "abcdefghijklmnopqrstuvwxyz");
        buf_clear(&srv->ev);
        evs_frame(&srv->ev, names, values, 3, t->p, t->len);
        rep_event(r);
        return;
    }
    buf_puts(&r->srv->ev, r->crlf ? "\r\n\r\n" : "\n\n");
    rep_event(r);
}

/* ------------------------------------------------------------------------- */
/* Directives: [[mock key=value ...]] */

static bool parse_num(const char *s, size_t n, long lo, long hi, int *out)
{
    long v = 0;
    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

void dir_defaults(struct directives *d)
{
    memset(d, 0, sizeof *d);
    d->chunks = 3;
    d->fail_after = -1;
    d->usage = true;
    d->strict = true;
}

static void dir_set(struct directives *d, const char *k, size_t kn, const char *v, size_t vn)
{
    int num;
    bool yes = vn == 1 && v[0] == '1';
#define KEY(name) (kn == sizeof(name) - 1 && memcmp(k, name, kn) == 0)
    if (KEY("chunks") && parse_num(v, vn, 1, MAX_CHUNKS, &num)) {
        d->chunks = num;
        d->chunks_set = true;
    } else if ((KEY("delay_ms") || KEY("delay")) && parse_num(v, vn, 0, MAX_DELAY_MS, &num)) {
        d->delay_ms = num;
    } else if (KEY("status") && parse_num(v, vn, 100, 599, &num)) {
        d->status = num >= 400 ? num : 0;
    } else if (KEY("fail_after") && parse_num(v, vn, 0, MAX_CHUNKS, &num)) {
        d->fail_after = num;
    } else if (KEY("fail")) {
        d->fail_error = vn == 5 && memcmp(v, "error", 5) == 0;
    } else if (KEY("usage")) {
        d->usage = yes;
    } else if (KEY("close")) {
        d->close = yes;
    } else if (KEY("flagged")) {
        d->flagged = yes;
    } else if (KEY("strict")) {
        d->strict = yes;
    } else if (KEY("eol")) {
        d->eol = vn == 4 && memcmp(v, "crlf", 4) == 0 ? 2 : 1;
    } else if (KEY("text")) {
        copy_str(d->text, sizeof d->text, v, vn);
    } else if (KEY("tool")) {
        copy_str(d->tool, sizeof d->tool, v, vn);
    } else if (KEY("args")) {
        copy_str(d->args, sizeof d->args, v, vn);
    } else if (KEY("finish")) {
        copy_str(d->finish, sizeof d->finish, v, vn);
    } else if (KEY("err_type")) {
        copy_str(d->err_type, sizeof d->err_type, v, vn);
    } else if (KEY("err_code")) {
        copy_str(d->err_code, sizeof d->err_code, v, vn);
    } else if (KEY("msg")) {
        copy_str(d->msg, sizeof d->msg, v, vn);
    } else if (KEY("block")) {
        copy_str(d->block, sizeof d->block, v, vn);
    }
#undef KEY
}

/* Parses "key=value key=\"quoted value\" ..." from s[0..n). */
void dir_parse(struct directives *d, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
            i++;
        size_t k = i;
        while (i < n && s[i] != '=' && s[i] != ' ' && !(s[i] >= '\t' && s[i] <= '\r'))
            i++;
        size_t kn = i - k;
        if (i >= n || s[i] != '=') {
            continue;
        }
        i++;
        size_t v, vn;
        if (i < n && s[i] == '"') {
            v = ++i;
            while (i < n && s[i] != '"')
                i++;
            vn = i - v;
            if (i < n)
                i++;
        } else {
            v = i;
            while (i < n && s[i] != ' ' && !(s[i] >= '\t' && s[i] <= '\r'))
                i++;
            vn = i - v;
        }
        if (kn)
            dir_set(d, s + k, kn, s + v, vn);
    }
}

/* Applies the last [[mock ...]] found in s[0..n). */
bool dir_scan(struct directives *d, const char *s, size_t n)
{
    const char *last = NULL;
    for (const char *p = s; p && (size_t)(p - s) < n;) {
        const char *hit = memmem(p, n - (size_t)(p - s), "[[mock", 6);
        if (!hit)
            break;
        size_t after = (size_t)(hit - s) + 6;
        if (after < n &&
            (s[after] == ' ' || s[after] == ']' || (s[after] >= '\t' && s[after] <= '\r')))
            last = hit;
        p = hit + 6;
    }
    if (!last)
        return false;
    const char *start = last + 6;
    const char *end = memmem(start, n - (size_t)(start - s), "]]", 2);
    if (!end)
        return false;
    dir_parse(d, start, (size_t)(end - start));
    return true;
}

/* ------------------------------------------------------------------------- */
/* Answer plans and generated text */

void plan_make(struct plan *p, const struct directives *d)
{
    memset(p, 0, sizeof *p);
    p->tool = d->tool[0] != '\0';
    p->n_text = p->tool && !d->text[0] ? 0 : d->chunks;
    p->args = d->args[0] ? d->args : DEFAULT_ARGS;
    p->args_len = strlen(p->args);
    if (p->tool)
        p->n_args = d->chunks < (int)p->args_len ? d->chunks : (int)p->args_len;
    p->completion = p->n_text + (p->tool ? d->chunks : 0);
    p->fail_at = d->fail_after;
}

/* Appends text chunk i: "Hello", " from", " mock", " Hello"... or the text= word. */
void piece_append(const struct directives *d, int i, struct buf *out)
{
    static const char *const words[] = {"Hello", "from", "mock"};
    if (i > 0)
        buf_putc(out, ' ');
    buf_puts(out, d->text[0] ? d->text : words[i % 3]);
}

struct buf *piece(struct req *r, int i)
{
    buf_clear(&r->srv->piece);
    piece_append(&r->d, i, &r->srv->piece);
    return &r->srv->piece;
}

struct buf *all_text(struct req *r, int n)
{
    buf_clear(&r->srv->piece);
    for (int i = 0; i < n; i++)
        piece_append(&r->d, i, &r->srv->piece);
    return &r->srv->piece;
}

void arg_frag(const struct plan *p, int k, const char **s, size_t *n)
{
    size_t from = (size_t)k * p->args_len / (size_t)p->n_args;
    size_t to = (size_t)(k + 1) * p->args_len / (size_t)p->n_args;
    *s = p->args + from;
    *n = to - from;
}

/* Provider spelling of a finish reason; canonical names are stop, length, filter, tool. */
const char *finish_for(enum prov pv, const struct directives *d, bool tool)
{
    /* Indexed by provider: a provider without a row would read NULL names. */
    static const char *const names[P__MAX][4] = {
        [P_OPENAI] = {"stop", "length", "content_filter", "tool_calls"},
        [P_AZURE] = {"stop", "length", "content_filter", "tool_calls"},
        [P_ANTHROPIC] = {"end_turn", "max_tokens", "refusal", "tool_use"},
        [P_GEMINI] = {"STOP", "MAX_TOKENS", "SAFETY", "STOP"},
        [P_DEEPL] = {"stop", "stop", "stop", "stop"}, /* no finish reasons */
        [P_PALM] = {"stop", "stop", "stop", "stop"},  /* no finish reasons */
        [P_COHERE] = {"COMPLETE", "MAX_TOKENS", "ERROR_TOXIC", "COMPLETE"},
        [P_OLLAMA] = {"stop", "length", "stop", "stop"},
        [P_BEDROCK] = {"end_turn", "max_tokens", "refusal", "tool_use"}, /* Claude's */
        [P_REPLICATE] = {"stop", "stop", "stop", "stop"},                /* none */
        [P_SPARK] = {"stop", "stop", "stop", "stop"},                    /* no finish reasons */
        [P_COZE] = {"stop", "stop", "stop", "stop"},                     /* no finish reasons */
        [P_CLOUDFLARE] = {"stop", "length", "content_filter", "tool_calls"},
        [P_AIPROXYLIB] = {"stop", "stop", "stop", "stop"},
        [P_MINIMAX] = {"stop", "length", "stop", "tool_calls"},
        [P_TENCENT] = {"stop", "length", "sensitive", "tool_calls"},
        [P_ALI] = {"stop", "length", "stop", "tool_calls"},
        [P_ZHIPU] = {"stop", "length", "sensitive", "tool_calls"},
        [P_XFHTTP] = {"stop", "stop", "stop", "stop"}, /* no finish reasons */
    };
    const char *f = d->finish[0] ? d->finish : tool ? "tool" : "stop";
    if (!strcmp(f, "stop"))
        return names[pv][0];
    if (!strcmp(f, "length"))
        return names[pv][1];
    if (!strcmp(f, "filter"))
        return names[pv][2];
    if (!strcmp(f, "tool"))
        return names[pv][3];
    return f;
}

/* ------------------------------------------------------------------------- */
/* Provider-shaped errors */

static const char *openai_type(int status)
{
    switch (status) {
    case 401: return "invalid_request_error";
    case 403: return "permission_error";
    case 429: return "requests";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *openai_code(int status)
{
    switch (status) {
    case 401: return "invalid_api_key";
    case 404: return "model_not_found";
    case 429: return "rate_limit_exceeded";
    default: return NULL;
    }
}

static const char *azure_code(int status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 401: return "401";
    case 404: return "DeploymentNotFound";
    case 429: return "429";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "InternalServerError" : "BadRequest";
    }
}

static const char *anthropic_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

static const char *bedrock_error(int status)
{
    switch (status) {
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return status >= 500 ? "InternalServerException" : "ValidationException";
    }
}

static const char *google_status(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

/* Writes the provider's error object; overrides come from the directives when injected. */
void error_obj(struct buf *b, enum prov pv, int status, const char *msg, const struct directives *d)
{
    const char *type = d && d->err_type[0] ? d->err_type : NULL;
    const char *code = d && d->err_code[0] ? d->err_code : NULL;
    if (d && d->msg[0])
        msg = d->msg;
    switch (pv) {
    case P_ANTHROPIC:
        buf_lit(b, "{\"type\":\"error\",\"error\":{\"type\":");
        buf_jstrz(b, type ? type : anthropic_type(status));
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
        break;
    case P_DEEPL:
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}");
        break;
    case P_BEDROCK:
        if (status == 429 && !(d && d->msg[0]))
            msg = "Too many requests, please wait before trying again.";
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}");
        break;
    case P_GEMINI:
    case P_PALM:
        buf_fmt(b, "{\"error\":{\"code\":%d,\"message\":", status);
        buf_jstrz(b, msg);
        buf_lit(b, ",\"status\":");
        buf_jstrz(b, code ? code : type ? type : google_status(status));
        buf_lit(b, "}}");
        break;
    case P_COHERE:
        /* Cohere's errors are a bare message; its rate limit names the trial key. */
        if (status == 429 && !(d && d->msg[0]))
            msg = "You are using a Trial key, which is limited to 10 API calls / minute.";
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, msg);
        buf_putc(b, '}');
        break;
    case P_OLLAMA:
        buf_lit(b, "{\"error\":");
        buf_jstrz(b, msg);
        buf_putc(b, '}');
        break;
    case P_MINIMAX:
        /* Inside HTTP 200: base_resp carries MiniMax's own code. */
        buf_fmt(b,
                "{\"id\":\"\",\"choices\":null,\"created\":0,\"model\":\"\",\"object\":"
                "\"chat.completion\",\"base_resp\":{\"status_code\":%d,\"status_msg\":",
                code            ? atoi(code)
                : status == 429 ? 1002
                : status == 401 ? 1004
                : status == 402 ? 1008
                : status < 500  ? 2013
                                : 1000);
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
        break;
    case P_TENCENT:
        /* Inside HTTP 200: Response.Error with a string code. */
        buf_lit(b, "{\"Response\":{\"Error\":{\"Code\":");
        buf_jstrz(b, code            ? code
                     : status == 429 ? "RequestLimitExceeded"
                     : status == 401 ? "AuthFailure.SignatureFailure"
                     : status == 403 ? "ResourceInsufficient.ChargeResourceExhaust"
                     : status < 500  ? "InvalidParameter"
                                     : "InternalError");
        buf_lit(b, ",\"Message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "},\"RequestId\":\"mock-error\"}}");
        break;
    case P_REPLICATE:
        /* Problem details; a 429 says when to come back. */
        if (status == 429 && !(d && d->msg[0]))
            msg = "Request was throttled. Expected available in 1 second.";
        buf_lit(b, "{\"title\":");
        buf_jstrz(b, status == 429 ? "Request was throttled" : reason_phrase(status));
        buf_lit(b, ",\"detail\":");
        buf_jstrz(b, msg);
        buf_fmt(b, ",\"status\":%d}", status);
        break;
    case P_ZHIPU:
        /* Zhipu's errors carry its numeric code as a string and no type; 1302 is its rate
         * limit. */
        buf_lit(b, "{\"error\":{\"code\":");
        buf_jstrz(b, code            ? code
                     : status == 429 ? "1302"
                     : status == 401 ? "1002"
                     : status >= 500 ? "500"
                                     : "1210");
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
        break;
    case P_COZE:
        /* Coze's code 4013 is its rate limit, 4100 a bad token. */
        buf_fmt(b, "{\"code\":%s,\"msg\":",
                code                ? code
                : status == 429     ? "4013"
                : status == 401     ? "4100"
                : status / 100 == 4 ? "4000"
                                    : "5000");
        buf_jstrz(b, status == 429 && !(d && d->msg[0]) ? "The requests exceed the limit" : msg);
        buf_putc(b, '}');
        break;
    case P_CLOUDFLARE:
        /* The v4 API envelope; 3040 is Workers AI's capacity limit, 10000 a bad token. */
        buf_fmt(b, "{\"result\":null,\"success\":false,\"errors\":[{\"code\":%s,\"message\":",
                code            ? code
                : status == 429 ? "3040"
                : status == 401 ? "10000"
                                : "5007");
        buf_jstrz(b, status == 429 && !(d && d->msg[0])
                         ? "Capacity temporarily exceeded, please try again."
                         : msg);
        buf_lit(b, "}],\"messages\":[]}");
        break;
    case P_AIPROXYLIB:
        buf_fmt(b, "{\"success\":false,\"errCode\":%s,\"message\":", code ? code : "1");
        buf_jstrz(b, msg);
        buf_putc(b, '}');
        break;
    case P_ALI: {
        /* {code, message, request_id}; the code names the kind of failure. */
        const char *ac = status == 429   ? "Throttling.RateQuota"
                         : status == 401 ? "InvalidApiKey"
                         : status == 403 ? "AccessDenied"
                         : status == 400 ? "InvalidParameter"
                                         : "InternalError";
        if (status == 429 && !(d && d->msg[0]))
            msg = "Requests rate limit exceeded, please try again later.";
        if (status == 401 && !(d && d->msg[0]))
            msg = "Invalid API-key provided.";
        buf_lit(b, "{\"code\":");
        buf_jstrz(b, code ? code : ac);
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, ",\"request_id\":\"mock-req-error\"}");
        break;
    }
    case P_AZURE:
        buf_lit(b, "{\"error\":{\"code\":");
        buf_jstrz(b, code ? code : azure_code(status));
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        if (type) {
            buf_lit(b, ",\"type\":");
            buf_jstrz(b, type);
        }
        buf_lit(b, "}}");
        break;
    default:
        buf_lit(b, "{\"error\":{\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, ",\"type\":");
        buf_jstrz(b, type ? type : openai_type(status));
        buf_lit(b, ",\"param\":null,\"code\":");
        if (!code)
            code = openai_code(status);
        if (code)
            buf_jstrz(b, code);
        else
            buf_lit(b, "null");
        buf_lit(b, "}}");
        break;
    }
}

/* Answers an error. injected = caused by a directive, so err_type/err_code/msg apply. */
void reply_error(struct req *r, int status, const char *msg, bool injected)
{
    char dflt[96];
    if (!msg) {
        snprintf(dflt, sizeof dflt, "mock upstream error (HTTP %d)", status);
        msg = dflt;
    }
    if (r->prov == P_MINIMAX && r->json && jbool(r->json, "stream")) {
        /* MiniMax fails a stream with one data event of the error body. */
        stream_head(r, 200, "text/event-stream", NULL);
        error_obj(sse_data(r), r->prov, status, msg, injected ? &r->d : NULL);
        sse_end(r);
        rep_finish(r);
        return;
    }
    struct buf *b = body_reset(r->srv);
    /* Vertex answers its own errors (quota, auth) the Google way, whatever the model. */
    error_obj(b, r->vertex && injected ? P_GEMINI : r->prov, status, msg, injected ? &r->d : NULL);
    if (r->prov == P_BEDROCK) {
        /* AWS names the error in a header; the body has only the message. */
        char extra[256];
        const char *type = injected && r->d.err_type[0] ? r->d.err_type : bedrock_error(status);
        snprintf(extra, sizeof extra,
                 "x-amzn-ErrorType: %s:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n",
                 type);
        send_body(r, status, "application/json", extra);
        return;
    }
    /* MiniMax and Tencent answer their errors with HTTP 200. */
    send_body(r, r->prov == P_MINIMAX || r->prov == P_TENCENT ? 200 : status,
              r->prov == P_GEMINI   ? "application/json; charset=UTF-8"
              : r->prov == P_OLLAMA ? "application/json; charset=utf-8"
                                    : "application/json",
              NULL);
}

__attribute__((format(printf, 3, 4))) void reply_errorf(struct req *r, int status, const char *fmt,
                                                        ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error(r, status, msg, false);
}

/* Mid-stream failure at the next event slot: cut the connection or send an error event. */
void stream_fail(struct req *r)
{
    struct server *srv = r->srv;
    rep_seg(&srv->rep, r->d.delay_ms);
    if (!r->d.fail_error) {
        srv->rep.cut = true;
        return;
    }
    struct buf *b;
    switch (r->prov) {
    case P_ANTHROPIC:
        b = sse_named(r, "error");
        if (!r->d.msg[0] && !r->d.err_type[0]) {
            buf_lit(b, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                       "\"Overloaded\"}}");
        } else {
            error_obj(b, P_ANTHROPIC, 529, "Overloaded", &r->d);
        }
        sse_end(r);
        break;
    case P_GEMINI:
        b = sse_data(r);
        error_obj(b, P_GEMINI, 500, "mock: stream failed", &r->d);
        sse_end(r);
        break;
    case P_BEDROCK: {
        /* An exception frame inside the 200 stream: throttlingException unless err_type= */
        static const char *const names[] = {":exception-type", ":content-type", ":message-type"};
        const char *values[] = {r->d.err_type[0] ? r->d.err_type : "throttlingException",
                                "application/json", "exception"};
        b = &srv->frame;
        buf_clear(b);
        buf_lit(b, "{\"message\":");
        buf_jstrz(b,
                  r->d.msg[0] ? r->d.msg : "Too many requests, please wait before trying again.");
        buf_putc(b, '}');
        buf_clear(&srv->ev);
        evs_frame(&srv->ev, names, values, 3, b->p, b->len);
        rep_event(r);
        break;
    }
    case P_COHERE:
        b = &srv->ev;
        buf_clear(b);
        error_obj(b, P_COHERE, 500, "mock: stream failed", &r->d);
        buf_putc(b, '\n');
        rep_event(r);
        break;
    case P_OLLAMA:
        b = &srv->ev;
        buf_clear(b);
        error_obj(b, P_OLLAMA, 500, "mock: stream failed", &r->d);
        buf_putc(b, '\n');
        rep_event(r);
        break;
    case P_COZE:
        b = &srv->ev;
        buf_clear(b);
        buf_lit(b, "data:{\"event\":\"error\",\"error_information\":{\"code\":5000,\"msg\":");
        buf_jstrz(b, r->d.msg[0] ? r->d.msg : "mock: stream failed");
        buf_lit(b, "}}");
        sse_end(r);
        break;
    default:
        b = sse_data(r);
        error_obj(b, r->prov, 500, "mock: stream failed", &r->d);
        sse_end(r);
        break;
    }
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* AWS Bedrock: Claude over InvokeModel, SigV4 checked as AWS checks it */

/* ------------------------------------------------------------------------- */
/* Hashes, HMAC and base64url for the providers that sign requests */

void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(p, n, d);
    hex_of(d, sizeof d, out);
}

void hmac256(const void *key, size_t kl, const void *msg, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)kl, msg, n, out, &len);
}

/* ------------------------------------------------------------------------- */
/* Vertex AI: the service account's token endpoint and the token check */

/* Decodes base64url (no padding) s[0..n) into out (cap bytes, NUL added). -1 when invalid. */
long b64url_dec(const char *s, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* The base64url JSON segment s[0..n) parsed, or NULL. */
json_object *jwt_part(const char *s, size_t n)
{
    unsigned char buf[4096];
    if (b64url_dec(s, n, buf, sizeof buf) < 0)
        return NULL;
    return json_tokener_parse((const char *)buf);
}
