/* Checks providers/eventstream.c with the Bedrock vectors: the 7-frame stream (both CRCs,
 * headers, payloads), reads of any size, a flipped byte, a truncated stream, the exception
 * frame, and the encoder reproducing a frame byte for byte. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/base64.h"
#include "fcgi/strbuf.h"
#include "providers/eventstream.h"
#include "tap.h"

#define MAX_FRAMES 16

/* The 7-frame Bedrock stream of the vectors (1897 bytes), base64. */
static const char stream_b64[] =
    "AAABpgAAAEuwF/7iCzpldmVudC10eXBlBwAFY2h1bmsNOmNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb24N"
    "Om1lc3NhZ2UtdHlwZQcABWV2ZW50eyJieXRlcyI6ImV5SjBlWEJsSWpvaWJXVnpjMkZuWlY5emRHRnlkQ0lzSW0x"
    "bGMzTmhaMlVpT25zaWFXUWlPaUp0YzJkZlltUnlhMTh3TVVGQ1F5SXNJblI1Y0dVaU9pSnRaWE56WVdkbElpd2lj"
    "bTlzWlNJNkltRnpjMmx6ZEdGdWRDSXNJbTF2WkdWc0lqb2lZMnhoZFdSbExUTXRhR0ZwYTNVdE1qQXlOREF6TURj"
    "aUxDSmpiMjUwWlc1MElqcGJYU3dpYzNSdmNGOXlaV0Z6YjI0aU9tNTFiR3dzSW5OMGIzQmZjMlZ4ZFdWdVkyVWlP"
    "bTUxYkd3c0luVnpZV2RsSWpwN0ltbHVjSFYwWDNSdmEyVnVjeUk2TVRJc0ltOTFkSEIxZEY5MGIydGxibk1pT2pG"
    "OWZYMD0iLCJwIjoiYWJjZGVmZ2giff+zAAgAAADuAAAASxPIPs8LOmV2ZW50LXR5cGUHAAVjaHVuaw06Y29udGVu"
    "dC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7ImJ5dGVzIjoiZXlKMGVYQmxJ"
    "am9pWTI5dWRHVnVkRjlpYkc5amExOXpkR0Z5ZENJc0ltbHVaR1Y0SWpvd0xDSmpiMjUwWlc1MFgySnNiMk5ySWpw"
    "N0luUjVjR1VpT2lKMFpYaDBJaXdpZEdWNGRDSTZJaUo5ZlE9PSIsInAiOiJhYmNkZWZnaGlqa2xtbm9wIn3zzZHa"
    "AAAA5gAAAEsjuHUOCzpldmVudC10eXBlBwAFY2h1bmsNOmNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb24N"
    "Om1lc3NhZ2UtdHlwZQcABWV2ZW50eyJieXRlcyI6ImV5SjBlWEJsSWpvaVkyOXVkR1Z1ZEY5aWJHOWphMTlrWld4"
    "MFlTSXNJbWx1WkdWNElqb3dMQ0prWld4MFlTSTZleUowZVhCbElqb2lkR1Y0ZEY5a1pXeDBZU0lzSW5SbGVIUWlP"
    "aUpJWld4c2J5SjlmUT09IiwicCI6ImFiY2QifWcNuWYAAAD+AAAAS3MoqU0LOmV2ZW50LXR5cGUHAAVjaHVuaw06"
    "Y29udGVudC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7ImJ5dGVzIjoiZXlK"
    "MGVYQmxJam9pWTI5dWRHVnVkRjlpYkc5amExOWtaV3gwWVNJc0ltbHVaR1Y0SWpvd0xDSmtaV3gwWVNJNmV5SjBl"
    "WEJsSWpvaWRHVjRkRjlrWld4MFlTSXNJblJsZUhRaU9pSWdkR2hsY21VaEluMTkiLCJwIjoiYWJjZGVmZ2hpamts"
    "bW5vcHFyc3R1dnd4eXpBQiJ94XSYKwAAAKwAAABLMfs15gs6ZXZlbnQtdHlwZQcABWNodW5rDTpjb250ZW50LXR5"
    "cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsiYnl0ZXMiOiJleUowZVhCbElqb2lZ"
    "Mjl1ZEdWdWRGOWliRzlqYTE5emRHOXdJaXdpYVc1a1pYZ2lPakI5IiwicCI6ImFiY2RlZmdoaWoifefVYB4AAAEN"
    "AAAAS7fgUGULOmV2ZW50LXR5cGUHAAVjaHVuaw06Y29udGVudC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVz"
    "c2FnZS10eXBlBwAFZXZlbnR7ImJ5dGVzIjoiZXlKMGVYQmxJam9pYldWemMyRm5aVjlrWld4MFlTSXNJbVJsYkhS"
    "aElqcDdJbk4wYjNCZmNtVmhjMjl1SWpvaVpXNWtYM1IxY200aUxDSnpkRzl3WDNObGNYVmxibU5sSWpwdWRXeHNm"
    "U3dpZFhOaFoyVWlPbnNpYjNWMGNIVjBYM1J2YTJWdWN5STZObjE5IiwicCI6ImFiY2RlZmdoaWprbG1ubyJ9y4mq"
    "AAAAATgAAABL3iFnkws6ZXZlbnQtdHlwZQcABWNodW5rDTpjb250ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29u"
    "DTptZXNzYWdlLXR5cGUHAAVldmVudHsiYnl0ZXMiOiJleUowZVhCbElqb2liV1Z6YzJGblpWOXpkRzl3SWl3aVlX"
    "MWhlbTl1TFdKbFpISnZZMnN0YVc1MmIyTmhkR2x2YmsxbGRISnBZM01pT25zaWFXNXdkWFJVYjJ0bGJrTnZkVzUw"
    "SWpveE1pd2liM1YwY0hWMFZHOXJaVzVEYjNWdWRDSTZOaXdpYVc1MmIyTmhkR2x2Ymt4aGRHVnVZM2tpT2pReE1p"
    "d2labWx5YzNSQ2VYUmxUR0YwWlc1amVTSTZNak13ZlgwPSIsInAiOiJhYiJ9FULz9A==";

