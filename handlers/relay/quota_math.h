/* Quota arithmetic: the estimate reserved before a call, the settlement after it, the fixed
 * prices of images and audio, and the consume log's ratio and quota strings. */
#ifndef OA_QUOTA_MATH_H
#define OA_QUOTA_MATH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A pure module: no DB, no network, no state. Quota amounts are int64 "quota" units (500 000
 * per US$ by default); every formula keeps One API's operation order and truncations so that
 * results match it to the unit, and saturates where One API would overflow.
 */

struct strbuf;

/* The pre-consumption decision inputs; the caller applies them. */
struct quota_math_pre {
    int64_t estimate; /* floor((PreConsumedQuota + prompt + max_tokens) * ratio) */
    bool is_enough;   /* user_quota - estimate >= 0; false: 403 insufficient_user_quota */
    bool is_trusted;  /* user_quota > 100 * estimate: One API reserves 0 (its trust rule) */
};

/*
 * The pre-consumption estimate and checks (max_tokens 0 when absent). One API reserves
 * is_trusted ? 0 : estimate; both values are returned so the caller may also enforce the
 * token balance for trusted users. Sums saturate instead of overflowing.
 */
struct quota_math_pre quota_math_pre_consume(int64_t pre_consumed_quota, int64_t prompt_tokens,
                                             int64_t max_tokens, double ratio, int64_t user_quota);

/*
 * The settlement quota: ceil((prompt + completion * completion_ratio) * ratio), at least 1
 * when ratio != 0, and 0 when prompt + completion == 0. ratio is model x group ratio.
 */
int64_t quota_math_settle(int64_t prompt_tokens, int64_t completion_tokens, double completion_ratio,
                          double ratio);

/* Transcription/translation pre-consumption: int(PreConsumedQuota * ratio). */
int64_t quota_math_audio_pre(int64_t pre_consumed_quota, double ratio);

/* Longest speech input in bytes; longer is 400 text_too_long. */
#define QUOTA_MATH_SPEECH_MAX_INPUT 4096

/* Speech quota (both pre-consumption and final): int(input_len * ratio). */
int64_t quota_math_speech_quota(size_t input_len, double ratio);

/*
 * Validates an image request in One API's order (prompt, size, prompt length in bytes, n), on
 * the model after channel mapping. The caller applies the parse defaults first (n 0 -> 1,
 * size "" -> "1024x1024", model "" -> "dall-e-2"). n < 1 is rejected for every model: One API
 * let a negative n credit the user (docs/compatibility.md).
 * Returns 0 when valid; else -1 with *code (e.g. "size_not_supported") and *message (e.g.
 * "size not supported for this image model") set to static strings, all 400 errors.
 */
int quota_math_image_validate(const char *model, const char *prompt, const char *size, int64_t n,
                              const char **code, const char **message);

/* The size cost ratio of an image: the size table's ratio (default 1), for dall-e-3 with
 * quality "hd" x2 at 1024x1024 and x1.5 otherwise. quality may be NULL. */
double quota_math_image_cost_ratio(const char *model, const char *size, const char *quality);

/* Image quota: int(ratio * cost_ratio * 1000) * n (Replicate: pass n = 1). ratio is model x
 * group ratio. Saturates instead of overflowing. */
int64_t quota_math_image_quota(double ratio, double cost_ratio, int64_t n);

/* ---- Consume-log strings */

/*
 * Appends the text-relay consume-log content "倍率：%.2f × %.2f × %.2f" (model, group,
 * completion ratio) to sb. %.2f rounds the binary value correctly, as Go does, so 0.075
 * (really 0.07499999...) prints "0.07".
 */
void quota_math_log_content(struct strbuf *sb, double model_ratio, double group_ratio,
                            double completion_ratio);

/* Appends the image/audio consume-log content "倍率：%.2f × %.2f" (model, group ratio). */
void quota_math_log_content_media(struct strbuf *sb, double model_ratio, double group_ratio);

/*
 * Appends One API's LogQuota(quota) to sb: with is_currency "＄%.6f 额度" of
 * quota / quota_per_unit (U+FF04, e.g. "＄0.002000 额度"), else "%lld 点额度".
 * A non-positive quota_per_unit is taken as the default 500000.
 */
void quota_math_log_quota(struct strbuf *sb, int64_t quota, bool is_currency,
                          double quota_per_unit);

#endif
