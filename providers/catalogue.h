/* models: One API's built-in model lists per channel type and the model catalogue (spec 3.11,
 * Appendix B). */
#ifndef OA_MODELS_H
#define OA_MODELS_H
#include <stddef.h>

struct json_object;

#define MODELS_N_TYPES 52         /* channel type ids 0..51 (spec 9.1) */
#define MODELS_CREATED 1626777600 /* the fixed "created" of every model object */

/* One adaptor family of the catalogue: its owner name and its models. */
struct models_family {
    const char *owned_by;     /* "openai", "anthropic", ... */
    const char *const *names; /* NULL-terminated, static */
};

/* The built-in list of channel type t (NULL-terminated, static), or NULL when the type has
 * none (43 Proxy) or is unknown. Type 34 Coze has an empty list. */
const char *const *models_for_type(int type);
/* The built-in catalogue in One API's order: the adaptor families, then the OpenAI-compatible
 * types except Azure (spec 3.11). Static; *n gets the number of families. Names may repeat
 * across families. */
const struct models_family *models_catalogue(size_t *n);
/* A new model object {"id","object":"model","created","owned_by","permission":[...],"root",
 * "parent":null} (spec 3.11); the caller owns the reference. */
struct json_object *models_object_json(const char *id, const char *owned_by);

#endif
