/* channel: channel administration (list, search, get, create, update, delete, delete the
 * disabled ones); abilities follow every change. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/respond.h"
#include "db/channels.h"
#include "db/db.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/jsonin.h"
#include "fcgi/request.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The fields a channel body may carry, declared once. */
enum ch_in {
    CF_ID,
    CF_TYPE,
    CF_KEY,
    CF_STATUS,
    CF_NAME,
    CF_WEIGHT,
    CF_BASE_URL,
    CF_OTHER,
    CF_MODELS,
    CF_GROUP,
    CF_MODEL_MAPPING,
    CF_PRIORITY,
    CF_CONFIG,
    CF_SYSTEM_PROMPT,
    CF__MAX
};

static const struct jin_field ch_fields[CF__MAX] = {
    [CF_ID] = {"id", JIN_INT},
    [CF_TYPE] = {"type", JIN_INT},
    [CF_KEY] = {"key", JIN_STR},
    [CF_STATUS] = {"status", JIN_INT},
    [CF_NAME] = {"name", JIN_STR},
    [CF_WEIGHT] = {"weight", JIN_UINT},
    [CF_BASE_URL] = {"base_url", JIN_STR},
    [CF_OTHER] = {"other", JIN_STR},
    [CF_MODELS] = {"models", JIN_STR},
    [CF_GROUP] = {"group", JIN_STR},
    [CF_MODEL_MAPPING] = {"model_mapping", JIN_STR},
    [CF_PRIORITY] = {"priority", JIN_INT},
    [CF_CONFIG] = {"config", JIN_STR},
    [CF_SYSTEM_PROMPT] = {"system_prompt", JIN_STR},
};

/* The enum channel_field each input writes; 0 for the id. */
static const unsigned ch_writes[CF__MAX] = {
    [CF_TYPE] = CH_TYPE,
    [CF_KEY] = CH_KEY,
    [CF_STATUS] = CH_STATUS,
    [CF_NAME] = CH_NAME,
    [CF_WEIGHT] = CH_WEIGHT,
    [CF_BASE_URL] = CH_BASE_URL,
    [CF_OTHER] = CH_OTHER,
    [CF_MODELS] = CH_MODELS,
    [CF_GROUP] = CH_GROUP,
    [CF_MODEL_MAPPING] = CH_MODEL_MAPPING,
    [CF_PRIORITY] = CH_PRIORITY,
    [CF_CONFIG] = CH_CONFIG,
    [CF_SYSTEM_PROMPT] = CH_SYSTEM_PROMPT,
};

/* Copies the set inputs into ch; returns the mask of enum channel_field written. */
static unsigned apply_input(struct channel *ch, const struct jin_val in[CF__MAX])
{
    unsigned mask = 0;
    for (int f = 1; f < CF__MAX; f++) {
        if (!in[f].is_set)
            continue;
        mask |= ch_writes[f];
        switch (f) {
        case CF_TYPE: ch->type = in[f].i; break;
        case CF_KEY: ch->key = in[f].s; break;
        case CF_STATUS: ch->status = in[f].i; break;
        case CF_NAME: ch->name = in[f].s; break;
        case CF_WEIGHT: ch->weight = in[f].i, ch->has_weight = 1; break;
        case CF_BASE_URL: ch->base_url = in[f].s; break;
        case CF_OTHER: ch->other = in[f].s; break;
        case CF_MODELS: ch->models = in[f].s; break;
        case CF_GROUP: ch->group = in[f].s; break;
        case CF_MODEL_MAPPING: ch->model_mapping = in[f].s; break;
        case CF_PRIORITY: ch->priority = in[f].i, ch->has_priority = 1; break;
        case CF_CONFIG: ch->config = in[f].s; break;
        case CF_SYSTEM_PROMPT: ch->system_prompt = in[f].s; break;
        }
    }
    return mask;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *channel_json(const struct channel *ch, int with_key)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "id", json_object_new_int64(ch->id));
    json_object_object_add(j, "type", json_object_new_int64(ch->type));
    json_object_object_add(j, "key", json_object_new_string(with_key ? ch->key : ""));
    json_object_object_add(j, "status", json_object_new_int64(ch->status));
    json_object_object_add(j, "name", json_object_new_string(ch->name));
    json_object_object_add(j, "weight", ch->has_weight ? json_object_new_int64(ch->weight) : NULL);
    json_object_object_add(j, "created_time", json_object_new_int64(ch->created_time));
    json_object_object_add(j, "test_time", json_object_new_int64(ch->test_time));
    json_object_object_add(j, "response_time", json_object_new_int64(ch->response_time));
    json_object_object_add(j, "base_url", str_or_null(ch->base_url));
    json_object_object_add(j, "other", str_or_null(ch->other));
    /* Go prints an integral float64 without a fraction: 0, not 0.0. */
    double b = ch->balance;
    json_object_object_add(j, "balance",
                           b == (double)(long long)b ? json_object_new_int64((long long)b)
                                                     : json_object_new_double(b));
    json_object_object_add(j, "balance_updated_time",
                           json_object_new_int64(ch->balance_updated_time));
    json_object_object_add(j, "models", json_object_new_string(ch->models));
    json_object_object_add(j, "group", json_object_new_string(ch->group));
    json_object_object_add(j, "used_quota", json_object_new_int64(ch->used_quota));
    json_object_object_add(j, "model_mapping", str_or_null(ch->model_mapping));
    json_object_object_add(j, "priority",
                           ch->has_priority ? json_object_new_int64(ch->priority) : NULL);
    json_object_object_add(j, "config", json_object_new_string(ch->config));
    json_object_object_add(j, "system_prompt", str_or_null(ch->system_prompt));
    return j;
}

