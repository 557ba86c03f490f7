/* jsonin: typed field reading from JSON bodies. */
#include "config.h"
#include "fcgi/jsonin.h"

#include <json-c/json.h>
#include <string.h>

int jin_read(struct json_object *body, const struct jin_field *fields, size_t n,
             struct jin_val *out)
{
    memset(out, 0, n * sizeof *out);
    if (!body || !json_object_is_type(body, json_type_object))
        return -1;
    for (size_t f = 0; f < n; f++) {
        json_object *v;
        if (!json_object_object_get_ex(body, fields[f].name, &v) || !v)
            continue;
        enum json_type t = json_object_get_type(v);
        switch (fields[f].kind) {
        case JIN_STR:
            if (t != json_type_string)
                return -1;
            out[f].s = json_object_get_string(v);
            break;
        case JIN_BOOL:
            if (t != json_type_boolean)
                return -1;
            out[f].i = json_object_get_boolean(v);
            break;
        case JIN_INT:
        case JIN_UINT:
            if (t == json_type_double) {
                double d = json_object_get_double(v);
                if (d != (double)(int64_t)d)
                    return -1;
            } else if (t != json_type_int) {
                return -1;
            }
            out[f].i = json_object_get_int64(v);
            if (fields[f].kind == JIN_UINT && out[f].i < 0)
                return -1;
            break;
        }
        out[f].is_set = 1;
    }
    return 0;
}
