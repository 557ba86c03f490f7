/* Typed inputs from a JSON request body: each route declares its fields once (name and kind)
 * and handlers read typed values, never raw JSON. */
#ifndef OA_JSONIN_H
#define OA_JSONIN_H
#include <stddef.h>
#include <stdint.h>

struct json_object;

enum jin_kind {
    JIN_INT,  /* an integer (a float with no fraction is accepted) */
    JIN_UINT, /* an integer >= 0 */
    JIN_BOOL, /* true or false */
    JIN_STR,  /* a string */
};

/* One declared field. */
struct jin_field {
    const char *name;
    enum jin_kind kind;
};

/* A typed value; is_set is 0 for an absent or null member. */
struct jin_val {
    int is_set;
    int64_t i;     /* JIN_INT, JIN_UINT, JIN_BOOL */
    const char *s; /* JIN_STR: borrowed from the body's JSON */
};

/* Reads the n declared fields of body into out[n]. -1 when body is not an object or a member
 * has the wrong type (Go's binding fails there too), else 0. */
int jin_read(struct json_object *body, const struct jin_field *fields, size_t n,
             struct jin_val *out);

#endif
