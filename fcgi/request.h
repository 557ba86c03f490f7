/* The request and response seen by handlers: CGI params, headers, query, cookies, body,
 * buffered or streamed output. Handlers never see the transport (FastCGI records or CGI). */
#ifndef OA_REQUEST_H
#define OA_REQUEST_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fcgi/strbuf.h"

struct arena;
struct route;
struct json_object;

/* Transport under a request: FastCGI or plain CGI. */
struct req_io {
    /* Value of CGI parameter name, or NULL. */
    const char *(*param)(void *ctx, const char *name);
    /* Reads up to n body bytes; returns bytes read, 0 at end, -1 on error. */
    long (*read)(void *ctx, char *buf, size_t n);
    /* Writes n bytes; -1 when the client is gone. */
    int (*write)(void *ctx, const char *buf, size_t n);
    /* Pushes written bytes to the web server; -1 when the client is gone. */
    int (*flush)(void *ctx);
    void *ctx;
    /* Optional: the response starts streaming, so writes may wait as long as the client
     * takes to read (the transport lifts its write deadline). */
    void (*stream)(void *ctx);
    /* Optional: the i-th parameter (from 0): its name (nlen bytes, not NUL-terminated) and
     * value. 0, or -1 past the last. */
    int (*param_at)(void *ctx, size_t i, const char **name, size_t *nlen, const char **value);
};

#define REQ_MAX_PARAMS 4 /* path parameters (":id") a route may capture */

struct req {
    struct arena *a;         /* request lifetime: everything below points into it */
    const struct req_io *io; /* transport */
    void *app;               /* the application (handlers' struct app) */
    void *worker;            /* the worker's resources (handlers' struct app_worker) */

    const char *method;     /* REQUEST_METHOD */
    const char *path;       /* decoded path without query, trailing '/' removed (but "/") */
    const char *raw_path;   /* path as sent, without query */
    const char *query;      /* QUERY_STRING, "" when none */
    const char *client_ip;  /* REMOTE_ADDR, or what req_client_ip found behind a proxy */
    const char *request_id; /* One API's id: YYYYMMDDhhmmss + ns + 8 random digits */
    struct timespec start;  /* monotonic start, for latency */

    const struct route *route;          /* matched row */
    const char *params[REQ_MAX_PARAMS]; /* path parameters in pattern order */
    int n_params;

    char *body; /* whole body, NUL-terminated; "" when none */
    size_t body_len;
    struct json_object *json; /* parsed body of BODY_JSON routes; the arena owns it */

    /* Authenticated caller, filled by the auth hook. */
    enum req_cred {
        REQ_CRED_NONE,   /* no credential (a public route) */
        REQ_CRED_COOKIE, /* the session cookie: a browser, which other sites can drive */
        REQ_CRED_TOKEN,  /* an access token or relay key in Authorization: a script */
    } cred;
    int64_t user_id;
    int role;
    const char *username;
    void *auth; /* more of what the auth hook found (the relay key), or NULL */

    /* An error a hook or handler describes itself (returned as OA_ERR_DESCRIBED). */
    int err_status;
    const char *err_msg;
    const char *err_code; /* an OpenAI-shaped answer's "code", or NULL to leave it out */

    /* Response. */
    int status;            /* HTTP status, default 200 */
    struct strbuf headers; /* "Name: value\r\n" lines */
    struct strbuf out;     /* buffered body (non-streamed responses) */
    int is_streaming;      /* headers sent; writes go straight out */
    int client_gone;       /* a write or flush failed */
};

/* CGI parameter (FastCGI param or CGI environment), or NULL. HTTP headers are HTTP_NAME. */
const char *req_param(struct req *r, const char *name);
/* Request header by its HTTP name ("Authorization"), or NULL. */
const char *req_header(struct req *r, const char *name);
/* The i-th request header (from 0, in the web server's order): its name as the CGI spelling
 * allows ("X-Stainless-Os": words capitalised, '_' read as '-'; Content-Type and
 * Content-Length included) in the arena, and its value. 0, or -1 past the last (at once when
 * the transport cannot list them). */
int req_header_at(struct req *r, size_t i, const char **name, const char **value);
/* Query argument, percent-decoded into the arena, or NULL. */
const char *req_query(struct req *r, const char *name);
/* Cookie value, or NULL. */
const char *req_cookie(struct req *r, const char *name);
/* The client's address: REMOTE_ADDR, unless REMOTE_ADDR is in the comma list trusted
 * (addresses and CIDR blocks of our own proxies); then the right-most X-Forwarded-For address
 * that is not in trusted (the left-most when all are), else X-Real-IP, else REMOTE_ADDR. A
 * header's value is returned as claimed (trimmed, at most 64 bytes, in the arena), valid
 * address or not. Never NULL. */
const char *req_client_ip(struct req *r, const char *trusted);
/* Path parameter by position. */
const char *req_path_param(struct req *r, int i);
/* s as a decimal integer, as Go's strconv.Atoi reads it: 0 with *out set, or -1 when s is
 * NULL, empty or not a number. */
int parse_decimal(const char *s, int64_t *out);
/* Path parameter i through parse_decimal. */
int req_path_id(struct req *r, int i, int64_t *id);

/* Response building. Headers must be added before the first stream write. */
void resp_status(struct req *r, int status);
void resp_header(struct req *r, const char *name, const char *value);
void resp_write(struct req *r, const char *s, size_t n);
/* Sets status, Content-Type: application/json and the body (copied). */
void resp_json(struct req *r, int status, const char *json, size_t n);
/* Sends status and headers now and switches to streaming; later writes go straight out.
 * Returns -1 if the client is already gone. */
int resp_stream_begin(struct req *r);
/* Writes and flushes at once (streaming mode). -1 when the client is gone. */
int resp_stream_write(struct req *r, const char *s, size_t n);
/* Sends the buffered response (status, headers, Content-Length, body) unless streaming.
 * Called once by the worker loop at the end of every request. */
void resp_finish(struct req *r);

/* Percent-decodes s (and '+' as space when is_form) into the arena. */
char *url_decode(struct arena *a, const char *s, size_t n, int is_form);
/* Fills a One API request id (at least 40 bytes) from the current time and random digits. */
void make_request_id(char *buf, size_t n);

/* Builds a request over io, with an arena (reset by the caller after the request). Reads
 * the CGI params into the fields above; does not read the body. */
void req_init(struct req *r, struct arena *a, const struct req_io *io, void *app, void *worker);
/* Reads the body, at most max bytes, and inflates it when it says Content-Encoding: gzip (at
 * most max bytes again). OA_ERR_TOO_LARGE when bigger (by Content-Length, by reading or by
 * inflating), OA_ERR_BAD_REQUEST on a read error, OA_ERR_BAD_ENCODING when the gzip body is
 * malformed, else 0. */
int req_read_body(struct req *r, size_t max);

#endif
