/* page_users: the administrators' user pages: the list with search, order and paging, the
 * manage actions, creating a user and editing one, through the API's rules. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/respond.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <string.h>

static const char *role_label(int64_t role)
{
    return role >= ROLE_ROOT ? "Root" : role >= ROLE_ADMIN ? "Admin" : "User";
}

/* The user object of the API with what a row shows. */
static json_object *user_row(struct req *r, const struct user *u)
{
    json_object *j = user_json(u, 0);
    json_object_object_add(j, "role_label", json_object_new_string(role_label(u->role)));
    json_object_object_add(j, "enabled", json_object_new_boolean(u->status == 1));
    json_object_object_add(j, "quota_text", json_object_new_string(console_quota(r, u->quota)));
    json_object_object_add(j, "used_quota_text",
                           json_object_new_string(console_quota(r, u->used_quota)));
    json_object_object_add(j, "can_promote",
                           json_object_new_boolean(r->role == ROLE_ROOT && u->role < ROLE_ADMIN));
    json_object_object_add(j, "can_demote",
                           json_object_new_boolean(r->role == ROLE_ROOT && u->role == ROLE_ADMIN));
    json_object_object_add(j, "is_root_user", json_object_new_boolean(u->role == ROLE_ROOT));
    return j;
}

static const char *const orders[][2] = {
    {"", "Id"}, {"quota", "Quota"}, {"used_quota", "Used quota"}, {"request_count", "Requests"}};

int p_users(struct req *r)
{
    const char *kw = req_query(r, "keyword");
    const char *order = req_query(r, "order");
    long long page = console_page_no(r);
    struct user *v;
    size_t n;
    int searching = kw && *kw;
    if (searching) {
        int rc = users_search(r, kw, &v, &n);
        if (rc < 0)
            return rc;
    } else if (db_users_list(req_db(r), r->a, users_order_of(order), page * API_PAGE_SIZE,
                             API_PAGE_SIZE + 1, &v, &n) < 0) {
        return OA_ERR_DB;
    }
    json_object *d = jnew_obj();
    json_object *rows = jnew_arr();
    for (size_t i = 0; i < n && (searching || i < API_PAGE_SIZE); i++)
        json_object_array_add(rows, user_row(r, &v[i]));
    json_object_object_add(d, "rows", rows);
    json_object_object_add(d, "has_rows", json_object_new_boolean(n > 0));
    json_object_object_add(d, "keyword", json_object_new_string(kw ? kw : ""));
    json_object *os = jnew_arr();
    for (size_t i = 0; i < sizeof orders / sizeof *orders; i++) {
        json_object *o = jnew_obj();
        json_object_object_add(o, "value", json_object_new_string(orders[i][0]));
        json_object_object_add(o, "label", json_object_new_string(orders[i][1]));
        json_object_object_add(o, "selected",
                               json_object_new_boolean(!strcmp(order ? order : "", orders[i][0])));
        json_object_array_add(os, o);
    }
    json_object_object_add(d, "orders", os);
    if (!searching) {
        struct strbuf q;
        sb_init(&q, r->a);
        console_query_add(&q, "order", order);
        console_pager(r, d, "/user", q.p ? q.p : "", page, n > API_PAGE_SIZE);
    }
    return console_page(r, 200, "user", "Users", d);
}

