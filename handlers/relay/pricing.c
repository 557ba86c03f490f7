/* pricing: the relay's view of billing: live ratio tables swapped under a rwlock, the tokenizer
 * loaded on first use, and a request's estimate, reservation and final quota. */
#include "config.h"
#include "handlers/relay/pricing.h"
#include "handlers/relay/count.h"
#include "handlers/relay/quota_math.h"
#include "handlers/relay/ratio.h"
#include "handlers/options.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"
#include "providers/tiktoken.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pricing {
    pthread_rwlock_t lock;       /* guards tables */
    struct ratio_tables *tables; /* live ratio options (NULL: built-in defaults only) */
    /* Orders the reloads: each reads the options when it holds this, so the last one to run
     * has read the latest values. Guards seen[] too. */
    pthread_mutex_t reload_mu;
    char *seen[3];          /* the ModelRatio, CompletionRatio, GroupRatio texts last parsed */
    pthread_mutex_t tok_mu; /* guards the one-time tokenizer load */
    int tok_tried;          /* the load ran (found files or not) */
    struct tiktoken *cl100k, *o200k;
    char *dir; /* TIKTOKEN_CACHE_DIR, or NULL */
};

struct pricing *pricing_new(const char *tiktoken_dir)
{
    struct pricing *p = xcalloc(1, sizeof *p);
    pthread_rwlock_init(&p->lock, NULL);
    pthread_mutex_init(&p->reload_mu, NULL);
    pthread_mutex_init(&p->tok_mu, NULL);
    p->dir = tiktoken_dir && *tiktoken_dir ? xstrdup(tiktoken_dir) : NULL;
    return p;
}

void pricing_free(struct pricing *p)
{
    if (!p)
        return;
    ratio_tables_free(p->tables);
    tiktoken_free(p->cl100k);
    tiktoken_free(p->o200k);
    pthread_rwlock_destroy(&p->lock);
    pthread_mutex_destroy(&p->reload_mu);
    for (int i = 0; i < 3; i++)
        free(p->seen[i]);
    pthread_mutex_destroy(&p->tok_mu);
    free(p->dir);
    free(p);
}

int pricing_reload(struct pricing *p, struct options *o)
{
    struct arena *a = arena_new(4096);
    pthread_mutex_lock(&p->reload_mu);
    const char *v[3] = {options_get(o, a, "ModelRatio"), options_get(o, a, "CompletionRatio"),
                        options_get(o, a, "GroupRatio")};
    /* The options are re-read every few seconds: the same texts are not parsed again (nor a
     * bad one logged again). */
    int same = 1;
    for (int i = 0; i < 3; i++)
        same &= p->seen[i] && !strcmp(p->seen[i], v[i]);
    int rc = 0;
    if (!same) {
        for (int i = 0; i < 3; i++) {
            free(p->seen[i]);
            p->seen[i] = xstrdup(v[i]);
        }
        struct ratio_tables *t = NULL;
        char err[256];
        /* Rows stored by One API carry openrouter/auto = -500000: dropped, not fatal. */
        rc = ratio_tables_parse_ex(*v[0] ? v[0] : NULL, *v[1] ? v[1] : NULL, *v[2] ? v[2] : NULL,
                                   RATIO_PARSE_SKIP_NEGATIVE, &t, err, sizeof err);
        if (rc < 0) {
            LOG_ERR("ratio options: %s", err);
        } else {
            if (*err)
                LOG_WARN("ratio options: %s", err);
            pthread_rwlock_wrlock(&p->lock);
            struct ratio_tables *old = p->tables;
            p->tables = t;
            pthread_rwlock_unlock(&p->lock);
            ratio_tables_free(old);
        }
    }
    pthread_mutex_unlock(&p->reload_mu);
    arena_free(a);
    return rc < 0 ? -1 : 0;
}

/* The encoder for model, loading the rank files on first use (never at start: CGI stays
 * cheap and a gateway without the files still starts). */
static const struct tiktoken *encoder(struct pricing *p, const char *model)
{
    pthread_mutex_lock(&p->tok_mu);
    if (!p->tok_tried) {
        char err[256];
        p->tok_tried = 1;
        p->cl100k = tiktoken_load(TIKTOKEN_CL100K, p->dir, err, sizeof err);
        if (!p->cl100k)
            LOG_WARN("tokenizer: %s; counting tokens as bytes/4 (run contrib/fetch-tiktoken)", err);
        p->o200k = tiktoken_load(TIKTOKEN_O200K, p->dir, err, sizeof err);
        if (!p->o200k && p->cl100k)
            LOG_WARN("tokenizer: %s; using cl100k_base for every model", err);
    }
    pthread_mutex_unlock(&p->tok_mu);
    return count_pick_encoder(model, p->cl100k, p->o200k);
}

