/* websocket: RFC 6455 handshake and framing, without I/O. */
#include "config.h"
#include "fcgi/websocket.h"
#include "fcgi/base64.h"
#include "fcgi/crypto.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_HEAD (64 * 1024) /* a handshake answer head longer than this is refused */

void ws_accept_key(const char *key, char out[29])
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s" WS_GUID, key);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1; /* a key this long never matches a real one anyway */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL))
        abort(); /* only out of memory */
    struct strbuf sb;
    sb_init(&sb, NULL);
    b64_put(&sb, md, mdlen);
    snprintf(out, 29, "%s", sb.p);
    sb_free(&sb);
}

void ws_new_key(char out[25])
{
    unsigned char raw[16];
    random_bytes(raw, sizeof raw);
    struct strbuf sb;
    sb_init(&sb, NULL);
    b64_put(&sb, raw, sizeof raw);
    snprintf(out, 25, "%s", sb.p);
    sb_free(&sb);
}

void ws_handshake_request(struct strbuf *out, const char *host, const char *target, const char *key,
                          const char *extra)
{
    sb_printf(out,
              "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
              target, host, key, extra ? extra : "");
}

/* 1 when the comma-separated list v[0..n) has token tok (any case). */
static int list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, tok, tl))
            return 1;
    }
    return 0;
}

long ws_response_parse(const char *p, size_t n, struct ws_response *res)
{
    memset(res, 0, sizeof *res);
    res->content_len = -1;
    size_t lim = n < MAX_HEAD ? n : MAX_HEAD;
    const char *end = memmem(p, lim, "\r\n\r\n", 4);
    if (!end)
        return n >= MAX_HEAD ? -1 : 0;
    size_t hlen = (size_t)(end - p) + 4;
    if (hlen < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        status = status * 10 + (p[i] - '0');
    }
    res->status = status;
    const char *line = memchr(p, '\n', hlen);
    while (line && (size_t)(line + 1 - p) < hlen - 2) {
        line++;
        const char *le = memchr(line, '\n', hlen - (size_t)(line - p));
        if (!le)
            break;
        size_t ll = (size_t)(le - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            size_t vl = ll - nl - 1;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
#define NAME(s) (nl == sizeof(s) - 1 && !strncasecmp(line, s, nl))
            if (NAME("Upgrade"))
                res->has_upgrade = list_has(v, vl, "websocket");
            else if (NAME("Connection"))
                res->has_connection = list_has(v, vl, "upgrade");
            else if (NAME("Sec-WebSocket-Accept"))
                snprintf(res->accept, sizeof res->accept, "%.*s", (int)vl, v);
            else if (NAME("Content-Type"))
                snprintf(res->content_type, sizeof res->content_type, "%.*s", (int)vl, v);
            else if (NAME("Transfer-Encoding"))
                res->is_chunked = list_has(v, vl, "chunked");
            else if (NAME("Content-Length")) {
                long long cl = 0;
                size_t i = 0;
                for (; i < vl && v[i] >= '0' && v[i] <= '9' && cl < (1LL << 40); i++)
                    cl = cl * 10 + (v[i] - '0');
                res->content_len = i && i == vl ? cl : -1;
            }
#undef NAME
        }
        line = le;
    }
    return (long)hlen;
}

int ws_response_ok(const struct ws_response *res, const char *key)
{
    char want[29];
    ws_accept_key(key, want);
    return res->status == 101 && res->has_upgrade && res->has_connection &&
           !strcmp(res->accept, want);
}