static json_object *channels_json(const struct channel *v, size_t n)
{
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, channel_json(&v[i], 0));
    return arr;
}

int h_channel_list(struct req *r)
{
    int64_t offset = api_page_offset(r);
    struct channel *v;
    size_t n;
    if (db_channels_list(req_db(r), r->a, offset, API_PAGE_SIZE, &v, &n) < 0)
        return OA_ERR_DB;
    api_ok(r, channels_json(v, n));
    return 0;
}

int h_channel_search(struct req *r)
{
    const char *kw = req_query(r, "keyword");
    struct channel *v;
    size_t n;
    if (db_channels_search(req_db(r), r->a, kw ? kw : "", api_keyword_id(kw), &v, &n) < 0)
        return OA_ERR_DB;
    api_ok(r, channels_json(v, n));
    return 0;
}

int h_channel_get(struct req *r)
{
    const char *s = req_path_param(r, 0);
    int64_t id;
    if (req_path_id(r, 0, &id) < 0) {
        api_fail(r, 200, arena_printf(r->a, "strconv.Atoi: parsing \"%s\": invalid syntax", s));
        return 0;
    }
    struct channel ch;
    int rc = db_channels_get(req_db(r), r->a, id, 0, &ch);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        api_fail(r, 200, "record not found");
        return 0;
    }
    api_ok(r, channel_json(&ch, 0));
    return 0;
}

/* Splits the key field into its non-empty lines, each trimmed of whitespace (a pasted CRLF
 * list would otherwise keep its \r). Array in a; count in *n. */
static const char **key_lines(struct arena *a, const char *s, size_t *n)
{
    size_t cap = 1, k = 0;
    for (const char *p = s; *p; p++)
        cap += *p == '\n';
    const char **v = arena_calloc(a, cap, sizeof *v);
    for (;;) {
        size_t len = strcspn(s, "\n");
        const char *b = s, *e = s + len;
        while (b < e && strchr(" \t\r\v\f", *b))
            b++;
        while (e > b && strchr(" \t\r\v\f", e[-1]))
            e--;
        if (e > b)
            v[k++] = arena_strndup(a, b, (size_t)(e - b));
        if (!s[len])
            break;
        s += len + 1;
    }
    *n = k;
    return v;
}

int channel_type_check(struct req *r, int64_t id, int64_t type, const char **why)
{
    *why = NULL;
    const struct channel_type *ct =
        type >= 0 && type <= INT32_MAX ? channel_type_get((int)type) : NULL;
    if (channel_type_servable(ct))
        return 0;
    if (id > 0) {
        /* A row that already has the type keeps it: its other fields stay editable. */
        struct channel saved;
        int rc = db_channels_get(req_db(r), r->a, id, 0, &saved);
        if (rc < 0)
            return OA_ERR_DB;
        if (rc == 1 && saved.type == type)
            return 0;
    }
    *why = ct ? arena_printf(r->a,
                             "channel type %lld (%s) is not supported by this build: it has no "
                             "adaptor for it; choose another type",
                             (long long)type, ct->name)
              : arena_printf(r->a, "unknown channel type %lld", (long long)type);
    return 0;
}

