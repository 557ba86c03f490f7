/* libFuzzer target: each adaptor's response and stream-event converters under untrusted
 * upstream bytes (OpenAI, Anthropic, Gemini). */
#include "config.h"
#include "fcgi/arena.h"
#include "providers/provider.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const struct provider *const provs[] = {&provider_openai, &provider_claude,
                                                   &provider_gemini};
    const struct provider *prov = provs[data[0] % 3];
    int as_event = data[1] & 1;
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
    if (as_event) {
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
            if (prov->parse_event(&ctx, ev, line, strlen(line), &out, &err) < 0)
                break;
        }
        prov->parse_event(&ctx, "", NULL, 0, &out, &err);
    } else {
        prov->parse_response(&ctx, copy, size, &out, &err);
        if (prov->parse_error)
            prov->parse_error(&ctx, 400, copy, size, &err);
    }
    json_object_put(req);
    arena_free(a);
    return 0;
}
