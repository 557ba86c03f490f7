/* page_log: the log page: everyone's rows for administrators, a user's own rows otherwise,
 * with the API's filters, the quota sum of the consume rows, and paging. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/respond.h"
#include "db/logs.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const type_names[] = {"All",        "Top-up", "Consume",
                                         "Management", "System", "Test"};

/* "YYYY-MM-DD" as the Unix time of that day's 00:00 UTC; -1 when it is not such a date. */
static long long day_start(const char *s)
{
    int y, m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    return (long long)timegm(&tm);
}

/* The filter form's values back into the page, with the select's choices. */
static void add_filter_form(struct req *r, json_object *d, const struct log_filter *f)
{
    json_object *types = jnew_arr();
    for (int i = 0; i < (int)(sizeof type_names / sizeof *type_names); i++) {
        json_object *t = jnew_obj();
        json_object_object_add(t, "value", json_object_new_int(i));
        json_object_object_add(t, "label", json_object_new_string(type_names[i]));
        json_object_object_add(t, "selected", json_object_new_boolean(f->type == i));
        json_object_array_add(types, t);
    }
    json_object_object_add(d, "types", types);
    const char *const fields[] = {"start",      "end",      "model_name",
                                  "token_name", "username", "channel"};
    json_object *q = jnew_obj();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = req_query(r, fields[i]);
        json_object_object_add(q, fields[i], json_object_new_string(v ? v : ""));
    }
    json_object_object_add(d, "q", q);
}

int p_log(struct req *r)
{
    int admin = r->role >= ROLE_ADMIN;
    struct log_filter f;
    log_filter_read(r, admin ? 0 : r->user_id, &f);
    /* The form's dates: a whole day each, both ends included. */
    long long from = day_start(req_query(r, "start")), to = day_start(req_query(r, "end"));
    if (from >= 0)
        f.start_ts = from;
    if (to >= 0)
        f.end_ts = to + 86399;
    if (f.type < 0 || f.type >= (int64_t)(sizeof type_names / sizeof *type_names))
        f.type = 0;

    long long page = console_page_no(r);
    struct log_row *v;
    size_t n;
    int64_t sum;
    if (db_logs_list(req_db(r), r->a, &f, page * API_PAGE_SIZE, API_PAGE_SIZE + 1, &v, &n) < 0 ||
        db_logs_sum_quota(req_db(r), &f, &sum) < 0)
        return OA_ERR_DB;

    json_object *d = jnew_obj();
    json_object_object_add(d, "is_admin", json_object_new_boolean(admin));
    json_object *rows = jnew_arr();
    for (size_t i = 0; i < n && i < API_PAGE_SIZE; i++) {
        json_object *j = log_json(&v[i], !admin);
        json_object_object_add(j, "time", json_object_new_string(console_date(r, v[i].created_at)));
        json_object_object_add(j, "quota_text",
                               json_object_new_string(console_quota(r, v[i].quota)));
        int t = v[i].type > 0 && v[i].type < (int64_t)(sizeof type_names / sizeof *type_names)
                    ? (int)v[i].type
                    : 0;
        json_object_object_add(j, "type_label",
                               json_object_new_string(t ? type_names[t] : "Unknown"));
        json_object_object_add(j, "type_ok", json_object_new_boolean(v[i].type == LOG_TOPUP));
        json_object_object_add(j, "is_admin", json_object_new_boolean(admin));
        json_object_array_add(rows, j);
    }
    json_object_object_add(d, "rows", rows);
    json_object_object_add(d, "has_rows", json_object_new_boolean(n > 0));
    json_object_object_add(d, "sum", json_object_new_string(console_quota(r, sum)));
    add_filter_form(r, d, &f);

    struct strbuf q;
    sb_init(&q, r->a);
    const char *const keep[] = {"type",       "start",    "end",    "model_name",
                                "token_name", "username", "channel"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (admin || (strcmp(keep[i], "username") && strcmp(keep[i], "channel")))
            console_query_add(&q, keep[i], req_query(r, keep[i]));
    console_pager(r, d, "/log", q.p ? q.p : "", page, n > API_PAGE_SIZE);
    return console_page(r, 200, "log", "Logs", d);
}
