/* Checks providers/gemini.c against the Gemini vectors in tests/data/gemini and its rules. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/gemini.h"
#include "prov_fixture.h"

/* A Gemini channel (type 24) with key "KEY" at the default base, no channel config. */
static const struct prov_fixture_spec GEMINI = {
    .prov = &provider_gemini,
    .ch = {.id = 7,
           .type = 24,
           .key = "KEY",
           .base_url = "https://generativelanguage.googleapis.com",
           .config = ""},
};

/* The bytes of the Gemini vector name, in f's arena. */
static char *slurp(struct prov_fixture *f, const char *name)
{
    return prov_fixture_data_file(f->a, "gemini", name, NULL);
}

/* Replaces generated tool-call ids ("call_" + 32 hex) by "call_X"; returns how many ids did
 * not have that shape. */
static int scrub_ids(json_object *o)
{
    int bad = 0;

    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            bad += scrub_ids(json_object_array_get_idx(o, i));
    } else if (json_object_is_type(o, json_type_object)) {
        json_object *calls = NULL;

        if (json_object_object_get_ex(o, "tool_calls", &calls) &&
            json_object_is_type(calls, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(calls); i++) {
                json_object *c = json_object_array_get_idx(calls, i), *id = NULL;
                const char *s;

                if (!json_object_object_get_ex(c, "id", &id))
                    continue;
                s = json_object_get_string(id);
                if (strncmp(s, "call_", 5) != 0 || strlen(s) != 37 ||
                    strspn(s + 5, "0123456789abcdef") != 32)
                    bad++;
                json_object_object_add(c, "id", json_object_new_string("call_X"));
            }
        }
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            if (v != calls)
                bad += scrub_ids(v);
        }
    }
    return bad;
}

/* 1 when got (scrubbed of random ids) and want are the same JSON value; notes both if not. */
static int json_same(const char *got, const char *want)
{
    json_object *g = got ? json_tokener_parse(got) : NULL;
    json_object *w = want ? json_tokener_parse(want) : NULL;
    int bad = scrub_ids(g), same = g && w && !bad && json_object_equal(g, w);

    if (!same) {
        note("got:  %s", got ? got : "(null)");
        note("want: %s", want ? want : "(null)");
        if (bad)
            note("%d tool-call ids are not call_<32 hex>", bad);
    }
    json_object_put(g);
    json_object_put(w);
    return same;
}
/* Feeds an SSE transcript (events separated by blank lines, LF or CRLF) to parse_event.
 * Returns the first failing return value, else 0. */
/* 1 when out holds exactly the chunks of want_jsonl (one JSON per line), as "data: X\n\n". */
static int same_chunks(struct prov_fixture *f, const char *out, const char *want_jsonl)
{
    const char *o = out, *w = want_jsonl;
    int n = 0;

    while (*w) {
        size_t wl = strcspn(w, "\n");
        const char *end = strstr(o, "\n\n");

        if (wl == 0) {
            w++;
            continue;
        }
        if (strncmp(o, "data: ", 6) != 0 || !end) {
            note("chunk %d missing or not 'data: ...\\n\\n': %s", n, o);
            return 0;
        }
        if (!json_same(arena_strndup(f->a, o + 6, (size_t)(end - o - 6)),
                       arena_strndup(f->a, w, wl))) {
            note("chunk %d differs", n);
            return 0;
        }
        o = end + 2;
        w += wl;
        n++;
    }
    if (*o)
        note("unexpected extra output: %s", o);
    return *o == '\0';
}

/* ---- the vectors of tests/data/gemini ---- */

static void test_vector_request(void)
{
    struct prov_fixture f;
    int rc;

    prov_fixture_init_file(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", "gemini",
                           "chat_request.json");
    rc = prov_fixture_build(&f);
    is_int(rc, 0, "vector request: build_request succeeds");
    is_str(
        f.rq.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
        "vector request: URL uses v1beta and generateContent");
    ok(prov_fixture_has_header(&f.rq, "x-goog-api-key: KEY"),
       "vector request: key in x-goog-api-key");
    ok(prov_fixture_has_header(&f.rq, "Content-Type: application/json"),
       "vector request: JSON content type");
    ok(rc == 0 && json_same(f.rq.body, slurp(&f, "chat_upstream.json")),
       "vector request: body equals the vector");
    ok(rc == 0 && f.rq.body_len == strlen(f.rq.body), "vector request: body_len matches");
    prov_fixture_free(&f);
}

static void test_vector_response(void)
{
    struct prov_fixture f;
    const char *body;
    int rc;

    prov_fixture_init_file(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", "gemini",
                           "chat_request.json");
    body = slurp(&f, "chat_response.json");
    rc = prov_fixture_answer(&f, body);
    is_int(rc, 0, "vector answer: parse_response succeeds");
    ok(json_same(f.out.p, slurp(&f, "chat_expected.json")),
       "vector answer: OpenAI body as expected");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 8 &&
           f.ctx.usage.completion_tokens == 2,
       "vector answer: ctx->usage 8/2 from usageMetadata");
    is_str(f.ctx.text.p, "Paris.", "vector answer: ctx->text holds the completion");
    prov_fixture_free(&f);
}

