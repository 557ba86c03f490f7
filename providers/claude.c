/* Anthropic Messages API adaptor: OpenAI chat requests to /v1/messages and the answers back. */
#include "config.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/claude.h"
#include "providers/provider.h"

/* The API version every request pins; the wire format below is written against it. */
#define CLAUDE_VERSION "2023-06-01"
/* Anthropic requires max_tokens; one-api's default when the client gives none. */
#define CLAUDE_DEFAULT_MAX_TOKENS 4096
/* Default base URL of channel type 14, used when the core hands us an empty one. */
#define CLAUDE_BASE_URL "https://api.anthropic.com"
/* Content blocks tracked per stream: a bound so a hostile index cannot make us allocate much. */
#define CLAUDE_MAX_BLOCKS 4096
/* The text of the user turn inserted when a conversation does not start with one. */
#define CLAUDE_PLACEHOLDER "..."

/* Per content block of a stream: which OpenAI tool call it feeds, if any. */
struct claude_block {
    int tool;     /* tool-call ordinal (OpenAI "index"), or -1 for text/thinking blocks */
    int has_args; /* a non-empty argument fragment was sent for this tool call */
};

/* Stream state, in the request arena (ctx->state). */
struct claude_stream {
    struct prov_chunk chunk;     /* id ("chatcmpl-" + the message id), model and created */
    int64_t input_tokens;        /* the latest usage report of each kind (never summed) */
    int64_t cache_write_tokens;  /* cache_creation_input_tokens */
    int64_t cache_read_tokens;   /* cache_read_input_tokens */
    int64_t output_tokens;       /* cumulative per Anthropic, so the last report wins */
    struct claude_block *blocks; /* indexed by Anthropic's content block index */
    int n_blocks;                /* entries in blocks */
    int n_tools;                 /* tool calls started so far: the next OpenAI index */
    int is_finish_sent;          /* the chunk carrying finish_reason went out */
    int has_final_usage;         /* message_delta reported usage: ctx->usage is complete */
};

/* Anthropic stop_reason -> OpenAI finish_reason. */
static const struct {
    const char *from; /* Anthropic stop_reason */
    const char *to;   /* OpenAI finish_reason */
} finish_map[] = {
    {"end_turn", "stop"},
    {"stop_sequence", "stop"},
    {"pause_turn", "stop"},
    {"max_tokens", "length"},
    {"model_context_window_exceeded", "length"},
    {"tool_use", "tool_calls"},
    {"refusal", "content_filter"},
};

/* Anthropic error type -> the HTTP status Anthropic pairs it with. */
static const struct {
    const char *type; /* Anthropic error.type */
    int status;       /* its HTTP status */
} error_status[] = {
    {"invalid_request_error", 400},
    {"authentication_error", 401},
    {"permission_error", 403},
    {"not_found_error", 404},
    {"request_too_large", 413},
    {"rate_limit_error", 429},
    {"api_error", 500},
    {"overloaded_error", 529},
};

/* Request conversion state. */
struct conv {
    struct prov_ctx *ctx;     /* the attempt being converted (arena, request, model) */
    struct prov_error *err;   /* filled when the request cannot be converted */
    struct strbuf system;     /* system and developer texts, newline-joined (arena) */
    struct json_object *msgs; /* the Anthropic messages array; owned until attached */
    const char *fn_call_id;   /* id given to the latest legacy function_call, for its result */
    int n_fn_calls;           /* legacy function calls seen, for synthesised ids */
};

/* err for a client request this channel cannot serve (400, never retried). */
static int bad_request(struct conv *cv, const char *param, const char *message)
{
    return prov_fail(cv->err, 400, "invalid_request_error", "convert_request_failed", param,
                     message);
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

static const char *map_finish(const char *stop_reason)
{
    if (stop_reason)
        for (size_t i = 0; i < sizeof finish_map / sizeof *finish_map; i++)
            if (!strcmp(stop_reason, finish_map[i].from))
                return finish_map[i].to;
    /* Unknown (newer) reasons would break SDKs that check the enum; "stop" is always valid. */
    return "stop";
}

static int status_of_type(const char *type)
{
    for (size_t i = 0; i < sizeof error_status / sizeof *error_status; i++)
        if (type && !strcmp(type, error_status[i].type))
            return error_status[i].status;
    return 500;
}

/* --- request: OpenAI chat -> Anthropic messages --- */

/* Appends a text block unless text is blank: Anthropic rejects blank text blocks. */
static void add_text_block(struct json_object *blocks, const char *text, size_t n)
{
    if (!text || is_blank(text, n) || n > INT_MAX)
        return;
    struct json_object *b = jnew_obj();
    json_object_object_add(b, "type", json_object_new_string("text"));
    json_object_object_add(b, "text", json_object_new_string_len(text, (int)n));
    json_object_array_add(blocks, b);
}

/* Appends the image block for an OpenAI image_url part: data: URLs become base64 sources,
 * http(s) URLs url sources (the API fetches them, so the gateway need not download). */
static int add_image_block(struct conv *cv, struct json_object *part, struct json_object *blocks,
                           const char *param)
{
    struct json_object *iu = jget(part, "image_url"), *src, *b;
    const char *url =
        json_object_is_type(iu, json_type_string) ? json_object_get_string(iu) : jstr(iu, "url");

    if (!url)
        return bad_request(cv, param, "image_url part without a url");
    src = jnew_obj();
    if (!strncasecmp(url, "data:", 5)) {
        struct prov_data_url d;

        if (prov_data_url(url, &d) != 0) {
            json_object_put(src);
            return bad_request(cv, param, "image data URL must be data:<media type>;base64,<data>");
        }
        if (!d.mime_len) {
            json_object_put(src);
            return bad_request(cv, param, "image data URL without a media type");
        }
        json_object_object_add(src, "type", json_object_new_string("base64"));
        json_object_object_add(src, "media_type", prov_str_new(d.mime, d.mime_len));
        json_object_object_add(src, "data", json_object_new_string(d.data));
    } else if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) {
        json_object_object_add(src, "type", json_object_new_string("url"));
        json_object_object_add(src, "url", json_object_new_string(url));
    } else {
        json_object_put(src);
        return bad_request(cv, param, "image_url must be a data: URL or an http(s) URL");
    }
    b = jnew_obj();
    json_object_object_add(b, "type", json_object_new_string("image"));
    json_object_object_add(b, "source", src);
    json_object_array_add(blocks, b);
    return 0;
}

