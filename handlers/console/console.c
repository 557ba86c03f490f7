/* console: the pages' shared machinery; each page group lives in a file of its own beside it. */
#include "config.h"
#include "handlers/console/console.h"
#include "handlers/account.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/session.h"
#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"
#include "fcgi/template.h"
#include "fcgi/utf8.h"

#include <cmark.h>
#include <ctype.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_THEMES 16
#define CSRF_TTL (30 * 24 * 3600) /* the session's lifetime */
#define FLASH_MAX 600             /* bytes of a flash message */
#define TURNSTILE_ORIGIN "https://challenges.cloudflare.com"

struct theme {
    char name[32];
    struct tpl_set *tpl;
};

struct console {
    struct theme themes[MAX_THEMES]; /* [0] is default */
    int n;
};

/* A theme's name becomes a path and a cookie-free option value: keep it plain. */
static int is_theme_name(const char *s)
{
    if (!*s || strlen(s) >= sizeof((struct theme *)0)->name)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return 0;
    return 1;
}

struct console *console_new(const char *dir, char *err, size_t errlen)
{
    struct console *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    char def[4096];
    snprintf(def, sizeof def, "%s/default", dir);
    snprintf(c->themes[0].name, sizeof c->themes[0].name, "default");
    c->themes[0].tpl = tpl_load(def, NULL, err, errlen);
    if (!c->themes[0].tpl) {
        free(c);
        return NULL;
    }
    c->n = 1;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, "default") || !is_theme_name(e->d_name))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (c->n == MAX_THEMES) {
            LOG_WARN("more than %d themes in %s: %s is ignored", MAX_THEMES, dir, e->d_name);
            continue;
        }
        struct theme *t = &c->themes[c->n];
        t->tpl = tpl_load(path, def, err, errlen);
        if (!t->tpl) {
            closedir(d);
            console_free(c);
            return NULL;
        }
        snprintf(t->name, sizeof t->name, "%s", e->d_name);
        c->n++;
    }
    if (d)
        closedir(d);
    return c;
}

void console_free(struct console *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        tpl_free(c->themes[i].tpl);
    free(c);
}

int console_has_theme(const struct console *c, const char *theme)
{
    for (int i = 0; c && i < c->n; i++)
        if (!strcmp(c->themes[i].name, theme))
            return 1;
    return 0;
}

/* The templates of the Theme option now (an option saved by an admin shows at the next page). */
static const struct tpl_set *current_theme(struct req *r, const char **name)
{
    struct app *app = req_app(r);
    const char *want = options_get(app->opts, r->a, "Theme");
    for (int i = 1; i < app->console->n; i++)
        if (!strcmp(app->console->themes[i].name, want)) {
            *name = app->console->themes[i].name;
            return app->console->themes[i].tpl;
        }
    *name = "default";
    return app->console->themes[0].tpl;
}

int console_is_page_path(const char *p)
{
    if (!strcmp(p, "/api") || !strncmp(p, "/api/", 5) || !strcmp(p, "/v1") ||
        !strncmp(p, "/v1/", 4) || !strncmp(p, "/dashboard/", 11) || !strncmp(p, "/static/", 8))
        return 0;
    return 1;
}

void console_identify(struct req *r)
{
    if (r->user_id)
        return;
    const char *c = req_cookie(r, "session");
    if (c && *c && session_auth(r, AUTH_USER) != 0)
        r->user_id = 0;
}

/* ---------------------------------------------------------------- CSRF, flash, forms */

const char *console_csrf(struct req *r)
{
    const char *tok = session_flow_get(r, "csrf");
    if (tok && strlen(tok) == 32)
        return tok;
    char fresh[33];
    uuid_hex(fresh);
    session_flow_set(r, "csrf", fresh, CSRF_TTL);
    return arena_strdup(r->a, fresh);
}

