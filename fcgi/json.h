/* JSON helpers over json-c, shared by the handlers and the adaptors: strict parsing, typed
 * member access, compact serialisation, and numbers and strings printed the way Go's
 * encoding/json prints them (One API's clients were written against Go's output). */
#ifndef OA_JSON_H
#define OA_JSON_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct json_object;
struct json_tokener;
struct strbuf;

#define JSON_MAX_DEPTH 64 /* nesting accepted from clients and upstreams */

/* Parses exactly n bytes of s as one JSON value: white space may follow it, nothing else.
 * depth 0 means JSON_MAX_DEPTH. Returns a new reference, or NULL with a one-line reason in
 * *why (static text, when why is not NULL). */
struct json_object *jparse(const char *s, size_t n, int depth, const char **why);
/* A tokener for incremental parsing; aborts on OOM instead of returning NULL. Free with
 * json_tokener_free. depth 0 means JSON_MAX_DEPTH. */
struct json_tokener *jtokener_new(int depth);

/* Member key of o, or NULL when o is not an object or has no such member. Borrowed. */
struct json_object *jget(struct json_object *o, const char *key);
/* String member key of o, or NULL when absent or not a string. Valid while o lives. */
const char *jstr(struct json_object *o, const char *key);
/* Integer member key of o (a number, truncated), or 0 when absent or not a number. */
int64_t jint(struct json_object *o, const char *key);
/* 1 when v is a JSON number (integer or double). */
int jis_num(struct json_object *v);
/* Number member key of o, also when written as a numeric string ("12.5", as some billing
 * APIs do); clears *ok (and returns 0) when it is absent or not a number. */
double jnum(struct json_object *o, const char *key, int *ok);
/* A deep copy of o that the caller owns; numbers keep their spelling (0.1 stays 0.1). NULL
 * when o is NULL. Aborts on OOM. */
struct json_object *jcopy(struct json_object *o);

/* A new empty object or array (a reference the caller owns). json-c answers NULL when out of
 * memory; these abort instead, as every allocator of ours does. */
struct json_object *jnew_obj(void);
struct json_object *jnew_arr(void);

/* Hands o (a reference the caller owns; NULL is allowed) to the arena: it is put when a is
 * reset, on every exit path of the request. Returns o. */
struct json_object *jown(struct arena *a, struct json_object *o);

/* Appends the compact text of o ("null" for NULL; no spaces; '/' not escaped) to sb. */
void jput(struct strbuf *sb, struct json_object *o);
/* The compact text of o as jput writes it, copied into a; its length in *len when not NULL. */
char *jdump(struct arena *a, struct json_object *o, size_t *len);

/* Appends d as Go's encoding/json writes a float64: the shortest digits that read back as d,
 * plain from 1e-6 up to 1e21, else with an exponent (1.5e-7, 1e+21); -0 stays "-0". NaN and
 * the infinities, which Go refuses to encode, are written as 0. */
void jput_go_float(struct strbuf *sb, double d);
/* Appends s as a JSON string escaped as Go escapes it: <, > and & as \u003c..., control
 * characters as \u00XX (but \n, \r, \t), and U+2028 and U+2029. */
void jput_go_string(struct strbuf *sb, const char *s);
/* A json-c double that serialises as jput_go_float writes d. New reference. */
struct json_object *jgo_double(double d);

#endif
