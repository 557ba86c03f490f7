/* token: the caller's own relay keys: list, search, get, create, update, delete. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/respond.h"
#include "db/db.h"
#include "db/tokens.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/jsonin.h"
#include "fcgi/netaddr.h"
#include "fcgi/request.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_NAME_MAX 30 /* bytes */
#define RPM_MAX 1000000   /* requests per minute; the limiter keeps one time per request */

/* The fields a token body may carry, declared once. */
enum tok_field {
    TF_ID,
    TF_NAME,
    TF_STATUS,
    TF_EXPIRED_TIME,
    TF_REMAIN_QUOTA,
    TF_UNLIMITED_QUOTA,
    TF_MODELS,
    TF_SUBNET,
    TF_RPM_LIMIT,
    TF__MAX
};

static const struct jin_field tok_fields[TF__MAX] = {
    [TF_ID] = {"id", JIN_INT},
    [TF_NAME] = {"name", JIN_STR},
    [TF_STATUS] = {"status", JIN_INT},
    [TF_EXPIRED_TIME] = {"expired_time", JIN_INT},
    [TF_REMAIN_QUOTA] = {"remain_quota", JIN_INT},
    [TF_UNLIMITED_QUOTA] = {"unlimited_quota", JIN_BOOL},
    [TF_MODELS] = {"models", JIN_STR},
    [TF_SUBNET] = {"subnet", JIN_STR},
    [TF_RPM_LIMIT] = {"rpm_limit", JIN_INT},
};

const char *token_invalid(struct req *r, const struct token *t)
{
    if (t->name && strlen(t->name) > TOKEN_NAME_MAX)
        return "参数错误：令牌名称过长";
    /* One API takes any number; a negative one only makes the key unusable, and sums over it
     * (used + remaining) could overflow. */
    if (t->remain_quota < 0)
        return "参数错误：剩余额度不能为负数";
    if (t->rpm_limit < 0 || t->rpm_limit > RPM_MAX)
        return "参数错误：rpm_limit 必须在 0 到 1000000 之间 (rpm_limit must be 0..1000000)";
    const char *s = t->subnet ? t->subnet : "";
    char err[160];
    if (*s && !cidr_list_valid(s, err, sizeof err))
        return arena_printf(r->a, "参数错误：无效的网段：failed to parse subnet: %s", err);
    return NULL;
}

const char *token_enable_refused(const struct token *t)
{
    int64_t now = (int64_t)time(NULL);
    if (t->status == 3 && t->expired_time <= now && t->expired_time != -1)
        return "令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期";
    if (t->status == 4 && t->remain_quota <= 0 && !t->unlimited_quota)
        return "令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度";
    return NULL;
}

/* The fields of a body as a token, unset ones zero (what validation and saving see). */
static struct token token_of_body(const struct jin_val in[TF__MAX])
{
    return (struct token){.name = in[TF_NAME].is_set ? in[TF_NAME].s : "",
                          .expired_time = in[TF_EXPIRED_TIME].i,
                          .remain_quota = in[TF_REMAIN_QUOTA].i,
                          .unlimited_quota = (int)in[TF_UNLIMITED_QUOTA].i,
                          .models = in[TF_MODELS].s,
                          .subnet = in[TF_SUBNET].s,
                          .rpm_limit = in[TF_RPM_LIMIT].i};
}

json_object *token_json(const struct token *t)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "id", json_object_new_int64(t->id));
    json_object_object_add(j, "user_id", json_object_new_int64(t->user_id));
    json_object_object_add(j, "key", json_object_new_string(t->key));
    json_object_object_add(j, "status", json_object_new_int64(t->status));
    json_object_object_add(j, "name", json_object_new_string(t->name));
    json_object_object_add(j, "created_time", json_object_new_int64(t->created_time));
    json_object_object_add(j, "accessed_time", json_object_new_int64(t->accessed_time));
    json_object_object_add(j, "expired_time", json_object_new_int64(t->expired_time));
    json_object_object_add(j, "remain_quota", json_object_new_int64(t->remain_quota));
    json_object_object_add(j, "unlimited_quota", json_object_new_boolean(t->unlimited_quota));
    json_object_object_add(j, "used_quota", json_object_new_int64(t->used_quota));
    json_object_object_add(j, "models", t->models ? json_object_new_string(t->models) : NULL);
    json_object_object_add(j, "subnet", t->subnet ? json_object_new_string(t->subnet) : NULL);
    json_object_object_add(j, "rpm_limit", json_object_new_int64(t->rpm_limit));
    return j;
}

static json_object *tokens_json(const struct token *v, size_t n)
{
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, token_json(&v[i]));
    return arr;
}

/* Reads token id of the caller and answers One API's errors itself when there is none.
 * 1 found, 0 answered, < 0 oa_err. */
static int load_token(struct req *r, int64_t id, struct token *t)
{
    if (id == 0) {
        api_fail(r, 200, "id 或 userId 为空！");
        return 0;
    }
    int rc = db_tokens_get(req_db(r), r->a, id, r->user_id, t);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        api_fail(r, 200, "record not found");
        return 0;
    }
    return 1;
}

