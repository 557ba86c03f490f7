/* The console's template engine: a small mustache subset parsed once at start-up, rendered
 * into a strbuf with every value HTML-escaped unless the template asks otherwise. */
#ifndef OA_TEMPLATE_H
#define OA_TEMPLATE_H
#include <stddef.h>

struct json_object;
struct strbuf;
struct tpl_set; /* every template of one theme, parsed once at start-up; read-only after */

#define TPL_MAX_DEPTH 32  /* section nesting accepted in one template */
#define TPL_MAX_PARTIAL 8 /* partials included inside partials at render; deeper ones skip */

/* Parses every *.html file of dir (not recursive) and, for each name dir lacks, the file of
 * fallback_dir (NULL: none). A template's name is its file name without ".html"
 * ("layout", "login", "partials" are plain names: partials are templates like any other).
 * Refuses (NULL, reason with file:line in err): a syntax error (unclosed tag, unbalanced or
 * mismatched section, unknown tag kind, a filter other than |url, a name with characters
 * outside [A-Za-z0-9_.]), a raw tag {{{x}}} whose last name segment does not end in "_html",
 * a partial {{>name}} that names no template, and partials that include themselves (directly
 * or not). Heap-owned. */
struct tpl_set *tpl_load(const char *dir, const char *fallback_dir, char *err, size_t errlen);
/* The same from memory, for tests and fuzzing: names[i] is the text texts[i] (lens[i] bytes). */
struct tpl_set *tpl_load_mem(const char *const *names, const char *const *texts, const size_t *lens,
                             size_t n, char *err, size_t errlen);
void tpl_free(struct tpl_set *t);
/* Whether template name exists. */
int tpl_has(const struct tpl_set *t, const char *name);
/* Renders template name with data as the outermost context, appending to out. 0, or -1 when
 * there is no such template. Never fails otherwise: a missing value renders as nothing.
 * Values: strings as they are, integers in decimal, doubles exactly as json-c serialises them
 * (so "1.0" keeps its ".0", and a jgo_double prints as Go would), true/false, and nothing for
 * null, missing values, objects and arrays. */
int tpl_render(const struct tpl_set *t, const char *name, struct json_object *data,
               struct strbuf *out);
/* Appends s HTML-escaped (& < > " ' all five) / percent-encoded for a URL component
 * (unreserved characters kept: A-Z a-z 0-9 - . _ ~). For handlers that build small pieces. */
void tpl_put_html(struct strbuf *out, const char *s);
void tpl_put_url(struct strbuf *out, const char *s);

#endif
