/* count: prompt tokens as One API counts them: chat messages (text and image parts),
 * completion prompts and embedding inputs, and images by their tiles. */
#include "config.h"
#include "handlers/relay/count.h"
#include "fcgi/imagesize.h"
#include "fcgi/json.h"
#include "providers/tiktoken.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* OpenAI's image prices in tokens; gpt-4o-mini* is billed at its own, higher rates. */
#define IMG_LOW_COST 85
#define IMG_TILE_COST 170
#define IMG_BASE_COST 85
#define IMG_MINI_LOW_COST 2833
#define IMG_MINI_TILE_COST 5667
#define IMG_MINI_BASE_COST 2833

static bool is_mini(const char *model)
{
    return model && strncmp(model, "gpt-4o-mini", 11) == 0;
}

/* True for a model of the o200k_base generation. */
static bool is_o200k_model(const char *m)
{
    static const char *const prefixes[] = {"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5"};
    static const char *const series[] = {"o1", "o3", "o4"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(m, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    /* "o1" or "o1-…", not any name that happens to start with the letters. */
    for (size_t i = 0; i < sizeof series / sizeof *series; i++)
        if (strncmp(m, series[i], 2) == 0 && (m[2] == '\0' || m[2] == '-'))
            return true;
    return false;
}

const struct tiktoken *count_pick_encoder(const char *model, const struct tiktoken *cl100k,
                                          const struct tiktoken *o200k)
{
    bool want_o200k = model && is_o200k_model(model);
    if (want_o200k)
        return o200k ? o200k : cl100k;
    return cl100k ? cl100k : o200k;
}

int64_t count_text(const struct tiktoken *enc, const char *text, size_t len,
                   const struct count_opts *opts)
{
    if (!text || !len)
        return 0;
    if (opts && opts->is_approximate)
        return (int64_t)((double)len * 0.38); /* below 2^63 for any size_t */
    if (enc)
        return (int64_t)tiktoken_count(enc, text, len);
    /* No rank files: about four bytes per token for English, rounded up. */
    return (int64_t)(len / 4 + (len % 4 != 0));
}

static int64_t count_json_str(const struct tiktoken *enc, json_object *s,
                              const struct count_opts *opts)
{
    if (!json_object_is_type(s, json_type_string))
        return 0;
    return count_text(enc, json_object_get_string(s), (size_t)json_object_get_string_len(s), opts);
}

int64_t count_image_tile_tokens(int w, int h, const char *model)
{
    if (w < 0)
        w = 0;
    if (h < 0)
        h = 0;
    /* Same float steps and truncations as One API. */
    if (w > 2048 || h > 2048) {
        double r = 2048.0 / fmax(w, h);
        w = (int)(w * r);
        h = (int)(h * r);
    }
    if (w > 768 && h > 768) {
        double r = 768.0 / fmin(w, h);
        w = (int)(w * r);
        h = (int)(h * r);
    }
    int64_t tiles = (int64_t)(ceil(w / 512.0) * ceil(h / 512.0));
    if (is_mini(model))
        return tiles * IMG_MINI_TILE_COST + IMG_MINI_BASE_COST;
    return tiles * IMG_TILE_COST + IMG_BASE_COST;
}

int count_image_tokens(const char *url, const char *detail, const char *model,
                       const struct count_opts *opts, int64_t *tokens)
{
    int64_t low = is_mini(model) ? IMG_MINI_LOW_COST : IMG_LOW_COST;
    int w = 0, h = 0;
    *tokens = 0;
    /* One API measured "auto" to behave as "high". */
    if (detail && *detail && strcmp(detail, "auto") != 0) {
        if (strcmp(detail, "low") == 0) {
            *tokens = low;
            return 0;
        }
        if (strcmp(detail, "high") != 0)
            return -1;
    }
    if (!url)
        return -1;
    if (strncasecmp(url, "data:", 5) == 0) {
        if (imagesize_data_url(url, &w, &h) != 0)
            return -1;
    } else if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        /* This module does no network I/O; without a fetcher the fixed part is charged. */
        if (!opts || !opts->fetch_image_size) {
            *tokens = low;
            return 0;
        }
        if (opts->fetch_image_size(opts->fetch_ud, url, &w, &h) != 0)
            return -1;
    } else {
        return -1;
    }
    *tokens = count_image_tile_tokens(w, h, model);
    return 0;
}

/* Tokens of a content array: text parts and image_url parts; other parts count 0. */
static int64_t count_parts(const struct tiktoken *enc, json_object *parts, const char *model,
                           const struct count_opts *opts)
{
    int64_t total = 0;
    size_t n = json_object_array_length(parts);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(parts, i);
        json_object *type = jget(part, "type");
        if (!json_object_is_type(type, json_type_string))
            continue;
        const char *t = json_object_get_string(type);
        if (strcmp(t, "text") == 0) {
            total += count_json_str(enc, jget(part, "text"), opts);
        } else if (strcmp(t, "image_url") == 0) {
            json_object *iu = jget(part, "image_url");
            json_object *url = jget(iu, "url"), *detail = jget(iu, "detail");
            int64_t tokens;
            if (!json_object_is_type(url, json_type_string))
                continue;
            /* A failed image counts 0, as in One API (which only logs it). */
            if (count_image_tokens(json_object_get_string(url),
                                   json_object_is_type(detail, json_type_string)
                                       ? json_object_get_string(detail)
                                       : NULL,
                                   model, opts, &tokens) == 0)
                total += tokens;
        }
    }
    return total;
}

