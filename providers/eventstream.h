/* AWS event-stream framing (application/vnd.amazon.eventstream): an incremental decoder that
 * checks both CRCs and reassembles frames split across reads, and an encoder for tests. */
#ifndef OA_PROVIDERS_EVENTSTREAM_H
#define OA_PROVIDERS_EVENTSTREAM_H
#include <stddef.h>

#include "fcgi/strbuf.h"

struct arena;

/* The largest frame accepted: AWS caps a message at 16 MiB of payload and 128 KiB of headers. */
#define EVS_MAX_FRAME (16u * 1024 * 1024 + 128u * 1024 + 16)

/* evs_feed and evs_finish results besides 0 and a callback's own value. */
enum {
    EVS_BAD_PRELUDE = -2, /* prelude CRC mismatch or impossible lengths */
    EVS_BAD_MESSAGE = -3, /* message CRC mismatch */
    EVS_BAD_HEADERS = -4, /* a header runs past the header block */
    EVS_TRUNCATED = -5,   /* the input ended inside a frame (evs_finish) */
};

/* One decoded frame. The strings are the frame's well-known string headers ("" when absent,
 * cut at 255 bytes, error message at 1023); valid until the callback returns. */
struct evs_message {
    char message_type[256];   /* ":message-type": "event", "exception" or "error" */
    char event_type[256];     /* ":event-type", e.g. "chunk" */
    char exception_type[256]; /* ":exception-type", e.g. "throttlingException" */
    char content_type[256];   /* ":content-type" */
    char error_code[256];     /* ":error-code" of an "error" message */
    char error_message[1024]; /* ":error-message" of an "error" message */
    const char *payload;      /* the payload bytes (not NUL-terminated) */
    size_t payload_len;
};

/* Called once per complete, CRC-checked frame. Return 0 to go on, non-zero to stop. */
typedef int (*evs_message_fn)(void *ud, const struct evs_message *m);

struct evs_parser {
    struct strbuf buf;      /* bytes of the frame(s) not yet complete */
    struct evs_message msg; /* the frame being delivered */
    int error;              /* the first decoding error: every later feed returns it */
};

/* Initialises p with its buffer in arena a (NULL = heap; then call evs_free). */
void evs_init(struct evs_parser *p, struct arena *a);
void evs_free(struct evs_parser *p);
/* Feeds n bytes; calls fn for every frame they complete. Returns 0, an EVS_BAD_* code (the
 * stream is corrupt: nothing after it is decoded), or the first non-zero value of fn. */
int evs_feed(struct evs_parser *p, const void *buf, size_t n, evs_message_fn fn, void *ud);
/* At end of input: 0, or EVS_TRUNCATED when part of a frame is left over (never delivered). */
int evs_finish(const struct evs_parser *p);
/* Appends one frame to out: n string headers names[i] = values[i], then the payload, with
 * both CRCs. */
void evs_encode(struct strbuf *out, const char *const *names, const char *const *values, int n,
                const void *payload, size_t len);
/* A short English description of an EVS_* code, for logs and client errors. */
const char *evs_strerror(int code);

#endif
