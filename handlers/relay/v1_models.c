/* v1_models: /v1/models and /v1/models/:model, answered locally from the relay key's models
 * and the built-in catalogue, in OpenAI's shapes. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/respond.h"
#include "db/abilities.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strlist.h"
#include "providers/catalogue.h"

#include <json-c/json.h>
#include <string.h>

/* The models the key may use: its allowlist, else its group's enabled abilities on channels
 * the relay can route to (a model only channels of a type without an adaptor serve would
 * only ever fail). */
static int available_models(struct req *r, const char ***names, size_t *n)
{
    struct relay_auth *au = r->auth;
    if (*au->tok.models) {
        *names = strlist_split(r->a, au->tok.models, n);
        return 0;
    }
    return db_abilities_group_models(req_db(r), r->a, au->user.group, relay_type_routable, names,
                                     n);
}

/* Is id in the NULL-terminated list? */
static int in_list(const char *const *names, const char *id)
{
    for (; names && *names; names++)
        if (!strcmp(*names, id))
            return 1;
    return 0;
}

int h_v1_models(struct req *r)
{
    const char **names;
    size_t n;
    if (available_models(r, &names, &n) < 0)
        return OA_ERR_DB;
    char *listed = arena_calloc(r->a, n ? n : 1, 1);
    json_object *data = jnew_arr();
    size_t nf;
    const struct catalogue_family *fam = catalogue_families(&nf);
    /* Built-in models first, in catalogue order, each id once. */
    for (size_t f = 0; f < nf; f++) {
        for (const char *const *m = fam[f].names; m && *m; m++) {
            for (size_t i = 0; i < n; i++) {
                if (!listed[i] && !strcmp(names[i], *m)) {
                    listed[i] = 1;
                    json_object_array_add(data, catalogue_model_json(*m, fam[f].owned_by));
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (listed[i])
            continue;
        json_object *o = jnew_obj();
        json_object_object_add(o, "id", json_object_new_string(names[i]));
        json_object_object_add(o, "object", json_object_new_string("model"));
        json_object_object_add(o, "created", json_object_new_int64(CATALOGUE_CREATED));
        json_object_object_add(o, "owned_by", json_object_new_string("custom"));
        json_object_object_add(o, "permission", NULL);
        json_object_object_add(o, "root", json_object_new_string(names[i]));
        json_object_object_add(o, "parent", NULL);
        json_object_array_add(data, o);
    }
    respond_list(r, data);
    return 0;
}

int h_v1_model(struct req *r)
{
    const char *id = req_path_param(r, 0);
    size_t nf;
    const struct catalogue_family *fam = catalogue_families(&nf);
    const char *owner = NULL;
    /* One API looks the id up in a map built in catalogue order: the last occurrence wins. */
    for (size_t f = 0; f < nf; f++)
        if (in_list(fam[f].names, id))
            owner = fam[f].owned_by;
    if (!owner) {
        json_object *e = jnew_obj();
        json_object_object_add(
            e, "message",
            json_object_new_string(arena_printf(r->a, "The model '%s' does not exist", id)));
        json_object_object_add(e, "type", json_object_new_string("invalid_request_error"));
        json_object_object_add(e, "param", json_object_new_string("model"));
        json_object_object_add(e, "code", json_object_new_string("model_not_found"));
        json_object *j = jown(r->a, jnew_obj());
        json_object_object_add(j, "error", e);
        respond_json(r, 200, j);
        return 0;
    }
    respond_json(r, 200, jown(r->a, catalogue_model_json(id, owner)));
    return 0;
}