void console_flash(struct req *r, const char *kind, const char *msg)
{
    char plain[FLASH_MAX + 16], enc[(FLASH_MAX + 16) * 4 / 3 + 8];
    int n = snprintf(plain, sizeof plain, "%s\n%s", kind, msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof plain ? (size_t)n : sizeof plain - 1;
    b64url_encode(plain, len, enc);
    resp_header(r, "Set-Cookie",
                arena_printf(r->a, "oa_flash=%s; Path=/; Max-Age=60; HttpOnly; SameSite=Lax%s", enc,
                             req_app(r)->cookie_secure ? "; Secure" : ""));
}

/* The flash message the previous answer left, as {"kind","text"}, cleared as it is shown. */
static json_object *take_flash(struct req *r)
{
    const char *c = req_cookie(r, "oa_flash");
    if (!c || !*c)
        return NULL;
    resp_header(r, "Set-Cookie", "oa_flash=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    unsigned char buf[FLASH_MAX + 32];
    long n = b64_decode(c, strlen(c), buf, sizeof buf - 1, 0);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *nl = strchr((char *)buf, '\n');
    if (!nl)
        return NULL;
    *nl = '\0';
    const char *kind = strcmp((char *)buf, "ok") ? "error" : "ok";
    json_object *f = jnew_obj();
    json_object_object_add(f, "kind", json_object_new_string(kind));
    size_t tl = utf8_clean(nl + 1, strlen(nl + 1));
    json_object_object_add(f, "text", json_object_new_string_len(nl + 1, (int)tl));
    return f;
}

int console_form(struct req *r, json_object **out)
{
    json_object *form = jown(r->a, jnew_obj());
    const char *p = r->body ? r->body : "", *end = p + r->body_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t len = amp ? (size_t)(amp - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        char *k = url_decode(r->a, p, kl, 1);
        char *v = eq ? url_decode(r->a, eq + 1, len - kl - 1, 1) : arena_strdup(r->a, "");
        if (*k && !jget(form, k))
            json_object_object_add(form, k, json_object_new_string(v));
        p += len + (amp ? 1 : 0);
    }
    const char *want = session_flow_get(r, "csrf");
    const char *got = console_field(form, "csrf");
    if (!want || strlen(want) != 32 || !ct_streq(want, got)) {
        json_object *d = jnew_obj();
        json_object_object_add(
            d, "message",
            json_object_new_string("This form has expired or came from another site. Go back, "
                                   "reload the page and send it again."));
        console_page(r, 403, "error", "Form refused", d);
        return 0;
    }
    *out = form;
    return 1;
}

const char *console_field(json_object *form, const char *name)
{
    const char *s = jstr(form, name);
    return s ? s : "";
}

const char *console_markdown(struct req *r, const char *text)
{
    if (!text || !*text)
        return "";
    char *html = cmark_markdown_to_html(text, strlen(text), CMARK_OPT_UNSAFE);
    const char *s = arena_strdup(r->a, html ? html : "");
    free(html);
    return s;
}

/* ---------------------------------------------------------------- display */

const char *console_quota(struct req *r, int64_t quota)
{
    struct options *o = req_app(r)->opts;
    double per_unit = options_double(o, "QuotaPerUnit");
    if (options_bool(o, "DisplayInCurrencyEnabled") && per_unit > 0)
        return arena_printf(r->a, "$%.6f", (double)quota / per_unit);
    return arena_printf(r->a, "%lld", (long long)quota);
}

const char *console_origin(struct req *r)
{
    const char *s = options_get(req_app(r)->opts, r->a, "ServerAddress");
    if (*s)
        return s;
    const char *host = req_header(r, "Host");
    return arena_printf(r->a, "http://%s", host && *host ? host : "localhost:3000");
}

const char *console_date(struct req *r, long long ts)
{
    if (ts <= 0)
        return "";
    time_t t = (time_t)ts;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm))
        return "";
    return arena_strdup(r->a, buf);
}

long long console_page_no(struct req *r)
{
    int64_t p = 0;
    if (parse_decimal(req_query(r, "p"), &p) < 0 || p < 0 || p > 1000000000)
        return 0;
    return (long long)p;
}

void console_query_add(struct strbuf *q, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    if (q->len)
        sb_putc(q, '&');
    sb_puts(q, name);
    sb_putc(q, '=');
    tpl_put_url(q, value);
}