/* Appends the blocks of an OpenAI content value (string or parts) to blocks. Images are kept
 * only when has_images (Anthropic takes no images in assistant turns); unknown parts such as
 * input_audio have no Anthropic equivalent and are skipped. */
static int add_content_blocks(struct conv *cv, struct json_object *content,
                              struct json_object *blocks, int has_images, const char *param)
{
    switch (json_object_get_type(content)) {
    case json_type_null: return 0;
    case json_type_string:
        add_text_block(blocks, json_object_get_string(content),
                       (size_t)json_object_get_string_len(content));
        return 0;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(content); i++) {
            struct json_object *part = json_object_array_get_idx(content, i), *t;
            const char *type = jstr(part, "type");

            if (!type)
                continue;
            if (!strcmp(type, "text") && (t = jget(part, "text")) &&
                json_object_is_type(t, json_type_string))
                add_text_block(blocks, json_object_get_string(t),
                               (size_t)json_object_get_string_len(t));
            else if (!strcmp(type, "image_url") && has_images &&
                     add_image_block(cv, part, blocks, param) != 0)
                return -1;
        }
        return 0;
    default: return bad_request(cv, param, "message content must be a string or an array of parts");
    }
}

/* Appends the plain text of an OpenAI content value (text parts newline-joined) to sb. */
static void put_content_text(struct strbuf *sb, struct json_object *content)
{
    if (json_object_is_type(content, json_type_string)) {
        if (sb->len && json_object_get_string_len(content))
            sb_putc(sb, '\n');
        sb_putn(sb, json_object_get_string(content), (size_t)json_object_get_string_len(content));
        return;
    }
    if (!json_object_is_type(content, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        struct json_object *part = json_object_array_get_idx(content, i);
        struct json_object *t = jget(part, "text");
        const char *type = jstr(part, "type");

        if (type && !strcmp(type, "text") && json_object_is_type(t, json_type_string) &&
            json_object_get_string_len(t)) {
            if (sb->len)
                sb_putc(sb, '\n');
            sb_putn(sb, json_object_get_string(t), (size_t)json_object_get_string_len(t));
        }
    }
}

static struct json_object *new_turn(const char *role, struct json_object *content)
{
    struct json_object *m = jnew_obj();

    json_object_object_add(m, "role", json_object_new_string(role));
    json_object_object_add(m, "content", content);
    return m;
}

/* Adds blocks (consumed) as a turn of role. Anthropic wants strict user/assistant alternation
 * starting with user, so a turn of the same role as the last one is merged into it, and a
 * conversation that opens with the assistant gets a placeholder user turn first. */
static void add_turn(struct conv *cv, const char *role, struct json_object *blocks)
{
    size_t n = json_object_array_length(cv->msgs);

    if (!json_object_array_length(blocks)) {
        json_object_put(blocks);
        return;
    }
    if (!n && strcmp(role, "user") != 0) {
        struct json_object *ph = jnew_arr();

        add_text_block(ph, CLAUDE_PLACEHOLDER, strlen(CLAUDE_PLACEHOLDER));
        json_object_array_add(cv->msgs, new_turn("user", ph));
        n = 1;
    }
    struct json_object *last = n ? json_object_array_get_idx(cv->msgs, n - 1) : NULL;
    if (last && !strcmp(jstr(last, "role"), role)) {
        struct json_object *content = jget(last, "content");

        for (size_t i = 0; i < json_object_array_length(blocks); i++)
            json_object_array_add(content, json_object_get(json_object_array_get_idx(blocks, i)));
        json_object_put(blocks);
        return;
    }
    json_object_array_add(cv->msgs, new_turn(role, blocks));
}

/* The tool_use input for an OpenAI arguments value: a JSON object (empty arguments mean {}).
 * NULL when it is not one; Anthropic would reject anything but an object. */
static struct json_object *tool_input(struct json_object *args)
{
    if (!args || json_object_is_type(args, json_type_null))
        return jnew_obj();
    if (json_object_is_type(args, json_type_object))
        return jcopy(args);
    if (!json_object_is_type(args, json_type_string))
        return NULL;
    const char *s = json_object_get_string(args);
    size_t n = (size_t)json_object_get_string_len(args);
    if (is_blank(s, n))
        return jnew_obj();
    return prov_parse_object(s, n);
}

static int add_tool_use(struct conv *cv, struct json_object *blocks, const char *id,
                        const char *name, struct json_object *args, const char *param)
{
    if (!id || !*id || !name || !*name)
        return bad_request(cv, param, "tool call without an id or a function name");
    struct json_object *input = tool_input(args);
    if (!input)
        return bad_request(cv, param, "tool call arguments are not a JSON object");
    struct json_object *b = jnew_obj();
    json_object_object_add(b, "type", json_object_new_string("tool_use"));
    json_object_object_add(b, "id", json_object_new_string(id));
    json_object_object_add(b, "name", json_object_new_string(name));
    json_object_object_add(b, "input", input);
    json_object_array_add(blocks, b);
    return 0;
}

/* An assistant turn: its text, then one tool_use block per call. Unlike one-api, the calls
 * are kept whatever content is (null, "" or text). */
static int conv_assistant(struct conv *cv, struct json_object *m, const char *param)
{
    struct json_object *blocks = jnew_arr();
    struct json_object *calls = jget(m, "tool_calls"), *fc = jget(m, "function_call");

    if (add_content_blocks(cv, jget(m, "content"), blocks, 0, param) != 0)
        goto fail;
    for (size_t j = 0;
         json_object_is_type(calls, json_type_array) && j < json_object_array_length(calls); j++) {
        struct json_object *call = json_object_array_get_idx(calls, j);
        struct json_object *fn = jget(call, "function");

        if (add_tool_use(cv, blocks, jstr(call, "id"), jstr(fn, "name"), jget(fn, "arguments"),
                         param) != 0)
            goto fail;
    }
    if (fc) {
        /* Legacy calls carry no id; invent one the following "function" message can cite. */
        cv->fn_call_id = arena_printf(cv->ctx->a, "toolu_fc_%d", ++cv->n_fn_calls);
        if (add_tool_use(cv, blocks, cv->fn_call_id, jstr(fc, "name"), jget(fc, "arguments"),
                         param) != 0)
            goto fail;
    }
    add_turn(cv, "assistant", blocks);
    return 0;
fail:
    json_object_put(blocks);
    return -1;
}

/* A tool (or legacy function) result: a user turn holding one tool_result block; add_turn
 * merges consecutive results into the one user turn Anthropic expects. */
static int conv_tool_result(struct conv *cv, struct json_object *m, const char *id,
                            const char *param)
{
    struct json_object *content = jget(m, "content"), *blocks, *b;

    if (!id || !*id)
        return bad_request(cv, param, "tool message without a tool_call_id");
    b = jnew_obj();
    json_object_object_add(b, "type", json_object_new_string("tool_result"));
    json_object_object_add(b, "tool_use_id", json_object_new_string(id));
    if (json_object_is_type(content, json_type_string)) {
        if (!is_blank(json_object_get_string(content), (size_t)json_object_get_string_len(content)))
            json_object_object_add(b, "content", jcopy(content));
    } else if (json_object_is_type(content, json_type_array)) {
        struct json_object *parts = jnew_arr();

        if (add_content_blocks(cv, content, parts, 1, param) != 0) {
            json_object_put(parts);
            json_object_put(b);
            return -1;
        }
        if (json_object_array_length(parts))
            json_object_object_add(b, "content", parts);
        else
            json_object_put(parts);
    }
    blocks = jnew_arr();
    json_object_array_add(blocks, b);
    add_turn(cv, "user", blocks);
    return 0;
}

static int conv_messages(struct conv *cv)
{
    struct json_object *list = jget(cv->ctx->req, "messages");

    if (!json_object_is_type(list, json_type_array))
        return bad_request(cv, "messages", "messages must be an array");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *m = json_object_array_get_idx(list, i);
        const char *role = jstr(m, "role");
        const char *param = arena_printf(cv->ctx->a, "messages[%zu]", i);
        int rc = 0;

        if (!role)
            return bad_request(cv, param, "message without a role");
        if (!strcmp(role, "system") || !strcmp(role, "developer")) {
            /* Every system text goes to the top-level system; one-api lifted only the first. */
            put_content_text(&cv->system, jget(m, "content"));
        } else if (!strcmp(role, "user")) {
            struct json_object *blocks = jnew_arr();

            rc = add_content_blocks(cv, jget(m, "content"), blocks, 1, param);
            if (rc == 0)
                add_turn(cv, "user", blocks);
            else
                json_object_put(blocks);
        } else if (!strcmp(role, "assistant")) {
            rc = conv_assistant(cv, m, param);
        } else if (!strcmp(role, "tool")) {
            rc = conv_tool_result(cv, m, jstr(m, "tool_call_id"), param);
        } else if (!strcmp(role, "function")) {
            rc = conv_tool_result(cv, m, cv->fn_call_id, param);
        } else {
            return bad_request(cv, param,
                               arena_printf(cv->ctx->a, "unsupported role \"%s\"", role));
        }
        if (rc != 0)
            return -1;
    }
    if (!json_object_array_length(cv->msgs)) {
        /* Only system text: Anthropic needs a user turn to answer. */
        struct json_object *ph = jnew_arr();

        add_text_block(ph, CLAUDE_PLACEHOLDER, strlen(CLAUDE_PLACEHOLDER));
        json_object_array_add(cv->msgs, new_turn("user", ph));
    }
    return 0;
}

