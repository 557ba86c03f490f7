/* Pricing for the relay: the live ratio tables (options ModelRatio, CompletionRatio,
 * GroupRatio over the built-in defaults), the tokenizer, and the quota of a request. The
 * process-lifetime state over the pure ratio.c, count.c and quota_math.c. */
#ifndef OA_PRICING_H
#define OA_PRICING_H
#include <stddef.h>
#include <stdint.h>

#include "handlers/relay/count.h"
#include "providers/provider.h"

struct json_object;
struct options;
struct pricing;

/* What a request costs, decided before the upstream call. */
struct price {
    double model_ratio, group_ratio, completion_ratio; /* as priced */
    double ratio;                                      /* model_ratio * group_ratio */
    int64_t prompt_tokens;                             /* the local estimate */
    int64_t reserve;                                   /* quota reserved before the call */
    int64_t fixed_quota; /* images and speech: the whole charge, known up front; else -1 */
    int is_media;        /* log content of images and audio: two ratios */
};

/* Heap-owned; the tokenizer's rank files load on first use from tiktoken_dir (or
 * TIKTOKEN_CACHE_DIR / the install data dir when empty). Free with pricing_free. */
struct pricing *pricing_new(const char *tiktoken_dir);
void pricing_free(struct pricing *p);
/* Re-reads the ratio options (after a change of ModelRatio, CompletionRatio or GroupRatio);
 * cheap when their texts are those of the last call, which are not parsed again. Concurrent
 * calls are ordered, so the last to return has applied the options as they were then.
 * Invalid JSON keeps the previous tables (logged once per new text); 0, or -1 when the new
 * texts do not parse. */
int pricing_reload(struct pricing *p, struct options *o);
/* Prices a request of mode for the upstream model (after mapping) on a channel type; the
 * size of a remote image in a chat prompt comes from fetch (called with fetch_ud; NULL: such
 * an image costs the low-detail price). 0, or -1 for a request the rules refuse (image size,
 * speech length...) with a 400 error's code and message (static strings). */
int pricing_request(struct pricing *p, struct options *o, enum relay_mode mode, const char *model,
                    int channel_type, const char *group, struct json_object *req,
                    int64_t max_tokens, count_fetch_image_size_fn fetch, void *fetch_ud,
                    struct price *out, const char **code, const char **msg);
/* Tokens of generated text (for usage an upstream did not report). */
int64_t pricing_count_text(struct pricing *p, const char *model, const char *text, size_t n);
/* The final quota for the usage seen. */
int64_t pricing_settle_quota(const struct price *pr, int64_t prompt, int64_t completion);
/* The consume log's content text. */
void pricing_log_content(const struct price *pr, char *out, size_t n);

#endif