void ws_frame_put(struct strbuf *out, int opcode, int fin, const unsigned char mask[4],
                  const void *payload, size_t n)
{
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
    unsigned char m = mask ? 0x80 : 0;
    if (n < 126) {
        h[hl++] = (unsigned char)(m | n);
    } else if (n <= 0xFFFF) {
        h[hl++] = m | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = m | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    if (mask) {
        memcpy(h + hl, mask, 4);
        hl += 4;
    }
    sb_putn(out, (const char *)h, hl);
    if (!n)
        return;
    size_t at = out->len;
    sb_putn(out, payload, n);
    if (mask)
        for (size_t i = 0; i < n; i++)
            out->p[at + i] ^= (char)mask[i & 3];
}

void ws_frame_put_client(struct strbuf *out, int opcode, const void *payload, size_t n)
{
    unsigned char mask[4];
    /* The mask only keeps proxies from reading the frames as HTTP: unpredictable enough. */
    uint64_t r = fast_random();
    memcpy(mask, &r, 4);
    ws_frame_put(out, opcode, 1, mask, payload, n);
}

void ws_reader_init(struct ws_reader *rd, struct arena *a, size_t max, int is_server)
{
    memset(rd, 0, sizeof *rd);
    sb_init(&rd->in, a);
    sb_init(&rd->msg, a);
    rd->max = max;
    rd->is_server = is_server;
}

void ws_reader_free(struct ws_reader *rd)
{
    sb_free(&rd->in);
    sb_free(&rd->msg);
}

/* Drops the parsed prefix of the input, so the buffer does not grow with the stream. */
static void reader_compact(struct ws_reader *rd)
{
    if (!rd->off)
        return;
    if (rd->off >= rd->in.len) {
        sb_reset(&rd->in);
    } else {
        memmove(rd->in.p, rd->in.p + rd->off, rd->in.len - rd->off);
        rd->in.len -= rd->off;
        rd->in.p[rd->in.len] = '\0';
    }
    rd->off = 0;
}

void ws_reader_feed(struct ws_reader *rd, const void *p, size_t n)
{
    reader_compact(rd);
    if (n)
        sb_putn(&rd->in, p, n);
}

static enum ws_event_type reader_fail(struct ws_reader *rd, struct ws_event *ev, int code,
                                      const char *why)
{
    rd->error = why;
    ev->type = WS_EV_ERROR;
    ev->error = why;
    ev->error_code = code;
    return WS_EV_ERROR;
}

enum ws_event_type ws_reader_next(struct ws_reader *rd, struct ws_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (rd->error)
        return reader_fail(rd, ev, 1002, rd->error);
    if (!rd->msg_opcode && rd->msg.len)
        sb_reset(&rd->msg); /* the message returned last time */
    for (;;) {
        unsigned char *p = (unsigned char *)rd->in.p + rd->off;
        size_t n = rd->in.len - rd->off;
        if (n < 2)
            return WS_EV_NONE;
        int fin = p[0] & 0x80, op = p[0] & 0x0F, masked = p[1] & 0x80;
        if (p[0] & 0x70)
            return reader_fail(rd, ev, 1002, "reserved bits set without an extension");
        if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE &&
            op != WS_OP_PING && op != WS_OP_PONG)
            return reader_fail(rd, ev, 1002, "unknown opcode");
        if (!masked != !rd->is_server)
            return reader_fail(rd, ev, 1002,
                               rd->is_server ? "client frame not masked" : "server frame masked");
        uint64_t len = p[1] & 0x7F;
        size_t hl = 2;
        if (len == 126) {
            if (n < 4)
                return WS_EV_NONE;
            len = (uint64_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            if (n < 10)
                return WS_EV_NONE;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            hl = 10;
            if (len >> 63)
                return reader_fail(rd, ev, 1002, "frame length has its top bit set");
        }
        int is_control = op >= WS_OP_CLOSE;
        if (is_control && (!fin || len > 125))
            return reader_fail(rd, ev, 1002, "control frame fragmented or over 125 bytes");
        if (!is_control && len > rd->max - (op == WS_OP_CONT ? rd->msg.len : 0))
            return reader_fail(rd, ev, 1009, "message too large");
        if (op == WS_OP_CONT && !rd->msg_opcode)
            return reader_fail(rd, ev, 1002, "continuation without a message");
        if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && rd->msg_opcode)
            return reader_fail(rd, ev, 1002, "new message inside a fragmented one");
        size_t mask_at = hl;
        if (masked)
            hl += 4;
        if (n < hl || n - hl < len)
            return WS_EV_NONE;
        unsigned char *data = p + hl;
        if (masked)
            for (size_t i = 0; i < len; i++)
                data[i] ^= p[mask_at + (i & 3)];
        rd->off += hl + (size_t)len;
        if (is_control) {
            ev->data = (const char *)data;
            ev->len = (size_t)len;
            if (op == WS_OP_PING) {
                ev->type = WS_EV_PING;
            } else if (op == WS_OP_PONG) {
                ev->type = WS_EV_PONG;
            } else {
                if (len == 1)
                    return reader_fail(rd, ev, 1002, "close frame with a 1-byte payload");
                ev->type = WS_EV_CLOSE;
                ev->close_code = len >= 2 ? data[0] << 8 | data[1] : 1005;
                ev->data = len >= 2 ? (const char *)data + 2 : "";
                ev->len = len >= 2 ? (size_t)len - 2 : 0;
            }
            return ev->type;
        }
        if (fin && op != WS_OP_CONT) {
            /* A whole message in one frame: no copy. */
            ev->type = op == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
            ev->data = (const char *)data;
            ev->len = (size_t)len;
            return ev->type;
        }
        if (op != WS_OP_CONT)
            rd->msg_opcode = op;
        sb_putn(&rd->msg, (const char *)data, (size_t)len);
        if (fin) {
            ev->type = rd->msg_opcode == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
            ev->data = rd->msg.p ? rd->msg.p : "";
            ev->len = rd->msg.len;
            rd->msg_opcode = 0;
            return ev->type;
        }
    }
}