/* One OpenAI function definition -> one Anthropic tool, the whole schema kept. */
static int add_tool(struct conv *cv, struct json_object *tools, struct json_object *fn)
{
    struct json_object *t, *schema = jget(fn, "parameters");
    const char *name = jstr(fn, "name"), *desc = jstr(fn, "description");

    if (!name || !*name)
        return bad_request(cv, "tools", "tool function without a name");
    t = jnew_obj();
    json_object_object_add(t, "name", json_object_new_string(name));
    if (desc && *desc)
        json_object_object_add(t, "description", json_object_new_string(desc));
    if (json_object_is_type(schema, json_type_object)) {
        schema = jcopy(schema);
    } else {
        /* input_schema is required; a function without parameters takes an empty object. */
        schema = jnew_obj();
        json_object_object_add(schema, "type", json_object_new_string("object"));
        json_object_object_add(schema, "properties", jnew_obj());
    }
    json_object_object_add(t, "input_schema", schema);
    json_object_array_add(tools, t);
    return 0;
}

/* tool_choice (or legacy function_call) -> Anthropic tool_choice; NULL with err on bad input. */
static struct json_object *conv_tool_choice(struct conv *cv)
{
    struct json_object *req = cv->ctx->req, *tc = jget(req, "tool_choice"), *par, *out;
    const char *type = "auto", *name = NULL;

