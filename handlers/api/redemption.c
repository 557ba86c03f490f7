/* redemption: redemption codes (list, search, get, batch create, update, delete) and
 * redeeming one for quota. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/respond.h"
#include "db/db.h"
#include "db/redemptions.h"
#include "db/users.h"
#include "db/writer.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/jsonin.h"
#include "fcgi/log.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_BYTES 20
#define MAX_BATCH 100 /* codes per POST */

/* The code as One API prints it, with who redeemed it added. */
static json_object *redemption_json(const struct redemption *c)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "id", json_object_new_int64(c->id));
    json_object_object_add(j, "user_id", json_object_new_int64(c->user_id));
    json_object_object_add(j, "key", json_object_new_string(c->key));
    json_object_object_add(j, "status", json_object_new_int64(c->status));
    json_object_object_add(j, "name", json_object_new_string(c->name));
    json_object_object_add(j, "quota", json_object_new_int64(c->quota));
    json_object_object_add(j, "created_time", json_object_new_int64(c->created_time));
    json_object_object_add(j, "redeemed_time", json_object_new_int64(c->redeemed_time));
    json_object_object_add(j, "used_user_id", json_object_new_int64(c->used_user_id));
    json_object_object_add(j, "count", json_object_new_int(0));
    return j;
}

static json_object *redemptions_json(const struct redemption *v, size_t n)
{
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, redemption_json(&v[i]));
    return arr;
}

int h_redemption_list(struct req *r)
{
    int64_t offset = api_page_offset(r);
    struct redemption *v;
    size_t n;
    if (db_redemptions_list(req_db(r), r->a, offset, API_PAGE_SIZE, &v, &n) < 0)
        return OA_ERR_DB;
    api_ok(r, redemptions_json(v, n));
    return 0;
}

int redemptions_search(struct req *r, const char *kw, struct redemption **v, size_t *n)
{
    if (db_redemptions_search(req_db(r), r->a, api_keyword_id(kw), kw ? kw : "", v, n) < 0)
        return OA_ERR_DB;
    return 0;
}

int h_redemption_search(struct req *r)
{
    struct redemption *v;
    size_t n;
    int rc = redemptions_search(r, req_query(r, "keyword"), &v, &n);
    if (rc < 0)
        return rc;
    api_ok(r, redemptions_json(v, n));
    return 0;
}

/* Reads code id and answers One API's errors itself when there is none. 1 found, 0
 * answered, < 0 oa_err. */
static int load_code(struct req *r, int64_t id, struct redemption *c)
{
    if (id == 0) {
        api_fail(r, 200, "id 为空！");
        return 0;
    }
    int rc = db_redemptions_get(req_db(r), r->a, id, c);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        api_fail(r, 200, "record not found");
        return 0;
    }
    return 1;
}

int h_redemption_get(struct req *r)
{
    int64_t id;
    if (req_path_id(r, 0, &id) < 0) {
        api_fail(r, 200,
                 arena_printf(r->a, "strconv.Atoi: parsing \"%s\": invalid syntax",
                              req_path_param(r, 0)));
        return 0;
    }
    struct redemption c;
    int rc = load_code(r, id, &c);
    if (rc <= 0)
        return rc;
    api_ok(r, redemption_json(&c));
    return 0;
}

enum code_field { CF_ID, CF_NAME, CF_QUOTA, CF_COUNT, CF_STATUS, CF__MAX };

static const struct jin_field code_fields[CF__MAX] = {
    [CF_ID] = {"id", JIN_INT},         [CF_NAME] = {"name", JIN_STR},
    [CF_QUOTA] = {"quota", JIN_INT},   [CF_COUNT] = {"count", JIN_INT},
    [CF_STATUS] = {"status", JIN_INT},
};

