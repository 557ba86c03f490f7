/* Unit tests for providers/sse.c: events across any chunking and line ending. */
#include "config.h"
#include "providers/sse.h"
#include "tests/unit/tap.h"

#include <string.h>

struct seen {
    char log[4096];
    int n;
};

static int collect(void *ud, const char *event, const char *data, size_t n)
{
    struct seen *s = ud;
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof s->log - l, "[%s|%.*s]", event, (int)n, data);
    s->n++;
    return 0;
}

/* Feeds text in pieces of size step (0 = all at once). */
static void feed(const char *text, size_t step, int ndjson, struct seen *s)
{
    struct sse_parser p;
    sse_init(&p, NULL, ndjson);
    memset(s, 0, sizeof *s);
    size_t n = strlen(text);
    if (!step)
        step = n;
    for (size_t i = 0; i < n; i += step)
        sse_feed(&p, text + i, i + step > n ? n - i : step, collect, s);
    sse_finish(&p, collect, s);
    sse_free(&p);
}

int main(void)
{
    struct seen s;
    const char *plain = "data: {\"a\":1}\n\ndata: [DONE]\n\n";
    for (size_t step = 0; step <= 7; step++) {
        feed(plain, step, 0, &s);
        is_str(s.log, "[|{\"a\":1}][|[DONE]]", "two events, pieces of %zu bytes", step);
    }
    feed("event: message_start\r\ndata: {\"x\":2}\r\n\r\n", 1, 0, &s);
    is_str(s.log, "[message_start|{\"x\":2}]", "CRLF line endings and an event name, byte by byte");
    feed("data: a\rdata: b\r\r", 0, 0, &s);
    is_str(s.log, "[|a\nb]", "bare CR endings; data lines join with a newline");
    feed(": keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: x\n\n", 3, 0, &s);
    is_str(s.log, "[|x]", "comment lines are skipped and dispatch nothing");
    feed("data:no-space\n\nid: 7\nretry: 10\ndata: y\n\n", 0, 0, &s);
    is_str(s.log, "[|no-space][|y]", "no space after the colon; id and retry ignored");
    feed("data: tail-without-blank-line", 5, 0, &s);
    is_str(s.log, "[|tail-without-blank-line]", "an event cut by EOF is still delivered");
    feed("\xef\xbb\xbf"
         "data: x\n\n",
         0, 0, &s);
    is_str(s.log, "[|x]", "a leading byte order mark is dropped");
    feed("\xef\xbb\xbf"
         "event: e\r\ndata: y\r\n\r\n",
         1, 0, &s);
    is_str(s.log, "[e|y]", "also when it arrives a byte at a time");
    feed("\xef\xbb\xbf\xef\xbb\xbf"
         "data: z\n\ndata: w\n\n",
         2, 0, &s);
    is_str(s.log, "[|w]", "only one: a second one is part of the first field's name");
    feed("data: a\n\n\xef\xbb\xbf"
         "data: b\n\n",
         0, 0, &s);
    is_str(s.log, "[|a]", "one later in the stream is text, not a mark");
    feed("\xef\xbb{\"a\":1}\n\xef", 1, 1, &s);
    is_str(s.log, "[|\xef\xbb{\"a\":1}][|\xef]", "the start of a mark that is not one stays text");
    feed("\xef\xbb\xbf{\"a\":1}\n", 0, 1, &s);
    is_str(s.log, "[|{\"a\":1}]", "NDJSON drops a leading mark too");

    /* A CR at the end of one read, an empty read, then the LF: still one line end. */
    struct sse_parser cp;
    sse_init(&cp, NULL, 0);
    memset(&s, 0, sizeof s);
    sse_feed(&cp, "data: a\r", 8, collect, &s);
    sse_feed(&cp, "", 0, collect, &s);
    sse_feed(&cp, "\ndata: b\n\n", 11, collect, &s);
    sse_finish(&cp, collect, &s);
    sse_free(&cp);
    is_str(s.log, "[|a\nb]", "an empty read between CR and LF does not make a blank line");

    char big[100000];
    memset(big, 'z', sizeof big);
    memcpy(big, "data: ", 6);
    big[sizeof big - 3] = '\n';
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    struct sse_parser p;
    sse_init(&p, NULL, 0);
    int count = 0;
    size_t len = 0;
    struct {
        int *count;
        size_t *len;
    } ud = {&count, &len};
    (void)ud;
    memset(&s, 0, sizeof s);
    sse_feed(&p, big, strlen(big), collect, &s);
    sse_free(&p);
    is_int(s.n, 1, "a 100 KB line is one event (no 64 KiB line limit)");
    feed("{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}", 4, 1, &s);
    is_str(s.log, "[|{\"a\":1}][|{\"b\":2}][|{\"c\":3}]",
           "NDJSON: a line per event, blanks skipped");

    /* Zhipu's v3 stream: usage on a meta: line after the finish event's data, and a space
     * after "data:" that is text. */
    static const char v3[] = "event:add\ndata: Hello\ndata:  world\n\nevent:finish\ndata:\n"
                             "meta:{\"u\":1}\n\ndata: x\n\n";
    sse_init(&p, NULL, 0);
    memset(&s, 0, sizeof s);
    sse_feed(&p, v3, sizeof v3 - 1, collect, &s);
    sse_free(&p);
    is_str(s.log, "[add|Hello\n world][finish|][meta|{\"u\":1}][|x]",
           "a meta: line ends its event and comes as a \"meta\" event");
    sse_init(&p, NULL, 0);
    p.keeps_data_space = 1;
    memset(&s, 0, sizeof s);
    sse_feed(&p, v3, sizeof v3 - 1, collect, &s);
    sse_free(&p);
    is_str(s.log, "[add| Hello\n  world][finish|][meta|{\"u\":1}][| x]",
           "keeps_data_space: the space after data: is kept (meta: is unchanged)");
    return done_testing();
}