    if (!tc || json_object_is_type(tc, json_type_null))
        tc = jget(req, "function_call");
    if (json_object_is_type(tc, json_type_string)) {
        const char *s = json_object_get_string(tc);

        if (!strcmp(s, "required") || !strcmp(s, "any"))
            type = "any";
        else if (!strcmp(s, "none"))
            type = "none";
        else if (strcmp(s, "auto") != 0) {
            bad_request(cv, "tool_choice", "tool_choice must be auto, none, required or a tool");
            return NULL;
        }
    } else if (json_object_is_type(tc, json_type_object)) {
        /* {"type":"function","function":{"name":X}}, or legacy {"name":X}. */
        name = jstr(jget(tc, "function"), "name");
        if (!name)
            name = jstr(tc, "name");
        if (!name || !*name) {
            bad_request(cv, "tool_choice", "tool_choice names no function");
            return NULL;
        }
        type = "tool";
    }
    out = jnew_obj();
    json_object_object_add(out, "type", json_object_new_string(type));
    if (name)
        json_object_object_add(out, "name", json_object_new_string(name));
    par = jget(req, "parallel_tool_calls");
    if (json_object_is_type(par, json_type_boolean) && !json_object_get_boolean(par) &&
        strcmp(type, "none") != 0)
        json_object_object_add(out, "disable_parallel_tool_use", json_object_new_boolean(1));
    return out;
}

static int conv_tools(struct conv *cv, struct json_object *body)
{
    struct json_object *req = cv->ctx->req, *tools = jnew_arr(), *list, *choice;

    list = jget(req, "tools");
    for (size_t i = 0;
         json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++) {
        struct json_object *t = json_object_array_get_idx(list, i);
        const char *type = jstr(t, "type");

        /* Only function tools have an Anthropic form; others (custom, hosted) are skipped. */
        if (type && strcmp(type, "function") != 0)
            continue;
        if (add_tool(cv, tools, jget(t, "function")) != 0)
            goto fail;
    }
    list = jget(req, "functions");
    for (size_t i = 0;
         json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++)
        if (add_tool(cv, tools, json_object_array_get_idx(list, i)) != 0)
            goto fail;
    if (!json_object_array_length(tools)) {
        json_object_put(tools);
        return 0;
    }
    choice = conv_tool_choice(cv);
    if (!choice)
        goto fail;
    json_object_object_add(body, "tools", tools);
    json_object_object_add(body, "tool_choice", choice);
    return 0;
fail:
    json_object_put(tools);
    return -1;
}

/* The model sent upstream: one-api's aliases for retired names, else ctx->model. */
static const char *upstream_model(const char *model)
{
    if (!strcmp(model, "claude-instant-1"))
        return "claude-instant-1.1";
    if (!strcmp(model, "claude-2"))
        return "claude-2.1";
    return model;
}

