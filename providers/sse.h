/* Incremental parser for Server-Sent Events from upstreams (any chunking, any line ending,
 * lines of any length; a leading UTF-8 byte order mark is dropped). */
#ifndef OA_SSE_H
#define OA_SSE_H
#include <stddef.h>

#include "fcgi/strbuf.h"

struct arena;

/* Called once per complete event: event is its name ("" when none), data its data lines
 * joined by '\n'. A "meta:" line (Zhipu's v3 usage) ends the event before it and comes as
 * an event named "meta" whose data is the line's value. Return 0 to go on, non-zero to stop parsing
 * (sse_feed returns it). */
typedef int (*sse_event_fn)(void *ud, const char *event, const char *data, size_t n);

struct sse_parser {
    struct strbuf line;   /* the line being assembled */
    struct strbuf event;  /* "event:" of the current event */
    struct strbuf data;   /* "data:" lines of the current event */
    int has_data;         /* a data line was seen in the current event */
    int after_cr;         /* the last byte was CR: a following LF belongs to it */
    int bom_len;          /* bytes of a leading byte order mark matched so far */
    int is_past_bom;      /* the leading byte order mark, if any, is behind us */
    int is_ndjson;        /* every line is one event (Ollama, Cohere): data = the line */
    int keeps_data_space; /* a space after "data:" is kept (set after sse_init) */
};

/* Initialises p with its buffers in arena a (NULL = heap; then call sse_free). */
void sse_init(struct sse_parser *p, struct arena *a, int is_ndjson);
void sse_free(struct sse_parser *p);
/* Feeds n bytes. Returns 0, or the first non-zero value fn returned. */
int sse_feed(struct sse_parser *p, const char *buf, size_t n, sse_event_fn fn, void *ud);
/* At end of input: dispatches an event left without its blank line. Same return. */
int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ud);

#endif