int pricing_request(struct pricing *p, struct options *o, enum relay_mode mode, const char *model,
                    int channel_type, const char *group, struct json_object *req,
                    int64_t max_tokens, count_fetch_image_size_fn fetch, void *fetch_ud,
                    struct price *out, const char **code, const char **msg)
{
    memset(out, 0, sizeof *out);
    out->fixed_quota = -1;
    struct count_opts copts = {.is_approximate = options_bool(o, "ApproximateTokenEnabled"),
                               .fetch_image_size = fetch,
                               .fetch_ud = fetch_ud};
    /* Transcriptions are priced as whisper-1 whatever the form says, as One API does. */
    const char *billed =
        mode == RELAY_TRANSCRIPTION || mode == RELAY_TRANSLATION ? "whisper-1" : model;
    bool fb = false, missing = false;
    pthread_rwlock_rdlock(&p->lock);
    out->model_ratio = ratio_model(p->tables, billed, channel_type, &fb);
    out->completion_ratio = ratio_completion(p->tables, billed, channel_type);
    out->group_ratio = ratio_group(p->tables, group, &missing);
    pthread_rwlock_unlock(&p->lock);
    if (fb)
        LOG_WARN("model ratio not found for %s: using %.0f", billed, RATIO_UNKNOWN_MODEL);
    out->ratio = out->model_ratio * out->group_ratio;
    int64_t pre_consumed = (int64_t)options_double(o, "PreConsumedQuota");
    const struct tiktoken *enc = NULL;

    switch (mode) {
    case RELAY_CHAT:
        enc = encoder(p, model);
        out->prompt_tokens = count_chat_prompt(enc, jget(req, "messages"), model, &copts);
        break;
    case RELAY_COMPLETIONS:
        enc = encoder(p, model);
        out->prompt_tokens = count_input(enc, jget(req, "prompt"), &copts);
        break;
    case RELAY_MODERATIONS:
    case RELAY_EMBEDDINGS:
        enc = encoder(p, model);
        out->prompt_tokens = count_input(enc, jget(req, "input"), &copts);
        break;
    case RELAY_IMAGES: {
        json_object *v;
        const char *prompt = (v = jget(req, "prompt")) ? json_object_get_string(v) : "";
        const char *size = (v = jget(req, "size")) ? json_object_get_string(v) : "1024x1024";
        const char *quality = (v = jget(req, "quality")) ? json_object_get_string(v) : NULL;
        int64_t n = (v = jget(req, "n")) ? json_object_get_int64(v) : 1;
        if (n == 0)
            n = 1;
        if (quota_math_image_validate(model, prompt, size, n, code, msg) < 0)
            return -1;
        if (channel_type == 46)
            n = 1; /* Replicate makes one image per request, whatever n says */
        out->fixed_quota = quota_math_image_quota(
            out->ratio, quota_math_image_cost_ratio(model, size, quality), n);
        out->reserve = out->fixed_quota;
        out->is_media = 1;
        return 0;
    }
    case RELAY_SPEECH: {
        json_object *v = jget(req, "input");
        size_t len = v ? (size_t)json_object_get_string_len(v) : 0;
        if (len > QUOTA_MATH_SPEECH_MAX_INPUT) {
            *code = "text_too_long";
            *msg = "input is too long (over 4096 characters)";
            return -1;
        }
        out->fixed_quota = quota_math_speech_quota(len, out->ratio);
        out->reserve = out->fixed_quota;
        out->is_media = 1;
        return 0;
    }
    case RELAY_TRANSCRIPTION:
    case RELAY_TRANSLATION:
        out->reserve = quota_math_audio_pre(pre_consumed, out->ratio);
        out->completion_ratio = 1;
        out->is_media = 1;
        return 0;
    default: break;
    }
    struct quota_math_pre bp =
        quota_math_pre_consume(pre_consumed, out->prompt_tokens, max_tokens, out->ratio, INT64_MAX);
    /* Always reserve the estimate: One API's trust rule (reserve nothing for rich users)
     * would let a limited key go negative (docs/compatibility.md), and a reservation costs us
     * little (in memory, or one conditional UPDATE with QUOTA_STORE=sql). */
    out->reserve = bp.estimate;
    return 0;
}

int64_t pricing_count_text(struct pricing *p, const char *model, const char *text, size_t n)
{
    return count_text(encoder(p, model), text, n, NULL);
}

int64_t pricing_settle_quota(const struct price *pr, int64_t prompt, int64_t completion)
{
    if (pr->fixed_quota >= 0)
        return pr->fixed_quota;
    return quota_math_settle(prompt, completion, pr->completion_ratio, pr->ratio);
}

void pricing_log_content(const struct price *pr, char *out, size_t n)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    if (pr->is_media)
        quota_math_log_content_media(&sb, pr->model_ratio, pr->group_ratio);
    else
        quota_math_log_content(&sb, pr->model_ratio, pr->group_ratio, pr->completion_ratio);
    snprintf(out, n, "%s", sb.p);
    sb_free(&sb);
}