/* The sampling and limit fields: max_tokens, temperature, top_p, top_k, stop, stream, user. */
static void conv_params(struct conv *cv, struct json_object *body)
{
    struct json_object *req = cv->ctx->req, *v;
    int64_t max_tokens = CLAUDE_DEFAULT_MAX_TOKENS;

    if (jis_num(v = jget(req, "max_completion_tokens")) && json_object_get_int64(v) > 0)
        max_tokens = json_object_get_int64(v);
    else if (jis_num(v = jget(req, "max_tokens")) && json_object_get_int64(v) > 0)
        max_tokens = json_object_get_int64(v);
    json_object_object_add(body, "max_tokens", json_object_new_int64(max_tokens));
    if (jis_num(v = jget(req, "temperature"))) {
        /* Anthropic takes 0..1 where OpenAI takes 0..2: clamp instead of a certain upstream 400. */
        double t = json_object_get_double(v);

        if (t > 1.0)
            json_object_object_add(body, "temperature", json_object_new_double(1.0));
        else if (t < 0.0)
            json_object_object_add(body, "temperature", json_object_new_double(0.0));
        else
            json_object_object_add(body, "temperature", jcopy(v));
    }
    if (jis_num(v = jget(req, "top_p")))
        json_object_object_add(body, "top_p", jcopy(v));
    if (json_object_is_type(v = jget(req, "top_k"), json_type_int))
        json_object_object_add(body, "top_k", jcopy(v));
    struct json_object *stops = jnew_arr();
    v = jget(req, "stop");
    if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v))
        json_object_array_add(stops, jcopy(v));
    for (size_t i = 0; json_object_is_type(v, json_type_array) && i < json_object_array_length(v);
         i++) {
        struct json_object *s = json_object_array_get_idx(v, i);

        if (json_object_is_type(s, json_type_string) && json_object_get_string_len(s))
            json_object_array_add(stops, jcopy(s));
    }
    if (json_object_array_length(stops))
        json_object_object_add(body, "stop_sequences", stops);
    else
        json_object_put(stops);
    if (cv->ctx->is_stream)
        json_object_object_add(body, "stream", json_object_new_boolean(1));
    const char *user = jstr(req, "user");
    if (user && *user) {
        struct json_object *meta = jnew_obj();

        json_object_object_add(meta, "user_id", json_object_new_string(user));
        json_object_object_add(body, "metadata", meta);
    }
}

int claude_body_new(struct prov_ctx *ctx, struct prov_error *err, struct json_object **body)
{
    struct conv cv = {.ctx = ctx, .err = err};

    *body = NULL;
    if (ctx->mode != RELAY_CHAT)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", NULL,
                         "this relay mode is not supported by this channel");
    if (!json_object_is_type(ctx->req, json_type_object))
        return bad_request(&cv, NULL, "the request body must be a JSON object");
    struct json_object *v = jget(ctx->req, "n");
    if (jis_num(v) && json_object_get_int64(v) > 1)
        return bad_request(&cv, "n", "n > 1 is not supported by this channel");

    sb_init(&cv.system, ctx->a);
    cv.msgs = jnew_arr();
    if (conv_messages(&cv) != 0) {
        json_object_put(cv.msgs);
        return -1;
    }
    struct json_object *b = jnew_obj();
    json_object_object_add(b, "model",
                           json_object_new_string(upstream_model(ctx->model ? ctx->model : "")));
    if (cv.system.len)
        json_object_object_add(b, "system",
                               json_object_new_string_len(cv.system.p, (int)cv.system.len));
    conv_params(&cv, b);
    if (conv_tools(&cv, b) != 0) {
        json_object_put(cv.msgs);
        json_object_put(b);
        return -1;
    }
    json_object_object_add(b, "messages", cv.msgs);
    *body = b;
    return 0;
}

static int claude_build_request(struct prov_ctx *ctx, struct prov_request *out,
                                struct prov_error *err)
{
    const char *base =
        ctx->ch->base_url && *ctx->ch->base_url ? ctx->ch->base_url : CLAUDE_BASE_URL;
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    struct json_object *body;

    if (claude_body_new(ctx, err, &body) != 0)
        return -1;
    /* A line break in the key would smuggle extra headers into the upstream request. */
    if (strpbrk(key, "\r\n")) {
        json_object_put(body);
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key contains a line break");
    }
    out->url = arena_printf(ctx->a, "%s/v1/messages", base);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "x-api-key: %s", key);
    /* The client's version when it names one, as One API does. */
    const char *ver = ctx->anthropic_version;
    out->headers[out->n_headers++] =
        arena_printf(ctx->a, "anthropic-version: %s",
                     ver && *ver && !strpbrk(ver, "\r\n") ? ver : CLAUDE_VERSION);
    /* The client's betas reach Anthropic; One API's fixed ones are obsolete and not sent
     * (docs/compatibility.md). */
    const char *beta = ctx->anthropic_beta;
    if (beta && *beta && !strpbrk(beta, "\r\n"))
        out->headers[out->n_headers++] = arena_printf(ctx->a, "anthropic-beta: %s", beta);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    if (ctx->is_stream)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    return 0;
}

/* --- errors --- */

/* Fills err from an Anthropic (or OpenAI-shaped) error object; 0 when it held a message. */
static int error_from_json(struct prov_ctx *ctx, struct json_object *o, int status,
                           struct prov_error *err)
{
    struct json_object *e = jget(o, "error");
    const char *msg = NULL, *type = NULL, *code = NULL, *param = NULL;

    if (json_object_is_type(e, json_type_object)) {
        msg = jstr(e, "message");
        type = jstr(e, "type");
        code = jstr(e, "code");
        param = jstr(e, "param");
    } else if (json_object_is_type(e, json_type_string)) {
        msg = json_object_get_string(e);
    }
    if (!msg || !*msg)
        msg = prov_error_message(o);
    if (!msg)
        return -1;
    if (!type || !*type)
        type = "upstream_error";
    /* Anthropic has no code: its type is the stable identifier clients can switch on. */
    if (!code || !*code)
        code = type;
    prov_fail(err, status, arena_strdup(ctx->a, type), arena_strdup(ctx->a, code),
              param ? arena_strdup(ctx->a, param) : NULL, arena_strdup(ctx->a, msg));
    return 0;
}

