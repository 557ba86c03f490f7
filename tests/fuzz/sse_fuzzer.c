/* libFuzzer target: the SSE/NDJSON parser under arbitrary bytes and chunk boundaries. The
 * events must not depend on how the input is split: fed in pieces of the chosen size, the
 * parser must deliver exactly what it delivers for the whole input at once. */
#include "config.h"
#include "providers/sse.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every event as <name length, name, data length, data>, so two runs can be compared. */
static int record(void *ud, const char *event, const char *d, size_t n)
{
    struct strbuf *log = ud;
    size_t en = strlen(event);
    sb_putn(log, (const char *)&en, sizeof en);
    sb_putn(log, event, en);
    sb_putn(log, (const char *)&n, sizeof n);
    sb_putn(log, d, n);
    return 0;
}

/* The events of data fed in pieces of step bytes, into log. */
static void run(const uint8_t *data, size_t size, size_t step, int ndjson, struct strbuf *log)
{
    struct sse_parser p;
    sse_init(&p, NULL, ndjson);
    for (size_t i = 0; i < size; i += step) {
        sse_feed(&p, (const char *)data + i, i + step > size ? size - i : step, record, log);
        /* An empty read between two pieces must change nothing either. */
        if (step < size)
            sse_feed(&p, (const char *)data, 0, record, log);
    }
    sse_finish(&p, record, log);
    sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    /* The first byte chooses the mode and the chunk size, so boundaries are fuzzed too. */
    int ndjson = data[0] & 1;
    size_t step = (size_t)(data[0] >> 1) + 1;
    data++, size--;
    struct strbuf whole, pieces;
    sb_init(&whole, NULL);
    sb_init(&pieces, NULL);
    run(data, size, size ? size : 1, ndjson, &whole);
    run(data, size, step, ndjson, &pieces);
    if (whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len) != 0)
        abort(); /* the split changed the events */
    sb_free(&whole);
    sb_free(&pieces);
    return 0;
}