void console_pager(struct req *r, json_object *d, const char *path, const char *query,
                   long long page, int has_next)
{
    json_object *p = jnew_obj();
    const char *sep = query && *query ? "&" : "";
    if (page > 0)
        json_object_object_add(
            p, "prev_href",
            json_object_new_string(
                arena_printf(r->a, "%s?%s%sp=%lld", path, query ? query : "", sep, page - 1)));
    if (has_next)
        json_object_object_add(
            p, "next_href",
            json_object_new_string(
                arena_printf(r->a, "%s?%s%sp=%lld", path, query ? query : "", sep, page + 1)));
    json_object_object_add(p, "page", json_object_new_int64(page + 1));
    json_object_object_add(d, "pager", p);
}

/* ---------------------------------------------------------------- pages */

void console_redirect(struct req *r, const char *to)
{
    /* Only local paths: "//host" or "http:..." would send the browser elsewhere. */
    if (!to || to[0] != '/' || to[1] == '/' || to[1] == '\\' || strpbrk(to, "\r\n"))
        to = "/";
    resp_status(r, 303);
    resp_header(r, "Location", to);
    resp_header(r, "Cache-Control", "no-store");
    resp_write(r, "", 0);
}

struct nav_item {
    const char *href, *label;
    int min_role; /* 0 anyone signed in */
};

static const struct nav_item nav_items[] = {
    {"/dashboard", "Dashboard", 0}, {"/channel", "Channels", ROLE_ADMIN},
    {"/token", "Keys", 0},          {"/log", "Logs", 0},
    {"/user", "Users", ROLE_ADMIN}, {"/redemption", "Redemption", ROLE_ADMIN},
    {"/topup", "Top up", 0},        {"/setting", "Settings", 0},
};

/* The fields every page's layout uses. */
static void add_common(struct req *r, json_object *d, const char *title, const char *nonce)
{
    struct app *app = req_app(r);
    struct options *o = app->opts;
    json_object *site = jnew_obj();
    json_object_object_add(site, "name",
                           json_object_new_string(options_get(o, r->a, "SystemName")));
    json_object_object_add(site, "logo", json_object_new_string(options_get(o, r->a, "Logo")));
    /* The footer is the admin's HTML, as One API shows it. */
    json_object_object_add(site, "footer_html",
                           json_object_new_string(options_get(o, r->a, "Footer")));
    json_object_object_add(
        site, "notice_html",
        json_object_new_string(console_markdown(r, options_get(o, r->a, "Notice"))));
    json_object_object_add(site, "chat_link",
                           json_object_new_string(options_get(o, r->a, "ChatLink")));
    json_object_object_add(site, "top_up_link",
                           json_object_new_string(options_get(o, r->a, "TopUpLink")));
    json_object_object_add(d, "site", site);
    json_object_object_add(d, "title", json_object_new_string(title ? title : ""));
    json_object_object_add(d, "nonce", json_object_new_string(nonce));
    json_object_object_add(d, "csrf", json_object_new_string(console_csrf(r)));
    json_object_object_add(d, "path", json_object_new_string(r->path));
    json_object *flash = take_flash(r);
    if (flash)
        json_object_object_add(d, "flash", flash);
    if (r->user_id) {
        json_object *me = jnew_obj();
        json_object_object_add(me, "id", json_object_new_int64(r->user_id));
        json_object_object_add(me, "username",
                               json_object_new_string(r->username ? r->username : ""));
        json_object_object_add(me, "is_admin", json_object_new_boolean(r->role >= ROLE_ADMIN));
        json_object_object_add(me, "is_root", json_object_new_boolean(r->role >= ROLE_ROOT));
        json_object_object_add(d, "me", me);
        json_object *nav = jnew_arr();
        for (size_t i = 0; i < sizeof nav_items / sizeof *nav_items; i++) {
            if (r->role < nav_items[i].min_role)
                continue;
            json_object *it = jnew_obj();
            json_object_object_add(it, "href", json_object_new_string(nav_items[i].href));
            json_object_object_add(it, "label", json_object_new_string(nav_items[i].label));
            json_object_object_add(it, "active",
                                   json_object_new_boolean(!strcmp(r->path, nav_items[i].href)));
            json_object_array_add(nav, it);
        }
        json_object_object_add(d, "nav", nav);
    }
}

/* The headers of every page: no framing, no sniffing, scripts only from us or with this
 * answer's nonce (and Cloudflare's on the pages that show its Turnstile widget), forms only
 * to us. */
