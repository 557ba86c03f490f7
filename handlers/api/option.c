/* option: root's view and edit of the options table, and the group list (the keys of
 * GroupRatio) the admin console offers. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "handlers/relay/pricing.h"
#include "handlers/relay/ratio.h"
#include "db/options.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int option_is_secret(const char *key)
{
    size_t n = strlen(key);
    return (n >= 5 && !strcmp(key + n - 5, "Token")) ||
           (n >= 6 && !strcmp(key + n - 6, "Secret")) || !strcmp(key, "TurnstileSecretKey");
}

static void add_option(json_object *arr, const char *key, const char *value)
{
    json_object *o = jnew_obj();
    json_object_object_add(o, "key", json_object_new_string(key));
    json_object_object_add(o, "value", json_object_new_string(value));
    json_object_array_add(arr, o);
}

int h_option_list(struct req *r)
{
    const char **keys, **values;
    size_t n = options_snapshot(req_app(r)->opts, r->a, &keys, &values);
    json_object *arr = jnew_arr();
    int has_model = 0, has_completion = 0;
    for (size_t i = 0; i < n; i++) {
        has_model |= !strcmp(keys[i], "ModelRatio");
        has_completion |= !strcmp(keys[i], "CompletionRatio");
        if (!option_is_secret(keys[i]))
            add_option(arr, keys[i], values[i]);
    }
    /* Without a stored row these two are the built-in tables, as One API lists them. */
    const enum ratio_kind kinds[] = {RATIO_MODEL, RATIO_COMPLETION};
    const int has[] = {has_model, has_completion};
    for (int i = 0; i < 2; i++) {
        if (has[i])
            continue;
        char *json = ratio_defaults_json(kinds[i]);
        add_option(arr, ratio_kind_name(kinds[i]), json);
        free(json);
    }
    api_ok(r, arr);
    return 0;
}

/* The body's value as text: a string as it is; a number or a boolean as written (scripts send
 * them unquoted); an absent or null value is "". NULL for an object or an array. */
static const char *value_text(struct req *r, json_object *v)
{
    if (!v)
        return "";
    switch (json_object_get_type(v)) {
    case json_type_string: return json_object_get_string(v);
    case json_type_int:
    case json_type_double:
    case json_type_boolean: return jdump(r->a, v, NULL);
    default: return NULL;
    }
}

int h_option_update(struct req *r)
{
    /* The row's BODY_JSON_400 makes a body that does not parse an HTTP 400, the one of /api;
     * a body that parses but is not {"key": "...", "value": ...} is answered the same way. */
    json_object *body = r->json;
    json_object *k = jget(body, "key"), *v = jget(body, "value");
    const char *value = value_text(r, v);
    if (!json_object_is_type(body, json_type_object) || !json_object_is_type(k, json_type_string) ||
        !*json_object_get_string(k) || !value) {
        api_fail(r, 400, msg_invalid_parameter(r));
        return 0;
    }
    const char *why = NULL;
    int rc = option_save(r, json_object_get_string(k), value, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        api_fail(r, 200, why);
    else
        api_ok(r, NULL);
    return 0;
}

int option_save(struct req *r, const char *key, const char *value, const char **why)
{
    struct app *app = req_app(r);
    if ((*why = options_check(app->opts, r->a, key, value)) != NULL)
        return 0;
    if (db_options_put(req_db(r), key, value) < 0)
        return OA_ERR_DB;
    options_set(app->opts, key, value);
    /* The new ratio text was checked; pricing logs it if another one stored by hand does not
     * load (the tables in use then stay). */
    for (int i = 0; i < RATIO__MAX; i++)
        if (!strcmp(key, ratio_kind_name(i)))
            pricing_reload(app->pricing, app->opts);
    return 1;
}

json_object *option_groups(struct req *r)
{
    const char *g = options_get(req_app(r)->opts, r->a, "GroupRatio");
    json_object *ratios = jown(r->a, jparse(g, strlen(g), 0, NULL));
    json_object *arr = jnew_arr();
    if (json_object_is_type(ratios, json_type_object)) {
        json_object_object_foreach(ratios, name, val)
        {
            (void)val;
            json_object_array_add(arr, json_object_new_string(name));
        }
    }
    return arr;
}

int h_group_list(struct req *r)
{
    api_ok(r, option_groups(r));
    return 0;
}