int h_token_list(struct req *r)
{
    int64_t offset = api_page_offset(r);
    const char *order = req_query(r, "order");
    enum db_tokens_order o = TOKENS_BY_ID;
    if (order && !strcmp(order, "remain_quota"))
        o = TOKENS_BY_REMAIN_QUOTA;
    else if (order && !strcmp(order, "used_quota"))
        o = TOKENS_BY_USED_QUOTA;
    struct token *v;
    size_t n;
    if (db_tokens_list(req_db(r), r->a, r->user_id, o, offset, API_PAGE_SIZE, &v, &n) < 0)
        return OA_ERR_DB;
    api_ok(r, tokens_json(v, n));
    return 0;
}

int h_token_search(struct req *r)
{
    const char *kw = req_query(r, "keyword");
    struct token *v;
    size_t n;
    if (db_tokens_search(req_db(r), r->a, r->user_id, kw ? kw : "", &v, &n) < 0)
        return OA_ERR_DB;
    api_ok(r, tokens_json(v, n));
    return 0;
}

int h_token_get(struct req *r)
{
    const char *s = req_path_param(r, 0);
    int64_t id;
    if (req_path_id(r, 0, &id) < 0) {
        api_fail(r, 200, arena_printf(r->a, "strconv.Atoi: parsing \"%s\": invalid syntax", s));
        return 0;
    }
    struct token t;
    int rc = load_token(r, id, &t);
    if (rc <= 0)
        return rc;
    api_ok(r, token_json(&t));
    return 0;
}

/* Reads and validates the token fields of the body; -1 after answering the failure. */
static int read_token_body(struct req *r, struct jin_val in[TF__MAX])
{
    if (jin_read(r->json, tok_fields, TF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return -1;
    }
    struct token t = token_of_body(in);
    const char *msg = token_invalid(r, &t);
    if (msg) {
        api_fail(r, 200, msg);
        return -1;
    }
    return 0;
}

void token_key_new(char out[49])
{
    random_alnum(out, 16);
    uuid_hex(out + 16);
    for (int i = 0; i < 32; i += 2)
        out[16 + i] = (char)toupper((unsigned char)out[16 + i]);
}

int token_create(struct req *r, struct token *t, int64_t *id)
{
    char key[49];
    token_key_new(key);
    int64_t now = (int64_t)time(NULL);
    /* Status, used quota and times are not the client's to choose. */
    t->id = 0;
    t->user_id = r->user_id;
    t->key = arena_strdup(r->a, key);
    t->status = 1;
    t->created_time = t->accessed_time = now;
    t->used_quota = 0;
    if (!t->name)
        t->name = "";
    return db_tokens_insert(req_db(r), t, id) < 0 ? OA_ERR_DB : 0;
}

int h_token_create(struct req *r)
{
    struct jin_val in[TF__MAX];
    if (read_token_body(r, in) < 0)
        return 0;
    struct token t = token_of_body(in);
    int64_t id = 0;
    int rc = token_create(r, &t, &id);
    if (rc < 0)
        return rc;
    /* Answer the row as stored, with the insert defaults applied. */
    struct token saved;
    rc = load_token(r, id, &saved);
    if (rc <= 0)
        return rc;
    api_ok(r, token_json(&saved));
    return 0;
}

int h_token_update(struct req *r)
{
    struct jin_val in[TF__MAX];
    if (read_token_body(r, in) < 0)
        return 0;
    struct token t;
    int rc = load_token(r, in[TF_ID].i, &t);
    if (rc <= 0)
        return rc;
    if (in[TF_STATUS].is_set && in[TF_STATUS].i == 1) {
        const char *why = token_enable_refused(&t);
        if (why) {
            api_fail(r, 200, why);
            return 0;
        }
    }
    const char *so = req_query(r, "status_only");
    if (so && *so) {
        /* One API would store a missing status as 0; only the four real states are taken. */
        if (!in[TF_STATUS].is_set || in[TF_STATUS].i < 1 || in[TF_STATUS].i > 4) {
            api_fail(r, 200, msg_invalid_parameter(r));
            return 0;
        }
        t.status = in[TF_STATUS].i;
    } else {
        t.name = in[TF_NAME].is_set ? in[TF_NAME].s : "";
        t.expired_time = in[TF_EXPIRED_TIME].i;
        t.remain_quota = in[TF_REMAIN_QUOTA].i;
        t.unlimited_quota = (int)in[TF_UNLIMITED_QUOTA].i;
        t.models = in[TF_MODELS].s;
        t.subnet = in[TF_SUBNET].s;
        /* One API's console does not know the field: its edits leave the limit alone. */
        if (in[TF_RPM_LIMIT].is_set)
            t.rpm_limit = in[TF_RPM_LIMIT].i;
    }
    if (db_tokens_update(req_db(r), &t) < 0)
        return OA_ERR_DB;
    struct token saved;
    rc = load_token(r, t.id, &saved);
    if (rc <= 0)
        return rc;
    api_ok(r, token_json(&saved));
    return 0;
}

int h_token_delete(struct req *r)
{
    int64_t id = 0;
    if (req_path_id(r, 0, &id) < 0)
        id = 0; /* Go ignores the parse error and reports the empty id */
    if (id == 0) {
        api_fail(r, 200, "id 或 userId 为空！");
        return 0;
    }
    int64_t n = db_tokens_delete(req_db(r), id, r->user_id);
    if (n < 0)
        return OA_ERR_DB;
    if (n == 0) {
        api_fail(r, 200, "record not found");
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}
