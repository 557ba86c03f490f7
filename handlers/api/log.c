/* log: the console's log pages: everyone's (admin) and the caller's own, their quota sums, the
 * searches, and the clean-up of old rows (admin). */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/respond.h"
#include "db/logs.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <string.h>

#define MAX_RECENT_ITEMS 100 /* One API's cap on a search */

/* A numeric query parameter; 0 when absent or not a number (One API ignores the error). */
static int64_t query_int(struct req *r, const char *name)
{
    int64_t v = 0;
    if (parse_decimal(req_query(r, name), &v) < 0)
        return 0;
    return v;
}

void log_filter_read(struct req *r, int64_t self_id, struct log_filter *f)
{
    memset(f, 0, sizeof *f);
    f->type = query_int(r, "type");
    f->start_ts = query_int(r, "start_timestamp");
    f->end_ts = query_int(r, "end_timestamp");
    f->token_name = req_query(r, "token_name");
    f->model_name = req_query(r, "model_name");
    f->channel_id = query_int(r, "channel");
    if (self_id > 0)
        f->user_id = self_id;
    else
        f->username = req_query(r, "username");
}

json_object *log_json(const struct log_row *l, int hide_id)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "id", json_object_new_int64(hide_id ? 0 : l->id));
    json_object_object_add(j, "user_id", json_object_new_int64(l->user_id));
    json_object_object_add(j, "created_at", json_object_new_int64(l->created_at));
    json_object_object_add(j, "type", json_object_new_int64(l->type));
    json_object_object_add(j, "content", json_object_new_string(l->content));
    json_object_object_add(j, "username", json_object_new_string(l->username));
    json_object_object_add(j, "token_name", json_object_new_string(l->token_name));
    json_object_object_add(j, "model_name", json_object_new_string(l->model_name));
    json_object_object_add(j, "quota", json_object_new_int64(l->quota));
    json_object_object_add(j, "prompt_tokens", json_object_new_int64(l->prompt_tokens));
    json_object_object_add(j, "completion_tokens", json_object_new_int64(l->completion_tokens));
    json_object_object_add(j, "channel", json_object_new_int64(l->channel_id));
    json_object_object_add(j, "request_id", json_object_new_string(l->request_id));
    json_object_object_add(j, "elapsed_time", json_object_new_int64(l->elapsed_time));
    json_object_object_add(j, "is_stream", json_object_new_boolean(l->is_stream));
    json_object_object_add(j, "system_prompt_reset",
                           json_object_new_boolean(l->system_prompt_reset));
    return j;
}

static void answer_rows(struct req *r, const struct log_row *v, size_t n, int hide_id)
{
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, log_json(&v[i], hide_id));
    api_ok(r, arr);
}

static int list_rows(struct req *r, int64_t self_id)
{
    int64_t offset = api_page_offset(r);
    struct log_filter f;
    log_filter_read(r, self_id, &f);
    struct log_row *v;
    size_t n;
    if (db_logs_list(req_db(r), r->a, &f, offset, API_PAGE_SIZE, &v, &n) < 0)
        return OA_ERR_DB;
    answer_rows(r, v, n, self_id > 0);
    return 0;
}

static int sum_quota(struct req *r, int64_t self_id)
{
    struct log_filter f;
    log_filter_read(r, self_id, &f);
    int64_t sum;
    if (db_logs_sum_quota(req_db(r), &f, &sum) < 0)
        return OA_ERR_DB;
    json_object *d = jnew_obj();
    json_object_object_add(d, "quota", json_object_new_int64(sum));
    api_ok(r, d);
    return 0;
}

static int search(struct req *r, int64_t self_id)
{
    const char *kw = req_query(r, "keyword");
    struct log_row *v;
    size_t n;
    /* An admin's keyword also matches the start of the content; a user's only the type. */
    if (db_logs_search(req_db(r), r->a, self_id, kw ? kw : "", self_id == 0, MAX_RECENT_ITEMS, &v,
                       &n) < 0)
        return OA_ERR_DB;
    answer_rows(r, v, n, self_id > 0);
    return 0;
}

int h_log_list(struct req *r)
{
    return list_rows(r, 0);
}

int h_log_self(struct req *r)
{
    return list_rows(r, r->user_id);
}

int h_log_stat(struct req *r)
{
    return sum_quota(r, 0);
}

int h_log_self_stat(struct req *r)
{
    return sum_quota(r, r->user_id);
}

int h_log_search(struct req *r)
{
    return search(r, 0);
}

int h_log_self_search(struct req *r)
{
    return search(r, r->user_id);
}

int h_log_delete(struct req *r)
{
    int64_t ts = query_int(r, "target_timestamp");
    if (ts == 0) {
        api_fail(r, 200, "target timestamp is required");
        return 0;
    }
    int64_t n = db_logs_delete_before(req_db(r), ts);
    if (n < 0)
        return OA_ERR_DB;
    api_ok(r, json_object_new_int64(n));
    return 0;
}