static void test_vector_function_call(void)
{
    struct prov_fixture f;
    const char *body;
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    body = slurp(&f, "funcall_response.json");
    rc = prov_fixture_answer(&f, body);
    is_int(rc, 0, "vector function call: parse_response succeeds");
    ok(json_same(f.out.p, slurp(&f, "funcall_expected.json")),
       "vector function call: tool_calls with a call_ id, null content, finish tool_calls");
    ok(f.ctx.usage.prompt_tokens == 40 && f.ctx.usage.completion_tokens == 6,
       "vector function call: usage 40/6");
    prov_fixture_free(&f);
}

static void test_vector_blocked(void)
{
    struct prov_fixture f;
    const char *body;
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    body = slurp(&f, "blocked_response.json");
    rc = prov_fixture_answer(&f, body);
    is_int(rc, -1, "vector blocked prompt: parse_response fails");
    is_int(f.err.status, 400, "vector blocked prompt: HTTP 400");
    ok(f.err.message && strstr(f.err.message, "SAFETY"),
       "vector blocked prompt: message names the block reason (%s)", f.err.message);
    is_int(f.out.len, 0, "vector blocked prompt: nothing written");
    prov_fixture_free(&f);
}

static void test_vector_error(void)
{
    struct prov_fixture f;
    const char *body;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    body = slurp(&f, "error_400.json");
    prov_fixture_error(&f, 400, body);
    is_int(f.err.status, 400, "vector error: status 400");
    is_str(f.err.message, "API key not valid. Please pass a valid API key.",
           "vector error: Google's message");
    is_str(f.err.type, "INVALID_ARGUMENT", "vector error: Google status as type");
    is_str(f.err.code, "INVALID_ARGUMENT", "vector error: Google status as code");
    ok(f.err.param == NULL, "vector error: no param");
    prov_fixture_free(&f);
}

/* The expected chunks without the usage chunk and without "usage": null. */
static const char *drop_usage(struct prov_fixture *f, const char *jsonl)
{
    struct strbuf sb;
    const char *p = jsonl;

    sb_init(&sb, f->a);
    while (*p) {
        size_t len = strcspn(p, "\n");
        json_object *o = json_tokener_parse(arena_strndup(f->a, p, len)), *ch = NULL;

        if (o && json_object_object_get_ex(o, "choices", &ch) && json_object_array_length(ch) > 0) {
            json_object_object_del(o, "usage");
            sb_puts(&sb, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            sb_putc(&sb, '\n');
        }
        json_object_put(o);
        p += len;
        if (*p)
            p++;
    }
    return sb.p;
}

static void test_vector_stream(void)
{
    for (int with_usage = 1; with_usage >= 0; with_usage--) {
        struct prov_fixture f;
        const char *want;
        int rc;

        prov_fixture_init_file(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", "gemini",
                               "chat_request.json");
        f.ctx.is_stream = 1;
        f.ctx.include_usage = with_usage;
        rc = prov_fixture_build(&f);
        is_str(rc == 0 ? f.rq.url : NULL,
               "https://generativelanguage.googleapis.com/v1beta/models/"
               "gemini-2.0-flash:streamGenerateContent?alt=sse",
               "vector stream: streamGenerateContent?alt=sse URL");
        rc = prov_fixture_feed_sse(&f, slurp(&f, "stream.sse"));
        is_int(rc, 0, "vector stream (include_usage=%d): every event converts", with_usage);
        want = slurp(&f, "stream_expected.jsonl");
        if (!with_usage && want)
            want = drop_usage(&f, want);
        ok(want && same_chunks(&f, f.out.p, want),
           "vector stream (include_usage=%d): role, three content chunks, finish stop%s",
           with_usage, with_usage ? ", usage chunk" : "");
        ok(f.ctx.finished, "vector stream: finishReason ends the stream");
        ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 9 &&
               f.ctx.usage.completion_tokens == 8,
           "vector stream: the last usageMetadata wins (9/8)");
        is_str(f.ctx.text.p, "The capital of France is Paris.", "vector stream: ctx->text");
        ok(!strstr(f.out.p, "[DONE]"), "vector stream: no [DONE] from the adaptor");
        sb_reset(&f.out);
        rc = prov_fixture_feed(&f, "", NULL);
        ok(rc == 0 && f.out.len == 0, "vector stream: EOF after the finish adds nothing");
        prov_fixture_free(&f);
    }
}

/* ---- URL and settings ---- */