static void claude_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                               struct prov_error *err)
{
    struct json_object *o = prov_parse_object(body, n);
    int rc = json_object_is_type(o, json_type_object) ? error_from_json(ctx, o, status, err) : -1;

    json_object_put(o);
    if (rc != 0)
        prov_fail_status(err, ctx->a, status);
}

static int bad_upstream_json(struct prov_error *err)
{
    return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                     "the upstream answered with malformed JSON");
}

/* --- non-stream response --- */

/* Reads Anthropic usage into prompt/completion counts. prompt includes the cache tokens,
 * as OpenAI's prompt_tokens includes cached ones (one-api counted input_tokens only). */
static void usage_fill(struct prov_ctx *ctx, int64_t in, int64_t cache_write, int64_t cache_read,
                       int64_t out)
{
    ctx->usage.prompt_tokens = in + cache_write + cache_read;
    ctx->usage.completion_tokens = out;
    ctx->usage.has_usage = 1;
}

/* OpenAI's usage object for the current ctx->usage, with the cache reads as cached tokens. */
static struct json_object *usage_json(const struct prov_ctx *ctx, int64_t cache_read)
{
    return prov_usage_new(&ctx->usage, 0, cache_read, 0);
}

/* The model named in answers: what the client asked for, else the upstream's. */
static const char *answer_model(const struct prov_ctx *ctx, const char *upstream)
{
    if (ctx->origin_model && *ctx->origin_model)
        return ctx->origin_model;
    if (upstream && *upstream)
        return upstream;
    return ctx->model ? ctx->model : "";
}

/* Appends the tool call of a tool_use block to calls, and its arguments to ctx->text. */
static void add_tool_call(struct prov_ctx *ctx, struct json_object *calls, struct json_object *b)
{
    struct json_object *input = jget(b, "input");
    const char *args = input ? jdump(ctx->a, input, NULL) : "{}";

    json_object_array_add(calls, prov_tool_call_new(-1, jstr(b, "id"), jstr(b, "name"), args));
    sb_puts(&ctx->text, args);
}

static int claude_parse_response(struct prov_ctx *ctx, const char *body, size_t n,
                                 struct strbuf *out, struct prov_error *err)
{
    struct json_object *in = prov_parse_object(body, n);

    if (!in)
        return bad_upstream_json(err);
    const char *type = jstr(in, "type");
    if (type && !strcmp(type, "error")) {
        if (error_from_json(ctx, in, status_of_type(jstr(jget(in, "error"), "type")), err) != 0)
            bad_upstream_json(err);
        json_object_put(in);
        return -1;
    }
    struct strbuf text, thinking;
    sb_init(&text, ctx->a);
    sb_init(&thinking, ctx->a);
    struct json_object *calls = jnew_arr(), *content = jget(in, "content");
    for (size_t i = 0;
         json_object_is_type(content, json_type_array) && i < json_object_array_length(content);
         i++) {
        struct json_object *b = json_object_array_get_idx(content, i), *t;
        const char *bt = jstr(b, "type");

        if (!bt)
            continue;
        /* All text blocks, not just content[0] as one-api does (a thinking block may lead). */
        if (!strcmp(bt, "text") && json_object_is_type(t = jget(b, "text"), json_type_string))
            sb_putn(&text, json_object_get_string(t), (size_t)json_object_get_string_len(t));
        else if (!strcmp(bt, "thinking") &&
                 json_object_is_type(t = jget(b, "thinking"), json_type_string))
            sb_putn(&thinking, json_object_get_string(t), (size_t)json_object_get_string_len(t));
        else if (!strcmp(bt, "tool_use"))
            add_tool_call(ctx, calls, b);
    }
    sb_putn(&ctx->text, thinking.p ? thinking.p : "", thinking.len);
    sb_putn(&ctx->text, text.p ? text.p : "", text.len);

    const char *id = jstr(in, "id");
    struct json_object *choices;
    struct json_object *res = prov_completion_new(
        arena_printf(ctx->a, "chatcmpl-%s", id ? id : (ctx->request_id ? ctx->request_id : "")),
        ctx->created, answer_model(ctx, jstr(in, "model")), &choices);
    json_object_array_add(choices, prov_choice_new(0, "message",
                                                   prov_message_new(text.p, text.len, thinking.p,
                                                                    thinking.len, calls),
                                                   map_finish(jstr(in, "stop_reason"))));
    struct json_object *usage = jget(in, "usage");
    if (json_object_is_type(usage, json_type_object)) {
        int64_t cache_read = jint(usage, "cache_read_input_tokens");

        usage_fill(ctx, jint(usage, "input_tokens"), jint(usage, "cache_creation_input_tokens"),
                   cache_read, jint(usage, "output_tokens"));
        json_object_object_add(res, "usage", usage_json(ctx, cache_read));
    }
    jput(out, res);
    json_object_put(res);
    json_object_put(in);
    return 0;
}

/* --- streaming --- */

static struct claude_stream *stream_state(struct prov_ctx *ctx)
{
    struct claude_stream *st = ctx->state;

    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    /* Until message_start names the message, chunks need some stable id. */
    st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
    st->chunk.model = answer_model(ctx, NULL);
    st->chunk.created = ctx->created;
    ctx->state = st;
    return st;
}

