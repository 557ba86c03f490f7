/* models: /api/models (the built-in list of each channel type), /api/channel/models (the
 * catalogue) and /api/user/available_models (what the caller's group may use). */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/relay/relay.h"
#include "handlers/respond.h"
#include "db/abilities.h"
#include "db/users.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "providers/catalogue.h"

#include <json-c/json.h>
#include <stdio.h>

static json_object *names_json(const char *const *names)
{
    json_object *arr = jnew_arr();
    for (; *names; names++)
        json_object_array_add(arr, json_object_new_string(*names));
    return arr;
}

/* GET /api/models: channel type id -> its built-in list, for types 1..51 (Proxy: null). */
int h_models(struct req *r)
{
    json_object *d = jnew_obj();
    for (int t = 1; t < CATALOGUE_N_TYPES; t++) {
        char k[16];
        snprintf(k, sizeof k, "%d", t);
        const char *const *names = catalogue_for_type(t);
        json_object_object_add(d, k, names ? names_json(names) : NULL);
    }
    api_ok(r, d);
    return 0;
}

/* GET /api/channel/models: every catalogue entry, repeats included as One API lists them;
 * not enveloped. */
int h_channel_models(struct req *r)
{
    size_t nf;
    const struct catalogue_family *fam = catalogue_families(&nf);
    json_object *data = jnew_arr();
    for (size_t i = 0; i < nf; i++)
        for (const char *const *m = fam[i].names; *m; m++)
            json_object_array_add(data, catalogue_model_json(*m, fam[i].owned_by));
    respond_list(r, data);
    return 0;
}

/* GET /api/user/available_models: the enabled ability models of the caller's group, on
 * channels the relay can route to. */
int h_user_available_models(struct req *r)
{
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    const char **names;
    size_t n;
    if (db_abilities_group_models(req_db(r), r->a, u.group, relay_type_routable, &names, &n) < 0)
        return OA_ERR_DB;
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(names[i]));
    api_ok(r, arr);
    return 0;
}
