/* RFC 6455 WebSocket pieces without I/O: the opening handshake (client request, server
 * answer check), frame encoding with or without the client mask, and a reader that turns
 * received bytes into whole messages and control frames (fragments joined, sizes capped).
 * The caller owns the connection: it feeds bytes in and writes the frames out. */
#ifndef OA_WEBSOCKET_H
#define OA_WEBSOCKET_H
#include <stddef.h>
#include <stdint.h>

#include "fcgi/strbuf.h"

struct arena;

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* The Sec-WebSocket-Accept value for key: base64(SHA-1(key + the protocol's GUID)), 28
 * characters plus NUL into out. */
void ws_accept_key(const char *key, char out[29]);
/* A fresh Sec-WebSocket-Key (base64 of 16 random bytes), 24 characters plus NUL into out. */
void ws_new_key(char out[25]);
/* Appends the client's opening handshake: GET target (path and query) on host (the
 * authority, with its port when not the default), with key from ws_new_key. extra: more
 * "Name: value\r\n" lines, or NULL. */
void ws_handshake_request(struct strbuf *out, const char *host, const char *target, const char *key,
                          const char *extra);

/* What ws_response_parse found in the server's answer head. */
struct ws_response {
    int status;             /* the status code */
    long long content_len;  /* Content-Length, -1 when absent */
    int is_chunked;         /* Transfer-Encoding: chunked */
    int has_upgrade;        /* Upgrade: websocket */
    int has_connection;     /* Connection lists upgrade */
    char accept[64];        /* Sec-WebSocket-Accept, "" when absent */
    char content_type[128]; /* "" when absent */
};

/* Parses the status line and headers at p[0..n). Returns the head's length (blank line
 * included) when it is complete, 0 when more bytes are needed, -1 when it is not HTTP/1.x or
 * longer than 64 KB. */
long ws_response_parse(const char *p, size_t n, struct ws_response *res);
/* 1 when res accepts the handshake made with key: status 101, the Upgrade and Connection
 * headers, and the Sec-WebSocket-Accept that key calls for. */
int ws_response_ok(const struct ws_response *res, const char *key);

/* Appends one frame with the given opcode and FIN bit. mask NULL sends it unmasked (a
 * server's frame); else the 4 bytes mask it, as a client must. */
void ws_frame_put(struct strbuf *out, int opcode, int fin, const unsigned char mask[4],
                  const void *payload, size_t n);
/* As ws_frame_put with a fresh random mask: a client's frame. */
void ws_frame_put_client(struct strbuf *out, int opcode, const void *payload, size_t n);

/* What ws_reader_next returns. */
enum ws_event_type {
    WS_EV_NONE,   /* more bytes are needed */
    WS_EV_TEXT,   /* a whole text message */
    WS_EV_BINARY, /* a whole binary message */
    WS_EV_PING,   /* answer with a pong carrying the same data */
    WS_EV_PONG,
    WS_EV_CLOSE, /* the peer's close frame: code (1005 when none) and reason in data */
    WS_EV_ERROR, /* a protocol violation or a message over the cap: error says which; the
                  * reader stays in error */
};

struct ws_event {
    enum ws_event_type type;
    const char *data; /* the payload, valid until the next feed or next call */
    size_t len;
    int close_code; /* WS_EV_CLOSE */
    int error_code; /* WS_EV_ERROR: the close code to answer with (1002 or 1009) */
    const char *error;
};

/* Turns received bytes into events. */
struct ws_reader {
    struct strbuf in; /* received bytes; in.p[off..] not yet parsed */
    size_t off;
    struct strbuf msg; /* the fragments of a message in progress */
    int msg_opcode;    /* its opcode, 0 when none is in progress */
    size_t max;        /* the largest message accepted */
    int is_server;     /* frames must be masked (a server reads a client), else must not be */
    const char *error; /* set once a violation was seen */
};

/* Prepares rd: buffers in a (NULL: the heap, then call ws_reader_free), messages up to max
 * bytes, is_server as above. */
void ws_reader_init(struct ws_reader *rd, struct arena *a, size_t max, int is_server);
void ws_reader_free(struct ws_reader *rd);
/* Adds n received bytes. */
void ws_reader_feed(struct ws_reader *rd, const void *p, size_t n);
/* The next event in what was fed; WS_EV_NONE when more bytes are needed. */
enum ws_event_type ws_reader_next(struct ws_reader *rd, struct ws_event *ev);

#endif
