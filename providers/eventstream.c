/* AWS event-stream framing: total length, headers length, prelude CRC, headers, payload,
 * message CRC; big-endian; CRC-32 as zlib computes it. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "fcgi/strbuf.h"
#include "providers/eventstream.h"

/* Value types of a header, and the fixed width of those that have one. */
enum {
    HV_TRUE,
    HV_FALSE,
    HV_BYTE,
    HV_SHORT,
    HV_INT,
    HV_LONG,
    HV_BYTES,
    HV_STRING,
    HV_TIMESTAMP,
    HV_UUID,
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(struct strbuf *sb, uint32_t v)
{
    char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};

    sb_putn(sb, b, 4);
}

static uint32_t crc(uint32_t seed, const void *p, size_t n)
{
    return (uint32_t)crc32(seed, p, (uInt)n);
}

void evs_init(struct evs_parser *p, struct arena *a)
{
    memset(p, 0, sizeof *p);
    sb_init(&p->buf, a);
}

void evs_free(struct evs_parser *p)
{
    sb_free(&p->buf);
}

/* Copies a string header value into dst (cap bytes, cut to fit). */
static void copy_value(char *dst, size_t cap, const unsigned char *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Reads the header block h[0..n) into m. 0, or EVS_BAD_HEADERS. */
static int parse_headers(struct evs_message *m, const unsigned char *h, size_t n)
{
    static const size_t fixed[] = {
        [HV_TRUE] = 0, [HV_FALSE] = 0, [HV_BYTE] = 1,      [HV_SHORT] = 2,
        [HV_INT] = 4,  [HV_LONG] = 8,  [HV_TIMESTAMP] = 8, [HV_UUID] = 16};
    size_t i = 0;

    while (i < n) {
        size_t name_len = h[i++];
        if (name_len > n - i || n - i - name_len < 1)
            return EVS_BAD_HEADERS;
        const unsigned char *name = h + i;
        i += name_len;
        int type = h[i++];
        size_t vlen;
        if (type == HV_BYTES || type == HV_STRING) {
            if (n - i < 2)
                return EVS_BAD_HEADERS;
            vlen = (size_t)h[i] << 8 | h[i + 1];
            i += 2;
        } else if (type >= HV_TRUE && type <= HV_UUID) {
            vlen = fixed[type];
        } else {
            return EVS_BAD_HEADERS;
        }
        if (vlen > n - i)
            return EVS_BAD_HEADERS;
        if (type == HV_STRING) {
#define IS(s) (name_len == sizeof(s) - 1 && !memcmp(name, s, name_len))
            if (IS(":message-type"))
                copy_value(m->message_type, sizeof m->message_type, h + i, vlen);
            else if (IS(":event-type"))
                copy_value(m->event_type, sizeof m->event_type, h + i, vlen);
            else if (IS(":exception-type"))
                copy_value(m->exception_type, sizeof m->exception_type, h + i, vlen);
            else if (IS(":content-type"))
                copy_value(m->content_type, sizeof m->content_type, h + i, vlen);
            else if (IS(":error-code"))
                copy_value(m->error_code, sizeof m->error_code, h + i, vlen);
            else if (IS(":error-message"))
                copy_value(m->error_message, sizeof m->error_message, h + i, vlen);
#undef IS
        }
        i += vlen;
    }
    return 0;
}

/* Decodes every complete frame at the start of p->buf and drops them from it. */
static int drain(struct evs_parser *p, evs_message_fn fn, void *ud)
{
    size_t off = 0;
    int rc = 0;

    while (p->buf.len - off >= 12) {
        const unsigned char *f = (const unsigned char *)p->buf.p + off;
        uint32_t total = be32(f), hlen = be32(f + 4);

        if (crc(0, f, 8) != be32(f + 8) || total < 16 || total > EVS_MAX_FRAME ||
            hlen > total - 16) {
            rc = p->error = EVS_BAD_PRELUDE;
            break;
        }
        if (p->buf.len - off < total)
            break;
        if (crc(0, f, total - 4) != be32(f + total - 4)) {
            rc = p->error = EVS_BAD_MESSAGE;
            break;
        }
        memset(&p->msg, 0, sizeof p->msg);
        if (parse_headers(&p->msg, f + 12, hlen) != 0) {
            rc = p->error = EVS_BAD_HEADERS;
            break;
        }
        p->msg.payload = (const char *)f + 12 + hlen;
        p->msg.payload_len = total - hlen - 16;
        off += total;
        rc = fn(ud, &p->msg);
        if (rc)
            break;
    }
    if (off) {
        memmove(p->buf.p, p->buf.p + off, p->buf.len - off);
        p->buf.len -= off;
        p->buf.p[p->buf.len] = '\0';
    }
    return rc;
}

int evs_feed(struct evs_parser *p, const void *buf, size_t n, evs_message_fn fn, void *ud)
{
    if (p->error)
        return p->error;
    sb_putn(&p->buf, buf, n);
    return drain(p, fn, ud);
}

int evs_finish(const struct evs_parser *p)
{
    if (p->error)
        return p->error;
    return p->buf.len ? EVS_TRUNCATED : 0;
}

void evs_encode(struct strbuf *out, const char *const *names, const char *const *values, int n,
                const void *payload, size_t len)
{
    struct strbuf h;
    size_t start = out->len;

    sb_init(&h, NULL);
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), vl = strlen(values[i]);
        char lens[3] = {(char)HV_STRING, (char)(vl >> 8), (char)vl};

        sb_putc(&h, (char)nl);
        sb_putn(&h, names[i], nl);
        sb_putn(&h, lens, 3);
        sb_putn(&h, values[i], vl);
    }
    put_be32(out, (uint32_t)(16 + h.len + len));
    put_be32(out, (uint32_t)h.len);
    put_be32(out, crc(0, out->p + start, 8));
    sb_putn(out, h.p ? h.p : "", h.len);
    sb_putn(out, payload, len);
    put_be32(out, crc(0, out->p + start, out->len - start));
    sb_free(&h);
}

const char *evs_strerror(int code)
{
    switch (code) {
    case EVS_BAD_PRELUDE: return "event-stream frame with a bad prelude (CRC or lengths)";
    case EVS_BAD_MESSAGE: return "event-stream frame with a bad message CRC";
    case EVS_BAD_HEADERS: return "event-stream frame with malformed headers";
    case EVS_TRUNCATED: return "event stream ended inside a frame";
    default: return "event-stream decoding stopped";
    }
}
