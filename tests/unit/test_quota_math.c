/* Checks handlers/relay/quota_math.c: pre-consumption, settlement, image and audio quotas and
 * the consume-log strings. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fcgi/strbuf.h"
#include "handlers/relay/quota_math.h"
#include "handlers/relay/ratio.h"
#include "tap.h"

static void test_quota(void)
{
    note("quota arithmetic");
    /* A worked example: vip (1), gpt-4o-mini (0.075, completion 4 by fallback), 1200 + 300
     * tokens. */
    bool fb;
    double mr = ratio_model(NULL, "gpt-4o-mini", 1, &fb);
    double gr = ratio_group(NULL, "vip", NULL);
    double cr = ratio_completion(NULL, "gpt-4o-mini", 1);
    ok(mr == 0.075 && gr == 1 && cr == 4 && !fb, "worked example ratios");
    is_int(quota_math_settle(1200, 300, cr, mr * gr), 180, "worked example: 180 quota");
    is_int(quota_math_settle(0, 0, 4, 2.5), 0, "no tokens: 0");
    is_int(quota_math_settle(0, 5, 0, 2.5), 1, "positive ratio, zero cost: at least 1");
    is_int(quota_math_settle(100, 100, 1, 0), 0, "free model (ratio 0): 0");
    is_int(quota_math_settle(3, 0, 1, 2.5e-05), 1, "tiny Groq cost rounds up to 1");
    is_int(quota_math_settle(1000, 500, 2, 15), 30000, "gpt-4: (1000 + 500*2) * 15");
    is_int(quota_math_settle(1001, 0, 1, 0.075), 76, "ceil(75.075) = 76");

    struct quota_math_pre p = quota_math_pre_consume(500, 1000, 200, 2.5, 425000);
    is_int(p.estimate, 4250, "pre = (500 + 1000 + 200) * 2.5");
    ok(p.is_enough && !p.is_trusted, "425000 is enough but not > 100x");
    p = quota_math_pre_consume(500, 1000, 200, 2.5, 425001);
    ok(p.is_enough && p.is_trusted, "425001 > 100x: trusted (original reserves 0)");
    p = quota_math_pre_consume(500, 1000, 200, 2.5, 4249);
    ok(!p.is_enough && !p.is_trusted, "4249 < 4250: insufficient_user_quota");
    p = quota_math_pre_consume(500, 10, 0, 0.075, 0);
    is_int(p.estimate, 38, "floor(510 * 0.075) = 38");
    p = quota_math_pre_consume(INT64_MAX, INT64_MAX, 1, 4750, INT64_MAX);
    ok(p.estimate == INT64_MAX && p.is_enough && !p.is_trusted, "saturates, no overflow");

    is_int(quota_math_audio_pre(500, 15), 7500, "whisper pre = 500 * 15");
    is_int(quota_math_speech_quota(100, 15), 1500, "tts-1-hd: 100 bytes * 15");
    is_int(quota_math_speech_quota(3, 7.5), 22, "int(3 * 7.5) = 22");

    const char *code = NULL, *msg = NULL;
    is_int(quota_math_image_validate("dall-e-3", "a cat", "1024x1024", 1, &code, &msg), 0,
           "dall-e-3 1024x1024 n=1 valid");
    double ir = ratio_model(NULL, "dall-e-3", 1, NULL);
    is_int(
        quota_math_image_quota(ir * 1, quota_math_image_cost_ratio("dall-e-3", "1024x1024", ""), 1),
        20000, "dall-e-3 standard: 20 * 1 * 1000 = 20000 (US$0.04)");
    is_int(
        quota_math_image_quota(ir, quota_math_image_cost_ratio("dall-e-3", "1024x1024", "hd"), 1),
        40000, "dall-e-3 hd 1024x1024: 40000 (US$0.08)");
    is_int(
        quota_math_image_quota(ir, quota_math_image_cost_ratio("dall-e-3", "1792x1024", "hd"), 1),
        60000, "dall-e-3 hd 1792x1024: 20 * 2 * 1.5 * 1000");
    is_int(
        quota_math_image_quota(ir, quota_math_image_cost_ratio("dall-e-3", "1024x1792", NULL), 1),
        40000, "dall-e-3 standard 1024x1792: x2");
    is_int(quota_math_image_quota(10, quota_math_image_cost_ratio("dall-e-2", "512x512", "hd"), 2),
           22500, "dall-e-2 512x512 n=2: 10 * 1.125 * 1000 * 2 (hd only for dall-e-3)");
    ok(quota_math_image_cost_ratio("cogview-3", "999x999", NULL) == 1, "cogview-3: ratio 1");
    is_int(quota_math_image_quota(8, 1, 1), 8000, "replicate/ali: n passed as 1");

    static const struct {
        const char *model, *prompt, *size;
        int64_t n;
        const char *code; /* NULL: valid */
    } iv[] = {
        {"dall-e-3", "", "1024x1024", 1, "prompt_missing"},
        {"dall-e-3", "", "512x512", 5, "prompt_missing"},
        {"dall-e-3", "x", "512x512", 1, "size_not_supported"},
        {"dall-e-3", "x", "1024x1024", 2, "n_not_within_range"},
        {"dall-e-2", "x", "256x256", 10, NULL},
        {"dall-e-2", "x", "256x256", 11, "n_not_within_range"},
        {"dall-e-2", "x", "256x256", 0, "n_not_within_range"},
        {"wanx-v1", "x", "720x1280", 4, NULL},
        {"ali-stable-diffusion-xl", "x", "1024x576", 1, NULL},
        {"step-1x-medium", "x", "800x1280", 1, NULL},
        {"step-1x-medium", "x", "800x1280", 2, "n_not_within_range"},
        {"cogview-3", "x", "4096x4096", 1, NULL},
        {"cogview-3", "x", "1024x1024", 2, "n_not_within_range"},
        {"some-flux", "x", "13x13", 50, NULL},
        {"some-flux", "x", "13x13", -1, "n_not_within_range"},
    };
    for (size_t i = 0; i < sizeof iv / sizeof *iv; i++) {
        int rc =
            quota_math_image_validate(iv[i].model, iv[i].prompt, iv[i].size, iv[i].n, &code, &msg);
        ok(iv[i].code ? rc == -1 && strcmp(code, iv[i].code) == 0 : rc == 0,
           "image %s %s n=%lld -> %s", iv[i].model, iv[i].size, (long long)iv[i].n,
           iv[i].code ? iv[i].code : "ok");
    }
    char long_prompt[1002];
    memset(long_prompt, 'a', sizeof long_prompt - 1);
    long_prompt[1001] = '\0';
    ok(quota_math_image_validate("dall-e-2", long_prompt, "256x256", 1, &code, &msg) == -1 &&
           !strcmp(code, "prompt_too_long") && !strcmp(msg, "prompt is too long"),
       "dall-e-2: 1001-byte prompt too long");
    long_prompt[1000] = '\0';
    ok(quota_math_image_validate("dall-e-2", long_prompt, "256x256", 1, &code, &msg) == 0,
       "dall-e-2: 1000 bytes is fine");
    long_prompt[834] = '\0';
    ok(quota_math_image_validate("cogview-3", long_prompt, "1x1", 1, &code, &msg) == -1 &&
           !strcmp(code, "prompt_too_long"),
       "cogview-3: 834 bytes too long");
    quota_math_image_validate("dall-e-3", "x", "1x1", 1, &code, &msg);
    is_str(msg, "size not supported for this image model", "size message");
}

