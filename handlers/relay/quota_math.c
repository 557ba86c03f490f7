/* quota_math: pre-consumption, settlement, image and audio quotas, and consume-log strings,
 * with One API's operation order and truncations. */
#include "config.h"
#include "handlers/relay/quota_math.h"
#include "fcgi/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Quota arithmetic                                                                            */

/* Go's int64(x) (truncation toward zero), saturating instead of undefined behaviour; NaN -> 0. */
static int64_t to_i64(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775808.0)
        return INT64_MAX;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return a > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

struct quota_math_pre quota_math_pre_consume(int64_t pre_consumed_quota, int64_t prompt_tokens,
                                             int64_t max_tokens, double ratio, int64_t user_quota)
{
    struct quota_math_pre p;
    int64_t tokens = sat_add(sat_add(pre_consumed_quota, prompt_tokens), max_tokens);
    p.estimate = to_i64((double)tokens * ratio);
    p.is_enough = user_quota >= p.estimate;
    int64_t hundredfold;
    p.is_trusted =
        !__builtin_mul_overflow(p.estimate, (int64_t)100, &hundredfold) && user_quota > hundredfold;
    return p;
}

int64_t quota_math_settle(int64_t prompt_tokens, int64_t completion_tokens, double completion_ratio,
                          double ratio)
{
    /* Same operation order as One API, so the double rounds identically. */
    double q = ((double)prompt_tokens + (double)completion_tokens * completion_ratio) * ratio;
    int64_t quota = to_i64(ceil(q));
    if (ratio != 0 && quota <= 0)
        quota = 1;
    if (sat_add(prompt_tokens, completion_tokens) == 0)
        quota = 0;
    return quota;
}

int64_t quota_math_audio_pre(int64_t pre_consumed_quota, double ratio)
{
    return to_i64((double)pre_consumed_quota * ratio);
}

int64_t quota_math_speech_quota(size_t input_len, double ratio)
{
    return to_i64((double)input_len * ratio);
}

/* One allowed size of an image model and its cost ratio. */
struct image_size {
    const char *size; /* "WxH" */
    double ratio;     /* size cost ratio */
};

/* One API's image table: the sizes, n and prompt length each model accepts. */
struct image_model {
    const char *model;              /* model name after mapping */
    const struct image_size *sizes; /* allowed sizes; NULL: any size, ratio 1 */
    size_t n_sizes;                 /* entries in sizes */
    int64_t n_min, n_max;           /* allowed n */
    size_t max_prompt;              /* longest prompt in bytes */
};

static const struct image_size sizes_dalle2[] = {
    {"256x256", 1}, {"512x512", 1.125}, {"1024x1024", 1.25}};
static const struct image_size sizes_dalle3[] = {
    {"1024x1024", 1}, {"1024x1792", 2}, {"1792x1024", 2}};
static const struct image_size sizes_ali_sd[] = {
    {"512x1024", 1}, {"1024x768", 1}, {"1024x1024", 1}, {"576x1024", 1}, {"1024x576", 1}};
static const struct image_size sizes_wanx[] = {{"1024x1024", 1}, {"720x1280", 1}, {"1280x720", 1}};
static const struct image_size sizes_step[] = {{"256x256", 1},   {"512x512", 1},  {"768x768", 1},
                                               {"1024x1024", 1}, {"1280x800", 1}, {"800x1280", 1}};

#define SIZES(a) a, sizeof a / sizeof *a
static const struct image_model image_models[] = {
    {"dall-e-2", SIZES(sizes_dalle2), 1, 10, 1000},
    {"dall-e-3", SIZES(sizes_dalle3), 1, 1, 4000},
    {"ali-stable-diffusion-xl", SIZES(sizes_ali_sd), 1, 4, 4000},
    {"ali-stable-diffusion-v1.5", SIZES(sizes_ali_sd), 1, 4, 4000},
    {"wanx-v1", SIZES(sizes_wanx), 1, 4, 4000},
    {"step-1x-medium", SIZES(sizes_step), 1, 1, 4000},
    {"cogview-3", NULL, 0, 1, 1, 833},
};
#undef SIZES

static const struct image_model *image_model_find(const char *model)
{
    for (size_t i = 0; i < sizeof image_models / sizeof *image_models; i++)
        if (model && strcmp(image_models[i].model, model) == 0)
            return &image_models[i];
    return NULL;
}

static const struct image_size *image_size_find(const struct image_model *im, const char *size)
{
    for (size_t i = 0; im && size && i < im->n_sizes; i++)
        if (strcmp(im->sizes[i].size, size) == 0)
            return &im->sizes[i];
    return NULL;
}

int quota_math_image_validate(const char *model, const char *prompt, const char *size, int64_t n,
                              const char **code, const char **message)
{
    const struct image_model *im = image_model_find(model);
    if (!prompt || !*prompt) {
        *code = "prompt_missing";
        *message = "prompt is required";
        return -1;
    }
    if (im && im->sizes && !image_size_find(im, size)) {
        *code = "size_not_supported";
        *message = "size not supported for this image model";
        return -1;
    }
    if (im && strlen(prompt) > im->max_prompt) {
        *code = "prompt_too_long";
        *message = "prompt is too long";
        return -1;
    }
    if (n < 1 || (im && (n < im->n_min || n > im->n_max))) {
        *code = "n_not_within_range";
        *message = "invalid value of n";
        return -1;
    }
    *code = NULL;
    *message = NULL;
    return 0;
}

double quota_math_image_cost_ratio(const char *model, const char *size, const char *quality)
{
    const struct image_size *s = image_size_find(image_model_find(model), size);
    double r = s ? s->ratio : 1;
    if (quality && strcmp(quality, "hd") == 0 && model && strcmp(model, "dall-e-3") == 0)
        r *= size && strcmp(size, "1024x1024") == 0 ? 2 : 1.5;
    return r;
}

int64_t quota_math_image_quota(double ratio, double cost_ratio, int64_t n)
{
    return sat_mul(to_i64(ratio * cost_ratio * 1000), n);
}

/* ------------------------------------------------------------------------------------------ */
/* Consume-log strings                                                                         */

/* "倍率：" is U+500D U+7387 U+FF1A (full-width colon) and "×" is U+00D7, all UTF-8 here. */
void quota_math_log_content(struct strbuf *sb, double model_ratio, double group_ratio,
                            double completion_ratio)
{
    sb_printf(sb, "倍率：%.2f × %.2f × %.2f", model_ratio, group_ratio, completion_ratio);
}

void quota_math_log_content_media(struct strbuf *sb, double model_ratio, double group_ratio)
{
    sb_printf(sb, "倍率：%.2f × %.2f", model_ratio, group_ratio);
}

void quota_math_log_quota(struct strbuf *sb, int64_t quota, bool is_currency, double quota_per_unit)
{
    if (!is_currency) {
        sb_printf(sb, "%lld 点额度", (long long)quota);
        return;
    }
    if (!(quota_per_unit > 0))
        quota_per_unit = 500000;
    /* "＄" is U+FF04 FULLWIDTH DOLLAR SIGN, as One API writes it. */
    sb_printf(sb, "＄%.6f 额度", (double)quota / quota_per_unit);
}
