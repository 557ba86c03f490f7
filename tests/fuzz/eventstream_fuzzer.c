/* libFuzzer target: the AWS event-stream decoder under arbitrary bytes and read boundaries.
 * What it delivers must not depend on how the input is split, and a frame is delivered only
 * whole: fed in pieces of the chosen size, the decoder must give exactly the frames and the
 * final state it gives for the whole input at once. */
#include "config.h"
#include "providers/eventstream.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every frame as <type strings, payload length, payload>, so two runs can be compared. */
static int record(void *ud, const struct evs_message *m)
{
    struct strbuf *log = ud;
    const char *const fields[] = {m->message_type, m->event_type, m->exception_type,
                                  m->content_type, m->error_code, m->error_message};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        sb_putn(log, fields[i], strlen(fields[i]) + 1);
    sb_putn(log, (const char *)&m->payload_len, sizeof m->payload_len);
    sb_putn(log, m->payload, m->payload_len);
    return 0;
}

/* The frames of data fed in pieces of step bytes into log; the decoder's last word. */
static int run(const uint8_t *data, size_t size, size_t step, struct strbuf *log)
{
    struct evs_parser p;
    int rc = 0;
    evs_init(&p, NULL);
    for (size_t i = 0; i < size && rc == 0; i += step)
        rc = evs_feed(&p, data + i, i + step > size ? size - i : step, record, log);
    if (rc == 0)
        rc = evs_finish(&p);
    evs_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    /* The first byte chooses the read size, so frame boundaries are fuzzed too. */
    size_t step = (size_t)data[0] + 1;
    data++, size--;
    struct strbuf whole, pieces;
    sb_init(&whole, NULL);
    sb_init(&pieces, NULL);
    int a = run(data, size, size ? size : 1, &whole);
    int b = run(data, size, step, &pieces);
    if (a != b || whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len) != 0)
        abort(); /* the split changed the frames or the outcome */
    sb_free(&whole);
    sb_free(&pieces);
    return 0;
}
