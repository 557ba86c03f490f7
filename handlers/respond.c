/* respond: the /api envelope, OpenAI's list envelope and error bodies. */
#include "config.h"
#include "handlers/respond.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <string.h>

void respond_json(struct req *r, int status, struct json_object *j)
{
    size_t n;
    const char *s = json_object_to_json_string_length(
        j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    resp_json(r, status, s, n);
}

void respond_list(struct req *r, struct json_object *data)
{
    json_object *j = jown(r->a, jnew_obj());
    json_object_object_add(j, "object", json_object_new_string("list"));
    json_object_object_add(j, "data", data);
    respond_json(r, 200, j);
}

void api_ok(struct req *r, struct json_object *data)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "success", json_object_new_boolean(1));
    json_object_object_add(j, "message", json_object_new_string(""));
    if (data)
        json_object_object_add(j, "data", data);
    respond_json(r, 200, j);
    json_object_put(j);
}

void api_fail(struct req *r, int status, const char *msg)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "success", json_object_new_boolean(0));
    json_object_object_add(j, "message", json_object_new_string(msg));
    respond_json(r, status, j);
    json_object_put(j);
}

void openai_error(struct req *r, int status, const char *msg, const char *type, const char *code,
                  int with_request_id)
{
    json_object *e = jnew_obj();
    const char *text =
        with_request_id ? arena_printf(r->a, "%s (request id: %s)", msg, r->request_id) : msg;
    json_object_object_add(e, "message", json_object_new_string(text));
    json_object_object_add(e, "type", json_object_new_string(type));
    if (code) {
        json_object_object_add(e, "param", json_object_new_string(""));
        json_object_object_add(e, "code", json_object_new_string(code));
    }
    json_object *j = jnew_obj();
    json_object_object_add(j, "error", e);
    respond_json(r, status, j);
    json_object_put(j);
}

const char *msg_invalid_parameter(struct req *r)
{
    const char *al = req_header(r, "Accept-Language");
    return al && !strncmp(al, "zh", 2) ? "无效的参数" : "invalid parameter";
}

int64_t api_page_offset(struct req *r)
{
    int64_t page = 0;
    if (parse_decimal(req_query(r, "p"), &page) < 0 || page < 0)
        page = 0;
    if (page > 100000000000LL)
        page = 100000000000LL;
    return page * API_PAGE_SIZE;
}

int64_t api_keyword_id(const char *keyword)
{
    int64_t id;
    return parse_decimal(keyword, &id) < 0 ? -1 : id;
}