static void security_headers(struct req *r, const char *nonce, int turnstile)
{
    resp_header(r, "Content-Type", "text/html; charset=utf-8");
    resp_header(r, "Cache-Control", "no-store");
    resp_header(r, "X-Frame-Options", "DENY");
    resp_header(r, "X-Content-Type-Options", "nosniff");
    resp_header(r, "Referrer-Policy", "same-origin");
    resp_header(r, "Content-Security-Policy",
                arena_printf(r->a,
                             "default-src 'self'; script-src 'self' 'nonce-%s'%s; "
                             "style-src 'self'; img-src 'self' data: https: http:; "
                             "frame-src https: http:; form-action 'self'; "
                             "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
                             nonce, turnstile ? " " TURNSTILE_ORIGIN : ""));
}

int console_page(struct req *r, int status, const char *name, const char *title, json_object *data)
{
    json_object *d = data ? data : jnew_obj();
    jown(r->a, d);
    unsigned char raw[16];
    char nonce[32];
    random_bytes(raw, sizeof raw);
    b64url_encode(raw, sizeof raw, nonce);
    add_common(r, d, title, nonce);
    if (!req_app(r)->console) {
        resp_status(r, 503);
        resp_header(r, "Content-Type", "text/plain; charset=utf-8");
        static const char msg[] = "The console's templates did not load: see the log.\n";
        resp_write(r, msg, sizeof msg - 1);
        return 0;
    }
    const char *theme;
    const struct tpl_set *t = current_theme(r, &theme);
    json_object_object_add(d, "theme", json_object_new_string(theme));
    struct strbuf body, page;
    sb_init(&body, r->a);
    sb_init(&page, r->a);
    if (tpl_render(t, name, d, &body) < 0) {
        LOG_BUG("no template %s in theme %s", name, theme);
        resp_status(r, 500);
        resp_header(r, "Content-Type", "text/plain; charset=utf-8");
        resp_write(r, "500 internal error\n", 19);
        return 0;
    }
    json_object_object_add(d, "content_html", json_object_new_string(body.p ? body.p : ""));
    tpl_render(t, "layout", d, &page);
    resp_status(r, status);
    security_headers(r, nonce, jget(d, "turnstile_site_key") != NULL);
    resp_write(r, page.p ? page.p : "", page.len);
    return 0;
}

void console_error(struct req *r, int code)
{
    if (code == OA_ERR_NO_LOGIN) {
        /* Back to this page after signing in; only GETs are worth coming back to. */
        const char *next = strcmp(r->method, "GET") ? "/" : r->raw_path;
        struct strbuf sb;
        sb_init(&sb, r->a);
        sb_puts(&sb, "/login?next=");
        tpl_put_url(&sb, next);
        console_redirect(r, sb.p);
        return;
    }
    int status = 500;
    const char *title = "Something went wrong", *msg = oa_strerror(code);
    switch (code) {
    case OA_ERR_NOT_FOUND:
    case OA_ERR_METHOD:
        status = 404, title = "Page not found";
        msg = "There is nothing at this address. Check the link, or start again from the home "
              "page.";
        break;
    case OA_ERR_FORBIDDEN:
    case OA_ERR_BAD_TOKEN:
        status = 403, title = "Not allowed";
        msg = "Your account may not open this page.";
        break;
    case OA_ERR_BANNED: status = 403, title = "Account disabled", msg = "用户已被封禁"; break;
    case OA_ERR_CROSS_SITE:
        status = 403, title = "Form refused", msg = "This request came from another site.";
        break;
    case OA_ERR_RATE_LIMIT:
        status = 429, title = "Too many requests", msg = "Wait a little, then try again.";
        break;
    case OA_ERR_DB_BUSY:
    case OA_ERR_BUSY:
        status = 503, title = "Busy", msg = "The server is busy. Try again in a moment.";
        break;
    case OA_ERR_TOO_LARGE: status = 413, title = "Too large"; break;
    case OA_ERR_MEDIA_TYPE:
    case OA_ERR_BAD_REQUEST:
    case OA_ERR_BAD_JSON: status = 400, title = "Bad request"; break;
    default: break;
    }
    json_object *d = jnew_obj();
    json_object_object_add(d, "message", json_object_new_string(msg));
    json_object_object_add(d, "status", json_object_new_int(status));
    console_identify(r);
    console_page(r, status, status == 404 ? "404" : "error", title, d);
}
