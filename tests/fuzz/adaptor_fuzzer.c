/* libFuzzer target: each adaptor's response and stream-event converters under untrusted
 * upstream bytes (OpenAI, Anthropic, Gemini, Ollama, Replicate, Bedrock, Coze, AI Proxy
 * Library, Tencent Hunyuan, Ali DashScope), and Vertex AI's reader of token endpoint
 * answers. Beyond not crashing, what the translating adaptors write must be what the core
 * relies on: complete "data: {json}" events, a JSON answer, a token with its expiry, and a
 * filled error whenever they fail. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "providers/provider.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when s[0..n) is one JSON object. */
static int is_object(const char *s, size_t n)
{
    json_object *o = jparse(s, n, 0, NULL);
    int ok = json_object_is_type(o, json_type_object);
    json_object_put(o);
    return ok;
}

/* Aborts unless out is a run of "data: {json object}\n\n" events. */
static void check_events(const struct strbuf *out)
{
    const char *p = out->p, *end = out->p + out->len;
    while (p < end) {
        const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
        if (!stop || strncmp(p, "data: ", 6) != 0 || !is_object(p + 6, (size_t)(stop - p - 6)))
            abort();
        p = stop + 2;
    }
}

/* Aborts unless a failing call left an error the core can show. */
static void check_error(int rc, const struct prov_error *err)
{
    if (rc < 0 && (err->status < 100 || err->status > 599 || !err->message || !err->type))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* New adaptors go last: the seeds' first byte picks the adaptor. */
    static const struct provider *const provs[] = {
        &provider_openai,    &provider_claude,  &provider_gemini, &provider_ollama,
        &provider_replicate, &provider_bedrock, &provider_coze,   &provider_aiproxylib,
        &provider_tencent,   &provider_ali};
    const struct provider *prov = provs[data[0] % (sizeof provs / sizeof *provs)];
    int as_event = data[1] & 1;
    int as_token = data[1] & 4; /* a token endpoint's answer, for Vertex AI */
    enum relay_mode mode = (data[1] >> 1) % 2 ? RELAY_EMBEDDINGS : RELAY_CHAT;
    data += 2, size -= 2;

    struct arena *a = arena_new(16384);
    json_object *req = json_tokener_parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                          "\"content\":\"hi\"}],\"stream\":true}");
    struct prov_channel ch = {
        .id = 1, .type = 1, .key = "k", .base_url = "http://x", .api_version = "", .config = ""};
    struct prov_ctx ctx = {.a = a,
                           .mode = mode,
                           .ch = &ch,
                           .model = "m",
                           .origin_model = "m",
                           .req = req,
                           .is_stream = as_event,
                           .include_usage = 1,
                           .request_id = "fuzz",
                           .created = 1};
    sb_init(&ctx.text, a);
    struct strbuf out;
    sb_init(&out, a);
    struct prov_error err = {0};
    char *copy = arena_strndup(a, (const char *)data, size); /* adaptors get NUL-ended text */
    if (as_token) {
        static const int statuses[] = {200, 400, 401, 503};
        for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
            struct prov_cred cred = {0};
            memset(&err, 0, sizeof err);
            int rc = provider_vertex.credential_parse(&ctx, statuses[i], copy, size, &cred, &err);
            check_error(rc, &err);
            if (rc == 0 && (!cred.token || !*cred.token || cred.expires_at <= ctx.created))
                abort();
        }
    } else if (as_event) {
        /* Several events: split on newlines, with the event name before a '|'. */
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *bar = strchr(line, '|');
            const char *ev = "";
            if (bar) {
                *bar = '\0';
                ev = line;
                line = bar + 1;
            }
            int rc = prov->parse_event(&ctx, ev, line, strlen(line), &out, &err);
            check_error(rc, &err);
            if (rc < 0)
                break;
        }
        check_error(prov->parse_event(&ctx, "", NULL, 0, &out, &err), &err);
        /* The OpenAI adaptor forwards what it cannot parse as it came. */
        if (prov != &provider_openai)
            check_events(&out);
    } else {
        int rc = prov->parse_response(&ctx, copy, size, &out, &err);
        check_error(rc, &err);
        /* A follow-up must name its request, and only adaptors allowed to may ask for one. */
        if (rc == PROV_FOLLOW_UP && (!prov->may_follow_up || !ctx.follow_up || !ctx.follow_up->url))
            abort();
        if (rc == 0 && prov != &provider_openai && !is_object(out.p, out.len))
            abort();
        if (prov->parse_error) {
            memset(&err, 0, sizeof err);
            prov->parse_error(&ctx, 400, copy, size, &err);
            check_error(-1, &err);
        }
    }
    json_object_put(req);
    arena_free(a);
    return 0;
}
