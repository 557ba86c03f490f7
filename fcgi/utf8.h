/* UTF-8 hygiene for text that must be valid (PostgreSQL rejects a row holding invalid
 * UTF-8, and fixed-size fields cut strings wherever the byte count ends). */
#ifndef OA_UTF8_H
#define OA_UTF8_H
#include <stddef.h>

/* Makes s[0..n) valid UTF-8 in place: a sequence cut short at the end is dropped, and every
 * other byte that does not belong to a well-formed sequence (overlong forms, surrogates and
 * code points past U+10FFFF included) becomes '?'. Returns the new length (never more than
 * n); s[result] is not touched. */
size_t utf8_clean(char *s, size_t n);

#endif
