/* libFuzzer target: the WebSocket frame reader and the handshake answer parser under
 * arbitrary bytes. The events must not depend on how the input is split: fed in pieces of
 * the chosen size, the reader must report exactly what it reports for the whole input. */
#include "config.h"
#include "fcgi/websocket.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every event of data fed in pieces of step bytes, as <type, code, length, bytes> into log. */
static void run(const uint8_t *data, size_t size, size_t step, int is_server, size_t max,
                struct strbuf *log)
{
    struct ws_reader rd;
    ws_reader_init(&rd, NULL, max, is_server);
    for (size_t i = 0; i < size; i += step) {
        ws_reader_feed(&rd, data + i, i + step > size ? size - i : step);
        struct ws_event ev;
        enum ws_event_type t;
        while ((t = ws_reader_next(&rd, &ev)) != WS_EV_NONE) {
            int rec[2] = {(int)t, t == WS_EV_ERROR ? ev.error_code : ev.close_code};
            sb_putn(log, (const char *)rec, sizeof rec);
            if (t == WS_EV_ERROR)
                goto out; /* the reader stays in error: nothing more to learn */
            if ((t == WS_EV_TEXT || t == WS_EV_BINARY) && ev.len > max)
                abort(); /* a message over the cap got through */
            if (t != WS_EV_TEXT && t != WS_EV_BINARY && ev.len > 125)
                abort(); /* control frames carry at most 125 bytes */
            sb_putn(log, (const char *)&ev.len, sizeof ev.len);
            sb_putn(log, ev.data, ev.len);
        }
    }
out:
    ws_reader_free(&rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    /* The first byte chooses the side, the cap and the piece size. */
    int is_server = data[0] & 1;
    size_t max = (data[0] & 2) ? 64 : 1 << 16;
    size_t step = (size_t)(data[0] >> 2) + 1;
    data++, size--;
    struct strbuf whole, pieces;
    sb_init(&whole, NULL);
    sb_init(&pieces, NULL);
    run(data, size, size ? size : 1, is_server, max, &whole);
    run(data, size, step, is_server, max, &pieces);
    if (whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len) != 0)
        abort(); /* the split changed the events */
    sb_free(&whole);
    sb_free(&pieces);

    /* The same bytes as a handshake answer: never past the input, a head length within it. */
    struct ws_response res;
    long hl = ws_response_parse((const char *)data, size, &res);
    if (hl > (long)size)
        abort();
    if (hl > 0)
        (void)ws_response_ok(&res, "dGhlIHNhbXBsZSBub25jZQ==");
    return 0;
}
