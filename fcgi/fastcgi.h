/* FastCGI 1.0 responder role over one connection, served by one thread at a time.
 *
 * Why not libfcgi: it serves a kept-alive connection (FCGI_KEEP_CONN) by blocking its thread
 * on it, so idle connections pin threads and stall requests (for a minute, when measured
 * behind nginx with fastcgi_keep_conn). Here the server parks idle connections in epoll and any
 * worker picks up the next request; a kept connection saves the web server a connect, and us an
 * accept, a shutdown, a poll and a close, per request. Output is coalesced: a buffered response,
 * its end-of-stream record and END_REQUEST leave in one write.
 *
 * The peer may be hostile or broken: every read and write is tried first and, only when it
 * would block, waits in poll() for the time its deadline leaves (fcgi_limits), so a silent,
 * dripping or never-reading peer costs a thread for a bounded time. */
#ifndef OA_FASTCGI_H
#define OA_FASTCGI_H
#include <stddef.h>
#include <stdint.h>

struct arena;

#define FCGI_INBUF 2048  /* read-ahead; records larger than this are read in pieces */
#define FCGI_OUTBUF 2048 /* output coalescing: a usual answer leaves in one write */

/* Deadlines and the limits GET_VALUES reports; shared read-only by every connection. */
struct fcgi_limits {
    int head_ms;        /* from the start of fcgi_begin to the last param (a total) */
    int io_ms;          /* each wait for body bytes or for room to write; 0 = no limit */
    unsigned max_conns; /* FCGI_MAX_CONNS: connections the process can hold open */
    unsigned max_reqs;  /* FCGI_MAX_REQS: requests served at once (the worker threads) */
};

/* One request's view of a connection. Lives on the worker's stack; the connection (fd)
 * outlives it when the web server asked to keep it. */
struct fcgi_conn {
    int fd;                  /* non-blocking: every wait is a poll() bounded by a deadline */
    uint16_t id;             /* request id of the current request */
    int keep_conn;           /* the web server keeps the connection for more requests */
    int stdin_done;          /* the empty STDIN record was read */
    int failed;              /* protocol error, EOF, write error or missed deadline: close */
    int timed_out;           /* a deadline was missed (failed is set too) */
    int aborted;             /* FCGI_ABORT_REQUEST for the current request */
    int in_head;             /* inside fcgi_begin: every wait counts against head_deadline */
    int streaming;           /* the answer is streamed: writes wait as long as the peer reads */
    long long head_deadline; /* monotonic ms; 0 until the first wait of the head */
    const struct fcgi_limits *lim;
    size_t stdin_left;   /* content bytes left in the current STDIN record */
    size_t pad_left;     /* then padding bytes to skip */
    const char **params; /* name, value, name, value, ... in the arena */
    size_t n_params;
    size_t in_off, in_len;
    size_t out_len;
    unsigned char in[FCGI_INBUF];
    unsigned char out[FCGI_OUTBUF];
};

/* Starts serving fd, which must be non-blocking (O_NONBLOCK). lim (NULL: 5 s head, 60 s
 * I/O, limits of 1) must outlive the connection. */
void fcgi_conn_init(struct fcgi_conn *c, int fd, const struct fcgi_limits *lim);
/* Reads records up to the end of the next request's parameters (answering management
 * records and refusing other roles on the way); params go into a. Aborted requests are
 * answered and skipped in a loop, all within one head deadline and MAX_PARAMS_BYTES of
 * params. 0 when a request is ready; -1 at EOF, on a protocol or I/O error or a missed
 * deadline (close fd). */
int fcgi_begin(struct fcgi_conn *c, struct arena *a);
/* Parameter value, or NULL. */
const char *fcgi_param(const struct fcgi_conn *c, const char *name);
/* The i-th parameter's name and value: 0, or -1 past the last. */
int fcgi_param_at(const struct fcgi_conn *c, size_t i, const char **name, const char **value);
/* Reads up to n bytes of the request body: bytes read, 0 at its end, -1 on error. */
long fcgi_read(struct fcgi_conn *c, char *buf, size_t n);
/* Appends n bytes of response (headers then body); -1 once the connection failed. */
int fcgi_write(struct fcgi_conn *c, const char *buf, size_t n);
/* Sends what was appended; -1 once the connection failed. */
int fcgi_flush(struct fcgi_conn *c);
/* The answer is now streamed: lifts the write deadline until the request ends (a stream
 * lasts as long as its client reads). */
void fcgi_stream(struct fcgi_conn *c);
/* Ends the request (end of STDOUT, END_REQUEST). Returns 1 when the connection can carry
 * another request (kept, intact, body read to its end), 0 when it must be closed. */
int fcgi_end(struct fcgi_conn *c);
/* Closes a connection that is not kept; if the body may be unread, after a lingering wait
 * (up to 2 s) for the web server to close first. */
void fcgi_close(struct fcgi_conn *c);
/* Bytes of a next request already read ahead: serve it before waiting on the socket. */
static inline int fcgi_has_pending(const struct fcgi_conn *c)
{
    return c->in_off < c->in_len;
}

#endif
