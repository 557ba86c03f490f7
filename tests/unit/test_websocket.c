/* Unit tests for fcgi/websocket.c: RFC 6455's handshake example (section 1.3) and framing
 * examples (section 5.7), the three payload length forms, fragmentation with a control frame
 * in between, byte-by-byte feeding, the size cap and protocol violations. */
#include "config.h"
#include "fcgi/strbuf.h"
#include "fcgi/websocket.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char hello_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Feeds n bytes to a fresh client-side (or server-side) reader and returns the first event. */
static enum ws_event_type one(struct ws_reader *rd, int is_server, const void *p, size_t n,
                              struct ws_event *ev)
{
    ws_reader_init(rd, NULL, 1 << 20, is_server);
    ws_reader_feed(rd, p, n);
    return ws_reader_next(rd, ev);
}

static int same(const struct ws_event *ev, const char *s)
{
    return ev->len == strlen(s) && !memcmp(ev->data, s, ev->len);
}

static void test_handshake(void)
{
    char acc[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc);
    is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "section 1.3: the accept value of the sample key");

    char key[25], key2[25];
    ws_new_key(key);
    ws_new_key(key2);
    ok(strlen(key) == 24 && key[22] == '=' && strcmp(key, key2) != 0,
       "ws_new_key: 24 base64 characters of 16 random bytes, fresh each time");

    struct strbuf sb;
    sb_init(&sb, NULL);
    ws_handshake_request(&sb, "server.example.com", "/chat?x=1", "dGhlIHNhbXBsZSBub25jZQ==", NULL);
    is_str(sb.p,
           "GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n",
           "the client's opening handshake");
    sb_free(&sb);

    const char *ans = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: keep-alive, Upgrade\r\n"
                      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05Hello";
    struct ws_response res;
    long hl = ws_response_parse(ans, strlen(ans), &res);
    is_int(hl, (long)strlen(ans) - 7, "the head ends at the blank line; frames may follow");
    is_int(res.status, 101, "status 101");
    ok(ws_response_ok(&res, "dGhlIHNhbXBsZSBub25jZQ=="), "the answer accepts the sample key");
    ok(!ws_response_ok(&res, "AQIDBAUGBwgJCgsMDQ4PEC=="), "and not another key");
    is_int(ws_response_parse(ans, 20, &res), 0, "a partial head needs more bytes");

    const char *no = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                     "Content-Length: 26\r\n\r\n{\"message\":\"Unauthorized\"}";
    ok(ws_response_parse(no, strlen(no), &res) > 0 && res.status == 401 && res.content_len == 26 &&
           !strcmp(res.content_type, "application/json") &&
           !ws_response_ok(&res, "dGhlIHNhbXBsZSBub25jZQ=="),
       "a refusal: status, Content-Type and Content-Length for the error body");
    is_int(ws_response_parse("SSH-2.0-OpenSSH\r\n\r\n", 19, &res), -1, "not HTTP: refused");
}