/* The throttling exception frame of the vectors (178 bytes), hex. */
static const char exception_hex[] =
    "000000b2000000613590d5d30f3a657863657074696f6e2d747970650700137468726f74746c696e67457863"
    "657074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573"
    "736167652d74797065070009657863657074696f6e7b226d657373616765223a22546f6f206d616e79207265"
    "7175657374732c20706c656173652077616974206265666f726520747279696e6720616761696e2e227de8ff"
    "b26a";

/* The payload of frame 2 of the stream. */
#define FRAME2_PAYLOAD                                                                             \
    "{\"bytes\":\"eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSIsImluZGV4IjowLCJkZWx0YSI6eyJ0eXBlIjoidG"  \
    "V4dF9kZWx0YSIsInRleHQiOiJIZWxsbyJ9fQ==\",\"p\":\"abcd\"}"

/* What the frames delivered so far looked like. */
struct seen {
    int n;
    size_t payload_len[MAX_FRAMES];
    char event_type[MAX_FRAMES][256];
    char message_type[MAX_FRAMES][256];
    char exception_type[MAX_FRAMES][256];
    char content_type[MAX_FRAMES][256];
    char payload[MAX_FRAMES][512];
};

static int collect(void *ud, const struct evs_message *m)
{
    struct seen *s = ud;

    if (s->n >= MAX_FRAMES)
        return 1;
    s->payload_len[s->n] = m->payload_len;
    snprintf(s->event_type[s->n], 256, "%s", m->event_type);
    snprintf(s->message_type[s->n], 256, "%s", m->message_type);
    snprintf(s->exception_type[s->n], 256, "%s", m->exception_type);
    snprintf(s->content_type[s->n], 256, "%s", m->content_type);
    snprintf(s->payload[s->n], 512, "%.*s", (int)m->payload_len, m->payload);
    s->n++;
    return 0;
}

static unsigned char *stream_bytes(size_t *n)
{
    unsigned char *out = malloc(sizeof stream_b64);
    long len = b64_decode(stream_b64, strlen(stream_b64), out, sizeof stream_b64, B64_STRICT);

    *n = len < 0 ? 0 : (size_t)len;
    return out;
}

/* The Anthropic event a chunk payload carries, decoded from its base64 "bytes". */
static const char *decoded_event(const char *payload, char *out, size_t cap)
{
    const char *b = strstr(payload, "\"bytes\":\""), *e;
    long n;

    if (!b || !(e = strchr(b + 9, '"')))
        return "";
    n = b64_decode(b + 9, (size_t)(e - b - 9), (unsigned char *)out, cap - 1, B64_STRICT);
    out[n < 0 ? 0 : n] = '\0';
    return out;
}

/* Feeds the stream in reads of step bytes; returns the last non-zero result, or 0. */
static int feed_steps(const unsigned char *p, size_t n, size_t step, struct seen *s,
                      struct evs_parser *ep)
{
    int rc = 0;

    for (size_t off = 0; off < n && !rc; off += step)
        rc = evs_feed(ep, p + off, n - off < step ? n - off : step, collect, s);
    return rc;
}