int64_t count_chat_prompt(const struct tiktoken *enc, struct json_object *messages,
                          const char *model, const struct count_opts *opts)
{
    /* gpt-3.5-turbo-0301 framed messages differently: a name replaced the role. */
    bool is_0301 = model && strcmp(model, "gpt-3.5-turbo-0301") == 0;
    int64_t per_message = is_0301 ? 4 : 3, per_name = is_0301 ? -1 : 1;
    int64_t total = 0;
    size_t n =
        json_object_is_type(messages, json_type_array) ? json_object_array_length(messages) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(messages, i);
        if (!json_object_is_type(msg, json_type_object))
            continue;
        total += per_message;
        json_object *content = jget(msg, "content");
        if (json_object_is_type(content, json_type_string))
            total += count_json_str(enc, content, opts);
        else if (json_object_is_type(content, json_type_array))
            total += count_parts(enc, content, model, opts);
        total += count_json_str(enc, jget(msg, "role"), opts);
        json_object *name = jget(msg, "name");
        if (json_object_is_type(name, json_type_string))
            total += per_name + count_json_str(enc, name, opts);
    }
    return total + 3; /* every reply is primed with <|start|>assistant<|message|> */
}

static int64_t count_input_at(const struct tiktoken *enc, json_object *in, int depth,
                              const struct count_opts *opts)
{
    switch (json_object_get_type(in)) {
    case json_type_string: return count_json_str(enc, in, opts);
    case json_type_int: return depth > 0; /* a token id inside a pre-tokenised prompt */
    case json_type_object: return count_json_str(enc, jget(in, "text"), opts);
    case json_type_array: {
        /* Two levels: ["a","b"], [1,2,3] and [[1,2],[3]] are all valid prompts. */
        if (depth > 1)
            return 0;
        int64_t total = 0;
        size_t n = json_object_array_length(in);
        for (size_t i = 0; i < n; i++)
            total += count_input_at(enc, json_object_array_get_idx(in, i), depth + 1, opts);
        return total;
    }
    default: return 0;
    }
}

int64_t count_input(const struct tiktoken *enc, struct json_object *input,
                    const struct count_opts *opts)
{
    return count_input_at(enc, input, 0, opts);
}
