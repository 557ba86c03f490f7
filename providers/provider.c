/* provider: the defaults of the optional adaptor operations (see providers/provider.h). */
#include "config.h"
#include "providers/provider.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"

#include <json-c/json.h>

void provider_error_default(struct arena *a, int status, const char *body, size_t n,
                            struct prov_error *err)
{
    err->status = status;
    err->type = "upstream_error";
    err->param = arena_printf(a, "%d", status);
    err->code = "bad_response_status_code";
    err->message = arena_printf(a, "bad response status code %d", status);
    json_tokener *tok = jtokener_new(0);
    json_object *j = jown(a, body && n ? json_tokener_parse_ex(tok, body, (int)n) : NULL);
    json_tokener_free(tok);
    if (!json_object_is_type(j, json_type_object))
        return;
    json_object *e = jget(j, "error"), *v;
    if (json_object_is_type(e, json_type_object) && jstr(e, "message") && *jstr(e, "message")) {
        err->message = arena_strdup(a, jstr(e, "message"));
        err->type = arena_strdup(a, jstr(e, "type") ? jstr(e, "type") : "upstream_error");
        err->param = jstr(e, "param") ? arena_strdup(a, jstr(e, "param")) : NULL;
        err->code = NULL;
        if ((v = jget(e, "code")) != NULL)
            err->code = arena_strdup(a, json_object_get_string(v));
        return;
    }
    static const char *const keys[] = {"message", "msg", "err", "error_msg"};
    const char *m = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof *keys && !m; i++)
        if (jstr(j, keys[i]) && *jstr(j, keys[i]))
            m = jstr(j, keys[i]);
    if (!m)
        m = jstr(jget(j, "header"), "message");
    if (!m)
        m = jstr(jget(jget(j, "response"), "error"), "message");
    if (!m && json_object_is_type(e, json_type_string))
        m = json_object_get_string(e);
    if (m && *m)
        err->message = arena_strdup(a, m);
}