/* The state of content block index, or NULL when the index is out of range. */
static struct claude_block *stream_block(struct prov_ctx *ctx, struct claude_stream *st,
                                         int64_t index)
{
    if (index < 0 || index >= CLAUDE_MAX_BLOCKS)
        return NULL;
    if (index >= st->n_blocks) {
        int n = (int)index + 8 < CLAUDE_MAX_BLOCKS ? (int)index + 8 : CLAUDE_MAX_BLOCKS;
        struct claude_block *b = arena_alloc(ctx->a, (size_t)n * sizeof *b);

        if (st->n_blocks)
            memcpy(b, st->blocks, (size_t)st->n_blocks * sizeof *b);
        for (int i = st->n_blocks; i < n; i++) {
            b[i].tool = -1;
            b[i].has_args = 0;
        }
        st->blocks = b;
        st->n_blocks = n;
    }
    return &st->blocks[index];
}

/* A chunk whose delta is head, s as a JSON string, then tail; s also goes to ctx->text. */
static void emit_string(struct prov_ctx *ctx, struct claude_stream *st, struct strbuf *out,
                        const char *head, const char *s, size_t n, const char *tail)
{
    prov_chunk_open(out, &st->chunk, 0);
    sb_puts(out, head);
    sb_json_strn(out, s, n);
    sb_puts(out, tail);
    prov_chunk_close(out, &st->chunk, NULL);
    sb_putn(&ctx->text, s, n);
}

/* A chunk whose delta is head (`{"content":` or `{"reasoning_content":`) t } when t is a
 * non-empty string. */
static void emit_text(struct prov_ctx *ctx, struct claude_stream *st, struct strbuf *out,
                      const char *head, struct json_object *t)
{
    if (json_object_is_type(t, json_type_string) && json_object_get_string_len(t))
        emit_string(ctx, st, out, head, json_object_get_string(t),
                    (size_t)json_object_get_string_len(t), "}");
}

/* A tool-call arguments fragment for OpenAI tool index k. */
static void emit_args(struct prov_ctx *ctx, struct claude_stream *st, struct strbuf *out, int k,
                      const char *s, size_t n)
{
    char head[64];

    snprintf(head, sizeof head, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":", k);
    emit_string(ctx, st, out, head, s, n, "}}]}");
}

/* Records a usage report. has_usage waits for message_delta (is_final): message_start's
 * output count is a placeholder, and a stream cut before the end is better billed by the
 * core's count of the text than by that 1. */
static void stream_usage(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *u,
                         int is_final)
{
    /* Each field replaces the last report of the same field: Anthropic's counts are
     * cumulative, and summing message_start's output with message_delta's over-counts. */
    if (jget(u, "input_tokens"))
        st->input_tokens = jint(u, "input_tokens");
    if (jget(u, "cache_creation_input_tokens"))
        st->cache_write_tokens = jint(u, "cache_creation_input_tokens");
    if (jget(u, "cache_read_input_tokens"))
        st->cache_read_tokens = jint(u, "cache_read_input_tokens");
    if (jget(u, "output_tokens"))
        st->output_tokens = jint(u, "output_tokens");
    usage_fill(ctx, st->input_tokens, st->cache_write_tokens, st->cache_read_tokens,
               st->output_tokens);
    ctx->usage.has_usage = is_final || st->has_final_usage;
    st->has_final_usage = ctx->usage.has_usage;
}

static void on_message_start(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *ev,
                             struct strbuf *out)
{
    struct json_object *m = jget(ev, "message"), *u = jget(m, "usage");
    const char *id = jstr(m, "id");

    if (id && *id)
        st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s", id);
    st->chunk.model = answer_model(ctx, jstr(m, "model"));
    if (json_object_is_type(u, json_type_object))
        stream_usage(ctx, st, u, 0);
    prov_chunk_open(out, &st->chunk, 0);
    SB_LIT(out, "{\"role\":\"assistant\",\"content\":\"\"}");
    prov_chunk_close(out, &st->chunk, NULL);
}

static void on_block_start(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *ev,
                           struct strbuf *out)
{
    struct json_object *cb = jget(ev, "content_block");
    struct claude_block *blk = stream_block(ctx, st, jint(ev, "index"));
    const char *type = jstr(cb, "type"), *id = jstr(cb, "id"), *name = jstr(cb, "name");

    if (!type)
        return;
    if (!strcmp(type, "text")) {
        emit_text(ctx, st, out, "{\"content\":", jget(cb, "text"));
    } else if (!strcmp(type, "thinking")) {
        emit_text(ctx, st, out, "{\"reasoning_content\":", jget(cb, "thinking"));
    } else if (!strcmp(type, "tool_use") && blk) {
        blk->tool = st->n_tools++;
        blk->has_args = 0;
        /* id, type and name only on the first fragment; index on every one, as OpenAI does. */
        prov_chunk_open(out, &st->chunk, 0);
        sb_printf(out, "{\"tool_calls\":[{\"index\":%d,\"id\":", blk->tool);
        sb_json_str(out, id ? id : "");
        SB_LIT(out, ",\"type\":\"function\",\"function\":{\"name\":");
        sb_json_str(out, name ? name : "");
        SB_LIT(out, ",\"arguments\":\"\"}}]}");
        prov_chunk_close(out, &st->chunk, NULL);
    }
}

