/* console: what every server-rendered page shares: the templates of each theme, the layout and
 * its common data, the security headers, the CSRF token of forms, flash messages, Markdown. */
#ifndef OA_CONSOLE_H
#define OA_CONSOLE_H
#include <stddef.h>
#include <stdint.h>

struct console;
struct json_object;
struct req;
struct strbuf;

/* Loads every theme under dir: dir/default/ (required) and each other subdirectory, whose
 * missing files come from default/. Heap-owned; NULL with a reason in err. */
struct console *console_new(const char *dir, char *err, size_t errlen);
void console_free(struct console *c);
/* Whether theme has a directory of its own (the others show as default). */
int console_has_theme(const struct console *c, const char *theme);

/* Renders template name inside the layout and answers status with it: data (taken; may be
 * NULL) gets the common fields (site, me, csrf, nonce, flash, title, nav) before rendering.
 * A "turnstile_site_key" field in data admits Cloudflare's Turnstile script in the page's
 * Content-Security-Policy. Always 0. */
int console_page(struct req *r, int status, const char *name, const char *title,
                 struct json_object *data);
/* 303 See Other to a local path (anything else goes to "/"). */
void console_redirect(struct req *r, const char *to);
/* A message the next page shows once (kind "ok" or "error"). */
void console_flash(struct req *r, const char *kind, const char *msg);
/* The browser's CSRF token (made and set as a cookie on first use), for hidden form fields. */
const char *console_csrf(struct req *r);
/* Parses r's urlencoded form body into an object of strings (fields sent twice keep the
 * first), then checks its "csrf" field against the browser's token. 1 with the form in *out
 * (owned by r's arena); 0 when the token is missing or wrong (a 403 page was answered). */
int console_form(struct req *r, struct json_object **out);
/* The string field name of a form, or "" when absent. */
const char *console_field(struct json_object *form, const char *name);
/* Markdown (CommonMark, raw HTML kept: the text is an admin's) as HTML, in r's arena. */
const char *console_markdown(struct req *r, const char *text);
/* A Unix time as "YYYY-MM-DD HH:MM" (UTC), "" for 0. In r's arena. */
const char *console_date(struct req *r, long long ts);
/* The page number of the query's "p" (0-based; missing or bad is 0). */
long long console_page_no(struct req *r);
/* Adds "pager" to d for a listing at page: prev_href / next_href (path?query&p=N) when
 * there is such a page, and page (1-based). query is the listing's other parameters,
 * already URL-encoded ("" for none). */
void console_pager(struct req *r, struct json_object *d, const char *path, const char *query,
                   long long page, int has_next);
/* Appends "&name=value" (value URL-encoded; the first one without '&') to q, when value is
 * not empty: the query string of a listing's filters. */
void console_query_add(struct strbuf *q, const char *name, const char *value);
/* Logs the caller in from the session cookie when there is one, quietly: pages that anyone
 * may see show the signed-in user's menu. */
void console_identify(struct req *r);
/* The HTML answer for an error code on a console path: the login page for NO_LOGIN, else an
 * error page with the status One API's API would have used. */
void console_error(struct req *r, int code);
/* quota as the console shows it, in r's arena: "$1.234567" (quota / QuotaPerUnit) when
 * DisplayInCurrencyEnabled, else the plain number of quota units. */
const char *console_quota(struct req *r, int64_t quota);
/* The address clients use: ServerAddress when set, else http://<the Host asked for>. */
const char *console_origin(struct req *r);
/* Whether path is a console page (not /api, /v1, billing, static files). */
int console_is_page_path(const char *path);

#endif
