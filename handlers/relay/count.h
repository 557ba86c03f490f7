/* Prompt token counting: chat messages, prompts and inputs, and images, with the tokenizer
 * One API uses for each model. */
#ifndef OA_COUNT_H
#define OA_COUNT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pure module: no DB, no state; network only through the caller's fetch callback. */

struct json_object;
struct tiktoken;

/*
 * Remote image size callback: fetch url (http or https) and store its pixel size. Return 0 on
 * success; when the server answers but not with an "image/..." Content-Type, return 0 with
 * *w = *h = 0 (the image then costs the fixed base, as in One API); return non-zero on a
 * transport or decode error (the image then counts 0). Called on the request thread.
 */
typedef int (*count_fetch_image_size_fn)(void *ud, const char *url, int *w, int *h);

/* Counting options; a NULL pointer means all defaults (tokenizer, no remote fetching). */
struct count_opts {
    bool is_approximate;                        /* ApproximateTokenEnabled: int(bytes * 0.38) */
    count_fetch_image_size_fn fetch_image_size; /* NULL: a remote image costs the low-detail
                                                   fixed price (85, gpt-4o-mini 2833) */
    void *fetch_ud;                             /* passed to fetch_image_size */
};

/*
 * The encoder for a model: o200k_base for the gpt-4o, chatgpt-4o, gpt-4.1, gpt-4.5, gpt-5 and
 * o1/o3/o4 families, else cl100k_base. By name alone: One API used cl100k_base for names
 * missing from its ratio table (docs/compatibility.md). When the chosen one is NULL (rank
 * file missing) the other is returned; NULL when both are.
 */
const struct tiktoken *count_pick_encoder(const char *model, const struct tiktoken *cl100k,
                                          const struct tiktoken *o200k);

/*
 * Tokens of text[0..len): int(len * 0.38) when opts->is_approximate; tiktoken_count() with
 * enc; without an encoder (rank files missing) the estimate ceil(len / 4), so the gateway
 * keeps billing sensibly.
 */
int64_t count_text(const struct tiktoken *enc, const char *text, size_t len,
                   const struct count_opts *opts);

/*
 * Prompt tokens of a chat "messages" array as One API counts them: 3 per message (4 for
 * gpt-3.5-turbo-0301), content as a string or an array of text/image_url parts, the role, and
 * per name 1 (-1 for gpt-3.5-turbo-0301) plus its tokens; 3 for the reply priming. Tool calls
 * and tools are not counted. Elements of unexpected types count 0 rather than failing. model
 * is the actual (mapped) model. May call opts->fetch_image_size. Never fails.
 */
int64_t count_chat_prompt(const struct tiktoken *enc, struct json_object *messages,
                          const char *model, const struct count_opts *opts);

/*
 * Tokens of a completions "prompt" or an embeddings/moderations "input": a string; or an array
 * counted element by element (One API counts arrays as 0: docs/compatibility.md): strings,
 * token-id integers (1 each), arrays of token ids, and {"type":"text","text":...} parts. NULL
 * or other types count 0.
 */
int64_t count_input(const struct tiktoken *enc, struct json_object *input,
                    const struct count_opts *opts);

/*
 * Tokens of one image_url part: detail ""/NULL/"auto" is "high"; "low" costs 85
 * (gpt-4o-mini*: 2833); "high" needs the size: data:image/...;base64, URLs are decoded here,
 * http(s) URLs go to opts->fetch_image_size (NULL: the low cost). Returns 0 with *tokens set, or
 * -1 (unknown detail, bad data URL, fetch error, other scheme) when the image counts 0.
 */
int count_image_tokens(const char *url, const char *detail, const char *model,
                       const struct count_opts *opts, int64_t *tokens);

/*
 * OpenAI's high-detail tile formula for a w x h image: scale to fit 2048, then the short side
 * to 768 (truncating each time), tiles = ceil(w/512) * ceil(h/512), tokens = tiles * 170 + 85
 * (gpt-4o-mini*: tiles * 5667 + 2833).
 */
int64_t count_image_tile_tokens(int w, int h, const char *model);

#endif