static void test_log_strings(void)
{
    note("consume-log strings");
    struct strbuf sb;
    sb_init(&sb, NULL);
    quota_math_log_content(&sb, 0.075, 1, 4);
    is_str(sb.p, "倍率：0.07 × 1.00 × 4.00", "0.075 prints 0.07 (binary value rounded, as Go)");
    sb_reset(&sb);
    quota_math_log_content(&sb, 0.125, 0.8, 1.3333333333333333);
    is_str(sb.p, "倍率：0.12 × 0.80 × 1.33", "exact tie 0.125 rounds to even");
    sb_reset(&sb);
    quota_math_log_content(&sb, 2.5, 1, 4);
    is_str(sb.p, "倍率：2.50 × 1.00 × 4.00", "gpt-4o");
    sb_reset(&sb);
    quota_math_log_content_media(&sb, 20, 1);
    is_str(sb.p, "倍率：20.00 × 1.00", "image/audio content");
    sb_reset(&sb);
    quota_math_log_quota(&sb, 1000, true, 500000);
    is_str(sb.p, "＄0.002000 额度", "LogQuota in currency");
    sb_reset(&sb);
    quota_math_log_quota(&sb, 1000, false, 500000);
    is_str(sb.p, "1000 点额度", "LogQuota in points");
    sb_reset(&sb);
    quota_math_log_quota(&sb, 500000, true, 0);
    is_str(sb.p, "＄1.000000 额度", "QuotaPerUnit 0 falls back to 500000");
    sb_reset(&sb);
    quota_math_log_quota(&sb, -250, true, 500000);
    is_str(sb.p, "＄-0.000500 额度", "negative amount");
    sb_free(&sb);
}

int main(void)
{
    test_quota();
    test_log_strings();
    return done_testing();
}