static void test_versions(void)
{
    static const struct {
        const char *model, *api_version, *config, *want;
    } cases[] = {
        {"gemini-2.0-flash", "", "", "/v1beta/models/gemini-2.0-flash:"},
        {"gemini-1.5-pro-latest", "", "", "/v1beta/models/gemini-1.5-pro-latest:"},
        {"gemini-pro", "", "", "/v1/models/gemini-pro:"},
        {"gemini-2.5-flash", "", "", "/v1/models/gemini-2.5-flash:"},
        /* api_version is GEMINI_VERSION (or `other`): the model rule comes first */
        {"gemini-2.0-flash", "v1", "", "/v1beta/models/gemini-2.0-flash:"},
        {"gemini-pro", "v1beta", "", "/v1beta/models/gemini-pro:"},
        /* the channel config pins the version over everything */
        {"gemini-2.0-flash", "v1alpha", "{\"api_version\":\"v1alpha\"}",
         "/v1alpha/models/gemini-2.0-flash:"},
        {"gemini-1.5-pro", "v1", "{\"api_version\":\"v1\"}", "/v1/models/gemini-1.5-pro:"},
        {"gemini-pro", "", "{\"api_version\":\"\"}", "/v1/models/gemini-pro:"},
        {"models/gemini-pro", "", "", "/v1/models/gemini-pro:"},
        {"gemini-pro", "", "{not json", "/v1/models/gemini-pro:"},
        {"gemini/../x?y", "", "", "/v1/models/gemini%2F..%2Fx%3Fy:"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct prov_fixture f;
        int rc;

        prov_fixture_init(&f, &GEMINI, RELAY_CHAT, cases[i].model,
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        f.ch.api_version = cases[i].api_version;
        f.ch.config = cases[i].config;
        rc = prov_fixture_build(&f);
        ok(rc == 0 && strstr(f.rq.url, cases[i].want) &&
               strncmp(f.rq.url, "https://generativelanguage.googleapis.com/", 42) == 0,
           "version rule: model %s, api_version '%s', config '%s' -> %s (%s)", cases[i].model,
           cases[i].api_version, cases[i].config, cases[i].want, rc == 0 ? f.rq.url : "failed");
        prov_fixture_free(&f);
    }
    {
        struct prov_fixture f;

        prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-pro",
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        f.ch.base_url = "https://proxy.example/gemini/";
        ok(prov_fixture_build(&f) == 0 &&
               strcmp(f.rq.url,
                      "https://proxy.example/gemini/v1/models/gemini-pro:generateContent") == 0,
           "custom base URL (trailing slash dropped)");
        prov_fixture_free(&f);
    }
}

static void test_safety(void)
{
    /* The channel's config beats the process setting (GEMINI_SAFETY_SETTING), which beats
     * the default. */
    const char *cfgs[] = {"", "{\"gemini_safety_setting\":\"BLOCK_ONLY_HIGH\"}", "",
                          "{\"gemini_safety_setting\":\"BLOCK_ONLY_HIGH\"}"};
    const char *process[] = {NULL, NULL, "OFF", "OFF"};
    const char *want[] = {"BLOCK_NONE", "BLOCK_ONLY_HIGH", "OFF", "BLOCK_ONLY_HIGH"};
    const char *cats[] = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                          "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
                          "HARM_CATEGORY_CIVIC_INTEGRITY"};

    for (int c = 0; c < 4; c++) {
        struct prov_fixture f;
        int good = 1;

        prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-pro",
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        f.ch.config = cfgs[c];
        f.ch.gemini_safety = process[c];
        if (prov_fixture_build(&f) != 0)
            good = 0;
        for (int i = 0; good && i < 5; i++) {
            char path[64];
            const char *cat, *thr;

            snprintf(path, sizeof path, "safetySettings.%d.category", i);
            cat = prov_fixture_json_at(f.a, f.rq.body, path);
            snprintf(path, sizeof path, "safetySettings.%d.threshold", i);
            thr = prov_fixture_json_at(f.a, f.rq.body, path);
            good = cat && thr && strcmp(cat, cats[i]) == 0 && strcmp(thr, want[c]) == 0;
        }
        ok(good && !prov_fixture_json_at(f.a, f.rq.body, "safetySettings.5"),
           "safety: five categories at %s (config '%s', GEMINI_SAFETY_SETTING %s)", want[c],
           cfgs[c], process[c] ? process[c] : "unset");
        prov_fixture_free(&f);
    }
}

/* ---- request conversion ---- */

/* Builds a chat request from req_json and checks the body (or one field of it) against want. */
static void check_body(const char *req_json, const char *path, const char *want, const char *what)
{
    struct prov_fixture f;
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", req_json);
    rc = prov_fixture_build(&f);
    if (rc != 0) {
        ok(0, "%s (build failed: %s)", what, f.err.message);
    } else {
        const char *got = path ? prov_fixture_json_at(f.a, f.rq.body, path) : f.rq.body;

        ok(want ? json_same(got, want) : got == NULL, "%s", what);
    }
    prov_fixture_free(&f);
}

/* Builds a chat request that must be refused with a 400. */
static void check_refused(const char *req_json, const char *what)
{
    struct prov_fixture f;
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", req_json);
    rc = prov_fixture_build(&f);
    ok(rc == -1 && f.err.status == 400 && f.err.message && *f.err.message, "%s (%d: %s)", what,
       f.err.status, f.err.message ? f.err.message : "");
    prov_fixture_free(&f);
}

static void test_roles(void)
{
    check_body(
        "{\"messages\":[{\"role\":\"system\",\"content\":\"S1\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"},"
        "{\"role\":\"assistant\",\"content\":\"Hello\"},"
        "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"S2\"}]},"
        "{\"role\":\"user\",\"content\":\"A\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"B\"}]},"
        "{\"role\":\"assistant\",\"content\":\"\"},"
        "{\"role\":\"user\",\"content\":\"C\"}]}",
        NULL,
        "{\"systemInstruction\":{\"parts\":[{\"text\":\"S1\"},{\"text\":\"S2\"}]},"
        "\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"text\":\"Hello\"}]},"
        "{\"role\":\"user\",\"parts\":[{\"text\":\"A\"},{\"text\":\"B\"},{\"text\":\"C\"}]}],"
        "\"safetySettings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\",\"threshold\":"
        "\"BLOCK_NONE\"},{\"category\":\"HARM_CATEGORY_HATE_SPEECH\",\"threshold\":"
        "\"BLOCK_NONE\"},{\"category\":\"HARM_CATEGORY_SEXUALLY_EXPLICIT\",\"threshold\":"
        "\"BLOCK_NONE\"},{\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"threshold\":"
        "\"BLOCK_NONE\"},{\"category\":\"HARM_CATEGORY_CIVIC_INTEGRITY\",\"threshold\":"
        "\"BLOCK_NONE\"}]}",
        "roles: systems -> systemInstruction, assistant -> model, adjacent user turns "
        "merge, empty turns dropped, no fake 'Okay' turn, no generationConfig when unset");
    check_body("{\"messages\":[{\"role\":\"system\",\"content\":\"Only me\"}]}", "contents",
               "[{\"role\":\"user\",\"parts\":[{\"text\":\"Only me\"}]}]",
               "roles: a system-only request becomes the user turn");
    check_body("{\"messages\":[{\"role\":\"system\",\"content\":\"Only me\"}]}",
               "systemInstruction", NULL, "roles: ... and then has no systemInstruction");
    check_refused("{\"messages\":[]}", "roles: empty messages refused");
    check_refused("{\"model\":\"x\"}", "roles: missing messages refused");
    check_refused("{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
                  "roles: unknown role refused");
    check_refused("{\"messages\":[{\"content\":\"x\"}]}", "roles: missing role refused");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":42}]}",
                  "roles: numeric content refused");
}