static int read_code_body(struct req *r, struct jin_val in[CF__MAX])
{
    if (jin_read(r->json, code_fields, CF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return -1;
    }
    return 0;
}

int redemption_create(struct req *r, const char *name, int64_t count, int64_t quota,
                      json_object **keys, const char **why)
{
    *keys = NULL;
    if (!name || !*name || strlen(name) > NAME_MAX_BYTES) {
        *why = "兑换码名称长度必须在1-20之间";
        return 0;
    }
    if (count <= 0) {
        *why = "兑换码个数必须大于0";
        return 0;
    }
    if (count > MAX_BATCH) {
        *why = "一次兑换码批量生成的个数不能大于 100";
        return 0;
    }
    *keys = jown(r->a, jnew_arr());
    int64_t now = (int64_t)time(NULL);
    for (int64_t i = 0; i < count; i++) {
        char key[33];
        uuid_hex(key);
        struct redemption c = {
            .user_id = r->user_id, .key = key, .name = name, .quota = quota, .created_time = now};
        if (db_redemptions_insert(req_db(r), &c, NULL) < 0) {
            LOG_ERR("redemption: insert failed: %s", db_errmsg(req_db(r)));
            return OA_ERR_DB;
        }
        json_object_array_add(*keys, json_object_new_string(key));
    }
    return 1;
}

int h_redemption_create(struct req *r)
{
    struct jin_val in[CF__MAX];
    if (read_code_body(r, in) < 0)
        return 0;
    json_object *keys;
    const char *why = NULL;
    int rc = redemption_create(r, in[CF_NAME].is_set ? in[CF_NAME].s : "", in[CF_COUNT].i,
                               in[CF_QUOTA].i, &keys, &why);
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    if (rc < 0) {
        /* The keys made so far exist: the administrator is told them with the error. */
        json_object *body = jnew_obj();
        json_object_object_add(body, "success", json_object_new_boolean(0));
        json_object_object_add(body, "message", json_object_new_string("数据库错误"));
        json_object_object_add(body, "data", json_object_get(keys));
        respond_json(r, 200, body);
        json_object_put(body);
        return 0;
    }
    api_ok(r, json_object_get(keys));
    return 0;
}

int redemption_set_status(struct req *r, int64_t id, int64_t status, const char **why)
{
    /* One API would store a missing status as 0; only the three real states are taken. */
    if (status < REDEMPTION_ENABLED || status > REDEMPTION_USED) {
        *why = msg_invalid_parameter(r);
        return 0;
    }
    int64_t n = db_redemptions_set_status(req_db(r), id, status);
    if (n < 0)
        return OA_ERR_DB;
    if (n == 0) {
        *why = "record not found";
        return 0;
    }
    return 1;
}

int h_redemption_update(struct req *r)
{
    struct jin_val in[CF__MAX];
    if (read_code_body(r, in) < 0)
        return 0;
    struct redemption c;
    int rc = load_code(r, in[CF_ID].i, &c);
    if (rc <= 0)
        return rc;
    const char *so = req_query(r, "status_only");
    if (so && *so) {
        const char *why = NULL;
        rc = redemption_set_status(r, c.id, in[CF_STATUS].is_set ? in[CF_STATUS].i : 0, &why);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            api_fail(r, 200, why);
            return 0;
        }
    } else if (db_redemptions_update(req_db(r), c.id, in[CF_NAME].is_set ? in[CF_NAME].s : "",
                                     in[CF_QUOTA].i) < 0) {
        return OA_ERR_DB;
    }
    if ((rc = load_code(r, c.id, &c)) <= 0)
        return rc;
    api_ok(r, redemption_json(&c));
    return 0;
}

int redemption_delete(struct req *r, int64_t id, const char **why)
{
    if (id == 0) {
        *why = "id 为空！";
        return 0;
    }
    int64_t n = db_redemptions_delete(req_db(r), id);
    if (n < 0)
        return OA_ERR_DB;
    if (n == 0) {
        *why = "record not found";
        return 0;
    }
    return 1;
}

int h_redemption_delete(struct req *r)
{
    int64_t id = 0;
    if (req_path_id(r, 0, &id) < 0)
        id = 0; /* Go ignores the parse error and reports the empty id */
    const char *why = NULL;
    int rc = redemption_delete(r, id, &why);
    if (rc == 0)
        api_fail(r, 200, why);
    else if (rc == 1)
        api_ok(r, NULL);
    return rc < 0 ? rc : 0;
}

/* Takes the code and credits uid in one transaction with the top-up log row. 1 redeemed
 * (*quota set), 0 the code cannot be redeemed, < 0 a database error. */
static int redeem(struct req *r, const char *key, const struct user *u, int64_t *quota)
{
    struct db_conn *c = req_db(r);
    int64_t now = (int64_t)time(NULL);
    if (db_begin(c) < 0)
        return DB_ERR;
    int rc = db_redemptions_take(c, key, u->id, now, quota);
    if (rc != 1) {
        db_rollback(c);
        return rc;
    }
    struct ledger_entry e = {0};
    e.user_id = u->id;
    e.user_quota_delta = -*quota; /* the ledger subtracts */
    e.has_log = 1;
    e.log.user_id = u->id;
    e.log.created_at = now;
    e.log.type = LOG_TOPUP;
    snprintf(e.log.content, sizeof e.log.content, "通过兑换码充值 %s",
             account_quota_text(r, *quota));
    snprintf(e.log.username, sizeof e.log.username, "%s", u->username);
    snprintf(e.log.request_id, sizeof e.log.request_id, "%s", r->request_id ? r->request_id : "");
    if (writer_apply(c, &e) < 0 || db_commit(c) < 0) {
        db_rollback(c);
        return DB_ERR;
    }
    return 1;
}

int redemption_redeem(struct req *r, const char *key, int64_t *quota, const char **why)
{
    if (!key || !*key) {
        *why = "未提供兑换码";
        return 0;
    }
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    rc = redeem(r, key, &u, quota);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        /* Why it was refused, read after the fact: the answer is all that depends on it. */
        struct redemption c;
        int found = db_redemptions_by_key(req_db(r), r->a, key, &c);
        if (found < 0)
            return OA_ERR_DB;
        *why = found ? "兑换失败，该兑换码已被使用" : "兑换失败，无效的兑换码";
        return 0;
    }
    return 1;
}

int h_user_topup(struct req *r)
{
    int64_t quota = 0;
    const char *why = NULL;
    int rc = redemption_redeem(r, jstr(r->json, "key"), &quota, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    api_ok(r, json_object_new_int64(quota));
    return 0;
}
