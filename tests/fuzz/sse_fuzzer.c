/* libFuzzer target: the SSE/NDJSON parser under arbitrary bytes and chunk boundaries. */
#include "config.h"
#include "providers/sse.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ud, const char *event, const char *d, size_t n)
{
    size_t *total = ud;
    *total += n + (event ? 1 : 0) + (d ? 0 : 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    /* The first byte chooses the mode and the chunk size, so boundaries are fuzzed too. */
    int ndjson = data[0] & 1;
    size_t step = (size_t)(data[0] >> 1) + 1;
    data++, size--;
    struct sse_parser p;
    size_t total = 0;
    sse_init(&p, NULL, ndjson);
    for (size_t i = 0; i < size; i += step)
        sse_feed(&p, (const char *)data + i, i + step > size ? size - i : step, count, &total);
    sse_finish(&p, count, &total);
    sse_free(&p);
    return 0;
}