static void test_images(void)
{
    check_body(
        "{\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in this image?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":\"DATA:image/jpeg;name=cat.jpg;BASE64,/9j/4A==\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:;base64,R0lGOD=\"}},"
        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRg==\",\"format\":\"wav\"}},"
        "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\","
        "\"file_data\":\"data:application/pdf;base64,JVBERi0=\"}}]}]}",
        "contents.0.parts",
        "[{\"text\":\"What is in this image?\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
        "{\"inlineData\":{\"mimeType\":\"image/jpeg\",\"data\":\"/9j/4A==\"}},"
        "{\"inlineData\":{\"mimeType\":\"application/octet-stream\",\"data\":\"R0lGOD=\"}},"
        "{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":\"UklGRg==\"}},"
        "{\"inlineData\":{\"mimeType\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]",
        "images: data URLs (any case, with parameters, without a type) -> inlineData, audio "
        "and files inline");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/png,notbase64\"}}]}]}",
                  "images: a data URL that is not base64 is refused");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/png;base64,\"}}]}]}",
                  "images: a data URL without a payload is refused");
    /* The core inlines http(s) URLs before build_request: one reaching the adaptor is a bug,
     * and refusing it beats sending Gemini a URL it may not fetch. */
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://x.test/cat.jpg\"}}]}]}",
                  "images: an http(s) URL the core did not inline is refused");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"gs://bucket/a.png\"}}]}]}",
                  "images: gs:// URLs are refused");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"ftp://x.test/a.png\"}}]}]}",
                  "images: other URL schemes are refused");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{}}]}]}",
                  "images: an image_url without a url is refused");
    check_refused("{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]},"
                  "{\"role\":\"user\",\"content\":\"hi\"}]}",
                  "images: not allowed in system messages");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
                  "images: unknown part types are refused");
}