static void test_rfc_examples(void)
{
    struct ws_reader rd;
    struct ws_event ev;
    struct strbuf sb;
    sb_init(&sb, NULL);

    static const unsigned char unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ok(one(&rd, 0, unmasked, sizeof unmasked, &ev) == WS_EV_TEXT && same(&ev, "Hello"),
       "5.7: a single-frame unmasked text message");
    is_int(ws_reader_next(&rd, &ev), WS_EV_NONE, "and nothing more");
    ws_reader_free(&rd);
    ws_frame_put(&sb, WS_OP_TEXT, 1, NULL, "Hello", 5);
    ok(sb.len == sizeof unmasked && !memcmp(sb.p, unmasked, sb.len),
       "ws_frame_put writes the same bytes");

    static const unsigned char masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ok(one(&rd, 1, masked, sizeof masked, &ev) == WS_EV_TEXT && same(&ev, "Hello"),
       "5.7: a single-frame masked text message, read by a server");
    ws_reader_free(&rd);
    sb_reset(&sb);
    ws_frame_put(&sb, WS_OP_TEXT, 1, hello_mask, "Hello", 5);
    ok(sb.len == sizeof masked && !memcmp(sb.p, masked, sb.len),
       "ws_frame_put with the example's mask writes the same bytes");
    ok(one(&rd, 0, masked, sizeof masked, &ev) == WS_EV_ERROR && ev.error_code == 1002,
       "a client refuses a masked frame from the server");
    ws_reader_free(&rd);
    ok(one(&rd, 1, unmasked, sizeof unmasked, &ev) == WS_EV_ERROR,
       "a server refuses an unmasked frame from a client");
    ws_reader_free(&rd);

    /* Fragmented "Hel" + "lo", with the unmasked ping of 5.7 between the fragments. */
    static const unsigned char frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x05, 0x48,
                                         0x65, 0x6c, 0x6c, 0x6f, 0x80, 0x02, 0x6c, 0x6f};
    ws_reader_init(&rd, NULL, 1 << 20, 0);
    int got_ping = 0, got_text = 0;
    for (size_t i = 0; i < sizeof frag; i++) {
        ws_reader_feed(&rd, frag + i, 1); /* byte by byte: every split point */
        enum ws_event_type t;
        while ((t = ws_reader_next(&rd, &ev)) != WS_EV_NONE) {
            if (t == WS_EV_PING)
                got_ping += same(&ev, "Hello") && !got_text;
            else if (t == WS_EV_TEXT)
                got_text += same(&ev, "Hello");
            else
                got_text = -100;
        }
    }
    ok(got_ping == 1 && got_text == 1,
       "5.7: a fragmented text message with a ping inside, fed byte by byte: the ping, then "
       "\"Hello\"");
    ws_reader_free(&rd);

    static const unsigned char pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                         0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ok(one(&rd, 1, pong, sizeof pong, &ev) == WS_EV_PONG && same(&ev, "Hello"),
       "5.7: a masked pong with \"Hello\"");
    ws_reader_free(&rd);

    /* 256 bytes (16-bit length) and 64 KiB (64-bit length) binary messages. */
    size_t sizes[] = {125, 126, 256, 65535, 65536};
    char *big = malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        big[i] = (char)(i * 7);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        sb_reset(&sb);
        ws_frame_put(&sb, WS_OP_BINARY, 1, NULL, big, sizes[k]);
        const unsigned char *h = (const unsigned char *)sb.p;
        size_t hl = sizes[k] < 126 ? 2 : sizes[k] <= 65535 ? 4 : 10;
        int hdr_ok = sizes[k] == 256     ? h[1] == 0x7E && h[2] == 0x01 && h[3] == 0x00
                     : sizes[k] == 65536 ? h[1] == 0x7F && h[7] == 0x01 && h[8] == 0 && h[9] == 0
                                         : 1;
        ok(h[0] == 0x82 && hdr_ok && sb.len == hl + sizes[k],
           "%zu bytes: %zu-byte header as in 5.7", sizes[k], hl);
        ok(one(&rd, 0, sb.p, sb.len, &ev) == WS_EV_BINARY && ev.len == sizes[k] &&
               !memcmp(ev.data, big, sizes[k]),
           "%zu bytes read back", sizes[k]);
        ws_reader_free(&rd);
    }
    sb_reset(&sb);
    ws_frame_put_client(&sb, WS_OP_BINARY, big, 65536);
    ok(one(&rd, 1, sb.p, sb.len, &ev) == WS_EV_BINARY && ev.len == 65536 &&
           !memcmp(ev.data, big, 65536),
       "a client frame with a random mask, 64-bit length, unmasked by the server side");
    ws_reader_free(&rd);

    /* The cap, on one frame and across fragments. */
    sb_reset(&sb);
    ws_frame_put(&sb, WS_OP_TEXT, 1, NULL, big, 101);
    ws_reader_init(&rd, NULL, 100, 0);
    ws_reader_feed(&rd, sb.p, 4); /* the header alone is enough to refuse it */
    ok(ws_reader_next(&rd, &ev) == WS_EV_ERROR && ev.error_code == 1009,
       "a frame over the cap is refused from its header (1009)");
    ok(ws_reader_next(&rd, &ev) == WS_EV_ERROR, "and the reader stays in error");
    ws_reader_free(&rd);
    sb_reset(&sb);
    ws_frame_put(&sb, WS_OP_TEXT, 0, NULL, big, 60);
    ws_frame_put(&sb, WS_OP_CONT, 1, NULL, big, 60);
    ws_reader_init(&rd, NULL, 100, 0);
    ws_reader_feed(&rd, sb.p, sb.len);
    ok(ws_reader_next(&rd, &ev) == WS_EV_ERROR && ev.error_code == 1009,
       "fragments adding up to more than the cap are refused");
    ws_reader_free(&rd);
    free(big);

    /* Close frames. */
    static const unsigned char close1[] = {0x88, 0x04, 0x03, 0xe8, 'o', 'k'};
    ok(one(&rd, 0, close1, sizeof close1, &ev) == WS_EV_CLOSE && ev.close_code == 1000 &&
           same(&ev, "ok"),
       "close with code 1000 and reason \"ok\"");
    ws_reader_free(&rd);
    static const unsigned char close0[] = {0x88, 0x00};
    ok(one(&rd, 0, close0, sizeof close0, &ev) == WS_EV_CLOSE && ev.close_code == 1005,
       "close without a code reads as 1005");
    ws_reader_free(&rd);

    /* Violations. */
    static const struct {
        unsigned char b[12];
        size_t n;
        const char *what;
    } bad[] = {
        {{0xC1, 0x00}, 2, "a reserved bit without an extension"},
        {{0x83, 0x00}, 2, "an unknown opcode"},
        {{0x09, 0x00}, 2, "a fragmented ping"},
        {{0x89, 0x7E, 0x00, 0x80}, 4, "a ping over 125 bytes"},
        {{0x80, 0x00}, 2, "a continuation without a message"},
        {{0x01, 0x01, 'a', 0x81, 0x01, 'b'}, 6, "a new message inside a fragmented one"},
        {{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, "a 64-bit length with its top bit"},
        {{0x88, 0x01, 0x03}, 3, "a close frame with one byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ok(one(&rd, 0, bad[i].b, bad[i].n, &ev) == WS_EV_ERROR && ev.error_code == 1002,
           "refused with 1002: %s", bad[i].what);
        ws_reader_free(&rd);
    }
    sb_free(&sb);
}

int main(void)
{
    test_handshake();
    test_rfc_examples();
    return done_testing();
}
