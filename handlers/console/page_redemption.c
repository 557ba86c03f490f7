/* page_redemption: the administrators' redemption codes: the list with search and paging, a
 * batch generated and shown once (with a download that keeps the codes out of URLs), and
 * enabling, disabling and deleting a code, through the API's rules. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/respond.h"
#include "db/redemptions.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <string.h>

#define DOWNLOAD_MAX 100 /* codes in one download: one batch */

static const char *status_label(int64_t s)
{
    return s == REDEMPTION_ENABLED ? "Unused" : s == REDEMPTION_DISABLED ? "Disabled" : "Used";
}

/* The list page, with the generate form's values and its refusal when there was one. */
static int list_page(struct req *r, int status, json_object *form, const char *error)
{
    const char *kw = req_query(r, "keyword");
    long long page = console_page_no(r);
    struct redemption *v;
    size_t n;
    int searching = kw && *kw;
    if (searching) {
        int rc = redemptions_search(r, kw, &v, &n);
        if (rc < 0)
            return rc;
    } else if (db_redemptions_list(req_db(r), r->a, page * API_PAGE_SIZE, API_PAGE_SIZE + 1, &v,
                                   &n) < 0) {
        return OA_ERR_DB;
    }
    json_object *d = jnew_obj();
    json_object *rows = jnew_arr();
    for (size_t i = 0; i < n && (searching || i < API_PAGE_SIZE); i++) {
        json_object *j = jnew_obj();
        json_object_object_add(j, "id", json_object_new_int64(v[i].id));
        json_object_object_add(j, "name", json_object_new_string(v[i].name));
        json_object_object_add(j, "status_label",
                               json_object_new_string(status_label(v[i].status)));
        json_object_object_add(j, "enabled",
                               json_object_new_boolean(v[i].status == REDEMPTION_ENABLED));
        json_object_object_add(j, "disabled",
                               json_object_new_boolean(v[i].status == REDEMPTION_DISABLED));
        json_object_object_add(j, "quota_text",
                               json_object_new_string(console_quota(r, v[i].quota)));
        json_object_object_add(j, "created",
                               json_object_new_string(console_date(r, v[i].created_time)));
        json_object_object_add(j, "redeemed",
                               json_object_new_string(console_date(r, v[i].redeemed_time)));
        if (v[i].used_user_id)
            json_object_object_add(j, "used_user_id", json_object_new_int64(v[i].used_user_id));
        json_object_array_add(rows, j);
    }
    json_object_object_add(d, "rows", rows);
    json_object_object_add(d, "has_rows", json_object_new_boolean(n > 0));
    json_object_object_add(d, "keyword", json_object_new_string(kw ? kw : ""));
    json_object *g = jnew_obj();
    json_object_object_add(g, "name", json_object_new_string(console_field(form, "name")));
    json_object_object_add(g, "count",
                           json_object_new_string(form ? console_field(form, "count") : "1"));
    json_object_object_add(g, "quota",
                           json_object_new_string(form ? console_field(form, "quota") : "100"));
    json_object_object_add(d, "gen", g);
    if (error) {
        /* Beside the field it is about: the API's messages name the field in their words. */
        const char *field = strstr(error, "名称")                             ? "name"
                            : strstr(error, "个数") || strstr(error, "count") ? "count"
                                                                              : "quota";
        json_object *errs = jnew_obj();
        json_object_object_add(errs, field, json_object_new_string(error));
        json_object_object_add(d, "errors", errs);
    }
    if (!searching)
        console_pager(r, d, "/redemption", "", page, n > API_PAGE_SIZE);
    return console_page(r, status, "redemption", "Redemption codes", d);
}

int p_redemption(struct req *r)
{
    return list_page(r, 200, NULL, NULL);
}

/* A form number: 0 with *out set, -1 when not a whole number. */
static int form_int(json_object *form, const char *name, int64_t *out)
{
    return parse_decimal(console_field(form, name), out);
}

int p_redemption_new_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int64_t count = 0, quota = 0;
    if (form_int(form, "count", &count) < 0)
        return list_page(r, 422, form, "The count must be a whole number.");
    if (form_int(form, "quota", &quota) < 0 || quota < 0)
        return list_page(r, 422, form, "The quota must be a whole number >= 0.");
    json_object *keys;
    const char *why = NULL;
    int rc = redemption_create(r, console_field(form, "name"), count, quota, &keys, &why);
    if (rc == 0)
        return list_page(r, 422, form, why);
    if (rc < 0 && (!keys || !json_object_array_length(keys)))
        return rc;
    struct strbuf codes;
    sb_init(&codes, r->a);
    for (size_t i = 0; i < json_object_array_length(keys); i++) {
        sb_puts(&codes, json_object_get_string(json_object_array_get_idx(keys, i)));
        sb_putc(&codes, '\n');
    }
    json_object *d = jnew_obj();
    json_object_object_add(d, "codes", json_object_new_string(codes.p ? codes.p : ""));
    json_object_object_add(d, "count",
                           json_object_new_int64((int64_t)json_object_array_length(keys)));
    json_object_object_add(d, "name", json_object_new_string(console_field(form, "name")));
    if (rc < 0)
        json_object_object_add(d, "error",
                               json_object_new_string("数据库错误: only these codes were made."));
    return console_page(r, 200, "redemption_codes", "New redemption codes", d);
}

int p_redemption_download_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *text = console_field(form, "codes");
    struct strbuf out;
    sb_init(&out, r->a);
    int n = 0;
    /* Only codes this administrator made: the form is not trusted to carry the batch. */
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\r\n");
        if (len) {
            char *key = arena_strndup(r->a, p, len);
            struct redemption c;
            int rc = db_redemptions_by_key(req_db(r), r->a, key, &c);
            if (rc < 0)
                return OA_ERR_DB;
            if (rc == 0 || c.user_id != r->user_id || ++n > DOWNLOAD_MAX) {
                json_object *d = jnew_obj();
                json_object_object_add(
                    d, "message",
                    json_object_new_string("Only the codes of a batch you just made can be "
                                           "downloaded."));
                return console_page(r, 422, "error", "Download refused", d);
            }
            sb_puts(&out, key);
            sb_putc(&out, '\n');
        }
        p += len;
        p += strspn(p, "\r\n");
    }
    resp_status(r, 200);
    resp_header(r, "Content-Type", "text/plain; charset=utf-8");
    resp_header(r, "Content-Disposition", "attachment; filename=\"redemption-codes.txt\"");
    resp_header(r, "Cache-Control", "no-store");
    resp_write(r, out.p ? out.p : "", out.len);
    return 0;
}

int p_redemption_manage_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int64_t id = 0;
    if (form_int(form, "id", &id) < 0)
        id = 0;
    const char *action = console_field(form, "action");
    const char *why = NULL;
    int rc;
    if (!strcmp(action, "enable"))
        rc = redemption_set_status(r, id, REDEMPTION_ENABLED, &why);
    else if (!strcmp(action, "disable"))
        rc = redemption_set_status(r, id, REDEMPTION_DISABLED, &why);
    else if (!strcmp(action, "delete"))
        rc = redemption_delete(r, id, &why);
    else
        rc = 0, why = msg_invalid_parameter(r);
    if (rc < 0)
        return rc;
    if (rc == 0)
        console_flash(r, "error", why);
    else
        console_flash(r, "ok", arena_printf(r->a, "Code %lld: %s done.", (long long)id, action));
    console_redirect(r, "/redemption");
    return 0;
}