static void test_tools_request(void)
{
    struct prov_fixture f;
    int rc;

    prov_fixture_init_file(&f, &GEMINI, RELAY_CHAT, "gemini-2.5-flash", "gemini",
                           "tools_request.json");
    rc = prov_fixture_build(&f);
    is_int(rc, 0, "tools request: build succeeds");
    ok(rc == 0 && json_same(f.rq.body, slurp(&f, "tools_upstream.json")),
       "tools request: declarations with cleaned schemas, functionCall and merged "
       "functionResponse turns, toolConfig ANY, full generationConfig");
    is_str(rc == 0 ? f.rq.url : NULL,
           "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent",
           "tools request: gemini-2.5 stays on the default version");
    prov_fixture_free(&f);

    check_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
               "\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":"
               "\"function\",\"function\":{\"name\":\"f\"}}}",
               "toolConfig",
               "{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"f\"]}}",
               "tool_choice naming a function -> ANY + allowedFunctionNames");
    check_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
               "\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"none\"}",
               "toolConfig", "{\"functionCallingConfig\":{\"mode\":\"NONE\"}}",
               "tool_choice none -> NONE");
    check_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
               "\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\"}",
               "toolConfig", "{\"functionCallingConfig\":{\"mode\":\"AUTO\"}}",
               "tool_choice auto -> AUTO");
    check_body(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"required\"}",
        "toolConfig", NULL, "no toolConfig without tools");
    check_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
               "\"function_call\":{\"name\":\"g\",\"arguments\":\"[1,2]\"}},{\"role\":\"function\","
               "\"name\":\"g\",\"content\":\"[3]\"}]}",
               "contents",
               "[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]},"
               "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"g\",\"args\":"
               "{\"arguments\":\"[1,2]\"}}}]},"
               "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"g\",\"response\":"
               "{\"content\":\"[3]\"}}}]}]",
               "legacy function_call/function messages; non-object arguments and results wrapped");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\","
                  "\"tool_call_id\":\"call_zzz\",\"content\":\"1\"}]}",
                  "a tool result for an unknown call is refused");
    check_refused("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
                  "\"function\",\"function\":{\"description\":\"no name\"}}]}",
                  "a function without a name is refused");
}

static void test_gen_config(void)
{
    check_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":\"END\","
               "\"max_tokens\":10,\"n\":1,\"response_format\":{\"type\":\"json_object\"}}",
               "generationConfig",
               "{\"maxOutputTokens\":10,\"stopSequences\":[\"END\"],\"candidateCount\":1,"
               "\"responseMimeType\":\"application/json\"}",
               "generationConfig: stop string, max_tokens, n, json_object");
    check_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":null,"
               "\"top_p\":\"high\",\"response_format\":{\"type\":\"text\"}}",
               "generationConfig", "{\"responseMimeType\":\"text/plain\"}",
               "generationConfig: null and mistyped values skipped, text -> text/plain");
}

/* ---- responses ---- */

/* The finish_reason parse_response gives a one-candidate answer with this finishReason ("" omits
 * it), into res. */
static const char *finish_of(const char *reason, char res[64])
{
    struct prov_fixture f;
    char body[512];
    const char *fr;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    if (*reason)
        snprintf(body, sizeof body,
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\"}],\"role\":\"model\"},"
                 "\"finishReason\":\"%s\",\"index\":0}]}",
                 reason);
    else
        snprintf(
            body, sizeof body,
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\"}],\"role\":\"model\"}}]}");
    res[0] = '\0';
    if (prov_fixture_answer(&f, body) == 0) {
        fr = prov_fixture_json_at(f.a, f.out.p, "choices.0.finish_reason");
        snprintf(res, 64, "%s", fr ? fr : "(none)");
    }
    prov_fixture_free(&f);
    return res;
}

static void test_finish_reasons(void)
{
    /* Each OpenAI finish_reason with the Gemini finishReasons that map to it ("" is none); a
     * reason newer than the adaptor is "stop". */
    static const struct {
        const char *want;
        const char *in[9];
    } groups[] = {
        {"stop", {"STOP", "MALFORMED_FUNCTION_CALL", "SOMETHING_NEW", ""}},
        {"length", {"MAX_TOKENS"}},
        {"content_filter",
         {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
          "LANGUAGE", "OTHER"}},
    };
    char res[64], what[128];

    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        for (size_t k = 0; groups[i].in[k]; k++) {
            const char *in = groups[i].in[k], *want = groups[i].want;

            /* The label is formatted apart: gcc 12 at -O2 wrongly sees a null %s argument. */
            snprintf(what, sizeof what, "finish_reason: '%s' -> %s", in, want);
            is_str(finish_of(in, res), want, "%s", what);
        }
    }
}

static void test_thoughts_usage_n(void)
{
    struct prov_fixture f;
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":true},"
        "{\"text\":\"4\"},{\"text\":\"2\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"},"
        "{\"content\":{\"parts\":[{\"text\":\"forty-two\"}],\"role\":\"model\"},"
        "\"finishReason\":\"MAX_TOKENS\",\"index\":1}],"
        "\"usageMetadata\":{\"promptTokenCount\":10,\"toolUsePromptTokenCount\":2,"
        "\"candidatesTokenCount\":5,\"thoughtsTokenCount\":7,\"cachedContentTokenCount\":4,"
        "\"totalTokenCount\":24}}";
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.5-pro", NULL);
    rc = prov_fixture_answer(&f, body);
    ok(rc == 0 &&
           json_same(f.out.p,
                     "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":"
                     "1730000000,\"model\":\"gemini-2.5-pro\",\"choices\":["
                     "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"42\","
                     "\"reasoning_content\":\"hmm\"},\"finish_reason\":\"stop\"},"
                     "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"forty-two\"},"
                     "\"finish_reason\":\"length\"}],"
                     "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":12,\"total_tokens\":24,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":4},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":7}}}"),
       "thought parts -> reasoning_content, parts joined, two candidates, usage details");
    ok(f.ctx.usage.prompt_tokens == 12 && f.ctx.usage.completion_tokens == 12,
       "usage: prompt includes tool-use prompt, completion includes thoughts");
    prov_fixture_free(&f);
}