static void on_block_delta(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *ev,
                           struct strbuf *out)
{
    struct json_object *d = jget(ev, "delta"), *t;
    struct claude_block *blk = stream_block(ctx, st, jint(ev, "index"));
    const char *type = jstr(d, "type");

    if (!type)
        return;
    if (!strcmp(type, "text_delta")) {
        emit_text(ctx, st, out, "{\"content\":", jget(d, "text"));
    } else if (!strcmp(type, "thinking_delta")) {
        emit_text(ctx, st, out, "{\"reasoning_content\":", jget(d, "thinking"));
    } else if (!strcmp(type, "input_json_delta") && blk && blk->tool >= 0 &&
               json_object_is_type(t = jget(d, "partial_json"), json_type_string) &&
               json_object_get_string_len(t)) {
        blk->has_args = 1;
        emit_args(ctx, st, out, blk->tool, json_object_get_string(t),
                  (size_t)json_object_get_string_len(t));
    }
}

static void on_block_stop(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *ev,
                          struct strbuf *out)
{
    struct claude_block *blk = stream_block(ctx, st, jint(ev, "index"));

    /* A call without arguments would leave the client with "", which no JSON parser
     * accepts; OpenAI sends "{}" for such calls. */
    if (blk && blk->tool >= 0 && !blk->has_args) {
        blk->has_args = 1;
        emit_args(ctx, st, out, blk->tool, "{}", 2);
    }
}

static void emit_finish(struct claude_stream *st, struct strbuf *out, const char *stop_reason)
{
    prov_chunk_open(out, &st->chunk, 0);
    SB_LIT(out, "{}");
    prov_chunk_close(out, &st->chunk, map_finish(stop_reason));
    st->is_finish_sent = 1;
}

static void on_message_delta(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *ev,
                             struct strbuf *out)
{
    struct json_object *u = jget(ev, "usage");
    const char *stop_reason = jstr(jget(ev, "delta"), "stop_reason");

    if (json_object_is_type(u, json_type_object))
        stream_usage(ctx, st, u, 1);
    if (stop_reason && !st->is_finish_sent)
        emit_finish(st, out, stop_reason);
}

static void on_message_stop(struct prov_ctx *ctx, struct claude_stream *st, struct json_object *ev,
                            struct strbuf *out)
{
    /* Bedrock closes its streams with the counts it bills: the authoritative usage. */
    struct json_object *m = jget(ev, "amazon-bedrock-invocationMetrics");
    if (json_object_is_type(m, json_type_object) && jget(m, "inputTokenCount") &&
        jget(m, "outputTokenCount")) {
        st->input_tokens = jint(m, "inputTokenCount");
        st->output_tokens = jint(m, "outputTokenCount");
        usage_fill(ctx, st->input_tokens, st->cache_write_tokens, st->cache_read_tokens,
                   st->output_tokens);
        st->has_final_usage = 1;
    }
    /* Clients wait for a finish_reason; give one even if message_delta named none. */
    if (!st->is_finish_sent)
        emit_finish(st, out, NULL);
    if (ctx->include_usage) {
        struct json_object *u = usage_json(ctx, st->cache_read_tokens);

        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
    ctx->finished = 1;
}

static int claude_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                              struct strbuf *out, struct prov_error *err)
{
    struct claude_stream *st = stream_state(ctx);

    if (!data || is_blank(data, n))
        return 0;
    if (n == 6 && !memcmp(data, "[DONE]", 6)) {
        /* Not Anthropic's, but some relays in front of it add one. */
        ctx->finished = 1;
        return 0;
    }
    struct json_object *ev = prov_parse_object(data, n);
    if (!ev)
        return bad_upstream_json(err);
    /* The data's type is authoritative; the event: line only repeats it. */
    const char *type = jstr(ev, "type");
    if (!type)
        type = event ? event : "";
    if (!strcmp(type, "message_start")) {
        on_message_start(ctx, st, ev, out);
    } else if (!strcmp(type, "content_block_start")) {
        on_block_start(ctx, st, ev, out);
    } else if (!strcmp(type, "content_block_delta")) {
        on_block_delta(ctx, st, ev, out);
    } else if (!strcmp(type, "content_block_stop")) {
        on_block_stop(ctx, st, ev, out);
    } else if (!strcmp(type, "message_delta")) {
        on_message_delta(ctx, st, ev, out);
    } else if (!strcmp(type, "message_stop")) {
        on_message_stop(ctx, st, ev, out);
    } else if (!strcmp(type, "error")) {
        if (error_from_json(ctx, ev, status_of_type(jstr(jget(ev, "error"), "type")), err) != 0)
            prov_fail(err, 500, "upstream_error", NULL, NULL, "the upstream stream failed");
        json_object_put(ev);
        return -1;
    }
    /* ping and event types newer than this adaptor carry nothing for the client. */
    json_object_put(ev);
    return 0;
}

const struct provider provider_claude = {
    .name = "anthropic",
    .build_request = claude_build_request,
    .parse_response = claude_parse_response,
    .parse_event = claude_parse_event,
    .parse_error = claude_parse_error,
    .needs_inline_images = 1, /* the core turns image URLs into data: URLs */
};
