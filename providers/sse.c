/* sse: line assembly and event dispatch per the SSE format (WHATWG), plus NDJSON lines. */
#include "config.h"
#include "providers/sse.h"

#include <string.h>

void sse_init(struct sse_parser *p, struct arena *a, int is_ndjson)
{
    memset(p, 0, sizeof *p);
    sb_init(&p->line, a);
    sb_init(&p->event, a);
    sb_init(&p->data, a);
    p->is_ndjson = is_ndjson;
}

void sse_free(struct sse_parser *p)
{
    sb_free(&p->line);
    sb_free(&p->event);
    sb_free(&p->data);
}

static int dispatch(struct sse_parser *p, sse_event_fn fn, void *ud)
{
    int rc = 0;
    if (p->has_data)
        rc = fn(ud, p->event.len ? p->event.p : "", p->data.p, p->data.len);
    sb_reset(&p->event);
    sb_reset(&p->data);
    p->has_data = 0;
    return rc;
}

static int take_line(struct sse_parser *p, sse_event_fn fn, void *ud)
{
    const char *l = p->line.len ? p->line.p : "";
    size_t n = p->line.len;
    int rc = 0;
    if (p->is_ndjson) {
        /* Blank lines between NDJSON objects (keep-alives) carry nothing. */
        size_t i = 0;
        while (i < n && (l[i] == ' ' || l[i] == '\t'))
            i++;
        if (i < n)
            rc = fn(ud, "", l, n);
    } else if (n == 0) {
        rc = dispatch(p, fn, ud);
    } else if (l[0] != ':') { /* ':' starts a comment: keep-alives, OpenRouter's queue notes */
        const char *colon = memchr(l, ':', n);
        size_t fl = colon ? (size_t)(colon - l) : n;
        const char *v = colon ? colon + 1 : l + n;
        size_t vl = colon ? n - fl - 1 : 0;
        if (vl && *v == ' ' && !(p->keeps_data_space && fl == 4 && !memcmp(l, "data", 4)))
            v++, vl--;
        if (fl == 4 && !memcmp(l, "data", 4)) {
            if (p->has_data)
                sb_putc(&p->data, '\n');
            sb_putn(&p->data, v, vl);
            p->has_data = 1;
        } else if (fl == 5 && !memcmp(l, "event", 5)) {
            sb_reset(&p->event);
            sb_putn(&p->event, v, vl);
        } else if (fl == 4 && !memcmp(l, "meta", 4)) {
            /* Zhipu's v3 streams put the usage in a "meta:" line after the finish event's
             * data: the event so far goes out, then the line as an event of its own. */
            rc = dispatch(p, fn, ud);
            if (!rc)
                rc = fn(ud, "meta", v, vl);
        } /* id:, retry: and unknown fields are ignored */
    }
    sb_reset(&p->line);
    return rc;
}

/* The UTF-8 byte order mark, which the SSE format says to drop from the start of a stream. */
static const char bom[] = "\xef\xbb\xbf";

/* Consumes the bytes of buf that belong to a leading byte order mark; returns how many. A
 * partial match that turns out to be text goes back into the first line. */
static size_t skip_bom(struct sse_parser *p, const char *buf, size_t n)
{
    size_t i = 0;
    while (!p->is_past_bom && i < n) {
        if (buf[i] != bom[p->bom_len]) {
            sb_putn(&p->line, bom, (size_t)p->bom_len);
            p->is_past_bom = 1;
        } else if (i++, ++p->bom_len == 3) {
            p->is_past_bom = 1;
        }
    }
    return i;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t n, sse_event_fn fn, void *ud)
{
    size_t i = skip_bom(p, buf, n);
    if (i == n)
        return 0; /* nothing more; a CR just before still waits for its LF */
    if (p->after_cr && buf[i] == '\n')
        i++;
    p->after_cr = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        const char *cr = memchr(buf + i, '\r', nl ? (size_t)(nl - (buf + i)) : n - i);
        const char *end = cr ? cr : nl;
        if (!end) {
            sb_putn(&p->line, buf + i, n - i);
            break;
        }
        sb_putn(&p->line, buf + i, (size_t)(end - (buf + i)));
        i = (size_t)(end - buf) + 1;
        if (end == cr) {
            if (i < n && buf[i] == '\n')
                i++;
            else if (i == n)
                p->after_cr = 1;
        }
        int rc = take_line(p, fn, ud);
        if (rc)
            return rc;
    }
    return 0;
}

int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ud)
{
    int rc = 0;
    if (!p->is_past_bom) {
        /* The input ended inside what looked like a byte order mark: it was text. */
        sb_putn(&p->line, bom, (size_t)p->bom_len);
        p->is_past_bom = 1;
    }
    if (p->line.len)
        rc = take_line(p, fn, ud);
    if (!rc && !p->is_ndjson)
        rc = dispatch(p, fn, ud);
    return rc;
}