static void test_stream_table(void)
{
    static const size_t totals[] = {422, 238, 230, 254, 172, 269, 312};
    static const char *const events[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_01ABC\",\"type\":\"message\","
        "\"role\":\"assistant\",\"model\":\"claude-3-haiku-20240307\",\"content\":[],\"stop_"
        "reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}"
        "}}",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
        "\"text\":\"\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Hello\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\" there!\"}}",
        "{\"type\":\"content_block_stop\",\"index\":0}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":"
        "null},\"usage\":{\"output_tokens\":6}}",
        "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":"
        "12,\"outputTokenCount\":6,\"invocationLatency\":412,\"firstByteLatency\":230}}",
    };
    size_t n;
    unsigned char *p = stream_bytes(&n);
    struct evs_parser ep;
    struct seen s = {0};
    char ev[512];

    is_int(n, 1897, "the vector stream is 1897 bytes");
    evs_init(&ep, NULL);
    is_int(evs_feed(&ep, p, n, collect, &s), 0, "the whole stream decodes in one read");
    is_int(evs_finish(&ep), 0, "nothing is left over");
    is_int(s.n, 7, "seven frames");
    for (int i = 0; i < 7 && i < s.n; i++) {
        is_int(s.payload_len[i] + 75 + 16, totals[i], "frame %d: total length %zu", i, totals[i]);
        is_str(s.event_type[i], "chunk", "frame %d: :event-type chunk", i);
        is_str(s.message_type[i], "event", "frame %d: :message-type event", i);
        is_str(s.content_type[i], "application/json", "frame %d: :content-type", i);
        is_str(decoded_event(s.payload[i], ev, sizeof ev), events[i],
               "frame %d: the Anthropic event in bytes", i);
    }
    is_str(s.payload[2], FRAME2_PAYLOAD, "frame 2: the payload text");
    evs_free(&ep);
    free(p);
}

static void test_split_reads(void)
{
    size_t n;
    unsigned char *p = stream_bytes(&n);
    static const size_t steps[] = {1, 7, 13, 1000};

    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        struct evs_parser ep;
        struct seen s = {0};

        evs_init(&ep, NULL);
        is_int(feed_steps(p, n, steps[k], &s, &ep), 0, "reads of %zu bytes decode", steps[k]);
        is_int(s.n, 7, "reads of %zu bytes: seven frames", steps[k]);
        is_str(s.payload[2], FRAME2_PAYLOAD, "reads of %zu bytes: frame 2 reassembled", steps[k]);
        is_int(evs_finish(&ep), 0, "reads of %zu bytes: nothing left over", steps[k]);
        evs_free(&ep);
    }
    free(p);
}

static void test_corruption(void)
{
    size_t n;
    unsigned char *p = stream_bytes(&n);
    struct evs_parser ep;
    struct seen s = {0};

    /* A payload byte of frame 2 (offset 660 + 12 + 75 + 5). */
    p[752] ^= 0x01;
    evs_init(&ep, NULL);
    is_int(evs_feed(&ep, p, n, collect, &s), EVS_BAD_MESSAGE,
           "a flipped payload byte fails the message CRC");
    is_int(s.n, 2, "the frames before it were delivered, not the corrupt one");
    is_int(evs_feed(&ep, p, 1, collect, &s), EVS_BAD_MESSAGE, "later input keeps failing");
    evs_free(&ep);
    p[752] ^= 0x01;

    p[422 + 1] ^= 0x80; /* frame 1's total length */
    memset(&s, 0, sizeof s);
    evs_init(&ep, NULL);
    is_int(evs_feed(&ep, p, n, collect, &s), EVS_BAD_PRELUDE,
           "a damaged length fails the prelude CRC");
    is_int(s.n, 1, "only the frame before it was delivered");
    evs_free(&ep);
    p[422 + 1] ^= 0x80;

    memset(&s, 0, sizeof s);
    evs_init(&ep, NULL);
    is_int(evs_feed(&ep, p, 1000, collect, &s), 0, "the first 1000 bytes decode");
    is_int(s.n, 3, "a stream cut at 1000 bytes gives its three whole frames");
    is_int(evs_finish(&ep), EVS_TRUNCATED, "and reports the partial fourth");
    evs_free(&ep);
    free(p);
}

static void test_exception_frame(void)
{
    unsigned char f[178];
    struct evs_parser ep;
    struct seen s = {0};

    for (size_t i = 0; i < sizeof f; i++) {
        unsigned v;
        sscanf(exception_hex + 2 * i, "%2x", &v);
        f[i] = (unsigned char)v;
    }
    evs_init(&ep, NULL);
    is_int(evs_feed(&ep, f, sizeof f, collect, &s), 0, "the exception frame decodes");
    is_int(s.n, 1, "one frame");
    is_str(s.message_type[0], "exception", ":message-type exception");
    is_str(s.exception_type[0], "throttlingException", ":exception-type throttlingException");
    is_str(s.payload[0], "{\"message\":\"Too many requests, please wait before trying again.\"}",
           "the exception's payload");
    evs_free(&ep);
}

static void test_encoder(void)
{
    static const char *const names[] = {":event-type", ":content-type", ":message-type"};
    static const char *const values[] = {"chunk", "application/json", "event"};
    size_t n;
    unsigned char *p = stream_bytes(&n);
    struct strbuf out;

    sb_init(&out, NULL);
    evs_encode(&out, names, values, 3, FRAME2_PAYLOAD, strlen(FRAME2_PAYLOAD));
    is_int(out.len, 230, "the encoded frame is 230 bytes");
    ok(out.len == 230 && !memcmp(out.p, p + 660, 230),
       "the encoder reproduces frame 2 byte for byte (CRCs 23b8750e and 670db966)");
    sb_free(&out);
    free(p);
}

int main(void)
{
    test_stream_table();
    test_split_reads();
    test_corruption();
    test_exception_frame();
    test_encoder();
    return done_testing();
}
