/* Upstream HTTP through the worker's reusable libcurl handle, with callbacks for headers,
 * body bytes (streamed as they arrive) and idle ticks. */
#ifndef OA_UPSTREAM_H
#define OA_UPSTREAM_H
#include <stddef.h>

#include "fcgi/strbuf.h"

struct prov_request;

struct upstream_cb {
    /* Before the first body byte: the status and Content-Type ("" when none). */
    void (*on_head)(void *ud, long status, const char *content_type);
    /* Body bytes. Return -1 to abort the transfer (the client is gone). */
    int (*on_body)(void *ud, const char *p, size_t n);
    /* About once a second while the transfer runs. Return -1 to abort. */
    int (*on_tick)(void *ud);
    void *ud;
    /* Optional, called just before on_head for each header line of the final answer, in
     * order: name and value trimmed, not NUL-terminated. */
    void (*on_header)(void *ud, const char *name, size_t nlen, const char *value, size_t vlen);
    /* WebSocket only, optional: the HTTP status the first message stands for (200 when it
     * starts an answer). on_head then gets that status, and any other than 2xx ends the
     * exchange with the message as the body. */
    int (*on_first_message)(void *ud, const char *msg, size_t n);
};

/* How a transfer ended. The failures have a range of their own (from -300), apart from enum
 * oa_err and the other layers' codes. */
enum upstream_result {
    UPSTREAM_OK = 0,           /* a complete HTTP answer */
    UPSTREAM_TRANSPORT = -300, /* no complete answer (connect, TLS, timeout, a cut body) */
    UPSTREAM_ABORTED = -301,   /* a callback stopped it */
    UPSTREAM_TOO_LARGE = -302, /* upstream_fetch: the body went over its limit */
};

/* Performs rq (rq->method, else POST when it has a body, else GET) on curl (a CURL *). timeout_s 0
 * = none; proxy "" = none. Returns UPSTREAM_OK when an HTTP answer was received completely,
 * UPSTREAM_ABORTED when a callback stopped it, UPSTREAM_TRANSPORT otherwise with the reason in
 * err (errlen bytes) — also when the connection broke in the middle of the body.
 * A ws:// or wss:// URL speaks WebSocket (RFC 6455) instead, on a connection of its own
 * (libcurl gives TLS and the proxy tunnel): the handshake, then rq->body as one text
 * message; a refused handshake is an HTTP answer like any other; after it, each message the
 * server sends goes to on_body as one line (its line breaks, which JSON only has as white
 * space, turned into spaces), under the head (status 200, or on_first_message's, and
 * Content-Type application/x-ndjson) given before the first one. Pings are answered; the
 * exchange ends when the server closes (UPSTREAM_OK once a message came). */
int upstream_perform(void *curl, const struct prov_request *rq, long timeout_s, const char *proxy,
                     const struct upstream_cb *cb, char *err, size_t errlen);
/* A whole answer collected in memory by upstream_fetch. */
struct upstream_answer {
    long status;           /* HTTP status */
    char ctype[128];       /* Content-Type, "" when none */
    struct strbuf body;    /* the body; the caller initialises it (and so chooses its arena) */
    struct strbuf headers; /* the answer's header lines as "name\0value\0" pairs, in the
                            * body's arena (left empty when the body is on the heap) */
};

/* Performs rq as upstream_perform does and collects the answer into ans. A body over max
 * bytes stops the transfer: UPSTREAM_TOO_LARGE, with a reason in err. should_stop (may be
 * NULL), polled about once a second, ends it early: UPSTREAM_ABORTED. */
int upstream_fetch(void *curl, const struct prov_request *rq, long timeout_s, const char *proxy,
                   size_t max, int (*should_stop)(void *ud), void *ud, struct upstream_answer *ans,
                   char *err, size_t errlen);
/* For a CURLOPT_HEADERFUNCTION: follows the Content-Type of the final answer through one
 * header line (len bytes, as libcurl hands it over) into ctype (cap bytes, NUL-terminated).
 * A status line clears it, since a redirect's or 100 Continue's headers come first. */
void upstream_track_ctype(const char *line, size_t len, char *ctype, size_t cap);
/* A fresh handle with the options every request shares (NOSIGNAL, keep-alive); aborts when
 * libcurl cannot make one (out of memory). */
void *upstream_handle_new(void);
/* curl_slist_append that aborts instead of returning NULL (out of memory), so that a header
 * line is never silently lost. */
struct curl_slist;
struct curl_slist *upstream_slist_append(struct curl_slist *list, const char *line);
void upstream_handle_free(void *curl);

#endif