int p_users_manage(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    struct user u;
    const char *why = NULL;
    const char *action = console_field(form, "action");
    int rc = users_manage(r, console_field(form, "username"), action, &u, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        console_flash(r, "error", why);
    else
        console_flash(r, "ok",
                      arena_printf(r->a, "%s: %s done.", console_field(form, "username"), action));
    console_redirect(r, "/user");
    return 0;
}

/* The create or edit form with the values typed and the refusal, if any. */
static int edit_page(struct req *r, int status, const struct user *u, json_object *form,
                     const char *error)
{
    json_object *d = jnew_obj();
    int is_new = u == NULL;
    json_object_object_add(d, "is_new", json_object_new_boolean(is_new));
    if (u) {
        json_object_object_add(d, "user", user_row(r, u));
    }
    const char *const fields[] = {"username", "display_name", "email", "quota", "group"};
    json_object *val = jnew_obj();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *s = form ? console_field(form, fields[i]) : NULL;
        if (!form && u) {
            if (!strcmp(fields[i], "username"))
                s = u->username;
            else if (!strcmp(fields[i], "display_name"))
                s = u->display_name;
            else if (!strcmp(fields[i], "email"))
                s = u->email;
            else if (!strcmp(fields[i], "group"))
                s = u->group;
            else
                s = arena_printf(r->a, "%lld", (long long)u->quota);
        }
        json_object_object_add(val, fields[i], json_object_new_string(s ? s : ""));
    }
    json_object_object_add(d, "v", val);
    const char *group = jstr(val, "group");
    json_object *groups = jown(r->a, option_groups(r));
    json_object *gs = jnew_arr();
    for (size_t i = 0; i < json_object_array_length(groups); i++) {
        const char *g = json_object_get_string(json_object_array_get_idx(groups, i));
        json_object *o = jnew_obj();
        json_object_object_add(o, "name", json_object_new_string(g));
        json_object_object_add(o, "selected", json_object_new_boolean(!strcmp(g, group)));
        json_object_array_add(gs, o);
    }
    json_object_object_add(d, "groups", gs);
    if (error) {
        /* Beside the field the message is about, when it names one. */
        const char *field = strstr(error, MSG_USERNAME_TAKEN) ? "username" : NULL;
        const char *const named[] = {"username", "display_name", "email", "password", "quota"};
        for (size_t i = 0; !field && i < sizeof named / sizeof *named; i++) {
            const char *at = strstr(error, named[i]);
            if (at && (at == error || at[-1] == ' ') && at[strlen(named[i])] == ' ')
                field = named[i];
        }
        /* Only the fields this form has: the rest show above it. */
        const char *has =
            is_new ? " username display_name password " : " display_name password quota email ";
        if (field && strstr(has, arena_printf(r->a, " %s ", field))) {
            json_object *errs = jnew_obj();
            json_object_object_add(errs, field, json_object_new_string(error));
            json_object_object_add(d, "errors", errs);
        } else {
            json_object_object_add(d, "error", json_object_new_string(error));
        }
    }
    return console_page(r, status, "user_edit", is_new ? "New user" : "Edit user", d);
}

int p_user_new(struct req *r)
{
    return edit_page(r, 200, NULL, NULL, NULL);
}

int p_user_new_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    struct user_input in = {.username = console_field(form, "username"),
                            .password = console_field(form, "password"),
                            .display_name = console_field(form, "display_name")};
    const char *why = NULL;
    int rc = users_create(r, &in, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return edit_page(r, 422, NULL, form, why);
    console_flash(r, "ok", arena_printf(r->a, "User %s created.", in.username));
    console_redirect(r, "/user");
    return 0;
}

/* The user the query's or form's id names, when the caller may edit them: 1; 0 after a
 * refusal page; < 0 an oa_err. */
static int editable(struct req *r, const char *id_text, struct user *u)
{
    int64_t id = 0;
    if (parse_decimal(id_text, &id) < 0)
        id = 0;
    const char *why = NULL;
    int rc = users_get(r, id, u, &why);
    if (rc != 0)
        return rc;
    json_object *d = jnew_obj();
    json_object_object_add(d, "message", json_object_new_string(why));
    console_page(r, id && strcmp(why, "record not found") ? 403 : 404, "error", "Not allowed", d);
    return 0;
}

int p_user_edit(struct req *r)
{
    struct user u;
    int rc = editable(r, req_query(r, "id"), &u);
    if (rc <= 0)
        return rc;
    return edit_page(r, 200, &u, NULL, NULL);
}

int p_user_edit_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    struct user u;
    int rc = editable(r, console_field(form, "id"), &u);
    if (rc <= 0)
        return rc;
    int64_t quota = 0;
    const char *qt = console_field(form, "quota");
    if (*qt && (parse_decimal(qt, &quota) < 0 || quota < 0))
        return edit_page(r, 422, &u, form, "quota must be a whole number >= 0");
    struct user_input in = {.id = u.id,
                            .password = console_field(form, "password"),
                            .display_name = console_field(form, "display_name"),
                            .email = console_field(form, "email"),
                            .group = console_field(form, "group"),
                            .quota = quota};
    const char *why = NULL;
    rc = users_update(r, &in, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return edit_page(r, 422, &u, form, why);
    console_flash(r, "ok", arena_printf(r->a, "User %s saved.", u.username));
    console_redirect(r, "/user");
    return 0;
}