/* ---- streams ---- */

static void test_stream_tools(void)
{
    struct prov_fixture f;
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    f.ctx.is_stream = 1;
    rc = prov_fixture_feed_sse(&f, slurp(&f, "stream_tools.sse"));
    is_int(rc, 0, "stream tools: events convert");
    ok(same_chunks(&f, f.out.p, slurp(&f, "stream_tools_expected.jsonl")),
       "stream tools: indexed tool_calls delta with ids, then finish tool_calls, no usage key");
    ok(f.ctx.finished && f.ctx.usage.prompt_tokens == 40, "stream tools: finished, usage 40");
    prov_fixture_free(&f);
}

static void test_stream_eof(void)
{
    struct prov_fixture f;
    const char *ev1 = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],"
                      "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,"
                      "\"candidatesTokenCount\":1,\"totalTokenCount\":4}}";
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    f.ctx.is_stream = 1;
    f.ctx.include_usage = 1;
    rc = prov_fixture_feed(&f, "", ev1);
    ok(rc == 0 && !f.ctx.finished, "stream EOF: no finish yet");
    rc = prov_fixture_feed(&f, "", "  \r\n");
    ok(rc == 0, "stream EOF: blank data ignored");
    rc = prov_fixture_feed(&f, "", NULL);
    ok(rc == 0 && f.ctx.finished &&
           same_chunks(
               &f, f.out.p,
               "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1730000000,\"model\":\"gemini-2.0-flash\",\"choices\":[{\"index\":0,"
               "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
               "\"usage\":null}\n"
               "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1730000000,\"model\":\"gemini-2.0-flash\",\"choices\":[{\"index\":0,"
               "\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n"
               "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1730000000,\"model\":\"gemini-2.0-flash\",\"choices\":[{\"index\":0,"
               "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n"
               "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
               "1730000000,\"model\":\"gemini-2.0-flash\",\"choices\":[],\"usage\":"
               "{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n"),
       "stream EOF (data NULL): finish stop for the open choice, then the usage chunk once");
    sb_reset(&f.out);
    rc = prov_fixture_feed(&f, "", NULL);
    ok(rc == 0 && f.out.len == 0, "stream EOF: a second EOF adds nothing");
    prov_fixture_free(&f);
}

static void test_stream_n(void)
{
    struct prov_fixture f;
    const char *evs[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"index\":0},"
        "{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"index\":1}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"c\"}]},\"finishReason\":\"STOP\","
        "\"index\":0}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"d\"}]},\"finishReason\":"
        "\"SAFETY\",\"index\":1}]}",
    };
    int rc = 0, finished_early;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", "{\"n\":2}");
    f.ctx.is_stream = 1;
    rc |= prov_fixture_feed(&f, "", evs[0]);
    rc |= prov_fixture_feed(&f, "", evs[1]);
    finished_early = f.ctx.finished;
    rc |= prov_fixture_feed(&f, "", evs[2]);
    ok(rc == 0 && !finished_early && f.ctx.finished,
       "stream n=2: finished only when both choices finished");
    ok(strstr(f.out.p, "\"index\":1,\"delta\":{\"content\":\"d\"},\"finish_reason\":"
                       "\"content_filter\"") != NULL,
       "stream n=2: SAFETY -> content_filter on choice 1");
    is_str(f.ctx.text.p, "abcd", "stream n=2: ctx->text gathers every choice");
    prov_fixture_free(&f);
}

static void test_stream_errors(void)
{
    struct prov_fixture f;
    const char *blocked = "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}";
    const char *midway = "{\"error\":{\"code\":429,\"message\":\"Resource exhausted\","
                         "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    const char *usage_only = "{\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5}}";
    const char *bad_index = "{\"candidates\":[{\"index\":99}]}";
    int rc;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    f.ctx.is_stream = 1;
    rc = prov_fixture_feed(&f, "", blocked);
    ok(rc == -1 && f.err.status == 400 && strstr(f.err.message, "PROHIBITED_CONTENT"),
       "stream: a blocked prompt is a 400 naming the reason");
    rc = prov_fixture_feed(&f, "", midway);
    ok(rc == -1 && f.err.status == 429 && strcmp(f.err.code, "RESOURCE_EXHAUSTED") == 0,
       "stream: a mid-stream error carries Google's code and status");
    rc = prov_fixture_feed(&f, "", "{\"candidates\": [");
    ok(rc == -1 && f.err.status == 500, "stream: truncated JSON -> -1");
    rc = prov_fixture_feed(&f, "", "not json at all");
    ok(rc == -1, "stream: garbage -> -1");
    rc = prov_fixture_feed(&f, "", bad_index);
    ok(rc == -1, "stream: an out-of-range candidate index -> -1");
    rc = prov_fixture_feed(&f, "", usage_only);
    ok(rc == 0 && f.out.len == 0 && f.ctx.usage.prompt_tokens == 5,
       "stream: a usage-only event updates usage and emits nothing");
    rc = prov_fixture_feed(&f, "", "[DONE]");
    ok(rc == 0 && f.ctx.finished, "stream: a stray [DONE] ends the stream");
    prov_fixture_free(&f);
}

