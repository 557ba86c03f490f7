/* Options: One API's runtime settings with its defaults, overridden by options rows.
 * A process-lifetime cache behind a rwlock. */
#ifndef OA_OPTIONS_H
#define OA_OPTIONS_H
#include <stddef.h>

struct arena;
struct db_conn;
struct options;

/* One API's defaults (THEME seeds Theme). Heap-owned; free with options_free. */
struct options *options_new(const char *theme);
void options_free(struct options *o);
/* Reads every row of the options table over the defaults into a new set of values and puts
 * it in place at once; readers never wait for the database. A row deleted since the last load
 * falls back to its default. 0, or < 0 on a database error (the values in use stay). */
int options_load(struct options *o, struct db_conn *c);
/* Sets key to value in this process at once (the caller has stored the row). Never fails. */
void options_set(struct options *o, const char *key, const char *value);
/* Every key and value in use, copied into a, in the table's order (defaults first, then the
 * keys only the database has): two arrays of n strings. Returns n. */
size_t options_snapshot(struct options *o, struct arena *a, const char ***keys,
                        const char ***values);
/* Whether value may be stored under key: NULL when it may, else the message to answer (One
 * API's words where it has a rule; static or in a). Checks the switches that need another
 * setting first, Theme, the "true"/"false" of *Enabled keys, the numeric keys, and that the
 * ratio options are JSON objects of numbers >= 0. */
const char *options_check(struct options *o, struct arena *a, const char *key, const char *value);
/* Copy of key's value in a, or "" when unknown. */
const char *options_get(struct options *o, struct arena *a, const char *key);
/* "true" -> 1, anything else 0. */
int options_bool(struct options *o, const char *key);
double options_double(struct options *o, const char *key);

#endif
