/* Comma-separated lists as One API stores them ("gpt-4o, gpt-4o-mini", "default,vip",
 * "10.0.0.0/8, 192.168.0.0/16"): entries are trimmed of ASCII white space. */
#ifndef OA_STRLIST_H
#define OA_STRLIST_H
#include <stddef.h>

struct arena;

/* Walks a list: *cursor starts at the list (NULL counts as empty) and moves on. Returns 1 with
 * the next entry, trimmed, in *item and *n (not NUL-terminated: it points into the list; n
 * may be 0 for an empty entry such as the middle of "a,,b"), or 0 after the last one. */
int strlist_next(const char **cursor, const char **item, size_t *n);
/* 1 when list has an entry equal to s (empty entries never match). */
int strlist_has(const char *list, const char *s);
/* The non-empty entries of list, each once, in order: a NULL-terminated array in a, with
 * their count in *n (when not NULL). */
const char **strlist_split(struct arena *a, const char *list, size_t *n);
/* The first non-empty entry of list copied into a, or NULL when there is none. */
const char *strlist_first(struct arena *a, const char *list);

#endif