/* ---- embeddings ---- */

static void test_embeddings(void)
{
    struct prov_fixture f;
    const char *body;
    int rc;

    prov_fixture_init_file(&f, &GEMINI, RELAY_EMBEDDINGS, "text-embedding-004", "gemini",
                           "embed_request.json");
    rc = prov_fixture_build(&f);
    is_str(rc == 0 ? f.rq.url : NULL,
           "https://generativelanguage.googleapis.com/v1/models/"
           "text-embedding-004:batchEmbedContents",
           "embeddings: batchEmbedContents URL");
    ok(rc == 0 && json_same(f.rq.body, slurp(&f, "embed_upstream.json")),
       "embeddings: one request per input, models/ prefix, dimensions -> outputDimensionality");
    f.ctx.usage.prompt_tokens = 2; /* the core's estimate, see gemini.h */
    body = slurp(&f, "embed_response.json");
    rc = prov_fixture_answer(&f, body);
    ok(rc == 0 && json_same(f.out.p, slurp(&f, "embed_expected.json")),
       "embeddings: float lists with increasing indexes, model, estimated usage");
    ok(f.out.len && strstr(f.out.p, "[0.013,-0.008]"), "embeddings: numbers keep their spelling");
    ok(!f.ctx.usage.has_usage, "embeddings: has_usage stays 0 (Gemini counts nothing)");
    prov_fixture_free(&f);

    {
        static const struct {
            const char *values, *want;
        } cases[] = {
            {"[1.0,-2.5]", "AACAPwAAIMA="},
            {"[1]", "AACAPw=="},
            {"[0.5,0.25,-1]", "AAAAPwAAgD4AAIC/"},
            {"[]", ""},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char resp[256];

            prov_fixture_init(&f, &GEMINI, RELAY_EMBEDDINGS, "text-embedding-004",
                              "{\"input\":\"hello\",\"encoding_format\":\"base64\"}");
            snprintf(resp, sizeof resp, "{\"embeddings\":[{\"values\":%s}]}", cases[i].values);
            rc = prov_fixture_answer(&f, resp);
            is_str(rc == 0 ? prov_fixture_json_at(f.a, f.out.p, "data.0.embedding") : NULL,
                   cases[i].want, "embeddings base64: %s -> little-endian float32 '%s'",
                   cases[i].values, cases[i].want);
            prov_fixture_free(&f);
        }
    }
    prov_fixture_init(&f, &GEMINI, RELAY_EMBEDDINGS, "text-embedding-004", "{\"input\":\"solo\"}");
    rc = prov_fixture_build(&f);
    ok(rc == 0 && json_same(f.rq.body, "{\"requests\":[{\"model\":\"models/text-embedding-004\","
                                       "\"content\":{\"parts\":[{\"text\":\"solo\"}]}}]}"),
       "embeddings: a single string input");
    prov_fixture_free(&f);
    prov_fixture_init(&f, &GEMINI, RELAY_EMBEDDINGS, "text-embedding-004", "{\"input\":[[1,2,3]]}");
    rc = prov_fixture_build(&f);
    ok(rc == -1 && f.err.status == 400, "embeddings: token-id input refused with 400");
    prov_fixture_free(&f);
    prov_fixture_init(&f, &GEMINI, RELAY_EMBEDDINGS, "text-embedding-004",
                      "{\"input\":\"x\",\"encoding_format\":\"base64\"}");
    body = "{\"embeddings\":[{\"values\":[1,\"two\"]}]}";
    rc = prov_fixture_answer(&f, body);
    ok(rc == -1 && f.err.status == 500, "embeddings: a non-number value -> -1");
    body = "{\"embeddings\":[{\"values\":7}]}";
    rc = prov_fixture_answer(&f, body);
    ok(rc == -1, "embeddings: values that are not a list -> -1");
    body = "{\"nothing\":1}";
    rc = prov_fixture_answer(&f, body);
    ok(rc == -1, "embeddings: no embeddings list -> -1");
    prov_fixture_free(&f);
}

/* ---- errors and malformed input ---- */