int channel_create(struct req *r, const struct channel *base, const char **why)
{
    size_t n;
    const char **keys = key_lines(r->a, base->key ? base->key : "", &n);
    if (n == 0) {
        *why = msg_invalid_parameter(r);
        return 0;
    }
    struct channel *chs = arena_calloc(r->a, n, sizeof *chs);
    for (size_t i = 0; i < n; i++) {
        chs[i] = *base;
        chs[i].key = keys[i];
        chs[i].created_time = (int64_t)time(NULL);
    }
    if (db_channels_insert(req_db(r), r->a, chs, n, NULL) < 0)
        return OA_ERR_DB;
    app_channels_changed(req_app(r));
    return (int)n;
}

int h_channel_create(struct req *r)
{
    struct jin_val in[CF__MAX];
    if (jin_read(r->json, ch_fields, CF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    struct channel base = {0};
    apply_input(&base, in);
    const char *why = NULL;
    int rc = channel_type_check(r, 0, base.type, &why);
    if (rc < 0)
        return rc;
    if (why) {
        api_fail(r, 200, why);
        return 0;
    }
    rc = channel_create(r, &base, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}

int channel_update(struct req *r, const struct channel *ch, unsigned mask)
{
    /* One API's update writes only non-zero fields (GORM's Updates): a 0 or "" in a plain
     * field is "unchanged" ({"id":5,"models":""} changes nothing, and the edit form's blanked
     * key keeps the stored one). Its pointer fields (weight, priority, base_url, other,
     * model_mapping, system_prompt) are written whenever present, 0 and "" included. */
    if (ch->type == 0)
        mask &= ~(unsigned)CH_TYPE;
    if (ch->status == 0)
        mask &= ~(unsigned)CH_STATUS;
    const struct {
        unsigned field;
        const char *s;
    } plain_str[] = {{CH_KEY, ch->key},
                     {CH_NAME, ch->name},
                     {CH_MODELS, ch->models},
                     {CH_GROUP, ch->group},
                     {CH_CONFIG, ch->config}};
    for (size_t i = 0; i < sizeof plain_str / sizeof *plain_str; i++)
        if (!plain_str[i].s || !*plain_str[i].s)
            mask &= ~plain_str[i].field;
    int rc = db_channels_update(req_db(r), r->a, ch, mask);
    if (rc < 0)
        return OA_ERR_DB;
    app_channels_changed(req_app(r));
    return rc;
}

int h_channel_update(struct req *r)
{
    struct jin_val in[CF__MAX];
    if (jin_read(r->json, ch_fields, CF__MAX, in) < 0 || !in[CF_ID].is_set || in[CF_ID].i <= 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    struct channel ch = {.id = in[CF_ID].i};
    unsigned mask = apply_input(&ch, in);
    const char *why = NULL;
    /* A zero type leaves the stored one (see channel_update). */
    int rc = (mask & CH_TYPE) && ch.type != 0 ? channel_type_check(r, ch.id, ch.type, &why) : 0;
    if (rc < 0)
        return rc;
    if (why) {
        api_fail(r, 200, why);
        return 0;
    }
    rc = channel_update(r, &ch, mask);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, "record not found");
        return 0;
    }
    struct channel saved;
    rc = db_channels_get(req_db(r), r->a, ch.id, 1, &saved);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        api_fail(r, 200, "record not found");
        return 0;
    }
    api_ok(r, channel_json(&saved, 1));
    return 0;
}

int channel_delete(struct req *r, int64_t id)
{
    if (db_channels_delete(req_db(r), id) < 0)
        return OA_ERR_DB;
    app_channels_changed(req_app(r));
    return 0;
}

int h_channel_delete(struct req *r)
{
    int64_t id = 0;
    if (req_path_id(r, 0, &id) < 0)
        id = 0; /* as One API: nothing to delete, still a success */
    int rc = channel_delete(r, id);
    if (rc < 0)
        return rc;
    api_ok(r, NULL);
    return 0;
}

int64_t channel_delete_disabled(struct req *r)
{
    int64_t n = db_channels_delete_disabled(req_db(r));
    if (n < 0)
        return OA_ERR_DB;
    app_channels_changed(req_app(r));
    return n;
}

int h_channel_delete_disabled(struct req *r)
{
    int64_t n = channel_delete_disabled(r);
    if (n < 0)
        return (int)n;
    api_ok(r, json_object_new_int64(n));
    return 0;
}
