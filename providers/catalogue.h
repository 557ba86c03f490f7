/* The model catalogue: One API's built-in model list of each channel type, the families
 * /v1/models and /api/channel/models list, and the model object they print. */
#ifndef OA_CATALOGUE_H
#define OA_CATALOGUE_H
#include <stddef.h>

struct json_object;

#define CATALOGUE_N_TYPES 52         /* channel type ids 0..51, as in providers/registry.c */
#define CATALOGUE_CREATED 1626777600 /* the fixed "created" of every model object */

/* One adaptor family of the catalogue: its owner name and its models. */
struct catalogue_family {
    const char *owned_by;     /* "openai", "anthropic", ... */
    const char *const *names; /* NULL-terminated, static */
};

/* The built-in list of channel type t (NULL-terminated, static), or NULL when the type has
 * none (43 Proxy) or is unknown. Type 34 Coze has an empty list. */
const char *const *catalogue_for_type(int type);
/* The built-in catalogue in One API's order: the adaptor families, then the OpenAI-compatible
 * types except Azure. Static; *n gets the number of families. Names may repeat across
 * families. */
const struct catalogue_family *catalogue_families(size_t *n);
/* A new model object {"id","object":"model","created","owned_by","permission":[...],"root",
 * "parent":null} as One API prints a built-in model; the caller owns the reference. */
struct json_object *catalogue_model_json(const char *id, const char *owned_by);

#endif