static void test_errors(void)
{
    struct prov_fixture f;
    const char *b;

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    b = "<html><body>Service Unavailable</body></html>";
    prov_fixture_error(&f, 503, b);
    ok(f.err.status == 503 && strcmp(f.err.message, "bad response status code 503") == 0 &&
           strcmp(f.err.type, "upstream_error") == 0 && strcmp(f.err.param, "503") == 0 &&
           strcmp(f.err.code, "bad_response_status_code") == 0,
       "error: non-JSON body -> generic 'bad response status code 503'");
    b = "[{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":"
        "\"RESOURCE_EXHAUSTED\"}}]";
    prov_fixture_error(&f, 429, b);
    ok(f.err.status == 429 && strcmp(f.err.message, "Quota exceeded") == 0 &&
           strcmp(f.err.code, "RESOURCE_EXHAUSTED") == 0,
       "error: the array-wrapped form is understood");
    b = "{\"error\":{\"code\":500,\"message\":\"\"}}";
    prov_fixture_error(&f, 500, b);
    is_str(f.err.message, "bad response status code 500", "error: an empty message is generic");
    b = "{\"message\":\"proxy says no\"}";
    prov_fixture_error(&f, 502, b);
    ok(f.err.status == 502 && strcmp(f.err.message, "proxy says no") == 0 &&
           strcmp(f.err.type, "upstream_error") == 0 && f.err.code == NULL,
       "error: a top-level message is used");
    prov_fixture_error(&f, 404, "");
    is_str(f.err.message, "bad response status code 404", "error: empty body is generic");
    b = "{\"error\":{\"code\":403,\"message\":\"denied\",\"status\":\"PERMISSION_DENIED\"}}";
    ok(prov_fixture_answer(&f, b) == -1 && f.err.status == 403 &&
           strcmp(f.err.message, "denied") == 0,
       "error: an error object inside a 200 answer fails with its code");
    prov_fixture_free(&f);
}

static void test_malformed(void)
{
    static const char *const bodies[] = {
        "{not json",
        "[1,2]",
        "{\"candidates\":[]} trailing",
        "null",
        "{\"candidates\":\"nope\"}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]",
    };
    struct prov_fixture f;
    struct strbuf deep;
    int rc;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
        rc = prov_fixture_answer(&f, bodies[i]);
        ok(rc == -1 && f.err.status >= 400 && f.err.message, "malformed answer %zu -> -1 (%s)", i,
           bodies[i]);
        prov_fixture_free(&f);
    }
    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash", NULL);
    rc = prov_fixture_answer(&f, "");
    ok(rc == -1 && f.err.status == 500, "malformed: an empty body -> -1");
    rc = GEMINI.prov->parse_response(&f.ctx, "{\"candidates\":[]}", 5, &f.out, &f.err);
    ok(rc == -1, "malformed: only n bytes are read");
    sb_init(&deep, f.a);
    for (int i = 0; i < 5000; i++)
        sb_putc(&deep, '[');
    rc = GEMINI.prov->parse_response(&f.ctx, deep.p, deep.len, &f.out, &f.err);
    ok(rc == -1, "malformed: 5000 nested arrays -> -1 without crashing");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &GEMINI, RELAY_CHAT, "gemini-2.0-flash",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    f.ch.key = "KEY\r\nX-Evil: 1";
    rc = prov_fixture_build(&f);
    ok(rc == -1 && f.err.status == 500 && strcmp(f.err.code, "convert_request_failed") == 0,
       "a key with a line break is refused, not sent");
    prov_fixture_free(&f);

    for (int m = RELAY_COMPLETIONS; m < RELAY_MODE__MAX; m++) {
        if (m == RELAY_EMBEDDINGS)
            continue;
        prov_fixture_init(&f, &GEMINI, (enum relay_mode)m, "gemini-2.0-flash",
                          "{\"prompt\":\"x\"}");
        rc = prov_fixture_build(&f);
        ok(rc == -1 && f.err.status == 400, "relay mode %d is refused with 400", m);
        prov_fixture_free(&f);
    }
}

static void test_vtable(void)
{
    is_str(GEMINI.prov->name, "gemini", "vtable: name");
    ok(GEMINI.prov->build_request && GEMINI.prov->parse_response && GEMINI.prov->parse_event &&
           GEMINI.prov->parse_error,
       "vtable: every op is set");
}

int main(void)
{
    struct arena *a = arena_new(4096);
    int has_data = prov_fixture_data_file(a, "gemini", "chat_request.json", NULL) != NULL;

    arena_free(a);
    if (!has_data) {
        printf("Bail out! no test vectors under %s/tests/data/gemini\n", prov_fixture_top_dir());
        return 1;
    }
    test_vtable();
    test_vector_request();
    test_vector_response();
    test_vector_function_call();
    test_vector_blocked();
    test_vector_error();
    test_vector_stream();
    test_versions();
    test_safety();
    test_roles();
    test_images();
    test_tools_request();
    test_gen_config();
    test_finish_reasons();
    test_thoughts_usage_n();
    test_stream_tools();
    test_stream_eof();
    test_stream_n();
    test_stream_errors();
    test_embeddings();
    test_errors();
    test_malformed();
    return done_testing();
}
